"""Significance: paired bootstrap tests with Holm's correction, and Friedman / Nemenyi ranks.

Per dataset (benchmark.report.uncertainty feeds this): the difference of a model's seed-mean
metric and LogMILP's, d* = mean_s m_s(W) − mean_s ℓ_s(W), on the same stratified bootstrap
resamples W of the same test bags, gives the two-sided bootstrap p-value

    p = min(1, 2 · min((1 + #{d* ≤ 0}) / (R + 1), (1 + #{d* ≥ 0}) / (R + 1)))

(the percentile-interval test of H0: no difference, Efron & Tibshirani 1993, ch. 16; the +1
keeps p > 0 with R resamples, Davison & Hinkley 1997, eq. 4.11). The p-values of one dataset and
metric (every model against LogMILP) are adjusted by Holm's (1979) step-down method; a
difference is marked when the adjusted p < ALPHA.

Across datasets (≥ 3): each model's seed-mean metric per dataset is ranked (1 = best, ties get
their mean rank); the Friedman (1937) χ² tests whether the average ranks differ, and the Nemenyi
critical difference CD = q_α · sqrt(k(k + 1) / (6N)) (q_α = studentized range quantile / √2,
k models, N datasets) says which average ranks differ (Demšar 2006, JMLR 7:1–30).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import friedmanchisquare, rankdata, studentized_range

ALPHA = 0.05
MIN_DATASETS = 3


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided p-value of H0 "no difference" from (R,) paired bootstrap differences."""
    d = np.asarray(differences, np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    r = d.size
    low = (1 + np.sum(d <= 0)) / (r + 1)
    high = (1 + np.sum(d >= 0)) / (r + 1)
    return float(min(1.0, 2 * min(low, high)))


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm (1979) step-down adjusted p-values: p_(i) · (m − i + 1) for the i-th smallest, made
    monotone and capped at 1. NaN p-values are left out of the family and stay NaN."""
    finite = sorted((p, k) for k, p in p_values.items() if math.isfinite(p))
    m = len(finite)
    adjusted = {k: float("nan") for k in p_values}
    running = 0.0
    for i, (p, key) in enumerate(finite):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[key] = running
    return adjusted


@dataclass(frozen=True)
class RankTest:
    """Average ranks (1 = best) of `models` over `datasets`, Friedman's test, Nemenyi's CD."""

    metric: str
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    average_ranks: tuple[float, ...]
    friedman_chi2: float
    friedman_p: float
    critical_difference: float


def rank_test(metric: str, means: dict[str, dict[str, float]]) -> RankTest | None:
    """Friedman / Nemenyi over {dataset: {model: mean}} for the models present (with a finite
    mean) on every dataset; None with fewer than 3 datasets or 3 such models."""
    datasets = sorted(means)
    if len(datasets) < MIN_DATASETS:
        return None
    common = set.intersection(*({m for m, v in means[d].items() if math.isfinite(v)}
                                for d in datasets))
    models = sorted(common)
    if len(models) < 3:
        return None
    table = np.array([[means[d][m] for m in models] for d in datasets])
    ranks = np.vstack([rankdata(-row) for row in table])
    if np.all(ranks == ranks[:, :1]):  # every dataset ties every model: no evidence at all
        chi2, p = 0.0, 1.0
    else:
        chi2, p = friedmanchisquare(*table.T)
    k, n = len(models), len(datasets)
    q = studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2)
    cd = q * math.sqrt(k * (k + 1) / (6 * n))
    return RankTest(metric, tuple(models), tuple(datasets),
                    tuple(float(r) for r in ranks.mean(axis=0)), float(chi2), float(p), float(cd))
