"""The benchmark grid: datasets × models × seeds → one run record each, then the report.

Everything the user chose is checked before any data work (models, config values, seeds, files,
results directory). Per dataset, every (model, seed) run whose record verifies and carries the
same config hash is skipped (`force` reruns it); the data are prepared once, only if a run is
pending, and the pending runs fan out (benchmark.run.guarded_run → run_one, the one executor,
per run). An interrupted grid keeps every finished record and resumes where it stopped. Tables
and figures are rebuilt at the end. Every planner emits benchmark.run.RunSpecs keyed by
benchmark.layout.RunKey: with label plans (`--label-budget`, benchmark.labelling.grid) every
(model, seed) runs once per plan instead, on training labels from the ALPHA pipeline (the key's
`label_plan`; recorded as dataset `<name>@<plan key>`). In cross-domain mode (`--cross-domain`,
benchmark.crossdomain) the datasets are the sources and the target of one pair, and every
(model, seed) is one RunSpec trained on the sources and adapted with each K of `shots`, one
record per (model, K, seed) under `runs/crossdomain/`; it runs on the same backends.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from benchmark.configs import ConfigError
from benchmark.crossdomain import CrossDomainSpec
from benchmark.data.bagset import PreparedDataset
from benchmark.data.errors import DataError
from benchmark.data.request import DataRequest, DataSource, pipeline_source
from benchmark.labelling.grid import LabelPlan
from benchmark.layout import LayoutError, ResultsLayout, RunKey, check_name, variant_of
from benchmark.plan import plan_of_specs, warn_if_long
from benchmark.protocol import PROTOCOL_VERSION
from benchmark.records import MAX_SEED
from benchmark.registry import list_models, model_class, resolve_config
from benchmark.report.build import build_report
from benchmark.run import Elsewhere, RunContext, RunOutput, RunSpec, guarded_run, single_run
from benchmark.seeding import resolve_device
from benchmark.store import (
    check_writable,
    clean_stale_temp,
    config_hash,
    git_commit,
    is_finished,
    library_versions,
)

log = logging.getLogger(__name__)

DEFAULT_SEEDS = (0, 1, 2)


class UsageError(Exception):
    """A bad command-line choice (unknown model, bad value, missing file); exit code 2."""


@dataclass(frozen=True)
class GridOptions:
    """What to run. models: names or shell patterns (empty = every registered model)."""

    datasets: tuple[str, ...] = ("synthetic",)
    models: tuple[str, ...] = ()
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    device: str = "auto"
    jobs: int = 1
    threads: int | None = None
    """torch threads per run; None = benchmark.threads.DEFAULT_THREADS (1) whatever `jobs`."""
    data: DataRequest = field(default_factory=DataRequest)
    """The data options (benchmark.data.request); `data.quick` also selects the models' quick
    settings."""
    results_dir: Path = Path("results")
    force: bool = False
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Config field overrides per model name (`--set MODEL.FIELD=VALUE`)."""
    backend: str = "local"
    """local (this process / joblib workers) or dask (benchmark.backends)."""
    scheduler: str | None = None
    keep_checkpoints: bool = False
    loc_ks: tuple[int, ...] = ()
    """Extra Loc@k of the report (Table II-extra, from the score files)."""
    sr_deltas: tuple[float, ...] = ()
    """Extra SR δ of the report (Table II-extra)."""
    label_plans: tuple[LabelPlan, ...] = ()
    """Label-budget runs instead of ground-truth ones (`--label-budget`); empty = ground truth.
    Their records name the dataset `<dataset>@<plan key>` (benchmark.labelling.grid)."""
    cross_domain: CrossDomainSpec | None = None
    """Cross-domain mode (`--cross-domain`): `datasets` must be its sources and target."""
    prep_variants: tuple[Any, ...] = ()
    """Data variants (benchmark.data.variants.PrepVariant): every run once per variant;
    empty = the card's settings only."""

    @property
    def quick(self) -> bool:
        """`--quick`: the smoke-test data and every model's quick settings."""
        return self.data.quick


@dataclass
class GridOutcome:
    """Record paths of runs finished now, runs skipped as already finished, and failures."""

    finished: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    """Variant folders (benchmark.layout) the grid's runs were recorded under."""
    report_error: str | None = None
    """Why the report could not be written (an OSError at the end), else None."""


