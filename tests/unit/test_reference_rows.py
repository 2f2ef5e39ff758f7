"""Cross-paper reference rows: provenance required, shown only on request, copies flagged."""

from __future__ import annotations

import json

import pytest
from records_factory import make_record

from benchmark.cli import run_all_main
from benchmark.report.reference_rows import (
    ReferenceRowsError,
    add_reference_rows,
    load_reference_rows,
)
from benchmark.report.tables import build_tables
from benchmark.store import write_record

SOURCE = {"paper": "P", "where": "Table 9", "windowing": "fixed 100 lines",
          "split": "chronological 80/20", "parser": "Drain", "labels": "window"}


def rows_text(rows: list[dict], sources: dict | None = None) -> str:
    return json.dumps({"sources": sources or {"a": SOURCE, "b": SOURCE}, "rows": rows})


def test_packaged_rows_carry_full_provenance():
    sources, rows = load_reference_rows()
    assert {r.dataset for r in rows} == {"bgl", "spirit"}
    assert {r.model for r in rows} == {"DeepLog", "LogAnomaly"}
    for row in rows:
        assert all(sources[row.source][f] for f in ("paper", "where", "windowing", "split",
                                                    "parser", "labels"))
        assert set(row.metrics) == {"precision", "recall", "f1"}


def test_rows_go_to_their_dataset_with_copies_flagged():
    table = build_tables([make_record("bgl", "deeplog", 0)])[0]
    text = rows_text([
        {"source": "a", "dataset": "bgl", "model": "DeepLog", "metrics": {"f1": 0.5},
         "copy_of": None},
        {"source": "b", "dataset": "bgl", "model": "DeepLog", "metrics": {"f1": 0.5},
         "copy_of": "a", "note": "reprinted"},
        {"source": "a", "dataset": "nowhere", "model": "X", "metrics": {"f1": 0.1},
         "copy_of": None},
    ])
    add_reference_rows(table, text)
    bgl = dict(table.sections)["BGL"]
    names = [row[0] for row in bgl]
    assert names[-2:] == ["[ref] DeepLog (a)", "[ref] DeepLog (b; copy of a)"]
    assert bgl[-1][1] == "ref." and "0.500" in bgl[-1]
    assert all(row[0] != "[ref] X (a)" for _, rows in table.sections for row in rows)
    assert any("reprinted" in n for n in table.notes)
    assert any(n.startswith("[ref] rows (a)") and "Drain" in n for n in table.notes)


@pytest.mark.parametrize(("rows", "sources", "message"), [
    ([{"source": "zz", "dataset": "bgl", "model": "M", "metrics": {"f1": 0.5}}], None,
     "unknown source"),
    ([{"source": "a", "dataset": "bgl", "model": "M", "metrics": {"f1": 1.5}}], None,
     "not Table I metrics"),
    ([], {"a": {**SOURCE, "parser": ""}}, "missing \\['parser'\\]"),
])
def test_malformed_files_are_rejected(rows, sources, message):
    with pytest.raises(ReferenceRowsError, match=message):
        load_reference_rows(rows_text(rows, sources))


def test_report_only_shows_them_only_on_request(tmp_path):
    write_record(tmp_path / "runs" / "bgl" / "deeplog" / "seed0.json",
                 make_record("bgl", "deeplog", 0))
    assert run_all_main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    assert "[ref]" not in (tmp_path / "tables" / "table1.md").read_text()
    assert run_all_main(["--report-only", "--reference-rows", "--results-dir",
                         str(tmp_path)]) == 0
    assert "[ref] DeepLog (logadempirical)" in (tmp_path / "tables" / "table1.md").read_text()
