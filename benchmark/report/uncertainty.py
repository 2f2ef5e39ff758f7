"""Per (dataset, model): 95 % bootstrap intervals and paired tests against LogMILP, from the
runs' score files (benchmark.report.bootstrap, benchmark.report.significance; no retraining).

A cell's statistic is the seed mean of a metric; on every resample of a dataset's test bags each
seed's run is rescored and the seeds averaged, so the interval reflects the finite test set
given the trained models (the seed spread is the ± std beside it). A cell gets an interval only
when every seed of it has a verified score file; models are compared only with runs scored on
the same test bags (equal label vectors).

The report also reads two per-run numbers from the score files: `ap` for records written before
the protocol stored it, and `f1_oracle` (F1 at the test-optimal threshold, for the oracle-τ
table only; never a result).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.metrics import average_precision
from benchmark.records import RunRecord
from benchmark.report.bootstrap import (
    BOOTSTRAP_METRICS,
    BagTerms,
    bag_terms,
    bootstrap_metrics,
    percentile_interval,
    resample_weights,
)
from benchmark.report.rescore import record_scores
from benchmark.report.significance import ALPHA, bootstrap_p_value, holm
from benchmark.threshold import best_f1_threshold

log = logging.getLogger(__name__)

ORACLE_F1 = "f1_oracle"
REFERENCE_MODEL = "logmilp"
"""Every model is compared with this one (the paper's full LogMILP row)."""
BETTER, WORSE = "↑", "↓"


@dataclass
class Uncertainty:
    """Intervals and Holm-adjusted p-values (vs LogMILP) keyed by (dataset, model, metric)."""

    intervals: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)
    p_holm: dict[tuple[str, str, str], float] = field(default_factory=dict)
    direction: dict[tuple[str, str, str], float] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    """dataset → the model every other is compared with (LogMILP)."""
    run_values: dict[tuple[str, str, int], dict[str, float]] = field(default_factory=dict)
    """(dataset, model, seed) → `ap` and `f1_oracle` from the run's score file."""

    def interval(self, dataset: str, model: str, metric: str) -> tuple[float, float] | None:
        return self.intervals.get((dataset, model, metric))

    def mark(self, dataset: str, model: str, metric: str) -> str:
        """↑ / ↓ when the model is significantly above / below LogMILP (Holm-adjusted p <
        ALPHA), else ""."""
        p = self.p_holm.get((dataset, model, metric), math.nan)
        if not p < ALPHA:
            return ""
        return BETTER if self.direction[dataset, model, metric] > 0 else WORSE


def compute_uncertainty(records: list[RunRecord], results_dir: Path) -> Uncertainty:
    """Score-file statistics for every (dataset, model) of `records` (records without a
    verified score file are left out, logged at info level)."""
    out = Uncertainty()
    runs: dict[tuple[str, str], list[tuple[RunRecord, BagTerms]]] = {}
    for record in records:
        scores = record_scores(record, Path(results_dir), "the bootstrap intervals",
                               level=logging.INFO)
        if scores is None:
            continue
        terms = bag_terms(scores)
        oracle = best_f1_threshold(terms.probabilities, terms.labels).f1 \
            if terms.labels.any() and not terms.labels.all() else math.nan
        out.run_values[record.dataset, record.model, record.seed] = {
            "ap": average_precision(terms.probabilities, terms.labels), ORACLE_F1: oracle}
        runs.setdefault((record.dataset, record.model), []).append((record, terms))
    seeds = {}
    for record in records:
        seeds.setdefault((record.dataset, record.model), set()).add(record.seed)
    for dataset in sorted({d for d, _ in runs}):
        _dataset_statistics(out, dataset, {m: rs for (d, m), rs in runs.items()
                                           if d == dataset and len(rs) == len(seeds[d, m])})
    return out


def with_score_values(records: list[RunRecord], uncertainty: Uncertainty) -> list[RunRecord]:
    """Records with `ap` (when missing) and `f1_oracle` filled in from their score files."""
    out = []
    for record in records:
        values = uncertainty.run_values.get((record.dataset, record.model, record.seed))
        if values is None:
            out.append(record)
            continue
        metrics = {**record.metrics, ORACLE_F1: values[ORACLE_F1]}
        metrics.setdefault("ap", values["ap"])
        out.append(dataclasses.replace(record, metrics=metrics))
    return out


def _dataset_statistics(out: Uncertainty, dataset: str,
                        runs: dict[str, list[tuple[RunRecord, BagTerms]]]) -> None:
    """Intervals for every fully scored model of one dataset; paired tests against LogMILP."""
    by_split: dict[str, dict[str, list[BagTerms]]] = {}
    for model, rs in sorted(runs.items()):
        prints = {t.fingerprint for _, t in rs}
        if len(prints) > 1:
            log.warning("%s/%s: seeds scored on different test bags; no interval", dataset, model)
            continue
        by_split.setdefault(prints.pop(), {})[model] = [t for _, t in rs]
    for models in by_split.values():
        labels = next(iter(models.values()))[0].labels
        weights = resample_weights(labels)
        means = {m: seed_mean(ts, weights) for m, ts in models.items()}
        for model, values in means.items():
            for metric, v in values.items():
                out.intervals[dataset, model, metric] = percentile_interval(v)
        if REFERENCE_MODEL not in means:
            continue
        out.references[dataset] = REFERENCE_MODEL
        ref = means[REFERENCE_MODEL]
        observed = {m: seed_mean(ts, np.ones((1, len(labels)))) for m, ts in models.items()}
        for metric in BOOTSTRAP_METRICS:
            raw = {}
            for model in means:
                if model == REFERENCE_MODEL:
                    continue
                raw[model] = bootstrap_p_value(means[model][metric] - ref[metric])
                out.direction[dataset, model, metric] = float(
                    observed[model][metric][0] - observed[REFERENCE_MODEL][metric][0])
            for model, p in holm(raw).items():
                out.p_holm[dataset, model, metric] = p


def seed_mean(terms: list[BagTerms], weights: np.ndarray) -> dict[str, np.ndarray]:
    """{metric: (R,) seed-mean on each resample}."""
    per_seed = [bootstrap_metrics(t, weights) for t in terms]
    return {m: np.mean([s[m] for s in per_seed], axis=0) for m in BOOTSTRAP_METRICS}
