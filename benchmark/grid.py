"""The benchmark grid: datasets × models × seeds → one run record each, then the report.

Everything the user chose is checked before any data work (models, config values, seeds, files,
results directory). Per dataset, every (model, seed) run whose record verifies and carries the
same config hash is skipped (`force` reruns it); the data are prepared once, only if a run is
pending, and the pending runs fan out (benchmark.run.run_one per run). An interrupted grid keeps
every finished record and resumes where it stopped. Tables and figures are rebuilt at the end.
With label plans (`--label-budget`, benchmark.labelling.grid) every (model, seed) runs once per
plan instead, on training labels from the ALPHA pipeline, recorded as dataset `<name>@<plan key>`.
In cross-domain mode (`--cross-domain`, benchmark.crossdomain) the datasets are the sources and
the target of one pair, and every (model, seed) is trained on the sources and adapted with each
K of `shots`, one record per (model, K, seed) under `runs/crossdomain/`.
With data variants (`--window`, `--stride`, `--max-instances`, `--parser`, `--vectors`;
benchmark.data.variants) every (model, seed) runs once per variant, on data prepared once per
variant, recorded as dataset `<name>~<variant key>` (a variant equal to the card is the default
run); the sensitivity report compares them (benchmark.report.sensitivity).
"""

from __future__ import annotations

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
from benchmark.labelling.grid import LabelPlan
from benchmark.layout import LayoutError, check_name, variant_of
from benchmark.plan import plan_of_specs, warn_if_long
from benchmark.protocol import PROTOCOL_VERSION
from benchmark.records import MAX_SEED
from benchmark.registry import list_models, model_class, resolve_config
from benchmark.report.build import build_report
from benchmark.run import Elsewhere, RunContext, RunSpec, guarded_run
from benchmark.seeding import resolve_device
from benchmark.store import (
    check_writable,
    clean_stale_temp,
    config_hash,
    git_commit,
    is_finished,
    library_versions,
    record_path,
)

log = logging.getLogger(__name__)

VARIANT_KEY = "data_variant"
"""The dataset-identity key of a data variant's parser / vector settings (benchmark.data.variants;
its bagging and Drain settings are in the identity's card)."""
DEFAULT_SEEDS = (0, 1, 2)


class UsageError(Exception):
    """A bad command-line choice (unknown model, bad value, missing file); exit code 2."""


@dataclass(frozen=True)
class DataSource:
    """Where datasets come from (injectable for tests).

    identity(name, *, data_file, data_dir, max_lines, quick) -> JSON-able identity of the data a
    run would see (part of the config hash; no parsing); prepare(name, *, data_file, data_dir,
    max_lines, strict, quick, max_unparsed, verify) -> PreparedDataset. Both raise DataError
    for an unknown dataset or bad data.
    """

    prepare: Callable[..., PreparedDataset]
    identity: Callable[..., dict]


def pipeline_source() -> DataSource:
    """The real data pipeline (benchmark.data.pipeline) and dataset cards."""
    from benchmark.data.cards import load_card
    from benchmark.data.identity import dataset_identity
    from benchmark.data.pipeline import prepare_dataset, resolve_data_dir

    def identity(name: str, *, data_file, data_dir, max_lines, quick, variant=None,
                 templates=None) -> dict:
        card = load_card(name)
        found = dataset_identity(card if variant is None else variant.apply(card),
                                 data_file=data_file, data_dir=resolve_data_dir(data_dir),
                                 max_lines=max_lines, quick=quick)
        extra = {} if variant is None else variant.identity(card, templates)
        return found | ({VARIANT_KEY: extra} if extra else {})

    return DataSource(prepare=prepare_dataset, identity=identity)


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
    quick: bool = False
    data_dir: Path | None = None
    data_files: dict[str, Path] = field(default_factory=dict)
    max_lines: int | None = None
    results_dir: Path = Path("results")
    force: bool = False
    strict: bool = False
    max_unparsed: float | None = None
    """Largest fraction of lines that may fail the format (None: the card's)."""
    verify: bool = True
    """MD5-check a card's default raw file before use."""
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
    templates: dict[str, Path] = field(default_factory=dict)
    """Loghub `*_structured.csv` per dataset (`--templates`): the ground-truth parser's input
    and the grouping accuracy of any parser."""


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


