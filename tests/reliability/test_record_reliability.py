"""Records and options from the reliability audit: every case a clear error or a correct redo.

Records: non-UTF-8 bytes, a wrong type, removed metrics with the hash kept, a hand-edited metric —
each is reported, quarantined (`*.bad`), never shown in the tables, and its run is redone.
Options: wrong types and ranges exit 2 naming the option before any data work; an unwritable
results directory fails before training; a kill during the record write leaves no temp file once
the grid reruns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tiny_template_model
from test_runner import Data

from benchmark import store
from benchmark.cli import run_all_main

MODEL = tiny_template_model.NAME
TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def tiny_model():
    tiny_template_model.register()
    yield
    tiny_template_model.unregister()


def argv(results: Path, *extra: str) -> list[str]:
    return ["--datasets", "tiny", "--models", MODEL, "--seeds", "0", "--device", "cpu",
            "--results-dir", str(results), *extra]


def _rewrite(path: Path, change) -> None:
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


RECORD_DAMAGE = {
    "non-utf8": lambda p: p.write_bytes(p.read_bytes().replace(b'"tiny"', b'"ti\xffny"', 1)),
    "seed-zero": lambda p: _rewrite(p, lambda b: b.__setitem__("seed", "zero")),
    "metrics-removed": lambda p: _rewrite(p, lambda b: b.pop("metrics")),
    "f1-abc": lambda p: _rewrite(p, lambda b: b["metrics"].__setitem__("f1", "abc")),
    "f1-edited": lambda p: _rewrite(p, lambda b: b["metrics"].__setitem__("f1", 0.999)),
}


@pytest.mark.parametrize("damage", sorted(RECORD_DAMAGE))
def test_damaged_record_is_quarantined_unreported_and_rerun(tmp_path, capsys, caplog, damage):
    assert run_all_main(argv(tmp_path), Data().source()) == 0
    path = store.record_path(tmp_path, "tiny", MODEL, 0)
    good = json.loads(path.read_text())
    RECORD_DAMAGE[damage](path)
    capsys.readouterr()

    assert run_all_main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "bad run record" in caplog.text and path.with_name("seed0.json.bad").exists()
    table = (tmp_path / "tables" / "table1.md").read_text()
    assert not re.search(rf"\| {MODEL}\s*\| 1", table)  # never reported

    source = Data()
    assert run_all_main(argv(tmp_path), source.source()) == 0  # redone, not skipped
    assert source.prepared == 1 and "1 finished" in capsys.readouterr().out
    assert json.loads(path.read_text())["metrics"] == good["metrics"]


@pytest.mark.parametrize("option, message", [
    (["--set", f"{MODEL}.epochs=abc"], f"{MODEL}.epochs must be an integer"),
    (["--set", f"{MODEL}.epochs=1.5"], f"{MODEL}.epochs must be an integer"),
    (["--set", f"{MODEL}.epochs=-1"], f"{MODEL}.epochs must be ≥ 1"),
    (["--set", f"{MODEL}.epochs=0"], f"{MODEL}.epochs must be ≥ 1"),
    (["--set", f"{MODEL}.batch_size=0"], f"{MODEL}.batch_size must be ≥ 1"),
    (["--set", f"{MODEL}.lr=0"], f"{MODEL}.lr must be > 0"),
    (["--set", f"{MODEL}.lr=fast"], f"{MODEL}.lr must be a finite number"),
    (["--seeds", "-1"], "--seeds must lie in 0..4294967295"),
    (["--jobs", "0"], "--jobs must be ≥ 1"),
    (["--max-lines", "0"], "--max-lines must be ≥ 1"),
])
def test_bad_options_exit_2_before_any_data_work(tmp_path, capsys, option, message):
    source = Data()
    assert run_all_main(argv(tmp_path, *option), source.source()) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and source.prepared == 0
    assert not (tmp_path / "runs").exists()  # no record of an untrained model


def test_dropout_out_of_range_is_refused_for_a_real_model(tmp_path, capsys):
    assert run_all_main(["--datasets", "tiny", "--models", "logmilp", "--set", "logmilp.dropout=2",
                         "--results-dir", str(tmp_path)], Data().source()) == 2
    assert "logmilp.dropout must be < 1, got 2" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_results_dir_that_cannot_be_written_fails_before_training(tmp_path, capsys, where):
    if where == "file":
        results = tmp_path / "results"
        results.write_text("not a directory")
    else:
        results = Path("/proc/logmilp-bench-results")  # no one, not even root, creates this
    source = Data()
    assert run_all_main(argv(results), source.source()) == 2
    err = capsys.readouterr().err
    assert "--results-dir" in err and "not writable" in err and source.prepared == 0


def test_report_only_on_a_missing_directory_is_an_error(tmp_path, capsys):
    assert run_all_main(["--report-only", "--results-dir", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


KILL_DURING_WRITE = textwrap.dedent("""
    import os, signal, sys, types
    sys.path.insert(0, {tests!r})
    import tiny_template_model
    from conftest import make_tiny_dataset
    from benchmark import atomic, grid, store
    from benchmark.cli import run_all_main

    tiny_template_model.register()

    def fsync_then_die(fd):
        os.kill(os.getpid(), signal.SIGKILL)   # the temp file is written, not yet renamed

    real_write = store.atomic_write_bytes

    def record_write_then_die(path, data):  # only the record write dies, not the checkpoints
        atomic.os = types.SimpleNamespace(**{{k: getattr(os, k) for k in dir(os)
                                             if not k.startswith("__")}})
        atomic.os.fsync = fsync_then_die
        real_write(path, data)

    store.atomic_write_bytes = record_write_then_die
    source = grid.DataSource(prepare=lambda name, **kw: make_tiny_dataset(bags_per_split=24),
                             identity=lambda name, **kw: {{"card": "tiny"}})
    run_all_main(sys.argv[1:], source)
""")


def test_kill_during_the_record_write_leaves_no_temp_file_after_the_rerun(tmp_path, capsys):
    script = KILL_DURING_WRITE.format(tests=str(TESTS_DIR))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script, *argv(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run_dir = store.record_path(tmp_path, "tiny", MODEL, 0).parent
    assert list(run_dir.glob(".seed0.json.*.tmp")) and not (run_dir / "seed0.json").exists()

    assert run_all_main(argv(tmp_path), Data().source()) == 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["seed0.json"]
    assert store.read_record(run_dir / "seed0.json") is not None
