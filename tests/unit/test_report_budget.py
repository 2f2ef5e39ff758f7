"""The label-budget report: curves, the annotation-saved rule, and Tables I–III kept apart."""

from __future__ import annotations

import csv
import dataclasses
import math

from records_factory import make_record

from benchmark import store
from benchmark.report.budget import (
    annotation_saved,
    budget_points,
    full_label_f1,
    write_budget_report,
)
from benchmark.report.build import build_report

UNITS = 10_000


def budget_record(model: str, seed: int, budget: float, f1: float, curve: str = "oracle"):
    dataset = f"synthetic@budget{budget:g}-{curve}"
    used = UNITS if budget == 1.0 else round(budget * UNITS)
    summary = {"labels_used": used, "units": UNITS, "fraction_used": used / UNITS,
               "bag": {"accuracy": 0.9}}
    extras = {"label_budget": {"base_dataset": "synthetic", "curve": curve, "budget": budget,
                               "summary": summary}}
    return dataclasses.replace(make_record(dataset, model, seed, f1=f1), extras=extras)


def grid(full: float = 0.8) -> list:
    """LogMILP: plain F1 `full`; oracle curve 0.5 / 0.77 / 0.9 / full at 0.001 / 0.01 / 0.1 / 1
    (seeds 0 and 1 around those means); noisy curve never reaches 95 %."""
    records = [make_record("synthetic", "logmilp", s, f1=full) for s in (0, 1)]
    for budget, f1 in ((0.001, 0.5), (0.01, 0.77), (0.1, 0.9), (1.0, full)):
        records += [budget_record("logmilp", 0, budget, f1 - 0.01),
                    budget_record("logmilp", 1, budget, f1 + 0.01)]
        records.append(budget_record("logmilp", 0, budget, 0.3, curve="noisy-oracle-flip0.1"))
    return records


def test_smallest_budget_reaching_95_percent_and_the_annotation_saved():
    records = grid()
    points = budget_points(records)
    reference = full_label_f1(records, points)
    assert reference["synthetic", "logmilp"] == (0.8, "ground truth")
    rows = {r["curve"]: r for r in annotation_saved(points, reference)}
    oracle = rows["oracle"]
    assert oracle["budget_reached"] == 0.01  # 0.77 ≥ 0.95 × 0.8 = 0.76; 0.5 is not
    assert oracle["labels_used"] == 100 and math.isclose(oracle["annotation_saved"], 0.99)
    assert rows["noisy-oracle-flip0.1"]["budget_reached"] is None
    point = next(p for p in points if p.curve == "oracle" and p.budget == 0.1)
    stat = point.group.stat("f1")
    assert math.isclose(stat.mean, 0.9) and math.isclose(stat.std, 0.01)  # ddof 0


def test_without_ground_truth_runs_the_oracle_at_budget_1_is_the_reference():
    records = [r for r in grid() if "label_budget" in r.extras]
    reference = full_label_f1(records, budget_points(records))
    value, source = reference["synthetic", "logmilp"]
    assert math.isclose(value, 0.8) and source == "oracle, budget 1"


def test_budget_runs_stay_out_of_tables_1_to_3(tmp_path):
    for record in grid(full=0.8):
        store.write_record(store.record_path(tmp_path, record.dataset, record.model,
                                             record.seed), record)
    build_report(tmp_path)
    with (tmp_path / "tables" / "table1.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert not [r for r in rows if "@" in r["dataset"]]
    ours = [r for r in rows if r["ours_mean"] and r["model"] == "logmilp" and r["metric"] == "f1"]
    assert [(r["dataset"], float(r["ours_mean"])) for r in ours] == [("synthetic", 0.8)]
    assert not list((tmp_path / "figures").glob("iso_f1_synthetic@*"))
    with (tmp_path / "tables" / "annotation_saved.csv").open() as f:
        saved = {r["curve"]: r for r in csv.DictReader(f)}
    assert saved["oracle"]["budget_reached"] == "0.01" and saved["noisy-oracle-flip0.1"][
        "budget_reached"] == ""
    assert "not reached" in (tmp_path / "tables" / "annotation_saved.md").read_text()
    for ext in ("png", "pdf"):
        assert (tmp_path / "figures" / f"label_budget_synthetic.{ext}").stat().st_size > 1000


def test_no_budget_record_writes_no_budget_files(tmp_path):
    assert write_budget_report([make_record("synthetic", "logmilp", 0)], tmp_path / "t",
                               tmp_path / "f") == []
