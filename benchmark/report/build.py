"""Rebuild every table and figure from the run records alone (no data, no training)."""

from __future__ import annotations

import logging
from pathlib import Path

from benchmark.report.figures import write_figures
from benchmark.report.tables import build_tables, write_tables
from benchmark.store import load_records

log = logging.getLogger(__name__)


def build_report(results_dir: Path) -> list[Path]:
    """Tables I–III into `<results_dir>/tables/`, iso-F1 figures into `<results_dir>/figures/`.

    Returns the written paths. With no record, the tables still list the paper's numbers.
    """
    results_dir = Path(results_dir)
    records = load_records(results_dir)
    log.info("report: %d run record(s) under %s", len(records), results_dir / "runs")
    paths = write_tables(build_tables(records), results_dir / "tables")
    paths += write_figures(records, results_dir / "figures")
    return paths
