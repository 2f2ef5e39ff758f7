"""`run_all.py --plan`: every run with its state, the data it needs and the projected hours,
without training; the committed records cover the default grid, so the main job trains nothing."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
import time
from pathlib import Path

import tiny_template_model
from test_runner import Data, argv

from benchmark import cli
from benchmark.cost_model import CostModel, estimate_lines, load_cost_model
from benchmark.grid import DEFAULT_SEEDS, GridOptions
from benchmark.plan import GridPlan, PlannedRun, plan_grid, warn_if_long
from benchmark.registry import list_models, model_class

REPO = Path(__file__).resolve().parents[2]


def project_models() -> list[str]:
    """The models the plain grid runs: those of the project's models/ and baselines/."""
    return [m for m in list_models()
            if model_class(m).__module__.split(".")[0] in ("models", "baselines")]


def test_committed_records_cover_the_default_grid():
    """`python run_all.py` on a fresh clone trains nothing: every (model, seed) of the default
    grid has a committed record with the config hash the grid computes today."""
    plan = plan_grid(GridOptions(models=tuple(project_models()), results_dir=REPO / "results"))
    assert {(r.model, r.seed) for r in plan.runs} == {
        (m, s) for m in project_models() for s in DEFAULT_SEEDS}
    missing = [f"{r.dataset}/{r.model}/seed{r.seed}" for r in plan.pending]
    assert not missing, f"no committed record with today's config hash: {missing}"


def test_plan_of_the_paper_grid_names_missing_files_and_projects_hours(tmp_path):
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "run_all.py", "--datasets", "bgl", "spirit", "zookeeper", "--plan",
         "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("bgl", "spirit", "zookeeper"):
        assert f"fetch: python -m benchmark download {name}" in out
        for model in project_models():
            for seed in DEFAULT_SEEDS:
                assert any(line.split()[:4] == [name, model, "seed", str(seed)]
                           and "to run" in line for line in out.splitlines()), (name, model)
    assert "[MISSING; 4,747,963 lines]" in out  # BGL's full size from the cost model
    total = next(line for line in out.splitlines() if line.startswith("projected: "))
    assert f"projected: {3 * 3 * len(project_models())} run(s) to do, 0 recorded; " in total
    assert float(total.split("; ")[1].split(" h")[0]) > 100  # the paper grid is days of CPU
    assert not (tmp_path / "results" / "runs").exists()  # nothing trained, nothing written
    assert seconds < 60, seconds


def test_plan_shows_recorded_runs_and_trains_nothing(tmp_path, capsys):
    tiny_template_model.register()
    try:
        _recorded_then_planned(tmp_path, capsys)
    finally:
        tiny_template_model.unregister()


def _recorded_then_planned(tmp_path, capsys):
    data = Data()
    assert cli.run_all_main(argv(tmp_path), data.source()) == 0
    capsys.readouterr()
    data = Data(fail=True)
    assert cli.run_all_main([*argv(tmp_path), "--seeds", "0", "1", "2", "--plan"],
                            data.source()) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = [line.split() for line in lines if line.startswith("  tiny ")]
    states = {(r[1], r[3]): " ".join(r[4:6]) for r in runs}
    assert states and all(v == "recorded" for (m, s), v in states.items() if s in "01")
    assert all(v == "to run" for (m, s), v in states.items() if s == "2")


def test_line_estimate_of_plain_and_gzip_logs(tmp_path):
    text = b"".join(b"line %06d with some text\n" % i for i in range(300_000))
    plain = tmp_path / "a.log"
    plain.write_bytes(text)
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(text))
    assert abs(estimate_lines(plain) - 300_000) <= 3  # the sample may end inside a line
    assert abs(estimate_lines(packed) - 300_000) < 9_000  # compressed: read-ahead blurs it
    assert estimate_lines(tmp_path / "a.zip") is None


def test_cost_model_scales_by_lines_and_a_long_cpu_grid_warns(caplog):
    cost = load_cost_model()
    per_million = cost.run_hours("logmilp", 1_000_000)
    assert per_million > 0 and cost.run_hours("logmilp", 2_000_000) == 2 * per_million
    assert CostModel({}, {}).run_hours("logmilp", 10) is None
    plan = GridPlan([PlannedRun("bgl", "logmilp", 0, False, 1.5),
                     PlannedRun("bgl", "deeplog", 0, True, 9.0)], [])
    with caplog.at_level(logging.WARNING):
        warn_if_long(plan, "cpu", 2)
        warn_if_long(plan, "cuda", 2)
    assert len(caplog.records) == 1 and "projected at 1.5 CPU hours" in caplog.text
    assert "--plan" in caplog.text
