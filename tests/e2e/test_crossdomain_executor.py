"""Cross-domain runs go through the one executor (benchmark.run): the same records serially,
with `--jobs 2` and on Dask; resume from the checkpoint after a SIGKILL; a saved model per K that
`localize` loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import make_tiny_dataset

from benchmark import cli, grid
from benchmark.checkpoint import MAGIC
from benchmark.data.synthetic import write_synthetic_log
from benchmark.sealed import unseal

TESTS_DIR = Path(__file__).resolve().parents[1]
PAIR = "tiny→tiny-b"
SETTINGS = {"epochs": 3, "patience": 3, "steps_per_epoch": 3, "hidden_dim": 16,
            "attention_dim": 8}
VOLATILE = ("timings", "environment", "finished_at", "checksum")
"""Record fields that depend on the machine, the moment or the worker (not on the numbers)."""


def _argv(results: Path, *extra: str, models: tuple[str, ...] = ("protonet",),
          seeds: tuple[str, ...] = ("0",)) -> list[str]:
    return ["--cross-domain", "--sources", "tiny", "--target", "tiny-b", "--shots", "0", "2",
            "--models", *models, "--seeds", *seeds, "--device", "cpu",
            "--results-dir", str(results),
            *[f"--set={m}.{k}={json.dumps(v)}" for m in models for k, v in SETTINGS.items()],
            *extra]


def _tiny_source() -> grid.DataSource:
    """Tiny datasets named as asked (the source and the target of a pair; as kill_at_epoch.py)."""
    return grid.DataSource(
        prepare=lambda name, **_: replace(make_tiny_dataset(bags_per_split=24), name=name),
        identity=lambda name, **_: {"card": "tiny"})


def _records(results: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((results / "runs" / "crossdomain").rglob("seed*.json")):
        record = json.loads(path.read_text())
        out[str(path.relative_to(results))] = {k: v for k, v in record.items()
                                               if k not in VOLATILE}
    return out


@pytest.mark.slow
def test_cross_domain_grid_writes_the_same_records_serially_with_jobs_and_on_dask(tmp_path):
    serial, jobs, dask = tmp_path / "serial", tmp_path / "jobs", tmp_path / "dask"
    runs = {"models": ("protonet", "maml"), "seeds": ("0",)}  # two runs to share two workers
    assert cli.run_all_main(_argv(serial, **runs), _tiny_source()) == 0
    assert cli.run_all_main(_argv(jobs, "--jobs", "2", **runs), _tiny_source()) == 0
    assert cli.run_all_main(_argv(dask, "--backend", "dask", "--jobs", "2", **runs),
                            _tiny_source()) == 0
    expected = _records(serial)
    assert len(expected) == 4  # 2 models x K in {0, 2}
    assert _records(jobs) == expected
    assert _records(dask) == expected
    for results in (serial, jobs, dask):  # artifacts per K; checkpoints removed when done
        for model in ("protonet", "maml"):
            for k in (0, 2):
                folder = results / "models" / "crossdomain" / PAIR / model / f"shots{k}"
                assert (folder / "seed0.pt").is_file() and (folder / "seed0.scores.npz").is_file()
        assert not (results / "checkpoints").exists()


def _epoch(path: Path) -> int:
    import io

    import torch

    payload = torch.load(io.BytesIO(unseal(MAGIC, path.read_bytes())), weights_only=True)
    return payload["payload"]["epoch"]


@pytest.mark.slow
def test_cross_domain_run_resumes_from_its_checkpoint_after_sigkill(tmp_path):
    killed, plain = tmp_path / "killed", tmp_path / "plain"
    argv = _argv(killed, "--threads", "1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(TESTS_DIR / "kill_at_epoch.py"), "2", *argv],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not list((killed / "runs").rglob("seed0.json"))
    [ckpt] = (killed / "checkpoints" / "crossdomain" / PAIR / "protonet").glob("seed0-*.pt")
    assert _epoch(ckpt) == 2

    assert cli.run_all_main([*argv, "--keep-checkpoints"], _tiny_source()) == 0
    assert _epoch(ckpt) == 3  # continued after epoch 2, not restarted
    assert cli.run_all_main(_argv(plain, "--threads", "1"), _tiny_source()) == 0
    resumed, fresh = _records(killed), _records(plain)
    assert resumed.keys() == fresh.keys() and len(fresh) == 2
    for name, record in fresh.items():
        assert resumed[name]["history"]["resumed_after"] == 2
        for field in ("config_hash", "metrics", "pr_curve", "threshold"):
            assert resumed[name][field] == record[field], (name, field)


@pytest.mark.slow
def test_localize_loads_a_cross_domain_model(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    argv = ["--cross-domain", "--sources", "synthetic", "--target", "synthetic-b", "--shots",
            "2", "--models", "deeplog", "--seeds", "0", "--quick", "--max-lines", "6000",
            "--device", "cpu", "--threads", "1", "--set", "deeplog.epochs=1",
            "--data-dir", str(data), "--results-dir", str(results)]
    assert cli.run_all_main(argv) == 0
    log = tmp_path / "target.log"
    write_synthetic_log(log, 3000, seed=5, profile="b")
    out = tmp_path / "windows.json"
    assert cli.benchmark_main(["localize", "--model", "deeplog", "--trained-on",
                               "synthetic→synthetic-b", "--shots", "2", "--variant", "quick",
                               "--log", str(log), "--output", str(out),
                               "--results-dir", str(results)]) == 0
    found = json.loads(out.read_text())
    assert found["lines"] == 3000 and found["bags"] > 0
    assert "crossdomain" in found["model_file"] and "shots2" in found["model_file"]
    assert cli.benchmark_main(["localize", "--model", "deeplog", "--trained-on",
                               "synthetic→synthetic-b", "--shots", "5", "--variant", "quick",
                               "--log", str(log), "--results-dir", str(results)]) == 2
