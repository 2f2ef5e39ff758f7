"""`python -m benchmark describe`: output, JSON mode, error handling and cache reuse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_samples import write_bgl_log
from loghub import loghub_file

from benchmark.cli import benchmark_main as main
from benchmark.data import pipeline

REPO = Path(__file__).resolve().parents[2]


def describe(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["describe", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_one_object_on_stdout(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    code, out, _ = describe(capsys, "bgl", "--data-file", str(raw), "--data-dir",
                            str(tmp_path / "d"), "--json")
    assert code == 0
    summary = json.loads(out)
    assert out.strip().count("\n") == 0
    assert summary["lines"] == 600 and set(summary["splits"]) == {"train", "val", "test"}
    assert set(summary["instances_per_bag"]) == {"min", "median", "max"}


def test_table_output(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    code, out, _ = describe(capsys, "bgl", "--data-file", str(raw), "--data-dir",
                            str(tmp_path / "d"), "--max-lines", "400")
    assert code == 0
    assert "lines              400" in out and "unparsed lines" in out
    assert "first 400 lines (--max-lines), truncated" in out
    assert "train" in out and "instances per bag" in out


def test_second_describe_reuses_parse_and_embed(tmp_path, capsys, monkeypatch):
    raw = write_bgl_log(tmp_path / "bgl.log")
    args = ("bgl", "--data-file", str(raw), "--data-dir", str(tmp_path / "d"), "--json")
    calls = {"read": 0, "parse": 0, "embed": 0}
    real = {"read": pipeline._read_stage, "parse": pipeline.parse_distinct,
            "embed": pipeline.embed_templates}

    def counting(stage):
        def wrapper(*a, **k):
            calls[stage] += 1
            return real[stage](*a, **k)
        return wrapper

    monkeypatch.setattr(pipeline, "_read_stage", counting("read"))
    monkeypatch.setattr(pipeline, "parse_distinct", counting("parse"))
    monkeypatch.setattr(pipeline, "embed_templates", counting("embed"))
    first = describe(capsys, *args)
    assert calls == {"read": 1, "parse": 1, "embed": 1}
    second = describe(capsys, *args)
    assert calls == {"read": 1, "parse": 1, "embed": 1}
    assert json.loads(first[1]) == json.loads(second[1])


@pytest.mark.parametrize("args,message", [
    (("hdfs",), "error: unknown dataset 'hdfs'; known datasets:"),
    (("bgl", "--data-file", "NOPE.log"), "error: NOPE.log: no such file"),
    (("bgl",), "python -m benchmark download bgl"),
])
def test_data_errors_exit_2_without_traceback(tmp_path, capsys, args, message):
    code, out, err = describe(capsys, *args, "--data-dir", str(tmp_path))
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_strict_names_file_and_line(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    with open(raw, "a", encoding="utf-8") as handle:
        handle.write("not a bgl line\n")
    code, _, err = describe(capsys, "bgl", "--data-file", str(raw), "--data-dir",
                            str(tmp_path / "d"), "--strict")
    assert code == 2 and f"{raw}:601: line does not match the bgl format" in err
    code, out, _ = describe(capsys, "bgl", "--data-file", str(raw), "--data-dir",
                            str(tmp_path / "d"), "--json")
    assert code == 0 and json.loads(out)["unparsed_lines"] == 1
    code, _, err = describe(capsys, "bgl", "--data-file", str(raw), "--data-dir",
                            str(tmp_path / "d"), "--strict")  # cached read, still strict
    assert code == 2 and ":601:" in err


@pytest.mark.parametrize("dataset,name,anomalous", [
    ("bgl", "BGL_2k.log", 143), ("zookeeper", "Zookeeper_2k.log", 13)])
def test_loghub_2k_through_the_command_line(tmp_path, dataset, name, anomalous):
    path = loghub_file(name)
    done = subprocess.run([sys.executable, "-m", "benchmark", "describe", dataset, "--data-file",
                           str(path), "--data-dir", str(tmp_path), "--json"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
    assert (summary["lines"], summary["anomalous_lines"], summary["unparsed_lines"]) == (
        2000, anomalous, 0)
