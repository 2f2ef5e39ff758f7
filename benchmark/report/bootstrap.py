"""Stratified bootstrap over test bags: every test metric recomputed on resampled test sets.

Efron (1979) bootstrap, percentile intervals (Efron & Tibshirani 1993, ch. 13). One resample
draws, with replacement, as many positive bags from the positive test bags and as many negative
bags from the negative ones as the test split holds (stratified by bag label, so every resample
has both classes and F1, AUC, AUPRC, Loc@3 and SR stay defined). A resample is a row of bag
multiplicities `W` (R, B); each metric is a closed form of the per-bag terms weighted by `W`, so
a run is scored on all R resamples at once, and every run of a dataset is scored on the *same*
resamples (paired comparisons, benchmark.report.significance). The saved score files
(benchmark.artifacts) hold everything needed: no model, no data, no torch.

Weighted forms (w_b = multiplicity of bag b in the resample):
- AUC = Σ_{i pos, j neg} w_i w_j (1[p_i > p_j] + ½·1[p_i = p_j]) / (Σ_pos w · Σ_neg w);
- AP = Σ_t tp_t · P_t / Σ_pos w over distinct scores t in decreasing order, tp_t the positive
  weight at t and P_t the precision of `p >= t` (= sklearn `average_precision_score` with
  `sample_weight = w`);
- F1 at the run's validation τ = 2·TP / (2·TP + FP + FN) of `p >= τ`, counts weighted;
- Loc@3 = Σ w·hits / Σ w·wanted (benchmark.metrics.loc_terms); SR = Σ w·success / Σ w·1[gt+]
  over the ground-truth positive bags (success = P_orig − P_pert > δ_sr).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from benchmark.metrics import loc_terms
from benchmark.protocol import LOC_K, SR_DELTA, TestScores, loc_key, sr_key
from benchmark.report.rescore import positive_instances

RESAMPLES = 1000
BOOTSTRAP_SEED = 20260
"""numpy `default_rng` seed of every dataset's resamples (fixed: same score files → same
intervals)."""
CI_LEVEL = 0.95
BOOTSTRAP_METRICS = ("auc", "ap", "f1", loc_key(), sr_key())
_CHUNK = 100
"""Resamples scored at a time (bounds memory at CHUNK × bags)."""


@dataclass(frozen=True, eq=False)
class BagTerms:
    """One run's per-bag terms of every bootstrapped metric (all (B,) arrays)."""

    probabilities: np.ndarray
    labels: np.ndarray
    threshold: float
    loc_hits: np.ndarray
    loc_wanted: np.ndarray
    success: np.ndarray
    ground_truth_positive: np.ndarray

    @property
    def fingerprint(self) -> str:
        """Identity of the test split the run was scored on (labels and bag count): runs with
        equal fingerprints can share resamples."""
        return hashlib.sha256(np.ascontiguousarray(self.labels, np.int8).tobytes()).hexdigest()


def bag_terms(scores: TestScores) -> BagTerms:
    """The per-bag terms of one run's score file."""
    b = len(scores.probabilities)
    inst, labels, real = positive_instances(scores)
    hits = np.zeros(b, np.float64)
    wanted = np.zeros(b, np.float64)
    success = np.zeros(b, np.float64)
    gt = np.zeros(b, np.float64)
    if len(scores.positive):
        h, w = loc_terms(inst, labels, k=LOC_K, mask=real)
        hits[scores.positive], wanted[scores.positive] = h, w
        drop = scores.probabilities[scores.positive] - scores.perturbed
        success[scores.positive] = drop > SR_DELTA
        gt[scores.positive] = 1.0
    return BagTerms(np.asarray(scores.probabilities, np.float64),
                    np.asarray(scores.labels).astype(bool), float(scores.threshold),
                    hits, wanted, success, gt)


def resample_weights(labels: np.ndarray, resamples: int = RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(resamples, B) float64 bag multiplicities of stratified resamples of `labels` (0/1)."""
    y = np.asarray(labels).astype(bool)
    rng = np.random.default_rng(seed)
    weights = np.zeros((resamples, len(y)), np.float64)
    for stratum in (np.flatnonzero(y), np.flatnonzero(~y)):
        if len(stratum) == 0:
            continue
        draws = rng.integers(0, len(stratum), size=(resamples, len(stratum)))
        rows = np.repeat(np.arange(resamples), len(stratum))
        np.add.at(weights, (rows, stratum[draws.ravel()]), 1.0)
    return weights


def bootstrap_metrics(terms: BagTerms, weights: np.ndarray) -> dict[str, np.ndarray]:
    """{metric: (R,) values} of one run on every resample (rows of `weights`)."""
    parts = [_chunk_metrics(terms, weights[i:i + _CHUNK])
             for i in range(0, len(weights), _CHUNK)]
    return {m: np.concatenate([p[m] for p in parts]) for m in BOOTSTRAP_METRICS}


def point_metrics(terms: BagTerms) -> dict[str, float]:
    """The metrics on the test split itself (all weights 1): equal to the record's."""
    values = bootstrap_metrics(terms, np.ones((1, len(terms.labels))))
    return {m: float(v[0]) for m, v in values.items()}


def percentile_interval(values: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """The (lower, upper) percentile interval of bootstrap values (NaN-free ones)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _chunk_metrics(t: BagTerms, w: np.ndarray) -> dict[str, np.ndarray]:
    y = t.labels
    pred = t.probabilities >= t.threshold
    tp, fp, fn = w @ (pred & y), w @ (pred & ~y), w @ (~pred & y)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        loc = (w @ t.loc_hits) / (w @ t.loc_wanted)
        sr = (w @ t.success) / (w @ t.ground_truth_positive)
    return {"auc": _weighted_auc(t.probabilities, y, w), "ap": _weighted_ap(t.probabilities, y, w),
            "f1": f1, loc_key(): loc, sr_key(): sr}


def _levels(p: np.ndarray, y: np.ndarray, w: np.ndarray, descending: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight per distinct score (R, L), scores sorted."""
    order = np.argsort(-p if descending else p, kind="stable")
    ps, ys, ws = p[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(ws * ys, starts, axis=1)
    neg = np.add.reduceat(ws * ~ys, starts, axis=1)
    return pos, neg


def _weighted_auc(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    if len(p) == 0:
        return np.full(len(w), np.nan)
    pos, neg = _levels(p, y, w, descending=False)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _weighted_ap(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    if len(p) == 0:
        return np.full(len(w), np.nan)
    tp, fp = _levels(p, y, w, descending=True)
    ctp, cfp = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(ctp + cfp > 0, ctp / (ctp + cfp), 0.0)
        total = tp.sum(axis=1)
        ap = np.where(total > 0, (tp * precision).sum(axis=1) / total, np.nan)
    return np.clip(ap, 0.0, 1.0)  # as benchmark.metrics.average_precision
