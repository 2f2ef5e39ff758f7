"""A non-editable install works from any folder, and `--report-only` stays light (no torch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_checks import run_report_only_light

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_copy_runs_quick_grid_from_another_folder(tmp_path):
    target, work = tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                              "--target", str(target), str(REPO)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    assert sorted(p.name for p in (target / "benchmark" / "cards").glob("*.toml")) == [
        "bgl.toml", "spirit.toml", "synthetic-b.toml", "synthetic-needle.toml", "synthetic.toml",
        "zookeeper.toml"]
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    env.pop("LOGMILP_DATA_DIR", None)
    run = subprocess.run([sys.executable, "-m", "run_all", "--quick", "--models", "deeplog",
                          "--seeds", "0", "--set", "deeplog.epochs=1", "--device", "cpu"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "1 finished" in run.stdout
    [record] = (work / "results" / "runs" / "synthetic" / "deeplog").glob("quick-*/seed0.json")
    assert (work / "datasets" / "raw" / "synthetic").is_dir()  # data under the current folder
    assert (work / "results" / "tables" / record.parent.name / "table1.md").is_file()


def test_report_only_does_not_import_torch(tmp_path):
    (tmp_path / "runs").mkdir()
    run_report_only_light(tmp_path)
    assert (tmp_path / "tables" / "table1.md").is_file()
