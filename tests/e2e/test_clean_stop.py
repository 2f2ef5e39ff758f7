"""A clean stop: SIGTERM / SIGINT to a `--jobs 2` grid stop every worker within seconds, keep the
checkpoints of unfinished runs, say how to resume and exit 143 / 130; the rerun resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "LOGMILP_CLEAN_STOP_TEST"
LONG = ["--set", "logmilp.epochs=5000", "--set", "logmilp.patience=5000",
        "--set", "logmilp_nocon.epochs=5000", "--set", "logmilp_nocon.patience=5000"]


def start_grid(results: Path, backend: str, mark: str = "") -> subprocess.Popen:
    """The tiny grid in a process of its own; every process it starts inherits MARK=mark."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "tiny_grid.py"), "--datasets", "tiny", "--models",
         "logmilp", "logmilp_nocon", "--seeds", "0", "--jobs", "2", "--backend", backend,
         "--device", "cpu", "--results-dir", str(results), *LONG],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, MARK: mark})


def marked(mark: str) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment carries MARK=mark."""
    found = []
    for process in psutil.process_iter():
        try:
            if (process.environ().get(MARK) == mark
                    and process.status() != psutil.STATUS_ZOMBIE):
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_for_checkpoints(results: Path, proc: subprocess.Popen, count: int) -> list[Path]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        found = sorted((results / "checkpoints").rglob("*.pt"))
        if len(found) >= count:
            return found
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no {count} checkpoints: {proc.communicate()}")


@pytest.mark.slow
@pytest.mark.parametrize("backend,signum", [("local", signal.SIGTERM), ("local", signal.SIGINT),
                                            ("dask", signal.SIGTERM)])
def test_a_signal_stops_every_worker_and_the_rerun_resumes(tmp_path, backend, signum):
    mark = uuid.uuid4().hex
    proc = start_grid(tmp_path, backend, mark)
    wait_for_checkpoints(tmp_path, proc, 2)  # both runs are training in their workers
    assert len(marked(mark)) >= 3  # the driver and its two workers at least
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - sent
    assert proc.returncode == 128 + signum, err
    assert "rerun the same command to resume" in err
    time.sleep(5)
    assert marked(mark) == []  # no process of the grid is left 5 s later
    assert stopped_after < 15, stopped_after
    assert len(list((tmp_path / "checkpoints").rglob("*.pt"))) == 2  # kept for the resume
    assert not list((tmp_path / "runs").rglob("*.json"))

    rerun = start_grid(tmp_path, "local")
    deadline = time.monotonic() + 180
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = rerun.stderr.readline()
        lines.append(line)
        if "resuming from checkpoint" in line or not line:
            break
    rerun.send_signal(signal.SIGTERM)
    rerun.communicate(timeout=60)
    assert any("resuming from checkpoint" in line for line in lines), lines
