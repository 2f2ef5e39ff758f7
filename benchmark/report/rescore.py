"""Loc@k for any k and SR for any δ, recomputed from the runs' score files (no model, no data).

A run's `seed<k>.scores.npz` (benchmark.artifacts) holds the test split's exact outputs: the same
arrays the protocol computed Loc@3 and SR at δ = 0.1 from, so `instance_metrics(scores, (3,),
(0.1,))` equals the record's `loc@3` and `sr` exactly. Table "II-extra" lists the requested
k and δ per dataset and model, mean ± std over the seeds whose score file verifies (a missing or
mismatched file is logged and that seed left out, shown in the Seeds cell). No torch import.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from benchmark.artifacts import ArtifactError, load_scores, scores_path
from benchmark.layout import record_variant
from benchmark.metrics import loc_at_k, success_rate
from benchmark.protocol import TestScores, loc_key, sr_key
from benchmark.records import RunRecord
from benchmark.report.aggregate import DATASET_ORDER, MODEL_ORDER, group_records, ordered, row_of
from benchmark.report.paper_reference import dataset_display_name, display_name
from benchmark.report.tables import MISSING_NOTE, STD_NOTE, Table, _fmt_stat, _tidy

log = logging.getLogger(__name__)


def instance_metrics(scores: TestScores, ks: tuple[int, ...], deltas: tuple[float, ...]
                     ) -> dict[str, float]:
    """{loc@k: …, sr / sr@δ: …} on the ground-truth positive test bags of one run's scores
    (NaN when there is none), computed exactly as benchmark.protocol does."""
    positive = scores.positive
    inst, labels, real = positive_instances(scores)
    out = {loc_key(k): loc_at_k(inst, labels, k=k, mask=real) for k in ks}
    p_orig = scores.probabilities[positive]
    for delta in deltas:
        out[sr_key(delta)] = (success_rate(p_orig, scores.perturbed, delta) if len(positive)
                              else float("nan"))
    return out


def positive_instances(scores: TestScores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ground-truth positive test bags' instances, padded as the protocol saw them:
    (P, W) float32 scores (−inf padding), (P, W) int8 line labels and (P, W) bool real mask."""
    positive = scores.positive
    offsets = np.concatenate([[0], np.cumsum(scores.lengths)])
    lengths = scores.lengths[positive]
    width = max(int(lengths.max(initial=0)), 1)
    inst = np.full((len(positive), width), -np.inf, dtype=np.float32)
    labels = np.zeros((len(positive), width), dtype=np.int8)
    for row, b in enumerate(positive):
        lo, hi = offsets[b], offsets[b + 1]
        inst[row, : hi - lo] = scores.instance_scores[lo:hi]
        labels[row, : hi - lo] = scores.line_labels[lo:hi]
    real = np.arange(width)[None, :] < lengths[:, None]
    return inst, labels, real


def rescored_records(records: list[RunRecord], results_dir: Path, ks: tuple[int, ...],
                     deltas: tuple[float, ...]) -> list[RunRecord]:
    """The records whose score file verifies, their metrics replaced by the recomputed ones."""
    out = []
    for record in records:
        scores = record_scores(record, results_dir, "the extra Table II")
        if scores is not None:
            out.append(dataclasses.replace(record, metrics=instance_metrics(scores, ks, deltas)))
    return out


def record_scores(record: RunRecord, results_dir: Path, use: str,
                  level: int = logging.WARNING) -> TestScores | None:
    """The verified score file of `record` (its config hash), or None (logged at `level`: left
    out of `use`) when it is missing or does not fit."""
    path = scores_path(results_dir, record.dataset, record.model, record.seed,
                       record_variant(record.extras))
    try:
        return load_scores(path, record.config_hash)
    except ArtifactError as err:
        log.log(level, "report: %s; left out of %s", err, use)
        return None


def extra_table(records: list[RunRecord], rescored: list[RunRecord], ks: tuple[int, ...],
                deltas: tuple[float, ...]) -> Table:
    """Table II-extra: Loc@k and SR@δ for the requested k and δ, from the score files."""
    metrics = [loc_key(k) for k in ks] + [sr_key(d) for d in deltas]
    names = [f"Loc@{k}" for k in ks] + [f"SR@{d:g}" for d in deltas]
    table = Table("table2_extra", "Table II (extra): instance-level localization on "
                  "ground-truth positive test bags, recomputed from the runs' score files",
                  ["Model", "Seeds (scored)", *names])
    all_groups = group_records(records)
    groups = group_records(rescored)
    present = {d for d, _ in all_groups}
    datasets = [d for d in ordered(present, DATASET_ORDER) if d in present]
    models = ordered({m for _, m in all_groups}, MODEL_ORDER)
    for dataset in datasets:
        rows = []
        for model in models:
            if (dataset, model) not in all_groups:
                continue
            group = groups.get((dataset, model))
            scored = 0 if group is None else len(group.seeds)
            row = [display_name(row_of(model, all_groups[dataset, model])),
                   f"{len(all_groups[dataset, model].seeds)} ({scored})"]
            for metric in metrics:
                row.append(_fmt_stat(None if group is None else group.stat(metric)))
                table.tidy.append(_tidy("II-extra", dataset, model, metric, group, None))
            rows.append(row)
        table.sections.append((dataset_display_name(dataset), rows))
    table.notes += ["Seeds (scored) = seeds run (seeds whose score file verifies; only those "
                    "enter the cells). SR@δ: success when P_orig − P_pert > δ; SR@0.1 is "
                    "Table II's SR.", STD_NOTE, MISSING_NOTE]
    return table
