"""Human-readable summary of a prepared dataset (`python -m benchmark describe`, see cli.py).

`python -m benchmark describe DATASET [--data-file PATH] [--data-dir DIR] [--max-lines N]
[--strict] [--quick] [--json]`: the product goes to stdout (a table, or exactly one JSON object
with `--json`); progress and logs go to stderr. A split without a positive or without a negative
bag is listed as a warning (`"warnings"` in the JSON); the split's leakage audit follows the
split table (`"leakage"` in the JSON, benchmark.data.leakage). A data problem prints
`error: <message>` on stderr and exits with code 2.
"""

from __future__ import annotations

from benchmark.data.leakage import format_audit


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
    if s.get("leakage"):
        lines.append("")
        lines.append("leakage audit")
        lines.extend(f"  {line}" for line in format_audit(s["leakage"]))
    if s["warnings"]:
        lines.append("")
        lines.extend(f"warning: {w}" for w in s["warnings"])
    return "\n".join(lines)
