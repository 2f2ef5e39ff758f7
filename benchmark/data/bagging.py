"""Bags: sliding windows over the line sequence (Eq. 1–2 of the paper).

A bag is a half-open line range [start, end); nothing is copied. Time windows use the running
maximum of the timestamps, so a line whose timestamp goes back in time stays in log order and joins
the window of the latest time seen so far. Windows holding no line are skipped; a window holding
more than `max_instances` lines is cut into consecutive bags of at most `max_instances` lines
(nothing dropped). Since stride ≤ window, every line lands in at least one bag.
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.data.cards import BaggingSpec


def make_bags(timestamps: np.ndarray, spec: BaggingSpec) -> tuple[np.ndarray, np.ndarray]:
    """Bag ranges over L lines. timestamps: (L,) float64 seconds (count windows ignore them).
    Returns starts, ends: (B,) int64, sorted by start."""
    if spec.mode == "time":
        starts, ends = time_windows(timestamps, float(spec.window_seconds),
                                    float(spec.stride_seconds))
    else:
        starts, ends = count_windows(len(timestamps), int(spec.window_lines),
                                     int(spec.stride_lines))
    return cut_windows(starts, ends, spec.max_instances)


def time_windows(timestamps: np.ndarray, window: float, stride: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Non-empty windows [t0 + k·stride, t0 + k·stride + window) as line ranges, k ≥ 0."""
    if len(timestamps) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    t = np.maximum.accumulate(np.asarray(timestamps, np.float64))
    t0 = t[0]
    last_k = np.unique(np.floor((t - t0) / stride).astype(np.int64))
    # windows that can hold a line: the latest one starting at or before it and the
    # ceil(window / stride) before that (one extra on each side guards float rounding)
    back = math.ceil(window / stride) + 1
    ks = np.unique((last_k[:, None] - np.arange(-1, back + 1)[None, :]).ravel())
    ks = ks[ks >= 0]
    begin = t0 + ks * stride
    starts = np.searchsorted(t, begin, side="left")
    ends = np.searchsorted(t, begin + window, side="left")
    keep = ends > starts
    return starts[keep].astype(np.int64), ends[keep].astype(np.int64)


def count_windows(n_lines: int, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of `window` lines every `stride` lines, up to the first window reaching the end."""
    starts = np.arange(0, max(n_lines, 0), stride, dtype=np.int64)
    ends = np.minimum(starts + window, n_lines)
    n = int(np.argmax(ends >= n_lines)) + 1 if len(ends) else 0
    return starts[:n], ends[:n]


def cut_windows(starts: np.ndarray, ends: np.ndarray, max_instances: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cut every range longer than max_instances into consecutive pieces of ≤ max_instances."""
    sizes = ends - starts
    pieces = np.maximum(1, -(-sizes // max_instances))
    if np.all(pieces == 1):
        return starts, ends
    first = np.cumsum(pieces) - pieces
    within = np.arange(int(pieces.sum()), dtype=np.int64) - np.repeat(first, pieces)
    new_starts = np.repeat(starts, pieces) + within * max_instances
    new_ends = np.minimum(new_starts + max_instances, np.repeat(ends, pieces))
    return new_starts, new_ends


def bag_labels(line_labels: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(B,) int8 Y = max of the line labels in each bag (Eq. 2), via a prefix sum."""
    counts = np.concatenate([[0], np.cumsum(np.asarray(line_labels) > 0, dtype=np.int64)])
    return (counts[ends] - counts[starts] > 0).astype(np.int8)
