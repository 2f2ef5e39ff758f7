"""The leakage audit of a split: overlap is an error, duplicates and unseen templates are counted,
chronological order is checked; `describe` prints the audit and records carry it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from data_samples import write_bgl_log
from records_factory import make_record

from benchmark.cli import benchmark_main
from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.data.errors import DataError
from benchmark.data.leakage import audit_splits, check_audit, format_audit
from benchmark.report.tables import build_tables

TEMPLATES = TemplateTable(tuple(f"t{i}" for i in range(8)), np.zeros((8, 2), np.float32))
# line:       0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19
LINES = np.array([0, 1, 2, 0, 1, 2, 3, 3, 1, 0, 0, 1, 2, 5, 5, 6, 7, 6, 1, 0], np.int32)


def bags(ranges: list[tuple[int, int]], labels: list[int] | None = None) -> BagSet:
    starts, ends = (np.array(x, np.int64) for x in zip(*ranges, strict=True))
    y = np.zeros(len(ranges), np.int8) if labels is None else np.array(labels, np.int8)
    return BagSet(LINES, starts, ends, y, TEMPLATES)


def test_a_clean_chronological_split():
    audit = audit_splits({"train": bags([(0, 3), (3, 6), (6, 9)]), "val": bags([(9, 13)]),
                          "test": bags([(13, 16), (16, 20)])})
    assert audit["errors"] == [] and audit["overlap_lines"] == 0
    assert audit["chronological"] is True
    assert audit["duplicate_sequences_in_train"]["test"]["bags"] == 0
    # train holds templates {0, 1, 2, 3}; val adds none; test adds 5, 6, 7 (on 5 lines)
    assert audit["unseen_templates"]["val"] == {"templates": 0, "lines": 0}
    assert audit["unseen_templates"]["test"] == {"templates": 3, "lines": 5}
    check_audit(audit, "toy")  # no error


def test_planted_overlap_is_an_error():
    audit = audit_splits({"train": bags([(0, 10)]), "val": bags([(8, 13)]),
                          "test": bags([(13, 20)])})
    assert audit["overlap_lines"] == 2
    assert audit["overlap_bags"] == {"train": 1, "val": 1, "test": 0}
    assert audit["chronological"] is False
    with pytest.raises(DataError, match="2 line\\(s\\) belong to bags of two splits"):
        check_audit(audit, "toy")
    assert any(line.startswith("error:") for line in format_audit(audit))


def test_planted_duplicate_bag_is_counted():
    # test bag [3, 6) holds templates 0 1 2, the same sequence as training bag [0, 3)
    audit = audit_splits({"train": bags([(0, 3), (6, 8)]), "val": bags([(8, 13)]),
                          "test": bags([(3, 6), (13, 20)], labels=[1, 0])})
    assert audit["duplicate_sequences_in_train"]["test"] == {"bags": 1, "positive_bags": 1,
                                                             "of": 2}
    assert audit["errors"] == []  # a duplicate is counted, not an error
    assert audit["chronological"] is False  # test [3, 6) precedes training's [6, 8)


def test_describe_prints_the_audit(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    code = benchmark_main(["describe", "bgl", "--data-file", str(raw), "--data-dir",
                           str(tmp_path / "d")])
    out = capsys.readouterr().out
    assert code == 0
    assert "leakage audit" in out and "split strictly chronological: yes" in out
    assert "overlap across splits: 0 lines" in out


def test_table1_notes_the_audit_stored_in_records():
    audit = audit_splits({"train": bags([(0, 3), (6, 8)]), "val": bags([(8, 13)]),
                          "test": bags([(3, 6), (13, 20)], labels=[1, 0])})
    record = dataclasses.replace(make_record("synthetic", "logmilp", 0),
                                 data_summary={"leakage": audit})
    table1 = build_tables([record])[0]
    assert ("Leakage audit (synthetic): 0 lines shared across splits; 1 of 2 test bags "
            "(1 positive) repeat a training bag's template sequence") in " ".join(table1.notes)
