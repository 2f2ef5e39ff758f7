"""Train / validation / test split of the bags.

chronological (default): bags sorted by start line (= start time, lines are in log order); the
first bag of validation is the one at fraction `train` of the bag list and the first bag of test
the one at `train + val`; their start lines cut the line sequence into three ranges. Rule for
overlapping windows: a bag that straddles a boundary is cut at it, each piece going to the split
that owns its lines (then identical ranges are merged). So no bag crosses a split, a line is
shared by two bags only inside one split, nothing is dropped, and every line that was in a bag
still is. With tumbling windows (stride = window) no bag straddles and nothing is cut.

random: a seeded permutation assigns whole bags 60/20/20. Overlapping windows would then share
lines across splits, so a bag that shares a line with a test bag is dropped from validation and
training, and a training bag sharing a line with a validation bag is dropped (logged).
"""

from __future__ import annotations

import logging

import numpy as np

from benchmark.data.cards import SplitSpec
from benchmark.data.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
Ranges = tuple[np.ndarray, np.ndarray]


def split_bags(starts: np.ndarray, ends: np.ndarray, n_lines: int, spec: SplitSpec
               ) -> dict[str, Ranges]:
    """Split bag ranges into {"train", "val", "test"} → (starts, ends), each sorted by start."""
    if len(starts) < 3:
        raise DataError(f"only {len(starts)} bag(s): too few to split into train/val/test "
                        "(more lines or smaller windows needed)")
    if spec.method == "random":
        return _random(starts, ends, spec)
    return _chronological(starts, ends, n_lines, spec)


def _chronological(starts: np.ndarray, ends: np.ndarray, n_lines: int, spec: SplitSpec
                   ) -> dict[str, Ranges]:
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    n = len(starts)
    i1 = min(max(int(round(n * spec.train)), 1), n - 2)
    i2 = min(max(int(round(n * (spec.train + spec.val))), i1 + 1), n - 1)
    b1, b2 = int(starts[i1]), int(starts[i2])
    if not starts[0] < b1 < b2:
        raise DataError(f"{n} bags share too few distinct start lines to split chronologically")
    bounds = (0, b1, b2, max(n_lines, int(ends.max())))
    out = {}
    for name, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:], strict=True):
        inside = (starts < hi) & (ends > lo)
        s = np.maximum(starts[inside], lo)
        e = np.minimum(ends[inside], hi)
        out[name] = _unique_ranges(s, e)
    cut = sum(len(r[0]) for r in out.values()) - n
    if cut:
        log.info("split: %d bag(s) straddling a split boundary were cut at it", cut)
    return out


def _random(starts: np.ndarray, ends: np.ndarray, spec: SplitSpec) -> dict[str, Ranges]:
    n = len(starts)
    perm = np.random.default_rng(spec.seed).permutation(n)
    n_train = int(round(n * spec.train))
    n_val = int(round(n * spec.val))
    parts = {"train": perm[:n_train], "val": perm[n_train:n_train + n_val],
             "test": perm[n_train + n_val:]}
    size = int(ends.max()) + 1
    covered = np.zeros(size + 1, np.int64)  # difference array of lines taken by kept splits
    out: dict[str, Ranges] = {}
    for name in ("test", "val", "train"):
        idx = np.sort(parts[name])
        s, e = starts[idx], ends[idx]
        taken = np.concatenate([[0], np.cumsum(np.cumsum(covered)[:-1] > 0)])
        clash = taken[e] - taken[s] > 0
        if clash.any():
            log.info("random split: dropped %d %s bag(s) sharing lines with another split",
                     int(clash.sum()), name)
        s, e = s[~clash], e[~clash]
        np.add.at(covered, s, 1)
        np.add.at(covered, e, -1)
        out[name] = _unique_ranges(s, e)
    return {name: out[name] for name in SPLITS}


def _unique_ranges(starts: np.ndarray, ends: np.ndarray) -> Ranges:
    if len(starts) == 0:
        return starts.astype(np.int64), ends.astype(np.int64)
    pairs = np.unique(np.stack([starts, ends], axis=1).astype(np.int64), axis=0)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


_ONE_CLASS_EFFECT = {
    ("train", "positive"): "bag-supervised models see one class",
    ("train", "negative"): "normal-only models have no bag to train on",
    ("val", "positive"): "the threshold falls back to 0.5 (no F1 to select on)",
    ("val", "negative"): "the threshold falls back to 0.5",
    ("test", "positive"): "recall, F1, Loc@k and SR are undefined (NaN)",
    ("test", "negative"): "AUC is undefined (NaN)",
}


def split_warnings(counts: dict[str, dict[str, int]]) -> list[str]:
    """One message per split that holds no positive or no negative bag.

    counts: {split: {"bags": n, "positive_bags": p}} as in a PreparedDataset summary.
    """
    messages = []
    for split, c in counts.items():
        bags, positive = c["bags"], c["positive_bags"]
        for kind, missing in (("positive", positive == 0), ("negative", positive == bags)):
            if missing and bags > 0:
                messages.append(f"the {split} split holds no {kind} bag ({bags} bags, "
                                f"{positive} positive): {_ONE_CLASS_EFFECT[split, kind]}")
    return messages
