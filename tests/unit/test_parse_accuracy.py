"""Parsing accuracy on Loghub's 2k samples (`python -m benchmark parse`), the GA function,
truth-file errors, and the warnings for splits holding a single class."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from data_samples import write_bgl_log
from loghub import loghub_file

from benchmark.cli import benchmark_main as main
from benchmark.data.grouping import grouping_accuracy
from benchmark.data.pipeline import prepare_dataset
from benchmark.data.splitting import split_warnings

sample = loghub_file
"""A Loghub 2k file (tests/loghub.py: skipped, naming the fetch command, when it is missing)."""


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("dataset,name,truth_templates", [
    ("bgl", "BGL_2k", 120), ("zookeeper", "Zookeeper_2k", 50)])
def test_grouping_accuracy_on_loghub_2k(tmp_path, capsys, dataset, name, truth_templates):
    log_path, truth = sample(f"{name}.log"), sample(f"{name}.log_structured.csv")
    out_csv = tmp_path / "lines.csv"
    code, out, _ = run(capsys, "parse", dataset, "--data-file", str(log_path), "--truth",
                       str(truth), "--data-dir", str(tmp_path / "d"), "--output", str(out_csv),
                       "--json")
    assert code == 0
    result = json.loads(out)
    assert result["ga"] >= 0.96, result
    assert result["truth_templates"] == truth_templates and result["lines"] == 2000
    with open(out_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["LineId"]) for r in rows] == list(range(1, 2001))
    assert len({r["TemplateId"] for r in rows}) == result["templates"]
    assert len({(r["TemplateId"], r["EventTemplate"]) for r in rows}) == result["templates"]


def test_grouping_accuracy_on_hand_made_groupings():
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy([7, 7, 3, 3, 9], truth) == 1.0  # keys may differ, groups match
    assert grouping_accuracy([1, 1, 1, 1, 2], truth) == pytest.approx(1 / 5)  # A and B merged
    assert grouping_accuracy([1, 2, 3, 3, 4], truth) == pytest.approx(3 / 5)  # A split
    assert grouping_accuracy([1, 1, 2, 3, 3], truth) == pytest.approx(2 / 5)  # B's line in C
    assert grouping_accuracy(list("xyzuv"), list("abcde")) == 1.0
    with pytest.raises(ValueError, match="5 predicted groups vs 4 true groups"):
        grouping_accuracy([1] * 5, truth[:4])


def write_truth(path: Path, rows: list[tuple], header=("LineId", "EventId", "EventTemplate")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("header,rows,message", [
    (("LineId", "EventTemplate"), [(i, "t") for i in range(1, 601)], "lacks column(s) EventId"),
    (("LineId", "EventId"), [(i, "E1") for i in range(1, 600)],
     "ground truth has 599 lines, the parsed log 600"),
    (("LineId", "EventId"), [(1, "E1"), (3, "E1")], ":3: LineId '3', expected 2"),
    (("LineId", "EventId"), [(1, "E1"), (2, "")], ":3: empty EventId"),
])
def test_bad_truth_file_is_an_error_naming_it(tmp_path, capsys, header, rows, message):
    raw = write_bgl_log(tmp_path / "bgl.log")
    truth = write_truth(tmp_path / "truth.csv", rows, header)
    code, out, err = run(capsys, "parse", "bgl", "--data-file", str(raw), "--truth", str(truth),
                         "--data-dir", str(tmp_path / "d"))
    assert code == 2 and out == ""
    assert f"error: {truth}" in err and message in err and "Traceback" not in err


def test_parse_without_truth_prints_lines_and_templates(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    code, out, _ = run(capsys, "parse", "bgl", "--data-file", str(raw), "--data-dir",
                       str(tmp_path / "d"), "--json")
    result = json.loads(out)
    assert code == 0 and result["lines"] == 600 and result["templates"] > 1
    assert result["ga"] is None and result["truth_templates"] is None


def test_split_warnings_name_split_and_counts():
    counts = {"train": {"bags": 10, "positive_bags": 3}, "val": {"bags": 4, "positive_bags": 0},
              "test": {"bags": 5, "positive_bags": 5}}
    warnings = split_warnings(counts)
    assert len(warnings) == 2
    assert warnings[0].startswith("the val split holds no positive bag (4 bags, 0 positive)")
    assert warnings[1].startswith("the test split holds no negative bag (5 bags, 5 positive)")
    assert split_warnings({"val": {"bags": 4, "positive_bags": 1}}) == []


def test_zookeeper_2k_validation_without_positive_bag_is_warned(tmp_path, capsys, caplog):
    path = sample("Zookeeper_2k.log")
    expected = "the val split holds no positive bag (45 bags, 0 positive)"
    with caplog.at_level(logging.WARNING, logger="benchmark.data.pipeline"):
        data = prepare_dataset("zookeeper", data_file=path, data_dir=tmp_path)
    assert any(expected in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert len(data.summary["warnings"]) == 1  # train and test hold 1 positive bag each
    assert data.summary["warnings"][0].startswith(expected)
    code, out, _ = run(capsys, "describe", "zookeeper", "--data-file", str(path), "--data-dir",
                       str(tmp_path), "--json")
    assert code == 0 and any(expected in w for w in json.loads(out)["warnings"])
    code, out, _ = run(capsys, "describe", "zookeeper", "--data-file", str(path), "--data-dir",
                       str(tmp_path))
    assert code == 0 and f"warning: {expected}" in out


def test_no_warning_when_every_split_has_both_classes(tmp_path):
    data = prepare_dataset("bgl", data_file=sample("BGL_2k.log"), data_dir=tmp_path)
    assert all(0 < s["positive_bags"] < s["bags"] for s in data.summary["splits"].values())
    assert data.summary["warnings"] == []
