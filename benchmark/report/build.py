"""Rebuild every table and figure from the run records alone (no data, no training)."""

from __future__ import annotations

import logging
from pathlib import Path

from benchmark.layout import ResultsLayout
from benchmark.report.budget import plain_records, write_budget_report
from benchmark.report.cost import cost_table
from benchmark.report.crossdomain import write_crossdomain_report
from benchmark.report.figures import write_figures
from benchmark.report.oracle import oracle_table
from benchmark.report.ranks import write_rank_report
from benchmark.report.sensitivity import is_variant_record, write_sensitivity_report
from benchmark.report.tables import build_tables, write_tables
from benchmark.report.uncertainty import compute_uncertainty, with_score_values
from benchmark.store import load_cross_domain_records, load_records

log = logging.getLogger(__name__)


def build_report(results_dir: Path, loc_ks: tuple[int, ...] = (),
                 sr_deltas: tuple[float, ...] = (), reference_rows: bool = False,
                 variant: str | None = None) -> list[Path]:
    """Tables I–III (with 95 % bootstrap intervals and significance marks from the runs' score
    files, benchmark.report.uncertainty), the oracle-τ table, the cost ledger
    table (`cost.*`, benchmark.report.cost) and the rank test (`ranks.md`,
    benchmark.report.ranks) into `<results_dir>/tables/`; iso-F1 and critical-difference
    figures into `<results_dir>/figures/`; with `loc_ks` or `sr_deltas`, also Table II-extra
    (`table2_extra.*`): Loc@k and SR@δ recomputed from the runs' score files. The label-budget
    records (ALPHA) only feed the label-budget figures and the annotation-saved table
    (benchmark.report.budget); the cross-domain records (runs/crossdomain/) only the
    cross-domain table and figure (benchmark.report.crossdomain); the data-variant records
    (`<dataset>~<key>`, benchmark.data.variants) only the sensitivity tables and figures
    (`sensitivity_<dataset>.*`, benchmark.report.sensitivity), beside their dataset's
    default-settings records.

    reference_rows: add other papers' published numbers as separate rows of Table I
    (benchmark.report.reference_rows). The default-config records only; with `variant`
    (benchmark.layout: `quick`, `quick-<h>`, `cfg-<h>`) that variant's records instead, into
    `tables/<variant>/` and `figures/<variant>/` (cross-domain: that variant's). Returns the written
    paths. With no record, the tables still list the paper's numbers.
    """
    results_dir = Path(results_dir)
    every = load_records(results_dir, variant)
    records = [r for r in every if not is_variant_record(r)]
    layout = ResultsLayout(results_dir)
    tables_dir, figures_dir = layout.tables(variant), layout.figures(variant)
    plain = plain_records(records)
    log.info("report: %d run record(s) under %s (%d label-budget)", len(records),
             results_dir / "runs", len(records) - len(plain))
    uncertainty = compute_uncertainty(plain, results_dir)
    scored = with_score_values(plain, uncertainty)
    tables = build_tables(scored, uncertainty) + [oracle_table(scored), cost_table(records)]
    if reference_rows:
        from benchmark.report.reference_rows import add_reference_rows

        add_reference_rows(tables[0])
    if loc_ks or sr_deltas:
        from benchmark.report.rescore import extra_table, rescored_records

        rescored = rescored_records(plain, results_dir, tuple(loc_ks), tuple(sr_deltas))
        tables.append(extra_table(plain, rescored, tuple(loc_ks), tuple(sr_deltas)))
    paths = write_tables(tables, tables_dir)
    paths += write_figures(plain, figures_dir)
    paths += write_rank_report(scored, tables_dir, figures_dir)
    paths += write_budget_report(records, tables_dir, figures_dir)
    paths += write_sensitivity_report(every, tables_dir, figures_dir)
    cross = load_cross_domain_records(results_dir, variant)
    if variant is None or cross:
        paths += write_crossdomain_report(cross, tables_dir, figures_dir)
    return paths