@dataclass(frozen=True)
class RunGroup:
    """Runs that share their inputs: the inputs are prepared once (`prepare()`, only if a run
    is pending) and the runs fan out over them."""

    name: str
    runs: list[RunSpec]
    prepare: Callable[[], Any]


def run_grid(options: GridOptions, source: DataSource | None = None) -> GridOutcome:
    """Plan every run of the grid (ground truth, label budget or cross-domain: RunSpecs), run
    the pending ones with the one executor (benchmark.run) and rebuild the report."""
    source = source or pipeline_source()
    models = check_options(options)
    try:
        device = resolve_device(options.device)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--device: {err}") from None
    if options.cross_domain is not None:
        groups = [_plan_cross_domain(options, models, source)]
    else:
        try:
            plans = {name: plan_dataset(name, models, options, source)
                     for name in options.datasets}
        except LayoutError as err:
            raise UsageError(str(err)) from None
        warn_if_long(plan_of_specs(options, plans), device.type, options.jobs)
        groups = [group for name, runs in plans.items()
                  for group in _by_data_variant(name, runs, options.data, source)]
    clean_stale_temp(options.results_dir)
    outcome = GridOutcome()
    all_runs = [r for group in groups for r in group.runs]
    outcome.variants = sorted({r.variant for r in all_runs if r.variant is not None})
    environment = {"device": str(device), "libraries": library_versions(),
                   "git_commit": git_commit(), "python": platform.python_version()}
    try:
        for group in groups:
            _run_group(group, options, environment, outcome)
    finally:
        default = any(r.variant is None for r in all_runs) or not all_runs
        if options.cross_domain is not None:  # its report: its variant's, else the default
            default = not outcome.variants
        _write_reports(outcome, options, ([None] if default else []) + list(outcome.variants))
    return outcome


def _run_group(group: RunGroup, options: GridOptions, environment: dict[str, Any],
               outcome: GridOutcome) -> None:
    """Skip the finished outputs of `group`, prepare its inputs if anything is pending and fan
    the pending runs out; outcomes are added to `outcome`."""
    pending = []
    for run in group.runs:
        todo = pending_outputs(run, options.results_dir, options.force)
        outcome.skipped += [o.path for o in run.outputs if o not in todo]
        if todo:
            pending.append(dataclasses.replace(run, outputs=todo))
    if not pending:
        log.info("%s: all %d runs already recorded; nothing to train", group.name,
                 len(group.runs))
        return
    log.info("%s: %d run(s) to do, %d already recorded", group.name, len(pending),
             len(group.runs) - len(pending))
    start = time.perf_counter()
    inputs = group.prepare()
    context = RunContext(prepare_seconds=time.perf_counter() - start,
                         threads=options.threads, results_dir=options.results_dir,
                         keep_checkpoints=options.keep_checkpoints,
                         force=options.force, **environment)
    for spec, error in _fan_out(group.name, pending, inputs, context, options):
        if error is None:
            outcome.finished += [o.path for o in spec.outputs]
        elif isinstance(error, Elsewhere):
            outcome.skipped += [o.path for o in spec.outputs]
        else:
            outcome.failed.append((f"{spec.dataset}/{spec.model}/seed{spec.seed}", error))


def _by_data_variant(name: str, runs: list[RunSpec], data: DataRequest, source: DataSource
                     ) -> list[RunGroup]:
    """The runs of dataset `name` grouped by data variant (RunKey.data_variant; None = the
    card's settings), in plan order, each group's data prepared with its variant."""
    groups: dict[str | None, list[RunSpec]] = {}
    for spec in runs:
        groups.setdefault(spec.key.data_variant, []).append(spec)
    return [RunGroup(specs[0].key.data_name, specs,
                     lambda prep=specs[0].prep: data.prepare(name, source, prep))
            for specs in groups.values()]


def pending_outputs(run: RunSpec, results_dir: Path, force: bool = False
                    ) -> tuple[RunOutput, ...]:
    """The outputs of `run` without a verified record of the same hash (all with force)."""
    return tuple(o for o in run.outputs
                 if force or not output_is_finished(o, results_dir))


def run_is_finished(run: RunSpec, results_dir: Path) -> bool:
    """Every output of the run has its record (see output_is_finished)."""
    return not pending_outputs(run, results_dir)


