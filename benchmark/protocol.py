"""The evaluation protocol: τ on validation, the test set scored once, then metrics.

Steps, for a fitted model:
1. score the validation bags; τ = `best_f1_threshold` on validation probabilities and bag labels;
2. score the test bags once: ROC-AUC, average precision (`ap`, AUPRC), and precision / recall /
   F1 of `p >= τ`;
3. on the ground-truth positive test bags (≥ 1 anomalous line): Loc@3 from the instance scores of
   that single test pass; key instance = top-1 instance score; the positive bags are re-scored
   with the key removed (`model.score(bags, drop=key)`) for SR at δ_sr = 0.1 (and 0.05, 0.2);
   `sr_unique_key` is SR (δ_sr = 0.1) over the positive bags of ≥ 2 lines whose key is the only
   line of its template (`counts["test_unique_key_bags"]` of them), the bags where removing one
   line can change what the bag contains.
4. the below-chance guard: `val_auc` = ROC-AUC of the validation probabilities; below 0.5 the
   model ranks validation bags upside down, so the record gets a note saying so, the run logs a
   warning, and the report tables mark the cell (its test numbers are not a result).
Test labels (bag and line) feed metrics only, never τ or any choice the model makes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from benchmark.data.bagset import BagSet, EvalSplit
from benchmark.metrics import (
    average_precision,
    loc_at_k,
    pr_curve,
    precision_recall_f1,
    roc_auc,
    success_rate,
    unique_key_bags,
)
from benchmark.model_api import BagModel, BagScores
from benchmark.records import is_below_chance
from benchmark.threshold import FALLBACK_THRESHOLD, best_f1_threshold

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
"""Bumped whenever the protocol changes what a record's numbers mean (part of the config hash)."""

LOC_K = 3
SR_DELTA = 0.1
"""δ_sr of the headline `sr` metric (decision: the paper gives no value)."""
SR_EXTRA_DELTAS = (0.05, 0.2)
PR_CURVE_POINTS = 200

THRESHOLD_RULES = {
    "max-val-f1": "τ = the validation probability maximising validation F1 (ties: largest τ)",
    "constant-scores": "validation probabilities are all equal; τ = that value",
    "fallback-no-positive": f"validation has no positive bag; τ = {FALLBACK_THRESHOLD}",
    "fallback-no-negative": f"validation has no negative bag; τ = {FALLBACK_THRESHOLD}",
}


def evaluate(model: BagModel, splits: dict[str, EvalSplit]) -> dict:
    """Evaluate a fitted model on `splits["val"]` (threshold) and `splits["test"]` (metrics).

    Returns a dict: metrics (auc, ap, precision, recall, f1, threshold, val_f1, val_auc,
    loc@3, sr, sr@0.05, sr@0.2, sr_unique_key; NaN = undefined), threshold {value, rule, val_f1,
    description}, counts,
    pr_curve (test; None without a positive test bag) and notes (why a metric is undefined or a
    fallback was used), all JSON-able; and `test_scores`, the arrays every test metric is
    computed from (`TestScores`, saved beside the record by benchmark.artifacts).
    """
    val, test = splits["val"], splits["test"]
    notes: list[str] = []

    val_scores = _checked_scores(model, val.bags)
    tau = best_f1_threshold(val_scores.probabilities, val.bags.labels)
    if tau.rule != "max-val-f1":
        notes.append(f"threshold: {THRESHOLD_RULES[tau.rule]}")

    test_scores = _checked_scores(model, test.bags)
    p_test = test_scores.probabilities
    y_test = test.bags.labels
    metrics: dict[str, float] = {"auc": roc_auc(p_test, y_test),
                                 "ap": average_precision(p_test, y_test)}
    if np.isnan(metrics["auc"]):
        notes.append(f"auc undefined: the {len(y_test)} test bags hold one class only")
    metrics.update(precision_recall_f1(p_test, y_test, tau.value))
    if np.isnan(metrics["recall"]):
        notes.append("recall, f1, ap undefined: no positive test bag")
    metrics["threshold"] = tau.value
    metrics["val_f1"] = tau.f1
    metrics["val_auc"] = roc_auc(val_scores.probabilities, val.bags.labels)
    if is_below_chance(metrics["val_auc"]):
        notes.append(below_chance_note(metrics["val_auc"]))
        log.warning("%s: %s", getattr(model, "name", type(model).__name__), notes[-1])

    width = test_scores.instance_scores.shape[1]
    line_labels = test.instance_labels(width=width)
    positive = np.flatnonzero(line_labels.any(axis=1))
    real = np.arange(width)[None, :] < test.bags.lengths[:, None]
    instance_metrics, p_pert = _instance_metrics(model, test.bags, test_scores, line_labels, real,
                                                 positive)
    metrics.update(instance_metrics)
    unique_key_bags_count = int(metrics.pop("sr_unique_key_bags"))
    if len(positive) == 0:
        notes.append(f"{loc_key()}, sr undefined: no ground-truth positive test bag")

    for note in notes:
        log.info("%s: %s", getattr(model, "name", type(model).__name__), note)
    return {
        "metrics": metrics,
        "threshold": {"value": tau.value, "rule": tau.rule, "val_f1": tau.f1,
                      "description": THRESHOLD_RULES[tau.rule]},
        "counts": {
            "val_bags": len(val.bags),
            "val_positive_bags": int(val.bags.labels.sum()),
            "test_bags": len(test.bags),
            "test_positive_bags": int(y_test.sum()),
            "test_ground_truth_positive_bags": len(positive),
            "test_anomalous_lines": int(line_labels[positive].sum()),
            "test_unique_key_bags": unique_key_bags_count,
        },
        "pr_curve": pr_curve(p_test, y_test, max_points=PR_CURVE_POINTS),
        "notes": notes,
        "test_scores": TestScores(
            probabilities=p_test, labels=np.asarray(y_test, np.int8),
            lengths=np.asarray(test.bags.lengths, np.int64),
            instance_scores=np.asarray(test_scores.instance_scores[real], np.float32),
            line_labels=np.asarray(line_labels[real], np.int8),
            positive=positive.astype(np.int64), perturbed=p_pert, threshold=tau.value),
    }


