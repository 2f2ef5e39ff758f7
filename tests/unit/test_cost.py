"""The cost ledger (benchmark.cost) and its table (benchmark.report.cost)."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import torch
from records_factory import make_record

from benchmark.cost import CostLedger, parameter_count
from benchmark.report.cost import cost_table


def test_ledger_measures_phases_parameters_steps_and_labeller_calls():
    ledger = CostLedger("cpu")
    with ledger.phase("fit"):
        sum(i * i for i in range(200_000))  # CPU work
    with ledger.phase("evaluate"):
        time.sleep(0.05)  # wall time, hardly any CPU
    model = SimpleNamespace(net_=torch.nn.Linear(3, 2), history_=SimpleNamespace(steps=7))
    out = ledger.timings(model, {"label_budget": {"summary": {
        "queries": 41, "tokens": {"sent": 5000, "received": 480}}}})
    assert out["fit_cpu_seconds"] > 0 and out["evaluate_seconds"] >= 0.05
    assert out["evaluate_cpu_seconds"] < out["evaluate_seconds"]
    assert out["parameters"] == 3 * 2 + 2 and out["train_steps"] == 7
    assert out["labeller_calls"] == 41 and out["peak_rss_mb"] > 1
    assert (out["labeller_tokens_sent"], out["labeller_tokens_received"]) == (5000, 480)
    assert "peak_gpu_mb" not in out  # CPU run
    assert parameter_count(SimpleNamespace()) is None


def test_cost_table_shows_what_records_hold():
    old = [dataclasses.replace(make_record("synthetic", "deeplog", s),
                               timings={"fit_seconds": 10.0 + s, "evaluate_seconds": 1.0})
           for s in range(2)]
    new = [dataclasses.replace(make_record("synthetic", "logmilp", s),
                               timings={"fit_seconds": 200.0, "fit_cpu_seconds": 390.0,
                                        "peak_rss_mb": 500.0 + 100 * s, "parameters": 1234,
                                        "train_steps": 40})
           for s in range(2)]
    budget = dataclasses.replace(
        make_record("synthetic@budget0.01-oracle", "logmilp", 0), timings={"fit_seconds": 3.0},
        extras={"label_budget": {"summary": {"queries": 117}}})
    table = cost_table(old + new + [budget])
    sections = dict(table.sections)
    deeplog, logmilp = sections["synthetic"]
    assert deeplog[:4] == ["DeepLog", "2", "10.50 ± 0.50", "–"]
    assert logmilp[2:4] == ["200 ± 0", "390 ± 0"]
    assert logmilp[6] == "600" and logmilp[8] == "1,234" and logmilp[9] == "40 ± 0"
    assert sections["synthetic@budget0.01-oracle"][0][-3:] == ["117", "–", "–"]
