"""Cross-paper reference rows: other papers' published numbers as separate rows of Table I.

Read from `benchmark/reference_rows.json` (each source with its paper, where in it, windowing,
split, parser and label unit; each row with dataset, model, metrics and `copy_of`, the source
a row duplicates when another paper reprints it). Shown only with `--reference-rows`: each row
goes below the dataset's own rows, its name prefixed "[ref]" and its Seeds cell "ref.", its
numbers (3 decimals, as the sources print them) in the metric columns and "–" in the paper /
diff columns; a note per source gives the provenance. The report never compares them with ours
(other windows, splits and parsers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from benchmark.report.paper_reference import dataset_display_name
from benchmark.report.tables import MISSING, OURS_ONLY, TABLE1_METRICS, Table

SOURCE_FIELDS = ("paper", "where", "windowing", "split", "parser", "labels")


class ReferenceRowsError(ValueError):
    """A malformed reference_rows.json (names the entry and the problem)."""


@dataclass(frozen=True)
class ReferenceRow:
    source: str
    dataset: str
    model: str
    metrics: dict[str, float]
    copy_of: str | None
    note: str


def load_reference_rows(text: str | None = None) -> tuple[dict[str, dict], list[ReferenceRow]]:
    """(sources, rows) of the packaged file (or of `text`); raises ReferenceRowsError."""
    data = json.loads(_packaged() if text is None else text)
    sources = data.get("sources", {})
    for key, source in sources.items():
        missing = [f for f in SOURCE_FIELDS if not source.get(f)]
        if missing:
            raise ReferenceRowsError(f"reference source {key!r}: missing {missing}")
    rows = []
    for i, raw in enumerate(data.get("rows", [])):
        row = ReferenceRow(raw["source"], raw["dataset"], raw["model"],
                           {k: float(v) for k, v in raw["metrics"].items()},
                           raw.get("copy_of"), raw.get("note", ""))
        for key in (row.source, row.copy_of):
            if key is not None and key not in sources:
                raise ReferenceRowsError(f"reference row {i}: unknown source {key!r}")
        bad = [m for m, v in row.metrics.items() if m not in TABLE1_METRICS or not 0 <= v <= 1]
        if bad:
            raise ReferenceRowsError(f"reference row {i}: metrics {bad} not Table I metrics "
                                     "in [0, 1]")
        rows.append(row)
    return sources, rows


def add_reference_rows(table: Table, text: str | None = None) -> None:
    """Append each reference row to Table I's section of its dataset (sections are headed by
    the datasets' display names), with one provenance note per source used."""
    sources, rows = load_reference_rows(text)
    used: dict[str, None] = {}
    for heading, section_rows in table.sections:
        for row in (r for r in rows if dataset_display_name(r.dataset) == heading):
            dataset = row.dataset
            copy = f"; copy of {row.copy_of}" if row.copy_of else ""
            cells = [f"[ref] {row.model} ({row.source}{copy})", "ref."]
            for metric in TABLE1_METRICS:
                value = row.metrics.get(metric)
                cells.append(MISSING if value is None else f"{value:.3f}")
                if metric not in OURS_ONLY:
                    cells += [MISSING, MISSING]
            section_rows.append(cells)
            used[row.source] = None
            table.tidy += [{"table": "I-ref", "dataset": dataset, "model": f"ref:{row.source}",
                            "paper_name": row.model, "metric": m, "paper": v}
                           for m, v in row.metrics.items()]
            if row.note:
                table.notes.append(f"[ref] {row.model}, {dataset_display_name(dataset)} "
                                   f"({row.source}): {row.note}.")
    for key in used:
        s = sources[key]
        table.notes.append(
            f"[ref] rows ({key}) are published numbers of another paper, not ours and not "
            f"comparable cell by cell: {s['paper']}; from {s['where']}; windowing: "
            f"{s['windowing']}; split: {s['split']}; parser: {s['parser']}; labels: "
            f"{s['labels']}.")


@cache
def _packaged() -> str:
    return resources.files("benchmark").joinpath("reference_rows.json").read_text()
