"""The Dask backend on a real LocalCluster: the same records as the local backend; a worker lost
mid-task is rescheduled; a task that errors is reported as that run's failure."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from benchmark import backends, cli
from benchmark.layout import RunKey
from benchmark.run import RunContext, RunSpec, single_run

GRID = ["--datasets", "synthetic", "--models", "logmilp", "deeplog", "--seeds", "0", "1",
        "--quick", "--device", "cpu", "--set", "logmilp.epochs=2", "--set", "logmilp.patience=2",
        "--set", "deeplog.epochs=1"]


def metrics(results: Path) -> dict[str, dict]:
    return {str(p.relative_to(results)): json.loads(p.read_text())["metrics"]
            for p in sorted((results / "runs").glob("*/*/*/seed*.json"))}  # quick variants


def environments(results: Path) -> set[str]:
    return {json.dumps(json.loads(p.read_text())["environment"].get("torch_threads"))
            for p in (results / "runs").glob("*/*/*/seed*.json")}


@pytest.mark.slow
def test_jobs_and_backend_give_the_same_records(tmp_path):
    """Same seeds, same machine, no --threads: --jobs 1, --jobs 2 and --backend dask --jobs 2
    write equal metrics (one torch thread per run whatever the parallelism, recorded)."""
    data = ["--data-dir", str(tmp_path / "data")]
    serial, parallel, dask = tmp_path / "serial", tmp_path / "parallel", tmp_path / "dask"
    assert cli.run_all_main([*GRID, *data, "--results-dir", str(serial), "--jobs", "1"]) == 0
    assert cli.run_all_main([*GRID, *data, "--results-dir", str(parallel), "--jobs", "2"]) == 0
    assert cli.run_all_main([*GRID, *data, "--results-dir", str(dask), "--backend", "dask",
                        "--jobs", "2"]) == 0
    expected = metrics(serial)
    assert len(expected) == 4
    assert metrics(parallel) == expected
    assert metrics(dask) == expected
    for results in (serial, parallel, dask):
        assert environments(results) == {"1"}
    assert len(list((dask / "tables").glob("quick-*/table1.md"))) == 2  # one per variant
    assert not (dask / "checkpoints").exists()


def _spec(model: str, seed: int) -> RunSpec:
    return single_run(RunKey("tiny", model, seed), None, f"{seed:064d}",
                      Path(f"{model}{seed}.json"), {})


def _context(tmp_path) -> RunContext:
    return RunContext(device="cpu", libraries={}, git_commit=None, python="3",
                      results_dir=tmp_path)


def die_once(spec, dataset, context):
    """A run whose first attempt kills its worker process (as a lost node would)."""
    marker = Path(context.results_dir) / f"{spec.model}-{spec.seed}"
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return spec, None


def raise_error(spec, dataset, context):
    """A task failing outside the run's own error handling."""
    raise ValueError(f"cannot run {spec.model}")


@pytest.mark.slow
def test_lost_worker_is_retried_and_task_errors_are_reported(tmp_path):
    from dask.distributed import LocalCluster

    context = _context(tmp_path)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        lost = list(backends.run_pending(die_once, [_spec("a", 0)], {"data": 1}, context, 1,
                                         "dask", cluster.scheduler_address))
        assert [(s.model, e) for s, e in lost] == [("a", None)]
        assert (tmp_path / "a-0").exists()  # the first attempt really ran and died
        failed = list(backends.run_pending(raise_error, [_spec("b", 1)], {"data": 1}, context,
                                           1, "dask", cluster.scheduler_address))
    assert [(s.model, e) for s, e in failed] == [("b", "ValueError: cannot run b")]


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'ray'"):
        list(backends.run_pending(die_once, [], None, None, 1, "ray"))