def output_is_finished(output: RunOutput, results_dir: Path) -> bool:
    """The output's record verifies with its hash; a variant run also counts as finished when a
    record with its hash sits at the default path (written before variant folders existed)."""
    if is_finished(output.path, output.config_hash):
        return True
    if output.key.variant is None:
        return False
    legacy = ResultsLayout(results_dir).record(dataclasses.replace(output.key, variant=None))
    return legacy.is_file() and is_finished(legacy, output.config_hash)


def _write_reports(outcome: GridOutcome, options: GridOptions,
                   variants: list[str | None]) -> None:
    """Rebuild the report of each variant; an OSError (disk full, read-only folder) is kept in
    `outcome.report_error` so the grid's summary is never lost to it."""
    for variant in variants:
        try:
            build_report(options.results_dir, options.loc_ks, options.sr_deltas, variant=variant)
        except OSError as err:
            where = f" {err.filename}" if getattr(err, "filename", None) else ""
            outcome.report_error = (f"the report under {options.results_dir} could not be "
                                    f"written:{where} {err.strerror or err}")
            log.error("%s", outcome.report_error)
            return


def _plan_cross_domain(options: GridOptions, models: list[str], source: DataSource
                       ) -> RunGroup:
    """The RunSpecs of the pair (benchmark.crossdomain), over the shared datasets."""
    from benchmark.capabilities import CrossDomainModel
    from benchmark.crossdomain import plan_cross_domain
    from benchmark.data.shared_templates import share_templates

    spec = options.cross_domain
    unsupported = [m for m in models if not issubclass(model_class(m), CrossDomainModel)]
    if unsupported and options.models:
        raise UsageError(f"--cross-domain: {', '.join(unsupported)} cannot train on several "
                         "sources and adapt (pass --models with the others)")
    if unsupported:  # the default grid: every model that can
        log.info("--cross-domain: skipping %s (no multi-source training / adaptation)",
                 ", ".join(unsupported))
        models = [m for m in models if m not in unsupported]
    if set(options.datasets) != set(spec.datasets) or options.label_plans:
        raise UsageError("--cross-domain takes its datasets from --sources and --target "
                         "(no --datasets, no --label-budget)")
    identities = {name: options.data.identity(name, source) for name in spec.datasets}
    configs = {}
    for model in models:
        try:
            configs[model] = resolve_config(model, quick=options.quick,
                                            overrides=options.overrides.get(model, {}))
        except ConfigError as err:
            raise UsageError(f"--set: {err}") from None
    runs = plan_cross_domain(spec, models, configs, options.overrides, options.seeds,
                             identities, options.results_dir, quick=options.quick)

    def prepare() -> dict[str, PreparedDataset]:  # one shared template table over the pair
        prepared = [options.data.prepare(name, source) for name in spec.datasets]
        return share_templates(prepared, spec.sources, spec.representation)

    return RunGroup(spec.pair, runs, prepare)


def expand_models(patterns: tuple[str, ...]) -> list[str]:
    """Registered model names matching `patterns` (all when empty), in first-match order."""
    if not patterns:
        return list_models()
    names: list[str] = []
    for pattern in patterns:
        matched = list_models(pattern)
        if not matched:
            known = ", ".join(list_models()) or "none"
            raise UsageError(f"unknown model {pattern!r}; registered models: {known}")
        names += [m for m in matched if m not in names]
    return names


def check_options(options: GridOptions) -> list[str]:
    """Every choice that needs no data, checked first; returns the model names."""
    if options.jobs < 1:
        raise UsageError(f"--jobs must be ≥ 1, got {options.jobs}")
    if options.backend not in ("local", "dask"):
        raise UsageError(f"--backend must be local or dask, got {options.backend!r}")
    if options.threads is not None and options.threads < 1:
        raise UsageError(f"--threads must be ≥ 1, got {options.threads}")
    for name in options.datasets:
        try:
            check_name("dataset", name)
        except LayoutError as err:
            raise UsageError(f"--datasets: {err}") from None
    bad_seeds = [s for s in options.seeds if not 0 <= s <= MAX_SEED]
    if bad_seeds:
        raise UsageError(f"--seeds must lie in 0..{MAX_SEED}, got {bad_seeds[0]}")
    unknown_files = sorted((set(options.data.data_files) | set(options.data.templates))
                           - set(options.datasets))
    if unknown_files:
        raise UsageError(f"--data-file / --templates name dataset(s) not in --datasets: "
                         f"{', '.join(unknown_files)}")
    if options.prep_variants and options.cross_domain is not None:
        raise UsageError("--window, --stride, --max-instances, --parser and --vectors do not "
                         "combine with --cross-domain")
    if options.prep_variants:
        _check_variants(options)
    models = expand_models(options.models)
    unknown_models = sorted(set(options.overrides) - set(models))
    if unknown_models:
        raise UsageError(f"--set names model(s) not in this run: {', '.join(unknown_models)}")
    try:
        check_writable(options.results_dir)
    except OSError as err:
        raise UsageError(f"--results-dir {options.results_dir} is not writable: {err}") from None
    return models


