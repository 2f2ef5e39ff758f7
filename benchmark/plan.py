"""`run_all.py --plan`: every run of a grid, whether it is recorded, the data it needs and the
projected hours on this machine, without preparing data or training anything.

A run is "recorded" when its record verifies and carries the config hash the grid would compute
now (the same test the grid uses to skip it). When a dataset's raw file is missing, its identity
(hence its hashes) cannot be computed: every run of it is "to run", and the plan names the file
and the command that fetches it. Projected hours come from benchmark.cost_model (measured by
bench/paper_scale.py on the CPU; an upper bound: every epoch, no early stopping).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from benchmark.cost_model import CostModel, estimate_lines, load_cost_model
from benchmark.data.errors import DataError

log = logging.getLogger(__name__)

LONG_GRID_HOURS = 1.0
"""A grid projected above this many CPU hours says so when it starts, with the --plan hint."""


@dataclass(frozen=True)
class PlannedRun:
    """One (dataset, model, seed) of the grid; hours is None when no cost is measured."""

    dataset: str
    model: str
    seed: int
    recorded: bool
    hours: float | None


@dataclass(frozen=True)
class DataNeed:
    """A dataset's input: where it is read from, whether it is there, how to fetch it."""

    dataset: str
    source: str
    present: bool
    fetch: str | None
    lines: int | None
    problem: str | None = None


@dataclass(frozen=True)
class GridPlan:
    runs: list[PlannedRun]
    data: list[DataNeed]

    @property
    def pending(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.recorded]

    def pending_hours(self) -> tuple[float, int]:
        """Projected hours of the runs still to do, and how many of them have no projection."""
        known = [r.hours for r in self.pending if r.hours is not None]
        return sum(known), len(self.pending) - len(known)


def plan_grid(options, source=None, cost: CostModel | None = None) -> GridPlan:
    """The plan of a ground-truth or label-budget grid (benchmark.grid.GridOptions)."""
    from benchmark import grid

    source = source or grid.pipeline_source()
    cost = cost or load_cost_model()
    models = grid.check_options(options)
    runs, needs = [], []
    for name in options.datasets:
        need = data_need(name, options, cost)
        try:
            specs = grid.plan_dataset(name, models, options, source)
        except DataError as err:
            need = DataNeed(**{**need.__dict__, "problem": str(err)})
            labels = [p.dataset_name(name) for p in options.label_plans] or [name]
            specs = [(label, m, s) for m in models for s in dict.fromkeys(options.seeds)
                     for label in labels]
            runs += [PlannedRun(d, m, s, False, cost.run_hours(m, need.lines))
                     for d, m, s in specs]
        else:
            runs += _planned(specs, options, need, cost)
        needs.append(need)
    return GridPlan(runs, needs)


def plan_of_specs(options, specs_by_dataset: dict[str, list], cost: CostModel | None = None
                  ) -> GridPlan:
    """The plan of run specs the grid has already built (benchmark.grid.plan_dataset per
    dataset), so starting a grid does not plan it twice."""
    cost = cost or load_cost_model()
    needs = [data_need(name, options, cost) for name in specs_by_dataset]
    runs = [run for need, specs in zip(needs, specs_by_dataset.values(), strict=True)
            for run in _planned(specs, options, need, cost)]
    return GridPlan(runs, needs)


def _planned(specs: list, options, need: DataNeed, cost: CostModel) -> list[PlannedRun]:
    """PlannedRuns of one dataset's specs: recorded (as the grid would skip them) and hours."""
    from benchmark import grid

    return [PlannedRun(s.dataset, s.model, s.seed,
                       not options.force and grid.run_is_finished(s, options.results_dir),
                       cost.run_hours(s.model, need.lines)) for s in specs]


def data_need(name: str, options, cost: CostModel) -> DataNeed:
    """Where dataset `name`'s input comes from, whether it is there, and its line count."""
    from benchmark.data.cards import load_card
    from benchmark.data.pipeline import resolve_data_dir

    try:
        card = load_card(name)
    except DataError:  # a dataset of an injected data source (tests), not a card
        return DataNeed(name, "(data source)", True, None, None)
    limit = options.data.max_lines or card.max_lines
    data_file = options.data.data_file(name)
    if data_file is None and card.generator is not None:
        lines = card.generator.quick_lines if options.quick else card.generator.lines
        return DataNeed(name, f"generated ({lines:,} lines, no download)", True, None,
                        _cap(lines, limit))
    if data_file is not None:
        path = Path(data_file)
        fetch = None
    else:
        raw = resolve_data_dir(options.data.data_dir) / "raw"
        path = raw / name / (card.source.filename or "?")
        fetch = f"python -m benchmark download {name}" if card.source.url else None
    present = path.exists()  # a directory or FIFO is there but unusable: see `problem`
    lines = estimate_lines(path) if path.is_file() else None
    if lines is None and data_file is None:
        lines = cost.dataset_lines.get(name)
    return DataNeed(name, str(path), present, None if present else fetch, _cap(lines, limit))


def _cap(lines: int | None, limit: int | None) -> int | None:
    return lines if lines is None or limit is None else min(lines, limit)


def format_plan(plan: GridPlan, device: str) -> str:
    """The plan as text: data, one line per run, and the projected total."""
    out = ["data:"]
    for need in plan.data:
        state = "present" if need.present else "MISSING"
        lines = f"{need.lines:,} lines" if need.lines is not None else "lines unknown"
        out.append(f"  {need.dataset}: {need.source} [{state}; {lines}]")
        if not need.present:
            out.append(f"    fetch: {need.fetch}" if need.fetch
                       else "    fetch: no download source; pass --data-file")
        elif need.problem:  # there, but its runs cannot be identified (e.g. not a regular file)
            out.append(f"    problem: {need.problem}")
    width = max((len(r.dataset) for r in plan.runs), default=7)
    mwidth = max((len(r.model) for r in plan.runs), default=5)
    out.append(f"runs ({len(plan.runs)}):")
    for r in plan.runs:
        hours = f"{'?':>10}" if r.hours is None else f"{r.hours:8.2f} h"
        state = "recorded" if r.recorded else "to run"
        out.append(f"  {r.dataset:<{width}}  {r.model:<{mwidth}}  seed {r.seed:<3}  "
                   f"{state:<8}  {'' if r.recorded else hours}".rstrip())
    total, unknown = plan.pending_hours()
    out.append(f"projected: {len(plan.pending)} run(s) to do, {len(plan.runs) - len(plan.pending)}"
               f" recorded; {total:.1f} h of {device} time"
               + (f" ({unknown} run(s) without a measured cost)" if unknown else ""))
    out.append("cost model: benchmark/cost_model.json (bench/paper_scale.py, one thread on "
               "the CPU, every epoch run: an upper bound; divide by --jobs for wall time)")
    return "\n".join(out)


def warn_if_long(plan: GridPlan, device: str, jobs: int) -> None:
    """Log the projection and the --plan hint when a CPU grid is projected above an hour."""
    total, _ = plan.pending_hours()
    if device == "cpu" and total > LONG_GRID_HOURS:
        log.warning("this grid is projected at %.1f CPU hours (%.1f h wall with --jobs %d) "
                    "on this machine; `run_all.py … --plan` lists every run and its cost",
                    total, total / jobs, jobs)
