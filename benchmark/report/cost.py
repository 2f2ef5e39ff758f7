"""`cost.md/.csv/.tex`: the records' cost ledgers (benchmark.cost) per dataset and model.

Seconds and steps are mean ± std over seeds; peak memory is the maximum over seeds; parameters
the value of the first seed (equal across seeds for every shipped model). A column a record does
not hold (records written before the ledger have only wall seconds) shows "–".
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.records import RunRecord
from benchmark.report.aggregate import report_sections, row_of
from benchmark.report.paper_reference import dataset_display_name, display_name
from benchmark.report.tables import MISSING, Table

COLUMNS = (  # (ledger key, header, how seeds combine)
    ("fit_seconds", "fit s", "mean"), ("fit_cpu_seconds", "fit CPU s", "mean"),
    ("evaluate_seconds", "eval s", "mean"), ("evaluate_cpu_seconds", "eval CPU s", "mean"),
    ("peak_rss_mb", "peak RSS MiB", "max"), ("peak_gpu_mb", "peak GPU MiB", "max"),
    ("parameters", "parameters", "first"), ("train_steps", "train steps", "mean"),
    ("labeller_calls", "labeller calls", "mean"),
    ("labeller_tokens_sent", "LLM tokens sent", "mean"),
    ("labeller_tokens_received", "LLM tokens received", "mean"),
)


def cost_table(records: list[RunRecord]) -> Table:
    """One section per dataset (label-budget runs are datasets `<base>@…` of their own)."""
    table = Table("cost", "Cost ledger: what each run cost (fit and evaluation)",
                  ["Model", "Seeds", *(header for _, header, _ in COLUMNS)])
    for dataset, models in report_sections(records):
        rows = []
        for model, group in models:
            row = [display_name(row_of(model, group)), str(len(group.seeds))]
            for key, _, how in COLUMNS:
                values = np.array([_number(_ledger_value(r, key)) for r in group.records])
                row.append(_cell(values, how))
                table.tidy.append(_tidy(dataset, model, key, values, how))
            rows.append(row)
        table.sections.append((dataset_display_name(dataset), rows))
    table.notes += [
        "Seconds: mean ± std over seeds (ddof = 0) of wall time and of the process's CPU time "
        "(all threads; above the wall time when torch runs several threads). Peak RSS: maximum "
        "over seeds of the run's peak resident memory (benchmark.cost; the process's peak when "
        "the kernel cannot reset it). Peak GPU: CUDA runs only. Train steps: optimiser steps. "
        "Labeller calls: label-budget runs only; LLM tokens: runs labelled by the llm "
        "labeller, as its server reported them.",
        f"{MISSING} = not in the records (records written before the cost ledger hold wall "
        "seconds only); timings depend on the machine and its load (see the records' "
        "environment).",
    ]
    return table


def _ledger_value(record: RunRecord, key: str):
    """The record's ledger entry; labeller calls of records from before the ledger come from
    their label-budget summary (`extras`)."""
    if key == "labeller_calls" and key not in record.timings:
        return ((record.extras.get("label_budget") or {}).get("summary") or {}).get("queries")
    return record.timings.get(key)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _combine(values: np.ndarray, how: str) -> tuple[float, float | None]:
    defined = values[np.isfinite(values)]
    if defined.size == 0:
        return math.nan, None
    if how == "max":
        return float(defined.max()), None
    if how == "first":
        return float(defined[0]), None
    return float(defined.mean()), float(defined.std(ddof=0)) if defined.size > 1 else None


def _cell(values: np.ndarray, how: str) -> str:
    value, std = _combine(values, how)
    if math.isnan(value):
        return MISSING
    whole = how == "first" or value >= 100 or (std is not None and value.is_integer()
                                               and std.is_integer())
    text = f"{value:,.0f}" if whole or (std is None and value.is_integer()) else f"{value:.2f}"
    if std is not None:
        text += f" ± {std:,.0f}" if whole else f" ± {std:.2f}"
    return text


def _tidy(dataset: str, model: str, key: str, values: np.ndarray, how: str) -> dict:
    value, std = _combine(values, how)
    n = int(np.isfinite(values).sum())
    return {"table": "cost", "dataset": dataset, "model": model, "paper_name": None,
            "metric": key, "ours_mean": None if math.isnan(value) else value, "ours_std": std,
            "n_seeds": len(values), "n_defined": n}
