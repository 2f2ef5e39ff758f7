"""The decision threshold τ: the value that maximises F1 on validation.

Shared by the trainer (early stopping on validation F1) and the protocol (τ chosen on validation,
applied to test once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FALLBACK_THRESHOLD = 0.5
"""τ when validation has no positive bag or no negative bag: the probability midpoint."""


@dataclass(frozen=True)
class Threshold:
    """value: τ (predict anomalous when p >= τ); f1: validation F1 at τ; rule: how τ was chosen."""

    value: float
    f1: float
    rule: str


def best_f1_threshold(probabilities: np.ndarray, labels: np.ndarray) -> Threshold:
    """τ maximising F1 of `p >= τ` over the candidate cut points (every distinct score).

    Ties in F1 go to the largest τ (fewest alarms). With no positive or no negative label,
    τ = FALLBACK_THRESHOLD and rule = "fallback-no-positive" / "fallback-no-negative".
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} differ in shape")
    if not y.any():
        return Threshold(FALLBACK_THRESHOLD, 0.0, "fallback-no-positive")
    if y.all():
        f1 = f1_at(p, y, FALLBACK_THRESHOLD)
        return Threshold(FALLBACK_THRESHOLD, f1, "fallback-no-negative")
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    # cut after the last element of each run of equal scores
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp, fp, cut = tp[last_of_run], fp[last_of_run], p_sorted[last_of_run]
    f1 = 2 * tp / (tp + fp + y.sum())
    best = int(np.flatnonzero(f1 == f1.max())[0])
    rule = "constant-scores" if len(cut) == 1 else "max-val-f1"
    return Threshold(float(cut[best]), float(f1[best]), rule)


def f1_at(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """F1 of predicting `p >= threshold`; 0 when there is no true positive."""
    pred = np.asarray(probabilities) >= threshold
    y = np.asarray(labels).astype(bool)
    tp = int(np.sum(pred & y))
    denom = int(pred.sum()) + int(y.sum())
    return 2 * tp / denom if tp else 0.0
