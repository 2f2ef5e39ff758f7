"""Parse a log with a dataset card's masking and Drain settings; score it against ground truth.

`python -m benchmark parse DATASET --data-file PATH [--output lines.csv] [--truth STRUCTURED.csv]
[--data-dir DIR] [--max-lines N] [--json]`: runs the pipeline's read and parse stages (same reader,
masking, de-duplication and drain3 parse, same cache) and prints the number of lines and
templates. `--output` writes one CSV row per line (LineId 1-based, TemplateId, EventTemplate).
`--truth` (a Loghub `*_structured.csv`) adds grouping accuracy (GA) and the number of true
templates. `--json` prints one JSON object {"lines", "templates", "ga", "truth_templates"} (the
last two null without `--truth`). A data problem prints `error: <message>` and exits with code 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from benchmark.data.errors import DataError
from benchmark.data.grouping import grouping_accuracy, read_event_ids
from benchmark.data.pipeline import parse_log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset card name (datasets/<name>.toml)")
    parser.add_argument("--data-file", type=Path, help="raw log to read instead of the card's")
    parser.add_argument("--data-dir", type=Path, help="directory holding raw/ and cache/")
    parser.add_argument("--max-lines", type=int, help="read at most N lines (overrides the card)")
    parser.add_argument("--output", type=Path, help="write LineId,TemplateId,EventTemplate CSV")
    parser.add_argument("--truth", type=Path,
                        help="Loghub *_structured.csv (LineId, EventId): print grouping accuracy")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        line_templates, texts = parse_log(args.dataset, data_file=args.data_file,
                                          data_dir=args.data_dir, max_lines=args.max_lines)
        result = score(line_templates, len(texts), args.truth)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output is not None:
        write_lines(args.output, line_templates, texts)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(f"{key:<16} {'–' if value is None else value}"
                        for key, value in result.items()))
    return 0


def score(line_templates: np.ndarray, n_templates: int, truth: Path | None) -> dict:
    """{"lines", "templates", "ga", "truth_templates"} of a parse; GA and truth templates are
    None without a ground-truth file."""
    result = {"lines": int(len(line_templates)), "templates": n_templates, "ga": None,
              "truth_templates": None}
    if truth is not None:
        events = read_event_ids(truth, len(line_templates))
        result["ga"] = round(grouping_accuracy(line_templates.tolist(), events), 6)
        result["truth_templates"] = len(set(events))
    return result


def write_lines(path: Path, line_templates: np.ndarray, texts: tuple[str, ...]) -> None:
    """One CSV row per line: LineId (1-based), TemplateId (the pipeline's id), EventTemplate."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("LineId", "TemplateId", "EventTemplate"))
        writer.writerows((i, int(t), texts[t]) for i, t in enumerate(line_templates, start=1))
