"""The LogMILP paper's published numbers (Tables I–III), read from `benchmark/paper_tables.json`.

Lookups are by paper row (a model's `paper_row` trait, carried by its records); a (dataset, row,
metric) the paper does not report has no value (None), never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class PaperRow:
    """A row of the paper's tables: its key in paper_tables.json, its displayed name, the
    registry model that reproduces it by default (labels the row when nothing ran), and whether
    Table II marks it * (offline attention adaptation)."""

    key: str
    display: str
    default_model: str
    adapted: bool = False


PAPER_ROWS = (
    PaperRow("DeepLog", "DeepLog", "deeplog"),
    PaperRow("LogAnomaly", "LogAnomaly", "loganomaly"),
    PaperRow("LogBERT", "LogBERT", "logbert", adapted=True),
    PaperRow("LogFormer", "LogFormer", "logformer", adapted=True),
    PaperRow("MIDLog", "MIDLog", "midlog"),
    PaperRow("LogMILP", "LogMILP (OURS)", "logmilp"),
    PaperRow("LogMILP w/o consistency", "LogMILP w/o consistency", "logmilp_nocon"),
)
"""The paper's rows in its order. A model names the row it reproduces with its `paper_row`
trait; the run record carries it, so the report needs no model import."""

CLASSICAL_ROWS = (
    PaperRow("counts_lr", "Counts + LR", "counts_lr"),
    PaperRow("counts_iforest", "Counts + iForest", "counts_iforest"),
)
"""Classical references, not rows of the paper: template-count models (baselines/counts_*.py)
shown in their own block of Tables I–II. Their key is the model name, which their records carry
as `paper_row` (the models have none)."""

FULL_ROW, ABLATED_ROW = "LogMILP", "LogMILP w/o consistency"
PAPER_DATASETS = ("bgl", "spirit", "zookeeper")
DATASET_NAMES = {"bgl": "BGL", "spirit": "Spirit", "zookeeper": "ZooKeeper"}
_ROWS = {row.key: row for row in PAPER_ROWS + CLASSICAL_ROWS}

_COLUMNS = {"auc": "AUC", "precision": "Precision", "recall": "Recall", "f1": "F1",
            "loc@3": "Loc@3", "sr": "SR"}


@dataclass(frozen=True)
class PaperValue:
    """A published number: mean, and std when the paper gives one (its own model only)."""

    mean: float
    std: float | None = None


@cache
def paper_tables() -> dict:
    """The packaged copy of the paper's Tables I–III (see its "source" field)."""
    return json.loads(resources.files("benchmark").joinpath("paper_tables.json").read_text())


def dataset_display_name(dataset: str) -> str:
    """The paper's spelling of a dataset name (BGL, Spirit, ZooKeeper), else the name itself."""
    return DATASET_NAMES.get(dataset, dataset)


def default_row(model: str) -> str:
    """The paper row a registry model reproduces by default (for rows nothing ran), else the
    model name itself."""
    return next((row.key for row in PAPER_ROWS if row.default_model == model), model)


def display_name(row: str) -> str:
    """How a paper row (or a model without one) is shown in tables and figures."""
    return _ROWS[row].display if row in _ROWS else row


def is_adapted(row: str) -> bool:
    """Table II marks the row * (the paper's offline attention adaptation)."""
    return row in _ROWS and _ROWS[row].adapted


def paper_value(dataset: str, row: str, metric: str) -> PaperValue | None:
    """The paper's number for (dataset, paper row, metric), or None when it reports none.

    metric: auc, precision, recall, f1 (Table I), loc@3, sr (Table II). The ablation row's values
    come from Table III's "w/o consistency" column (no AUC there).
    """
    if metric not in _COLUMNS:
        return None
    if row == ABLATED_ROW:
        return _lookup("table3_consistency_ablation", dataset, "without_consistency", metric)
    if row not in _ROWS:
        return None
    table = "table1_bag_level" if metric in ("auc", "precision", "recall", "f1") \
        else "table2_instance_level"
    return _lookup(table, dataset, row, metric)


def paper_delta(dataset: str, metric: str) -> float | None:
    """Table III's Δ = full − w/o consistency for (dataset, metric), or None."""
    value = _lookup("table3_consistency_ablation", dataset, "delta", metric)
    return None if value is None else value.mean


def _lookup(table: str, dataset: str, row: str, metric: str) -> PaperValue | None:
    block = paper_tables()[table]
    columns = block["columns"]
    values = block.get(dataset, {}).get(row)
    if values is None or _COLUMNS.get(metric) not in columns:
        return None
    i = columns.index(_COLUMNS[metric])
    stds = block[dataset].get(f"{row}_std")
    return PaperValue(values[i], stds[i] if stds else None)


def is_classical(row: str) -> bool:
    """A classical reference row (CLASSICAL_ROWS), shown in its own block of Tables I–II."""
    return row in {r.key for r in CLASSICAL_ROWS}
