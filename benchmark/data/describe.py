"""Human-readable summary of a prepared dataset (`python -m benchmark describe`, see cli.py).

`python -m benchmark describe DATASET [--data-file PATH] [--data-dir DIR] [--max-lines N]
[--strict] [--quick] [--json]`, optionally with one data variant (`--window`, `--stride`,
`--max-instances`, `--parser`, `--templates`, `--vectors`; benchmark.data.variants): the product
goes to stdout (a table, or exactly one JSON object with `--json`); progress and logs go to
stderr. The table shows the parser (with its grouping accuracy when `--templates` gives a
ground truth), the bagging, the bag lengths and the share of positive bags. A split without a
positive or without a negative bag is listed as a warning (`"warnings"` in the JSON); the
split's leakage audit follows the split table (`"leakage"` in the JSON,
benchmark.data.leakage). A data problem prints `error: <message>` on stderr and exits with
code 2.
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
    parse = s.get("parse")
    if parse:
        ga = "" if parse.get("ga") is None else f" (GA {parse['ga']:.4f} against "\
            f"{parse['truth_templates']:,} true templates)"
        rows.append(("parser", f"{parse['parser']}{ga}"))
    bagging = s.get("bagging") or {}
    if bagging.get("mode") == "time":
        rows.append(("bags", f"{bagging['window_seconds']:g} s windows every "
                             f"{bagging['stride_seconds']:g} s, ≤ {bagging['max_instances']} "
                             "lines"))
    elif bagging.get("mode") == "count":
        rows.append(("bags", f"{bagging['window_lines']}-line windows every "
                             f"{bagging['stride_lines']} lines, ≤ {bagging['max_instances']} "
                             "lines"))
    ipb = s["instances_per_bag"]
    mean = (s.get("bag_stats") or {}).get("mean_length")
    rows.append(("instances per bag", f"min {ipb['min']}, median {ipb['median']:g}, "
                                      + ("" if mean is None else f"mean {mean:.1f}, ")
                                      + f"max {ipb['max']}"))
    share = (s.get("bag_stats") or {}).get("positive_share")
    if share is not None:
        rows.append(("positive bags", f"{share:.1%} of all splits' bags"))
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
