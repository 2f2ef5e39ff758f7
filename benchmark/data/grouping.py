"""Grouping accuracy (GA) of a log parse, and the ground-truth groupings it is scored against.

GA (Zhu et al., ICSE-SEIP 2019): a line is parsed correctly iff the set of lines sharing its
predicted template equals the set of lines sharing its ground-truth event id; GA = correct lines /
all lines. Ground truth: a Loghub `*_structured.csv` (columns include LineId, EventId).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from benchmark.data.errors import DataError

TRUTH_COLUMNS = ("LineId", "EventId")


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """GA in [0, 1] of per-line predicted group keys against per-line true group keys.

    `predicted[i]` and `truth[i]` belong to line i (any hashable keys: template ids or texts,
    event ids). Raises ValueError when the lengths differ or there is no line.
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted groups vs {len(truth)} true groups")
    if not predicted:
        raise ValueError("no line to score")
    pairs = Counter(zip(predicted, truth, strict=True))
    predicted_size = Counter(predicted)
    truth_size = Counter(truth)
    correct = sum(n for (p, t), n in pairs.items()
                  if n == predicted_size[p] and n == truth_size[t])
    return correct / len(predicted)


def read_event_ids(path: Path, n_lines: int) -> list[str]:
    """EventId of lines 1..n_lines from a Loghub structured CSV, in line order.

    Raises DataError naming the file (and row) when it is missing, lacks a LineId or EventId
    column, has an empty EventId, its LineIds are not 1, 2, … in order, or it holds a number of
    rows other than `n_lines`.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ground truth: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in TRUTH_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}: ground truth lacks column(s) {', '.join(missing)} "
                            f"(has: {', '.join(reader.fieldnames or ()) or 'nothing'})")
        ids = []
        for row in reader:
            expected = len(ids) + 1
            row_line = reader.line_num
            if row["LineId"] != str(expected):
                raise DataError(f"{path}:{row_line}: LineId {row['LineId']!r}, expected "
                                f"{expected} (rows must be lines 1, 2, … in order)")
            if not row["EventId"]:  # empty, or None on a short row
                raise DataError(f"{path}:{row_line}: empty EventId")
            ids.append(row["EventId"])
    if len(ids) != n_lines:
        raise DataError(f"{path}: ground truth has {len(ids):,} lines, the parsed log "
                        f"{n_lines:,}")
    return ids


def parse_scores(line_templates: np.ndarray, n_templates: int, truth: Path | None) -> dict:
    """{"lines", "templates", "ga", "truth_templates"} of a parse; GA and truth templates are
    None without a ground-truth file."""
    result = {"lines": int(len(line_templates)), "templates": n_templates, "ga": None,
              "truth_templates": None}
    if truth is not None:
        events = read_event_ids(truth, len(line_templates))
        result["ga"] = round(grouping_accuracy(line_templates.tolist(), events), 6)
        result["truth_templates"] = len(set(events))
    return result


def write_line_templates(path: Path, line_templates: np.ndarray, texts: tuple[str, ...]) -> None:
    """One CSV row per line: LineId (1-based), TemplateId (the pipeline's id), EventTemplate."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("LineId", "TemplateId", "EventTemplate"))
        writer.writerows((i, int(t), texts[t]) for i, t in enumerate(line_templates, start=1))