def below_chance_note(val_auc: float) -> str:
    """The record note of a run whose validation AUC is below chance."""
    return (f"below chance: validation AUC {val_auc:.4f} < 0.5 (the model ranks validation "
            "bags upside down); its test numbers are not a result")


@dataclass(frozen=True, eq=False)
class TestScores:
    """The test split's model outputs and labels, enough to recompute every test metric.

    probabilities (B,) float64 and labels (B,) int8 per bag; lengths (B,) int64 real instances
    per bag; instance_scores (N,) float32 and line_labels (N,) int8 of the real instances,
    bag after bag (N = lengths.sum()); positive (P,) int64 the ground-truth positive bags;
    perturbed (P,) float64 their probabilities with the key (top-1) instance removed;
    threshold: τ from validation.
    """

    __test__ = False  # not a pytest class

    probabilities: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    instance_scores: np.ndarray
    line_labels: np.ndarray
    positive: np.ndarray
    perturbed: np.ndarray
    threshold: float


def _instance_metrics(
    model: BagModel,
    test: BagSet,
    scores: BagScores,
    line_labels: np.ndarray,
    real: np.ndarray,
    positive: np.ndarray,
) -> tuple[dict[str, float], np.ndarray]:
    """Loc@k and SR over the ground-truth positive bags `positive` (indices into `test`), and
    the positive bags' (P,) probabilities with their key instance removed."""
    metrics = {loc_key(): loc_at_k(scores.instance_scores[positive], line_labels[positive],
                                        k=LOC_K, mask=real[positive])}
    deltas = (SR_DELTA, *SR_EXTRA_DELTAS)
    if len(positive) == 0:
        metrics.update({sr_key(d): float("nan") for d in deltas})
        metrics.update({"sr_unique_key": float("nan"), "sr_unique_key_bags": 0})
        return metrics, np.zeros(0, np.float64)
    masked = np.where(real[positive], scores.instance_scores[positive], -np.inf)
    key = masked.argmax(axis=1).astype(np.int64)
    p_orig = scores.probabilities[positive]
    p_pert = _checked_scores(model, test.subset(positive), drop=key).probabilities
    metrics.update({sr_key(d): success_rate(p_orig, p_pert, d) for d in deltas})
    ids, _ = test.padded(positive, width=real.shape[1])
    unique = unique_key_bags(ids, key, real[positive])
    metrics["sr_unique_key"] = success_rate(p_orig[unique], p_pert[unique], SR_DELTA)
    metrics["sr_unique_key_bags"] = int(unique.sum())
    return metrics, np.asarray(p_pert, np.float64)


def positive_bag_metrics(model: BagModel, split: EvalSplit, bags: np.ndarray) -> dict[str, float]:
    """Loc@3, key hit rate (the key is an anomalous line), SR (δ_sr = 0.1) and SR on unique-key
    bags over the bags `bags` (indices into `split.bags`, meant to be positive), scored as in the
    test protocol; `unique_key_bags` counts the latter. NaN where undefined (no bag)."""
    sub = EvalSplit(split.bags.subset(bags), split.line_labels)
    scores = _checked_scores(model, sub.bags)
    width = scores.instance_scores.shape[1]
    line_labels = sub.instance_labels(width=width)
    real = np.arange(width)[None, :] < sub.bags.lengths[:, None]
    every = np.arange(len(sub.bags))
    metrics, _ = _instance_metrics(model, sub.bags, scores, line_labels, real, every)
    key = np.where(real, scores.instance_scores, -np.inf).argmax(axis=1)
    hits = line_labels[every, key] > 0 if len(every) else np.zeros(0, bool)
    return {loc_key(): metrics[loc_key()], "key_hit": float(hits.mean()) if len(every) else
            float("nan"), "sr": metrics[sr_key()], "sr_unique_key": metrics["sr_unique_key"],
            "unique_key_bags": float(metrics["sr_unique_key_bags"])}


def loc_key(k: int = LOC_K) -> str:
    """The metric key of Loc@k in records (`loc@3`)."""
    return f"loc@{k}"


def sr_key(delta: float = SR_DELTA) -> str:
    """The metric key of SR at δ in records: `sr` for the headline δ, else `sr@δ`."""
    return "sr" if delta == SR_DELTA else f"sr@{delta:g}"


def _checked_scores(model: BagModel, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
    """model.score(bags, drop), with the BagScores contract checked (shapes, range, no NaN)."""
    scores = model.score(bags, drop=drop)
    name = getattr(model, "name", type(model).__name__)
    p = np.asarray(scores.probabilities)
    inst = np.asarray(scores.instance_scores)
    if p.shape != (len(bags),):
        raise ValueError(f"{name}: probabilities have shape {p.shape}, expected ({len(bags)},)")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError(f"{name}: bag probabilities must be finite and in [0, 1]")
    if inst.shape != (len(bags), bags.max_length):
        raise ValueError(f"{name}: instance scores have shape {inst.shape}, "
                         f"expected ({len(bags)}, {bags.max_length})")
    if np.isnan(inst).any():
        raise ValueError(f"{name}: instance scores contain NaN")
    return BagScores(p.astype(np.float64), inst)