def run_grid(options: GridOptions, source: DataSource | None = None) -> GridOutcome:
    """Run every pending (dataset, model, seed) of the grid and rebuild the report."""
    source = source or pipeline_source()
    models = check_options(options)
    if options.cross_domain is not None:
        return _run_cross_domain(options, models, source)
    try:
        device = resolve_device(options.device)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--device: {err}") from None
    try:
        plans = {name: plan_dataset(name, models, options, source) for name in options.datasets}
    except LayoutError as err:
        raise UsageError(str(err)) from None
    warn_if_long(plan_of_specs(options, plans), device.type, options.jobs)
    clean_stale_temp(options.results_dir)
    outcome = GridOutcome()
    all_runs = [r for runs in plans.values() for r in runs]
    outcome.variants = sorted({r.variant for r in all_runs if r.variant is not None})
    environment = {"device": str(device), "libraries": library_versions(),
                   "git_commit": git_commit(), "python": platform.python_version()}
    try:
        for name, runs in plans.items():
            pending = [r for r in runs
                       if options.force or not run_is_finished(r, options.results_dir)]
            pending_paths = {r.path for r in pending}
            outcome.skipped += [r.path for r in runs if r.path not in pending_paths]
            if not pending:
                log.info("%s: all %d runs already recorded; nothing to train", name, len(runs))
                continue
            log.info("%s: %d run(s) to do, %d already recorded", name, len(pending),
                     len(runs) - len(pending))
            for prep, group in _by_variant(pending):
                start = time.perf_counter()
                dataset = source.prepare(name, data_file=options.data_files.get(name),
                                         data_dir=options.data_dir, max_lines=options.max_lines,
                                         strict=options.strict, quick=options.quick,
                                         max_unparsed=options.max_unparsed,
                                         verify=options.verify,
                                         **_variant_kwargs(prep, options.templates.get(name)))
                context = RunContext(prepare_seconds=time.perf_counter() - start,
                                     threads=options.threads, results_dir=options.results_dir,
                                     keep_checkpoints=options.keep_checkpoints,
                                     force=options.force, **environment)
                for spec, error in _fan_out(group, dataset, context, options):
                    if error is None:
                        outcome.finished.append(spec.path)
                    elif isinstance(error, Elsewhere):
                        outcome.skipped.append(spec.path)
                    else:
                        outcome.failed.append((f"{spec.dataset}/{spec.model}/seed{spec.seed}",
                                               error))
    finally:
        reports = ([None] if any(r.variant is None for r in all_runs) or not all_runs else [])
        _write_reports(outcome, options, reports + list(outcome.variants))
    return outcome


def _by_variant(pending: list[RunSpec]) -> list[tuple[Any, list[RunSpec]]]:
    """Pending runs grouped by data variant (None = the card's settings), in plan order."""
    groups: dict[str, tuple[Any, list[RunSpec]]] = {}
    for spec in pending:
        groups.setdefault(spec.dataset.split("@")[0], (spec.prep, []))[1].append(spec)
    return list(groups.values())


def _variant_kwargs(prep: Any, templates: Path | None) -> dict[str, Any]:
    """The extra `prepare` arguments of a data variant (none for the plain card, so injected
    data sources without variants keep their signature)."""
    out: dict[str, Any] = {}
    if prep is not None:
        out["variant"] = prep
    if templates is not None:
        out["templates"] = templates
    return out


def run_is_finished(run: RunSpec, results_dir: Path) -> bool:
    """The run's record verifies with its hash; a variant run also counts as finished when a
    record with its hash sits at the default path (written before variant folders existed)."""
    if is_finished(run.path, run.config_hash):
        return True
    if run.variant is None:
        return False
    legacy = record_path(results_dir, run.dataset, run.model, run.seed)
    return legacy.is_file() and is_finished(legacy, run.config_hash)


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


def _run_cross_domain(options: GridOptions, models: list[str], source: DataSource
                      ) -> GridOutcome:
    """Every pending (model, K, seed) of the pair (benchmark.crossdomain), then the report."""
    from benchmark.capabilities import CrossDomainModel
    from benchmark.crossdomain import pending_shots, plan_cross_domain, run_pair

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
    try:
        device = resolve_device(options.device)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--device: {err}") from None
    identities = {name: _data_identity(name, options, source) for name in spec.datasets}
    configs = {}
    for model in models:
        try:
            configs[model] = resolve_config(model, quick=options.quick,
                                            overrides=options.overrides.get(model, {}))
        except ConfigError as err:
            raise UsageError(f"--set: {err}") from None
    runs = plan_cross_domain(spec, models, configs, options.overrides, options.seeds,
                             identities, options.results_dir, quick=options.quick)
    clean_stale_temp(options.results_dir)
    outcome = GridOutcome()
    outcome.variants = sorted({r.variant for r in runs if r.variant is not None})
    try:
        pending = {id(r): pending_shots(r, options.force) for r in runs}
        outcome.skipped += [r.paths[k] for r in runs for k in r.paths if k not in pending[id(r)]]
        if not any(pending.values()):
            log.info("%s: all runs already recorded; nothing to train", spec.pair)
            return outcome
        shared = _shared_datasets(spec, options, source)
        environment = {"libraries": library_versions(), "git_commit": git_commit(),
                       "python": platform.python_version()}
        if options.threads is not None:
            import torch

            torch.set_num_threads(options.threads)
        finished, failed = run_pair(spec, runs, shared, identities, environment, str(device),
                                    options.force)
        outcome.finished += finished
        outcome.failed += failed
    finally:
        _write_reports(outcome, options, list(outcome.variants) or [None])
    return outcome


