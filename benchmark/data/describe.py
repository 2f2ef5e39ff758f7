"""Prepare a dataset (or reuse its cache) and print lines, templates, bags and splits.

`python -m benchmark describe DATASET [--data-file PATH] [--data-dir DIR] [--max-lines N]
[--strict] [--max-unparsed FRACTION] [--no-verify] [--quick] [--json]`: the product goes to
stdout (a table, or exactly one JSON object with `--json`); progress and logs go to stderr. A
data problem prints `error: <message>` on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmark.data.errors import DataError
from benchmark.data.pipeline import prepare_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset card name (datasets/<name>.toml)")
    parser.add_argument("--data-file", type=Path, help="raw log to read instead of the card's")
    parser.add_argument("--data-dir", type=Path, help="directory holding raw/ and cache/")
    parser.add_argument("--max-lines", type=int, help="read at most N lines (overrides the card)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on the first line that does not match the format, or on "
                             "time going backwards")
    parser.add_argument("--max-unparsed", type=float, metavar="FRACTION",
                        help="largest fraction of lines that may fail the format "
                             "(default: the card's, 0.05)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the MD5 check of the card's default raw file")
    parser.add_argument("--quick", action="store_true",
                        help="small variant (synthetic: the generator's quick_lines)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        data = prepare_dataset(args.dataset, data_file=args.data_file, data_dir=args.data_dir,
                               max_lines=args.max_lines, strict=args.strict, quick=args.quick,
                               max_unparsed=args.max_unparsed, verify=not args.no_verify)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = data.summary
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
    return 0


def format_summary(s: dict) -> str:
    """Human-readable table of a PreparedDataset summary."""
    sub = s["subset"]
    limit = (f"first {sub['max_lines']:,} lines ({sub['max_lines_from']}), "
             f"{'truncated' if sub['truncated'] else 'whole file fits'}"
             if sub["max_lines"] else "every line")
    rows = [
        ("dataset", s["dataset"]),
        ("file", sub["file"] + (f" [{sub['member']}]" if sub["member"] else "")),
        ("subset", limit),
        ("lines", f"{s['lines']:,}"),
        ("unparsed lines", f"{s['unparsed_lines']:,}"),
        ("anomalous lines", f"{s['anomalous_lines']:,}"),
        ("distinct contents", f"{s['distinct_contents']:,}"),
        ("templates", f"{s['templates']:,}"),
    ]
    ipb = s["instances_per_bag"]
    rows.append(("instances per bag", f"min {ipb['min']}, median {ipb['median']:g}, "
                                      f"max {ipb['max']}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append(f"{'split':<6} {'bags':>10} {'positive':>10}")
    for name, split in s["splits"].items():
        lines.append(f"{name:<6} {split['bags']:>10,} {split['positive_bags']:>10,}")
    return "\n".join(lines)
