"""The oracle-τ table: F1 at the test-optimal threshold beside F1 at the validation τ.

F1 at oracle τ = max over thresholds t of the test F1 of `p >= t` (benchmark.threshold
`best_f1_threshold` applied to the *test* scores, read from the runs' score files). It uses the
test labels to choose τ, so it is **not a result**: it bounds what any threshold could give and
shows the cost of transferring τ from validation (gap = oracle − validation τ).
"""

from __future__ import annotations

from benchmark.records import RunRecord
from benchmark.report.aggregate import report_sections, row_of
from benchmark.report.paper_reference import dataset_display_name, display_name
from benchmark.report.tables import MISSING_NOTE, STD_NOTE, Table, _fmt_signed, _fmt_stat, _tidy
from benchmark.report.uncertainty import ORACLE_F1


def oracle_table(records: list[RunRecord]) -> Table:
    """F1 at the validation τ and at the oracle τ per dataset and model (records carrying
    `f1_oracle`, see benchmark.report.uncertainty.with_score_values)."""
    table = Table("oracle_tau", "F1 at the test-optimal threshold (oracle τ, not a result) "
                  "beside F1 at the validation τ",
                  ["Model", "Seeds (scored)", "F1 at validation τ", "F1 at oracle τ",
                   "gap (oracle − val.)"])
    for dataset, models in report_sections(records):
        rows = []
        for model, group in models:
            f1, oracle = group.stat("f1"), group.stat(ORACLE_F1)
            gap = oracle.mean - f1.mean if oracle.n and f1.n else float("nan")
            rows.append([display_name(row_of(model, group)),
                         f"{len(group.seeds)} ({oracle.n})", _fmt_stat(f1),
                         _fmt_stat(oracle) if oracle.n else "–", _fmt_signed(gap)])
            table.tidy += [_tidy("oracle", dataset, model, m, group, None)
                           for m in ("f1", ORACLE_F1)]
        table.sections.append((dataset_display_name(dataset), rows))
    table.notes += [
        "Oracle τ = the threshold maximising F1 on the test split itself (it uses the test "
        "labels): an upper bound on F1 at any threshold, NOT a result; Table I reports F1 at the "
        "validation τ. The gap is the cost of transferring τ from validation to test.",
        "Seeds (scored) = seeds run (seeds whose score file verifies; only those enter the "
        "oracle column).", STD_NOTE, MISSING_NOTE]
    return table
