"""End to end: run_all's runner on the tiny dataset with a tiny registered test model (CPU)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import tiny_template_model
from conftest import make_tiny_dataset
from joblib.externals.loky import get_reusable_executor
from records_factory import run_record_path

from benchmark import cli, grid, store
from benchmark.data.bagset import BagSet
from benchmark.data.errors import DataError

MODEL = tiny_template_model.NAME
TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def tiny_model():
    tiny_template_model.register()
    yield
    tiny_template_model.unregister()


class Data:
    """A DataSource over the tiny dataset that counts preparations; `fail` forbids them."""

    def __init__(self, fail: bool = False) -> None:
        self.prepared = 0
        self.fail = fail

    def prepare(self, name, **kwargs):
        if self.fail:
            raise AssertionError("the data must not be prepared")
        self.prepared += 1
        return make_tiny_dataset(bags_per_split=24)

    def identity(self, name, **kwargs):
        if name != "tiny":
            raise DataError(f"unknown dataset {name!r}; known datasets: tiny")
        return {"card": "tiny"}

    def source(self) -> grid.DataSource:
        return grid.DataSource(prepare=self.prepare, identity=self.identity)


def argv(results: Path, *extra: str) -> list[str]:
    return ["--datasets", "tiny", "--models", "zz_tiny*", "--seeds", "0", "1", "--device", "cpu",
            "--results-dir", str(results), *extra]


def test_end_to_end_records_then_skip(tmp_path, capsys):
    data = Data()
    assert cli.run_all_main(argv(tmp_path), data.source()) == 0
    assert data.prepared == 1
    for seed in (0, 1):
        record = json.loads(store.record_path(tmp_path, "tiny", MODEL, seed).read_text())
        assert record["seed"] == seed and record["model"] == MODEL
        assert set(record["metrics"]) >= {"auc", "ap", "precision", "recall", "f1", "threshold",
                                          "loc@3", "sr", "sr@0.05", "sr@0.2"}
        assert record["metrics"]["auc"] > 0.75  # the planted templates are learnable
        assert record["config"]["epochs"] == 10 and len(record["config_hash"]) == 64
        assert record["threshold"]["rule"] == "max-val-f1"
        timings = record["timings"]  # the cost ledger (benchmark.cost); CPU run: no GPU key
        assert set(timings) == {"prepare_seconds", "fit_seconds", "evaluate_seconds",
                                "fit_cpu_seconds", "evaluate_cpu_seconds", "peak_rss_mb",
                                "peak_rss_scope_run", "parameters", "train_steps"}
        assert timings["peak_rss_mb"] > 10 and timings["fit_cpu_seconds"] > 0
        assert timings["parameters"] > 0 and timings["train_steps"] >= 10  # ≥ 1 step / epoch
        assert record["environment"]["device"] == "cpu"
        assert "torch" in record["environment"]["libraries"]
        assert record["pr_curve"]["precision"] and "git_commit" in record["environment"]
        assert record["history"]["best_epoch"] >= 1 and record["schema_version"] == 2
    for name in ("table1", "table2", "table3", "oracle_tau", "cost", "ranks"):
        assert (tmp_path / "tables" / f"{name}.md").exists()
    assert (tmp_path / "figures" / "iso_f1_tiny.png").exists()
    assert "2 finished" in capsys.readouterr().out

    start = time.perf_counter()
    again = Data()
    assert cli.run_all_main(argv(tmp_path), again.source()) == 0
    assert again.prepared == 0 and time.perf_counter() - start < 20
    assert "0 finished, 2 already recorded" in capsys.readouterr().out


def test_same_seed_same_numbers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cli.run_all_main(argv(a, "--seeds", "1"), Data().source())
    cli.run_all_main(argv(b, "--seeds", "1"), Data().source())
    ra, rb = (store.read_record(store.record_path(d, "tiny", MODEL, 1)) for d in (a, b))
    assert ra.metrics == rb.metrics and ra.config_hash == rb.config_hash


def test_report_only_rebuilds_without_data_or_training(tmp_path):
    cli.run_all_main(argv(tmp_path, "--seeds", "0"), Data().source())
    table = tmp_path / "tables" / "table1.md"
    table.unlink()
    assert cli.run_all_main(["--report-only", "--results-dir", str(tmp_path)],
                       Data(fail=True).source()) == 0
    assert table.exists() and re.search(r"\| zz_tiny_template\s*\| 1\s*\|", table.read_text())


def test_interrupted_grid_resumes(tmp_path, monkeypatch, capsys):
    real_fit = tiny_template_model.TinyTemplateModel.fit
    fits = []

    def fit_then_interrupt(self, train, val):
        fits.append(self.context.seed)
        if len(fits) == 2:
            raise KeyboardInterrupt
        return real_fit(self, train, val)

    monkeypatch.setattr(tiny_template_model.TinyTemplateModel, "fit", fit_then_interrupt)
    assert cli.run_all_main(argv(tmp_path), Data().source()) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert store.record_path(tmp_path, "tiny", MODEL, 0).exists()
    assert not store.record_path(tmp_path, "tiny", MODEL, 1).exists()
    assert (tmp_path / "tables" / "table1.md").exists()  # report rebuilt anyway

    monkeypatch.setattr(tiny_template_model.TinyTemplateModel, "fit", real_fit)
    assert cli.run_all_main(argv(tmp_path), Data().source()) == 0
    assert "1 finished, 1 already recorded" in capsys.readouterr().out
    assert store.record_path(tmp_path, "tiny", MODEL, 1).exists()


def test_fit_gets_bag_sets_only(tmp_path, monkeypatch):
    real_fit = tiny_template_model.TinyTemplateModel.fit
    seen = []

    def spy(self, train, val):
        seen.append((type(train), type(val)))
        return real_fit(self, train, val)

    monkeypatch.setattr(tiny_template_model.TinyTemplateModel, "fit", spy)
    cli.run_all_main(argv(tmp_path, "--seeds", "0"), Data().source())
    assert seen == [(BagSet, BagSet)]


def test_a_failing_run_is_reported_and_the_grid_goes_on(tmp_path, monkeypatch, capsys):
    real_fit = tiny_template_model.TinyTemplateModel.fit

    def fail_seed0(self, train, val):
        if self.context.seed == 0:
            raise RuntimeError("loss became nan")
        return real_fit(self, train, val)

    monkeypatch.setattr(tiny_template_model.TinyTemplateModel, "fit", fail_seed0)
    assert cli.run_all_main(argv(tmp_path), Data().source()) == 1
    assert "failed: tiny/zz_tiny_template/seed0: RuntimeError: loss became nan" in \
        capsys.readouterr().err
    assert store.record_path(tmp_path, "tiny", MODEL, 1).exists()


@pytest.mark.parametrize("extra, message", [
    (["--models", "no_such_model"], "error: unknown model 'no_such_model'"),
    (["--datasets", "nope"], "error: unknown dataset 'nope'"),
    (["--data-file", "tiny=/no/such/file.log"], "error: /no/such/file.log: no such file (data "
                                                "file for tiny)"),
    (["--data-file", "other=/x.log"], "error: --data-file names dataset(s) not in --datasets"),
    (["--jobs", "0"], "error: --jobs must be ≥ 1"),
    (["--set", "deeplog.epochs=3"], "error: --set names model(s) not in this run: deeplog"),
    (["--set", f"{MODEL}.depth=3"], "error: --set: unknown config field(s) for zz_tiny_template: "
                                    "depth"),
    (["--set", f"{MODEL}.epochs=abc"], f"{MODEL}.epochs must be an integer, got 'abc'"),
    (["--set", f"{MODEL}.epochs=1.5"], f"{MODEL}.epochs must be an integer, got 1.5"),
    (["--set", f"{MODEL}.epochs=-1"], f"{MODEL}.epochs must be ≥ 1, got -1"),
    (["--set", f"{MODEL}.epochs=0"], f"{MODEL}.epochs must be ≥ 1, got 0"),
    (["--set", f"{MODEL}.batch_size=0"], f"{MODEL}.batch_size must be ≥ 1, got 0"),
    (["--set", f"{MODEL}.lr=0"], f"{MODEL}.lr must be > 0, got 0"),
    (["--set", f"{MODEL}.lr=fast"], f"{MODEL}.lr must be a finite number, got 'fast'"),
    (["--seeds", "-1"], "error: --seeds must lie in 0..4294967295, got -1"),
    (["--seeds", "4294967296"], "error: --seeds must lie in 0..4294967295, got 4294967296"),
])
def test_user_errors_exit_2_without_traceback(tmp_path, capsys, extra, message):
    data = Data()
    assert cli.run_all_main(argv(tmp_path, *extra), data.source()) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert data.prepared == 0


def test_results_dir_that_is_a_file_or_read_only_fails_before_data(tmp_path, capsys):
    data = Data()
    as_file = tmp_path / "file"
    as_file.write_text("x")
    assert cli.run_all_main(argv(as_file), data.source()) == 2
    assert "--results-dir" in capsys.readouterr().err and data.prepared == 0
    assert cli.run_all_main(["--report-only", "--results-dir", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_integral_float_and_int_hash_alike(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cli.run_all_main(argv(a, "--seeds", "0", "--set", f"{MODEL}.epochs=3"), Data().source())
    cli.run_all_main(argv(b, "--seeds", "0", "--set", f"{MODEL}.epochs=3e0"), Data().source())
    ra, rb = (store.read_record(run_record_path(d, "tiny", MODEL, 0)) for d in (a, b))
    assert ra.config_hash == rb.config_hash and rb.config["epochs"] == 3


def test_set_overrides_a_config_field_and_is_recorded(tmp_path):
    assert cli.run_all_main(argv(tmp_path, "--seeds", "0", "--set", f"{MODEL}.epochs=2",
                            "--set", f"{MODEL}.lr=0.05"), Data().source()) == 0
    path = run_record_path(tmp_path, "tiny", MODEL, 0)
    record = store.read_record(path)
    assert record.config["epochs"] == 2 and record.config["lr"] == 0.05
    assert record.config_overrides == {"epochs": 2, "lr": 0.05}
    variant = path.parent.name  # a --set run has its own variant folder
    assert re.fullmatch(r"cfg-[0-9a-f]{10}", variant) and record.extras["variant"] == variant
    # (this 2-epoch run ranks validation bags below chance: the guard may mark its seed ✗0)
    assert re.search(r"\| zz_tiny_template\s*\| 1 \(set\)( ✗0)?\s*\|",
                     (tmp_path / "tables" / variant / "table1.md").read_text())
    default = tmp_path / "default"
    cli.run_all_main(argv(default, "--seeds", "0"), Data().source())
    assert store.read_record(store.record_path(default, "tiny", MODEL, 0)).config_hash \
        != record.config_hash


def test_bad_data_file_argument_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_all_main(argv(tmp_path, "--data-file", "=x.log"), Data().source())
    assert exit_info.value.code == 2
    assert "expected NAME=PATH or PATH" in capsys.readouterr().err
    # a bare PATH names the only dataset of the run
    assert cli.run_all_main(argv(tmp_path, "--data-file", "no-such.log"), Data().source()) == 2
    assert "error: no-such.log: no such file (data file for tiny)" in capsys.readouterr().err


def test_data_error_during_preparation_exits_2(tmp_path, capsys):
    def broken(name, **kwargs):
        raise DataError("datasets/raw/tiny.log:17: line does not match the format")

    source = grid.DataSource(prepare=broken, identity=lambda name, **kw: {})
    assert cli.run_all_main(argv(tmp_path), source) == 2
    assert "error: datasets/raw/tiny.log:17" in capsys.readouterr().err


@pytest.mark.slow
def test_parallel_jobs_match_serial(tmp_path, monkeypatch):
    # joblib workers import the test model from its module and register it there
    monkeypatch.setenv("PYTHONPATH", str(TESTS_DIR))
    monkeypatch.setenv(tiny_template_model.REGISTER_ENV, "1")
    # loky keeps its workers for 300 s idle; workers an earlier test started lack this
    # environment and would not register the model ("unknown model"), so start fresh ones
    get_reusable_executor().shutdown(wait=True)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert cli.run_all_main(argv(serial), Data().source()) == 0
    data = Data()
    assert cli.run_all_main(argv(parallel, "--jobs", "2"), data.source()) == 0
    assert data.prepared == 1
    for seed in (0, 1):
        a = store.read_record(store.record_path(serial, "tiny", MODEL, seed))
        b = store.read_record(store.record_path(parallel, "tiny", MODEL, seed))
        assert b.environment["torch_threads"] == 1
        assert a.metrics == pytest.approx(b.metrics, abs=1e-6)
