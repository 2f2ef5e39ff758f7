"""Fabricated `RunRecord`s for report and store tests (valid schema, chosen metrics)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmark.records import RunRecord
from benchmark.report.paper_reference import default_row

BASE_METRICS = {"auc": 0.95, "precision": 0.9, "recall": 0.8, "f1": 0.85, "threshold": 0.5,
                "val_f1": 0.9, "loc@3": 0.5, "sr": 0.7, "sr@0.05": 0.8, "sr@0.2": 0.6}


def make_record(dataset: str, model: str, seed: int, quick: bool = False,
                config_hash: str | None = None, **metrics: float) -> RunRecord:
    """A record of (dataset, model, seed) with BASE_METRICS updated by `metrics`."""
    digest = config_hash or hashlib.sha256(f"{dataset}/{model}/{seed}".encode()).hexdigest()
    return RunRecord(
        dataset=dataset, model=model, seed=seed, config_hash=digest, protocol_version=1,
        paper_row=default_row(model), config_class="Cfg", config={"lr": 0.001},
        config_overrides={}, dataset_identity={"name": dataset, "quick": quick},
        data_summary={}, metrics={**BASE_METRICS, **metrics}, threshold={}, counts={},
        pr_curve=None, notes=[], history=None, timings={}, environment={},
        finished_at="2026-01-01T00:00:00+00:00")


def run_record_path(results: Path, dataset: str, model: str, seed: int) -> Path:
    """The one record of (dataset, model, seed) under `results`, whatever its variant folder
    (benchmark.layout: default, quick, cfg-<h>); fails the test unless exactly one exists."""
    run_dir = Path(results) / "runs" / dataset / model
    found = sorted([*run_dir.glob(f"seed{seed}.json"), *run_dir.glob(f"*/seed{seed}.json")])
    assert len(found) == 1, f"expected one record of {dataset}/{model}/seed{seed}: {found}"
    return found[0]