def _shared_datasets(spec: CrossDomainSpec, options: GridOptions, source: DataSource) -> dict:
    """The pair's datasets prepared and put over one shared template table."""
    from benchmark.data.shared_templates import share_templates

    prepared = [source.prepare(name, data_file=options.data_files.get(name),
                               data_dir=options.data_dir, max_lines=options.max_lines,
                               strict=options.strict, quick=options.quick,
                               max_unparsed=options.max_unparsed, verify=options.verify)
                for name in spec.datasets]
    return share_templates(prepared, spec.sources, spec.representation)


def _data_identity(name: str, options: GridOptions, source: DataSource) -> dict:
    data_file = options.data_files.get(name)
    if data_file is not None:
        from benchmark.data.cache import regular_file_stat

        try:
            regular_file_stat(Path(data_file))
        except DataError as err:
            raise DataError(f"{err} (data file for {name})") from None
    return source.identity(name, data_file=data_file, data_dir=options.data_dir,
                           max_lines=options.max_lines, quick=options.quick)


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
    if options.max_lines is not None and options.max_lines < 1:
        raise UsageError(f"--max-lines must be ≥ 1, got {options.max_lines}")
    for name in options.datasets:
        try:
            check_name("dataset", name)
        except LayoutError as err:
            raise UsageError(f"--datasets: {err}") from None
    bad_seeds = [s for s in options.seeds if not 0 <= s <= MAX_SEED]
    if bad_seeds:
        raise UsageError(f"--seeds must lie in 0..{MAX_SEED}, got {bad_seeds[0]}")
    unknown_files = sorted((set(options.data_files) | set(options.templates))
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
            if variant.parser_name() == "ground-truth" and name not in options.templates:
                raise UsageError(f"--parser ground-truth needs --templates {name}=PATH (a "
                                 "Loghub *_structured.csv with an EventId per line of the input)")


def plan_dataset(name: str, models: list[str], options: GridOptions, source: DataSource
                  ) -> list[RunSpec]:
    """Every (model, seed) RunSpec of one dataset, with the hash that identifies its record."""
    data_file = options.data_files.get(name)
    if data_file is not None:
        from benchmark.data.cache import regular_file_stat

        try:
            regular_file_stat(Path(data_file))  # os.stat only: a FIFO never blocks
        except DataError as err:
            raise DataError(f"{err} (data file for {name})") from None
    variants = _data_variants(name, data_file, options, source)
    runs = []
    for model in models:
        overrides = options.overrides.get(model, {})
        try:
            config = resolve_config(model, quick=options.quick, overrides=overrides)
        except ConfigError as err:
            raise UsageError(f"--set: {err}") from None
        paper_row = getattr(model_class(model), "paper_row", None) or model
        variant = variant_of(config, quick=options.quick, default_config=resolve_config(model),
                             quick_config=resolve_config(model, quick=True))
        for data_name, (prep, identity, extras) in variants.items():
            for seed in dict.fromkeys(options.seeds):
                for plan in options.label_plans or (None,):
                    run_name = data_name if plan is None else plan.dataset_name(data_name)
                    run_identity = identity if plan is None else identity | plan.identity()
                    runs.append(RunSpec(
                        run_name, model, seed, config,
                        config_hash(model, config, run_identity, seed, PROTOCOL_VERSION),
                        record_path(options.results_dir, run_name, model, seed, variant),
                        run_identity, overrides, paper_row, label_plan=plan, variant=variant,
                        prep=prep, data_variant=extras))
    return runs


def _data_variants(name: str, data_file: Path | None, options: GridOptions, source: DataSource
                   ) -> dict[str, tuple[Any, dict, dict | None]]:
    """{records' dataset name: (PrepVariant or None, dataset identity, record extras)} of one
    dataset: the card's own settings alone without `prep_variants`, else one entry per distinct
    variant (a variant equal to the card is the plain dataset)."""
    common = {"data_file": data_file, "data_dir": options.data_dir,
              "max_lines": options.max_lines, "quick": options.quick}
    if not options.prep_variants:
        return {name: (None, source.identity(name, **common), None)}
    from benchmark.data.cards import load_card
    from benchmark.data.variants import variant_dataset_name

    card = load_card(name)
    templates = options.templates.get(name)
    out: dict[str, tuple[Any, dict, dict | None]] = {}
    for prep in options.prep_variants:
        key = prep.key(card)
        data_name = variant_dataset_name(name, key)
        if data_name in out:
            continue
        if key is None:
            out[data_name] = (None, source.identity(name, **common), None)
            continue
        identity = source.identity(name, **common, variant=prep, templates=templates)
        out[data_name] = (prep, identity, {"key": key, "axes": prep.axes(card)})
    return out


def _fan_out(pending: list[RunSpec], dataset: PreparedDataset, context: RunContext,
             options: GridOptions) -> Iterator[tuple[RunSpec, str | None]]:
    """Run `pending` on the chosen backend, with one tqdm bar over runs."""
    from benchmark.backends import run_pending

    with tqdm(total=len(pending), desc=f"{dataset.name} runs", unit="run") as bar:
        for result in run_pending(guarded_run, pending, dataset, context, options.jobs,
                                  options.backend, options.scheduler):
            bar.update()
            yield result
