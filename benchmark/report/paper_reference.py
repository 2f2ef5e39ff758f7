"""The LogMILP paper's published numbers (Tables I–III), read from `benchmark/paper_tables.json`.

Registry names map to the paper's row names; a (dataset, model, metric) the paper does not report
has no value (None), never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

PAPER_NAMES = {
    "deeplog": "DeepLog",
    "loganomaly": "LogAnomaly",
    "logbert": "LogBERT",
    "logformer": "LogFormer",
    "midlog": "MIDLog",
    "logmilp": "LogMILP (OURS)",
    "logmilp_nocon": "LogMILP w/o consistency",
}
"""Registry name → the row name used in the paper's tables."""

PAPER_DATASETS = ("bgl", "spirit", "zookeeper")
DATASET_NAMES = {"bgl": "BGL", "spirit": "Spirit", "zookeeper": "ZooKeeper"}
ADAPTED_MODELS = ("logbert", "logformer")
"""Table II rows the paper marks * (offline attention adaptation for Loc@3/SR)."""

FULL_MODEL, ABLATED_MODEL = "logmilp", "logmilp_nocon"

_COLUMNS = {"auc": "AUC", "precision": "Precision", "recall": "Recall", "f1": "F1",
            "loc@3": "Loc@3", "sr": "SR"}
_TABLE1_ROW = {"deeplog": "DeepLog", "loganomaly": "LogAnomaly", "logbert": "LogBERT",
               "logformer": "LogFormer", "midlog": "MIDLog", "logmilp": "LogMILP"}


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


def display_name(model: str) -> str:
    """The paper's name for a registry model, else the registry name itself."""
    return PAPER_NAMES.get(model, model)


def paper_value(dataset: str, model: str, metric: str) -> PaperValue | None:
    """The paper's number for (dataset, model, metric), or None when it reports none.

    metric: auc, precision, recall, f1 (Table I), loc@3, sr (Table II). For logmilp_nocon the
    values come from Table III's "w/o consistency" column (no AUC there).
    """
    if metric not in _COLUMNS:
        return None
    if model == ABLATED_MODEL:
        return _lookup("table3_consistency_ablation", dataset, "without_consistency", metric)
    row = _TABLE1_ROW.get(model)
    if row is None:
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
