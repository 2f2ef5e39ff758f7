"""Bag- and instance-level metrics, each a small function returning plain floats.

Convention: an undefined metric (e.g. ROC-AUC with one class in the labels, Loc@k with no
positive bag) is NaN, never 0; the protocol records why. Higher score = more anomalous.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def roc_auc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of bag probabilities (threshold-free).

    AUC = P(p_pos > p_neg) + ½·P(p_pos = p_neg) (Hanley & McNeil 1982; sklearn `roc_auc_score`).
    probabilities, labels: (B,). Returns NaN when `labels` hold only one class (undefined).
    """
    y = _binary(labels)
    if y.size == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, _finite(probabilities, "probabilities")))


def average_precision(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (AUPRC, threshold-free): AP = Σ_n (R_n − R_{n−1}) · P_n over the
    distinct score thresholds in decreasing order (sklearn `average_precision_score`; no
    interpolation). Its chance level is the positive fraction, not ½ as for AUC.

    probabilities, labels: (B,). Returns NaN when `labels` hold no positive (undefined).
    """
    y = _binary(labels)
    if not y.any():
        return float("nan")
    p = _finite(probabilities, "probabilities")
    _same_shape(p, y)
    # clipped: the sum of (R_n − R_{n−1}) · P_n can exceed 1 by a rounding error (1 + 2e-16)
    return float(np.clip(average_precision_score(y, p), 0.0, 1.0))


def precision_recall_f1(
    probabilities: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, float]:
    """Precision, recall and F1 of predicting anomalous when `p >= threshold`.

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2·TP / (2·TP + FP + FN).
    Conventions: precision = 0 when nothing is predicted anomalous (sklearn's zero_division=0);
    recall and F1 are NaN when `labels` hold no positive (undefined); F1 = 0 when TP = 0.
    Returns {"precision", "recall", "f1"}.
    """
    p = _finite(probabilities, "probabilities")
    y = _binary(labels)
    _same_shape(p, y)
    pred = p >= threshold
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    if tp + fn == 0:
        return {"precision": precision, "recall": float("nan"), "f1": float("nan")}
    return {"precision": precision, "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn)}


def loc_at_k(
    instance_scores: np.ndarray,
    instance_labels: np.ndarray,
    k: int = 3,
    mask: np.ndarray | None = None,
) -> float:
    """Localization hit rate Loc@k, Eq. (5) of the LogMILP paper (Wong et al., 2026):

        Loc@k = Σ_{B ∈ B_pos} |S_top(B) ∩ S_a(B)| / Σ_{B ∈ B_pos} min(k, |S_a(B)|)

    B_pos = bags with at least one anomalous instance; S_a(B) = its anomalous instances;
    S_top(B) = its k highest-scoring real instances (all of them when the bag has ≤ k).
    Ties at the k-th place are broken in expectation: when g instances tie for the r remaining
    places, each counts r/g (the mean over uniformly random tie-breaks), so neither log order
    nor padding decides a hit.

    instance_scores: (B, W) float, higher = more suspicious; instance_labels: (B, W) {0, 1};
    mask: (B, W) bool real instances (default: scores != -inf). Bags without an anomalous
    instance are ignored. Returns NaN when no bag has an anomalous instance.
    """
    hits, wanted = loc_terms(instance_scores, instance_labels, k, mask)
    rows = np.flatnonzero(wanted)
    total = int(wanted.sum())
    return sum(float(h) for h in hits[rows]) / total if total else float("nan")


def loc_terms(
    instance_scores: np.ndarray,
    instance_labels: np.ndarray,
    k: int = 3,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each bag's share of Loc@k (arguments as `loc_at_k`): (B,) float64 expected hits
    |S_top(B) ∩ S_a(B)| and (B,) int64 min(k, |S_a(B)|), both 0 for a bag without an anomalous
    instance; Loc@k = Σ hits / Σ wanted (the bootstrap reweights these terms)."""
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    scores = np.asarray(instance_scores, dtype=np.float64)
    labels = np.asarray(instance_labels).astype(bool)
    real = ~np.isneginf(scores) if mask is None else np.asarray(mask, dtype=bool)
    _same_shape(scores, labels)
    _same_shape(scores, real)
    if np.isnan(scores[real]).any():
        raise ValueError("instance scores contain NaN")
    labels = labels & real
    hits = np.zeros(len(scores), np.float64)
    wanted = np.zeros(len(scores), np.int64)
    for row in np.flatnonzero(labels.any(axis=1)):
        s, a = scores[row, real[row]], labels[row, real[row]]
        hits[row] = _expected_top_k_hits(s, a, k)
        wanted[row] = min(k, int(a.sum()))
    return hits, wanted


def success_rate(p_orig: np.ndarray, p_pert: np.ndarray, delta: float) -> float:
    """Perturbation Success Rate SR, Eq. (6) of the LogMILP paper (Wong et al., 2026):

        SR = (1 / |B_pos|) Σ_b 1(P_orig(b) − P_pert(b) > δ_sr)

    p_orig: (n,) bag probabilities of the positive bags; p_pert: (n,) the same bags with their
    key instance removed; delta: δ_sr (strict inequality). Returns NaN when n = 0.
    """
    orig = _finite(p_orig, "p_orig")
    pert = _finite(p_pert, "p_pert")
    _same_shape(orig, pert)
    if orig.size == 0:
        return float("nan")
    return float(np.mean(orig - pert > delta))


def unique_key_bags(templates: np.ndarray, key: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Bags whose key instance is the only line of its template, in a bag of ≥ 2 lines.

    templates: (n, W) template ids; key: (n,) key position per bag; real: (n, W) bool, True =
    real instance. Returns (n,) bool. Removing the key of any other bag either empties it (one
    line) or leaves copies of the key's template in place, which a duplication-blind model reads
    exactly as before: such bags measure the model's removal rule, not what the key explains.
    """
    rows = np.arange(len(key))
    same = (templates == templates[rows, key][:, None]) & real
    return (same.sum(axis=1) == 1) & (real.sum(axis=1) >= 2)


def pr_curve(
    probabilities: np.ndarray, labels: np.ndarray, max_points: int = 200
) -> dict[str, list[float]] | None:
    """The precision–recall curve (sklearn `precision_recall_curve`), for plots.

    Returns {"precision", "recall", "thresholds"} lists of at most `max_points` points
    (evenly spaced along the curve, both ends kept), or None when `labels` hold no positive.
    """
    y = _binary(labels)
    if not y.any():
        return None
    precision, recall, thresholds = precision_recall_curve(y, _finite(probabilities, "p"))
    thresholds = np.r_[thresholds, np.nan]  # sklearn's last (P=1, R=0) point has no threshold
    if len(precision) > max_points:
        keep = np.unique(np.linspace(0, len(precision) - 1, max_points).round().astype(int))
        precision, recall, thresholds = precision[keep], recall[keep], thresholds[keep]
    return {
        "precision": [float(v) for v in precision],
        "recall": [float(v) for v in recall],
        "thresholds": [None if np.isnan(v) else float(v) for v in thresholds],
    }


def _expected_top_k_hits(scores: np.ndarray, anomalous: np.ndarray, k: int) -> float:
    """Expected |top-k ∩ anomalous| of one bag under uniformly random tie-breaking."""
    if len(scores) <= k:
        return float(anomalous.sum())
    kth = np.sort(scores)[::-1][k - 1]
    above = scores > kth
    tied = scores == kth
    places = k - int(above.sum())
    return float(anomalous[above].sum()) + places * float(anomalous[tied].mean())


def _binary(labels: np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    return y.astype(bool)


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contain NaN or inf")
    return v


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
