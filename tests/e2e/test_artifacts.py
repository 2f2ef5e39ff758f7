"""What a run leaves beside its record (model file, score file) and what the report rebuilds
from them: Loc@k / SR@δ for any k and δ, and the committed tables on a fresh clone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tiny_template_model
from report_checks import run_report_only_light
from test_runner import Data, argv

from benchmark import artifacts, cli, store
from benchmark.report.rescore import instance_metrics

MODEL = tiny_template_model.NAME
REPO = Path(__file__).resolve().parents[2]
EXTRA = ["--loc-k", "1", "3", "5", "--sr-delta", "0.05", "0.1", "0.2"]
TABLE_SUFFIXES = (".md", ".csv", ".tex")


@pytest.fixture(scope="module", autouse=True)
def tiny_model():
    tiny_template_model.register()
    yield
    tiny_template_model.unregister()


@pytest.fixture(scope="module")
def grid_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grid") / "results"
    assert cli.run_all_main(argv(out), Data().source()) == 0
    return out


@pytest.fixture
def results(grid_results, tmp_path) -> Path:
    """A private copy of one tiny grid's results (records, model and score files)."""
    return Path(shutil.copytree(grid_results, tmp_path / "results"))


def tables_of(results_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((results_dir / "tables").iterdir())
            if p.suffix in TABLE_SUFFIXES}


def test_every_run_saves_its_model_and_scores(results):
    for seed in (0, 1):
        record = store.read_record(store.record_path(results, "tiny", MODEL, seed))
        saved = artifacts.load_model(artifacts.model_path(results, "tiny", MODEL, seed))
        assert saved.config_hash == record.config_hash
        assert saved.threshold == record.threshold["value"]
        scores = artifacts.load_scores(artifacts.scores_path(results, "tiny", MODEL, seed),
                                       record.config_hash)
        assert scores.probabilities.dtype == np.float64
        assert len(scores.instance_scores) == scores.lengths.sum()  # real instances only


def test_recomputed_loc_and_sr_equal_the_records_exactly(results):
    for seed in (0, 1):
        record = store.read_record(store.record_path(results, "tiny", MODEL, seed))
        scores = artifacts.load_scores(artifacts.scores_path(results, "tiny", MODEL, seed))
        again = instance_metrics(scores, (3,), (0.1, 0.05, 0.2))
        assert again == {k: record.metrics[k] for k in ("loc@3", "sr", "sr@0.05", "sr@0.2")}
        assert not np.isnan(again["loc@3"])


def test_score_file_of_another_run_is_refused(results):
    path = artifacts.scores_path(results, "tiny", MODEL, 0)
    with pytest.raises(artifacts.ArtifactError, match="another run"):
        artifacts.load_scores(path, "f" * 64)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(artifacts.ArtifactError, match="unreadable"):
        artifacts.load_scores(path)


def test_model_file_that_is_corrupt_is_refused(results):
    path = artifacts.model_path(results, "tiny", MODEL, 0)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(artifacts.ArtifactError, match="sha256 mismatch"):
        artifacts.load_model(path)


def test_extra_table_lists_any_k_and_delta(results):
    assert cli.run_all_main(["--report-only", "--results-dir", str(results), *EXTRA]) == 0
    extra = (results / "tables" / "table2_extra.md").read_text()
    for name in ("Loc@1", "Loc@3", "Loc@5", "SR@0.05", "SR@0.1", "SR@0.2"):
        assert name in extra
    assert "| 2 (2)" in extra
    csv = (results / "tables" / "table2_extra.csv").read_text()
    assert "II-extra,tiny,zz_tiny_template," in csv and "loc@5" in csv


def test_report_only_on_a_fresh_clone_rebuilds_the_tables_byte_for_byte(results, tmp_path):
    """The project's .gitignore decides what a clone holds: records and score files, no
    model files; --report-only there gives the same table files."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert cli.run_all_main(["--report-only", "--results-dir", str(results), *EXTRA]) == 0
    origin = tmp_path / "origin"
    shutil.copytree(results, origin / "results")
    shutil.copy(REPO / ".gitignore", origin / ".gitignore")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def git(*args: str, cwd: Path = origin) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "results")
    clone = tmp_path / "clone"
    git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    assert not list((clone / "results").rglob("*.pt")), "model files must stay out of git"
    assert list((clone / "results" / "models").rglob("*.scores.npz"))
    shutil.rmtree(clone / "results" / "tables")
    assert cli.run_all_main(["--report-only", "--results-dir", str(clone / "results"),
                             *EXTRA]) == 0
    assert tables_of(clone / "results") == tables_of(results)


def test_report_only_with_extra_metrics_does_not_import_torch(results):
    run_report_only_light(results, *EXTRA)
    assert (results / "tables" / "table2_extra.md").is_file()


def test_the_shipped_results_rebuild_the_committed_tables(tmp_path):
    """The committed records and score files give the committed tables byte for byte."""
    shipped = REPO / "results"
    if not list((shipped / "runs").glob("*/*/seed*.json")):
        pytest.skip("no run records are committed under results/runs yet")
    copy = tmp_path / "results"
    shutil.copytree(shipped / "runs", copy / "runs")
    if (shipped / "models").is_dir():
        shutil.copytree(shipped / "models", copy / "models",
                        ignore=shutil.ignore_patterns("*.pt"))
    assert cli.run_all_main(["--report-only", "--results-dir", str(copy)]) == 0
    built = tables_of(copy)
    committed = {name: data for name, data in tables_of(shipped).items() if name in built}
    assert set(committed) >= {f"table{n}{s}" for n in (1, 2, 3) for s in TABLE_SUFFIXES}
    assert built == committed


def test_every_shipped_record_has_its_score_file():
    """Loc@k / SR@δ for any k and δ need no model: each committed record ships its scores."""
    shipped = REPO / "results"
    records = sorted((shipped / "runs").glob("*/*/seed*.json"))
    if not records:
        pytest.skip("no run records are committed under results/runs yet")
    for path in records:
        record = store.read_record(path)
        scores = artifacts.scores_path(shipped, record.dataset, record.model, record.seed)
        assert scores.is_file(), f"{path.relative_to(REPO)} has no score file {scores.name}"
        artifacts.load_scores(scores, record.config_hash)  # raises on a stale or broken file
