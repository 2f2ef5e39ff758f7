"""Bad inputs at the door: each gives a clear error (exit 2, the file named) or a warning with
counts, never a traceback, a hang or a silent wrong number."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from cases import BGL_2K, INPUT_CASES, bgl_zip_with_pinned_card, judge_input, run_describe
from loghub import needs

from benchmark.data import cache as cache_module
from benchmark.data import download, pipeline
from benchmark.data.cards import load_card
from benchmark.data.errors import DataError

pytestmark = needs("BGL_2k.log")


@pytest.mark.parametrize("case", INPUT_CASES, ids=[c.name for c in INPUT_CASES])
def test_bad_input(case, tmp_path):
    outcome = run_describe(case.build(tmp_path))
    expected = {"error": "clear error", "warning": "warning", "ok": "ok"}[case.expect]
    assert judge_input(case, outcome) == expected, (outcome.stderr, outcome.warnings,
                                                    outcome.traceback)


def test_wrong_format_names_the_first_bad_lines(tmp_path):
    case = next(c for c in INPUT_CASES if c.name.startswith("10 % of lines"))
    outcome = run_describe(case.build(tmp_path))
    assert "200 of 2,000 lines (10.0%) do not match the bgl format" in outcome.stderr
    assert "first at line(s) 6, 16, 26, 36, 46" in outcome.stderr


def test_time_going_backwards_reports_counts(tmp_path):
    case = next(c for c in INPUT_CASES if c.name == "reversed line order")
    outcome = run_describe([*case.build(tmp_path), "--json"])
    (warning,) = [w for w in outcome.warnings if "time goes backwards" in w]
    assert "bgl_reversed.log" in warning and " of 2,000 lines (largest jump back " in warning
    assert '"time_steps_back": ' in outcome.stdout


def test_too_few_bags_names_file_and_counts(tmp_path):
    case = next(c for c in INPUT_CASES if c.name == "one line")
    outcome = run_describe(case.build(tmp_path))
    assert "bgl_one_line.log: 1 line(s), 1 bag(s): only 1 bag(s)" in outcome.stderr


def test_run_all_names_a_directory_as_not_a_regular_file(tmp_path, capsys):
    from benchmark.cli import run_all_main as main

    folder = tmp_path / "logs"
    folder.mkdir()
    code = main(["--datasets", "bgl", "--models", "logmilp", "--data-file", f"bgl={folder}",
                 "--results-dir", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code == 2 and f"{folder}: not a regular file (a directory)" in err


def test_md5_is_checked_once_per_content(tmp_path, monkeypatch):
    archive_path, pinned = bgl_zip_with_pinned_card(tmp_path)
    raw = archive_path.parent
    monkeypatch.setattr(pipeline, "load_card", lambda name: pinned)
    calls = []
    real = download._md5
    monkeypatch.setattr(download, "_md5", lambda path: calls.append(path) or real(path))
    args = ["bgl", "--data-dir", str(tmp_path / "data")]
    assert run_describe(args).code == 0 and len(calls) == 1
    cache_module._IDENTITIES.clear()  # as a new process would
    assert run_describe(args).code == 0 and len(calls) == 1  # verdict remembered
    with zipfile.ZipFile(raw / "BGL.zip", "a") as archive:  # content changed: checked again
        archive.writestr("README", "extra member")
    outcome = run_describe(args)
    assert len(calls) == 2 and outcome.code == 2 and "BGL.zip: md5 is " in outcome.stderr
    assert "--no-verify" in outcome.stderr


def test_max_unparsed_keyword_and_its_range(tmp_path):
    case = next(c for c in INPUT_CASES if c.name.startswith("10 % of lines"))
    path = Path(case.build(tmp_path)[2])
    with pytest.raises(DataError, match="more than the 5.0% allowed"):
        pipeline.prepare_dataset("bgl", data_file=path, data_dir=tmp_path / "d")
    data = pipeline.prepare_dataset("bgl", data_file=path, data_dir=tmp_path / "d",
                                    max_unparsed=0.1)  # 10.0 % exactly: accepted
    assert data.summary["unparsed_lines"] == 200
    with pytest.raises(DataError, match=r"--max-unparsed must be a fraction in \[0, 1\]"):
        pipeline.prepare_dataset("bgl", data_file=path, data_dir=tmp_path / "d",
                                 max_unparsed=1.5)


def test_input_path_is_the_file_prepare_reads(tmp_path):
    data = pipeline.prepare_dataset("bgl", data_file=BGL_2K, data_dir=tmp_path)
    path = pipeline.input_path(load_card("bgl"), BGL_2K, tmp_path, quick=False)
    assert data.summary["input"] == cache_module.content_identity(path)