def _check_variants(options: GridOptions) -> None:
    """Every data variant applies to every dataset's card (stride and window of one unit, the
    stride no longer than the window) and a ground-truth parser has its `--templates`."""
    from benchmark.data.cards import load_card

    for name in options.datasets:
        card = load_card(name)
        for variant in options.prep_variants:
            try:
                variant.apply(card)
            except DataError as err:
                raise UsageError(f"{name}: {err}") from None
            if variant.parser_name() == "ground-truth" and name not in options.data.templates:
                raise UsageError(f"--parser ground-truth needs --templates {name}=PATH (a "
                                 "Loghub *_structured.csv with an EventId per line of the input)")


def plan_dataset(name: str, models: list[str], options: GridOptions, source: DataSource
                  ) -> list[RunSpec]:
    """Every (model, data variant, seed[, label plan]) RunSpec of one dataset, keyed
    (benchmark.layout.RunKey) and with the hash that identifies its record."""
    variants = _data_variants(name, options, source)
    layout = ResultsLayout(options.results_dir)
    runs = []
    for model in models:
        overrides = options.overrides.get(model, {})
        try:
            config = resolve_config(model, quick=options.quick, overrides=overrides)
        except ConfigError as err:
            raise UsageError(f"--set: {err}") from None
        paper_row = model_class(model).paper_row or model
        variant = variant_of(config, quick=options.quick, default_config=resolve_config(model),
                             quick_config=resolve_config(model, quick=True))
        for data_key, (prep, identity, extras) in variants.items():
            for seed in dict.fromkeys(options.seeds):
                for plan in options.label_plans or (None,):
                    key = RunKey(name, model, seed, variant, data_variant=data_key,
                                 label_plan=None if plan is None else plan.key)
                    run_identity = identity if plan is None else identity | plan.identity()
                    runs.append(single_run(
                        key, config,
                        config_hash(model, config, run_identity, seed, PROTOCOL_VERSION),
                        layout.record(key), run_identity, overrides=overrides,
                        paper_row=paper_row, label_plan=plan, prep=prep, data_variant=extras))
    return runs


def _data_variants(name: str, options: GridOptions, source: DataSource
                   ) -> dict[str | None, tuple[Any, dict, dict | None]]:
    """{data variant key (None = the card's settings): (PrepVariant or None, dataset identity,
    record extras)} of one dataset: the card's own settings alone without `prep_variants`, else
    one entry per distinct variant (a variant equal to the card is the plain dataset)."""
    if not options.prep_variants:
        return {None: (None, options.data.identity(name, source), None)}
    from benchmark.data.cards import load_card

    card = load_card(name)
    out: dict[str | None, tuple[Any, dict, dict | None]] = {}
    for prep in options.prep_variants:
        key = prep.key(card)
        if key is None:
            out.setdefault(None, (None, options.data.identity(name, source), None))
            continue
        identity = options.data.identity(name, source, prep)
        if key in out and out[key][1] != identity:  # one key, two settings: a bug
            raise UsageError(f"{name}: data variants {out[key][0]} and {prep} share the "
                             f"records key {key}")
        out.setdefault(key, (prep, identity, {"key": key, "axes": prep.axes(card)}))
    return out


def _fan_out(name: str, pending: list[RunSpec], inputs: Any, context: RunContext,
             options: GridOptions) -> Iterator[tuple[RunSpec, str | None]]:
    """Run `pending` on the chosen backend, with one tqdm bar over runs."""
    from benchmark.backends import run_pending

    with tqdm(total=len(pending), desc=f"{name} runs", unit="run") as bar:
        for result in run_pending(guarded_run, pending, inputs, context, options.jobs,
                                  options.backend, options.scheduler):
            bar.update()
            yield result
