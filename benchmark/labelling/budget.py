"""The label-budget protocol: training bag labels from the ALPHA pipeline instead of the truth.

Two units (what the labeller is asked about; the budget is a fraction of that unit):
- "line" (default): the pipeline labels the training split's distinct *lines*; a bag's label is
  the max of its lines' labels, as for the ground truth. n_queries = max(1, round(budget × lines)).
  Lines of one template are one group (template embedding), so one answer can label a template.
  Texts shown to the labeller: the line's template text (what the pipeline keeps) unless
  `line_texts` passes the raw contents. Ids: global line indices (oracle truth: line labels).
- "bag": the labeller is asked about whole windows (text = the window's lines joined by newlines;
  ids = bag indices, oracle truth = bag labels); a window is embedded as the mean of its lines'
  L2-normalised template vectors (or TF-IDF over its text);
  n_queries = max(1, round(budget × bags)).
Budget 1.0 asks about every unit, so the oracle at 1.0 reproduces the original bag labels exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset
from benchmark.labelling.alpha import AlphaSettings, propagate_labels
from benchmark.labelling.base import Labeller

log = logging.getLogger(__name__)

UNITS = ("line", "bag")


def split_lines(bags: BagSet) -> tuple[np.ndarray, np.ndarray]:
    """Distinct line indices (N,) int64 covered by the bags, ascending, and their template ids."""
    if len(bags) == 0:
        raise ValueError("the split holds no bag")
    idx = np.concatenate([np.arange(s, e) for s, e in zip(bags.starts, bags.ends, strict=True)])
    tmpl = np.concatenate([bags.instances(b) for b in range(len(bags))])
    lines, first = np.unique(idx, return_index=True)
    return lines, tmpl[first].astype(np.int64)


def label_budget(split: EvalSplit, budget: float, labeller: Labeller, seed: int, *,
                 unit: str = "line", settings: AlphaSettings | None = None,
                 line_texts: Sequence[str] | None = None) -> tuple[BagSet, dict]:
    """Training bags relabelled through the pipeline, and a JSON-able summary.

    split: the training EvalSplit (its line labels only score the propagation, and reach
    oracles through the labeller the caller built, see `build_labeller`). budget: fraction in
    (0, 1] of the split's units that may be labelled. line_texts: optional (L,) texts indexed by
    global line index. Summary: queries, labels_used, agreement of the propagated labels with the
    truth per line (unit "line") and per bag, round sizes, settings.
    """
    settings = settings if settings is not None else AlphaSettings()
    if not 0.0 < budget <= 1.0:
        raise ValueError(f"label budget must be in (0, 1], got {budget}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    bags = split.bags
    lines, tmpl = split_lines(bags)
    texts = ([bags.templates.texts[t] for t in tmpl] if line_texts is None
             else [line_texts[i] for i in lines])
    before = labeller.queries
    tokens_before = dict(labeller.tokens or {})
    if unit == "line":
        features, group_of = _line_features(bags, tmpl, texts, settings)
        ids = lines
    else:
        position = {int(line): k for k, line in enumerate(lines)}
        texts = ["\n".join(texts[position[i]] for i in range(s, e))
                 for s, e in zip(bags.starts, bags.ends, strict=True)]
        features, group_of = _bag_features(bags, texts, settings)
        ids = np.arange(len(bags))
    n = len(ids)
    n_queries = n if budget >= 1.0 else min(n, max(1, round(budget * n)))
    result = propagate_labels(features, group_of, texts, ids, labeller, n_queries, seed, settings)
    summary = {"budget": budget, "labeller": labeller.name, "unit": unit, "units": n,
               "lines": len(lines), "bags": len(bags), "queries": labeller.queries - before,
               "labels_used": int(result.queried.sum()),
               "fraction_used": float(result.queried.sum() / n), "seed": seed,
               "settings": asdict(settings), **result.info}
    if labeller.tokens is not None:  # an LLM labeller: tokens spent on this plan
        summary["tokens"] = {k: labeller.tokens[k] - tokens_before[k] for k in labeller.tokens}
    if unit == "line":
        line_pred = np.zeros(len(split.line_labels), dtype=np.int8)
        line_pred[lines] = result.labels
        bag_pred = np.array([line_pred[s:e].max() for s, e in zip(bags.starts, bags.ends,
                                                                   strict=True)], dtype=np.int8)
        truth = split.line_labels[lines]
        summary["line"] = agreement(truth, result.labels)
        summary["line_unqueried"] = agreement(truth[~result.queried],
                                              result.labels[~result.queried])
    else:
        bag_pred = result.labels
    summary["bag"] = agreement(bags.labels, bag_pred)
    summary["bags_changed"] = int((bag_pred != bags.labels).sum())
    log.info("label budget %g (%s) with %s: %d queries, bag-label accuracy %.4f", budget, unit,
             labeller.name, summary["queries"], summary["bag"]["accuracy"])
    return bags.with_labels(bag_pred), summary


def agreement(truth: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy, precision, recall, F1 of 0/1 `pred` against `truth` (class 1 = anomalous).

    With no predicted (true) positives, precision (recall) is 1.0 if there are also no true
    (predicted) positives — nothing to find, nothing claimed — and 0.0 otherwise.
    """
    truth, pred = np.asarray(truth, bool), np.asarray(pred, bool)
    tp = int((truth & pred).sum())
    fp, fn = int((~truth & pred).sum()), int((truth & ~pred).sum())
    precision = tp / (tp + fp) if tp + fp else float(tp + fn == 0)
    recall = tp / (tp + fn) if tp + fn else float(tp + fp == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": int(len(truth)), "accuracy": float((truth == pred).mean()) if len(truth) else 1.0,
            "precision": precision, "recall": recall, "f1": f1, "true_positive": tp,
            "false_positive": fp, "false_negative": fn}


