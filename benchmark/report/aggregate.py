"""Run records → per (dataset, model) mean ± std over seeds (numpy, ddof = 0)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

import numpy as np

from benchmark.records import RunRecord
from benchmark.report.paper_reference import (
    CLASSICAL_ROWS,
    PAPER_DATASETS,
    PAPER_ROWS,
    default_row,
)

log = logging.getLogger(__name__)

MODEL_ORDER = tuple(row.default_model for row in PAPER_ROWS + CLASSICAL_ROWS)
"""The paper's rows, then the classical references (Tables I–II list the paper's rows even
where nothing ran; the classical ones only where they ran)."""
DATASET_ORDER = PAPER_DATASETS


@dataclass(frozen=True)
class Stat:
    """mean and std (ddof = 0) over the seeds where a metric is defined; n = that count.

    n = 0 with seeds > 0 means the metric was undefined in every run (mean/std are NaN).
    """

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Group:
    """All runs of one (dataset, model): their seeds, records and flags for the captions."""

    dataset: str
    model: str
    seeds: tuple[int, ...]
    records: tuple[RunRecord, ...]
    quick: bool
    mixed_configs: bool
    overridden: bool = False
    """Some seed ran with config fields set from the command line (`--set`)."""
    paper_row: str = ""
    """The paper row the model reproduces (its records' `paper_row`)."""
    below_chance: tuple[int, ...] = ()
    """Seeds whose validation AUC is below chance (RunRecord.below_chance)."""

    def stat(self, metric: str) -> Stat:
        values = np.array([_as_float(r.metrics.get(metric)) for r in self.records])
        defined = values[np.isfinite(values)]
        if defined.size == 0:
            return Stat(math.nan, math.nan, 0)
        return Stat(float(defined.mean()), float(defined.std(ddof=0)), int(defined.size))


def group_records(records: list[RunRecord]) -> dict[tuple[str, str], Group]:
    """Records grouped by (dataset, model); flags quick runs and seeds run under other configs."""
    buckets: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        buckets.setdefault((record.dataset, record.model), []).append(record)
    groups = {}
    for (dataset, model), rs in buckets.items():
        rs.sort(key=lambda r: r.seed)
        settings = {_settings_key(r) for r in rs}
        if len(settings) > 1:
            log.warning("%s/%s: seeds were run with different configs or data; the table "
                        "marks the cell", dataset, model)
        groups[dataset, model] = Group(
            dataset, model, tuple(r.seed for r in rs), tuple(rs),
            quick=any(r.quick for r in rs),
            mixed_configs=len(settings) > 1,
            overridden=any(r.config_overrides for r in rs),
            paper_row=rs[0].paper_row,
            below_chance=tuple(r.seed for r in rs if r.below_chance),
        )
    return groups


def ordered(names: set[str], order: tuple[str, ...]) -> list[str]:
    """`order` first (all of it), then the other names alphabetically."""
    return list(order) + sorted(names - set(order))


def report_sections(records: list[RunRecord]) -> list[tuple[str, list[tuple[str, Group]]]]:
    """The datasets with records (report order), each with its (model, Group) pairs in model
    order: the skeleton of a table with one section per dataset and one row per model run."""
    groups = group_records(records)
    present = {d for d, _ in groups}
    return [(dataset, [(m, groups[dataset, m])
                       for m in ordered({m for d, m in groups if d == dataset}, MODEL_ORDER)
                       if (dataset, m) in groups])
            for dataset in ordered(present, DATASET_ORDER) if dataset in present]


def row_of(model: str, group: Group | None) -> str:
    """The paper row of a table row: its records' `paper_row`, else the model's default row."""
    return group.paper_row if group is not None else default_row(model)


def _settings_key(record: RunRecord) -> str:
    return json.dumps([record.config, record.dataset_identity, record.protocol_version],
                      sort_keys=True, default=str)


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