def _line_features(bags: BagSet, tmpl: np.ndarray, texts: list[str],
                   settings: AlphaSettings) -> tuple[np.ndarray, np.ndarray]:
    """(G, d) group features and (N,) group of each line for the chosen embedding."""
    if settings.embedding == "template":
        used, group_of = np.unique(tmpl, return_inverse=True)
        return bags.templates.vectors[used].astype(np.float64), group_of
    distinct, group_of = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    return _tfidf(list(distinct), settings), group_of


def _bag_features(bags: BagSet, texts: list[str],
                  settings: AlphaSettings) -> tuple[np.ndarray, np.ndarray]:
    """(B, d) window features (one group per bag) and the identity grouping."""
    if settings.embedding == "template":
        vectors = bags.templates.vectors.astype(np.float64)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        features = np.stack([vectors[bags.instances(b)].mean(axis=0) for b in range(len(bags))])
    else:
        features = _tfidf(texts, settings)
    return features, np.arange(len(bags))


def _tfidf(texts: list[str], settings: AlphaSettings) -> np.ndarray:
    """(n, d) TF-IDF vectors of `texts`, SVD-reduced to `tfidf_components` when wider."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(token_pattern=r"(?u)\b\w[\w\-]*\b").fit_transform(texts)
    if matrix.shape[1] > settings.tfidf_components and len(texts) > settings.tfidf_components:
        svd = TruncatedSVD(n_components=settings.tfidf_components, random_state=0)
        return svd.fit_transform(matrix)
    return matrix.toarray()


def build_labeller(name: str, split: EvalSplit, seed: int, unit: str = "line",
                   **options: object) -> Labeller:
    """`get_labeller(name, **options)`, giving the ground-truth labellers the split's truth for
    `unit` (line labels, or bag labels) and noisy-oracle the run's seed unless in `options`."""
    from benchmark.labelling.base import get_labeller

    if name in ("oracle", "noisy-oracle"):
        truth = split.line_labels if unit == "line" else split.bags.labels
        options = {"truth": truth, **options}
    if name == "noisy-oracle":
        options = {"seed": seed, **options}
    return get_labeller(name, **options)


def relabel_dataset(dataset: PreparedDataset, budget: float, labeller: Labeller, seed: int, *,
                    unit: str = "line", settings: AlphaSettings | None = None,
                    line_texts: Sequence[str] | None = None) -> tuple[PreparedDataset, dict]:
    """`dataset` with its training bag labels from `label_budget`; val and test unchanged.

    The data summary is unchanged (a run records the labelling summary in its `extras`).
    """
    train = dataset.splits["train"]
    bags, summary = label_budget(train, budget, labeller, seed, unit=unit, settings=settings,
                                 line_texts=line_texts)
    splits = dict(dataset.splits) | {"train": EvalSplit(bags, train.line_labels)}
    return PreparedDataset(dataset.name, dataset.templates, splits, dataset.summary), summary
