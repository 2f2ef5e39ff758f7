"""The benchmark grid: datasets × models × seeds → one run record each, then the report.

Per dataset, every (model, seed) run whose record already carries the same config hash is
skipped (`force` reruns it); the data are prepared once, only if a run is pending, and the pending
runs fan out over `jobs` joblib workers. Each run: seed_everything(seed) → get_model → fit(train
bags, val bags) → protocol.evaluate → record written atomically. An interrupted grid keeps every
finished record and resumes where it stopped. Tables and figures are rebuilt at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from benchmark.data.bagset import PreparedDataset
from benchmark.data.errors import DataError
from benchmark.model_api import ModelContext
from benchmark.protocol import PROTOCOL_VERSION, evaluate
from benchmark.registry import get_model, list_models, resolve_config
from benchmark.report.build import build_report
from benchmark.seeding import resolve_device, seed_everything
from benchmark.store import (
    config_hash,
    git_commit,
    is_finished,
    library_versions,
    record_path,
    write_record,
)
from benchmark.threads import apply_thread_policy, apply_worker_threads, threads_arg

log = logging.getLogger(__name__)

DEFAULT_SEEDS = (0, 1, 2)


class UsageError(Exception):
    """A bad command-line choice (unknown model, missing file); shown as `error: <message>`."""


@dataclass(frozen=True)
class DataSource:
    """Where datasets come from (injectable for tests).

    prepare(name, *, data_file, data_dir, max_lines, strict, quick) -> PreparedDataset;
    settings(name) -> JSON-able dict of the dataset's settings (its card), part of the config
    hash; both raise DataError for an unknown dataset or bad data.
    """

    prepare: Callable[..., PreparedDataset]
    settings: Callable[[str], dict]


def pipeline_source() -> DataSource:
    """The real data pipeline (benchmark.data.pipeline) and dataset cards."""
    from benchmark.data.cards import load_card
    from benchmark.data.pipeline import prepare_dataset

    return DataSource(prepare=prepare_dataset, settings=lambda name: load_card(name).as_dict())


@dataclass(frozen=True)
class GridOptions:
    """What to run. models: names or shell patterns (empty = every registered model)."""

    datasets: tuple[str, ...] = ("synthetic",)
    models: tuple[str, ...] = ()
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    device: str = "auto"
    jobs: int = 1
    quick: bool = False
    data_dir: Path | None = None
    data_files: dict[str, Path] = field(default_factory=dict)
    max_lines: int | None = None
    results_dir: Path = Path("results")
    force: bool = False
    strict: bool = False
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Config field overrides per model name (`--set MODEL.FIELD=VALUE`)."""


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid, with its resolved config and the hash that identifies its record."""

    dataset: str
    model: str
    seed: int
    config: Any
    config_hash: str
    path: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields set from the command line (`--set`), recorded as `config_overrides`."""


@dataclass
class GridOutcome:
    """Record paths of runs finished now, runs skipped as already finished, and failures."""

    finished: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def run_grid(options: GridOptions, source: DataSource | None = None) -> GridOutcome:
    """Run every pending (dataset, model, seed) of the grid and rebuild the report."""
    if options.jobs < 1:
        raise UsageError(f"--jobs must be ≥ 1, got {options.jobs}")
    unknown_files = sorted(set(options.data_files) - set(options.datasets))
    if unknown_files:
        raise UsageError(f"--data-file names dataset(s) not in --datasets: "
                         f"{', '.join(unknown_files)}")
    source = source or pipeline_source()
    models = expand_models(options.models)
    unknown_models = sorted(set(options.overrides) - set(models))
    if unknown_models:
        raise UsageError(f"--set names model(s) not in this run: {', '.join(unknown_models)}")
    try:
        device = resolve_device(options.device)
    except (ValueError, RuntimeError) as err:
        raise UsageError(str(err)) from None
    plans = {name: _plan_dataset(name, models, options, source) for name in options.datasets}
    outcome = GridOutcome()
    environment = {"device": str(device), "libraries": library_versions(),
                   "git_commit": git_commit(), "python": platform.python_version()}
    try:
        for name, (identity, runs) in plans.items():
            pending = [r for r in runs if options.force or not is_finished(r.path, r.config_hash)]
            pending_paths = {r.path for r in pending}
            outcome.skipped += [r.path for r in runs if r.path not in pending_paths]
            if not pending:
                log.info("%s: all %d runs already recorded; nothing to train", name, len(runs))
                continue
            log.info("%s: %d run(s) to do, %d already recorded", name, len(pending),
                     len(runs) - len(pending))
            start = time.perf_counter()
            dataset = source.prepare(name, data_file=options.data_files.get(name),
                                     data_dir=options.data_dir, max_lines=options.max_lines,
                                     strict=options.strict, quick=options.quick)
            context = {"identity": identity, "prepare_seconds": time.perf_counter() - start,
                       **environment}
            _execute(pending, dataset, context, options.jobs, outcome)
    finally:
        build_report(options.results_dir)
    return outcome


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


def run_one(spec: RunSpec, dataset: PreparedDataset, context: dict) -> Path:
    """Fit, evaluate and record one run; returns the record path.

    context: identity (dataset identity), prepare_seconds, device, libraries, git_commit, python.
    """
    seed_everything(spec.seed)
    device = torch.device(context["device"])
    model_context = ModelContext(templates=dataset.templates, seed=spec.seed, device=device)
    model = get_model(spec.model, spec.config, model_context)
    splits = dataset.splits
    start = time.perf_counter()
    model.fit(splits["train"].bags, splits["val"].bags)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    evaluation = evaluate(model, {"val": splits["val"], "test": splits["test"]})
    evaluate_seconds = time.perf_counter() - start
    record = {
        "dataset": spec.dataset,
        "model": spec.model,
        "seed": spec.seed,
        "config_hash": spec.config_hash,
        "protocol_version": PROTOCOL_VERSION,
        "config_class": type(spec.config).__qualname__,
        "config": spec.config,
        "config_overrides": spec.overrides,
        "dataset_identity": context["identity"],
        "data_summary": dataset.summary,
        **evaluation,
        "timings": {"prepare_seconds": context["prepare_seconds"], "fit_seconds": fit_seconds,
                    "evaluate_seconds": evaluate_seconds},
        "device": context["device"],
        "torch_threads": torch.get_num_threads(),
        "libraries": context["libraries"],
        "python": context["python"],
        "git_commit": context["git_commit"],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_record(spec.path, record)
    m = evaluation["metrics"]
    log.info("%s/%s seed %d: auc %.4f f1 %.4f loc@3 %.4f sr %.4f (fit %.1f s)", spec.dataset,
             spec.model, spec.seed, m["auc"], m["f1"], m["loc@3"], m["sr"], fit_seconds)
    return spec.path


def _plan_dataset(
    name: str, models: list[str], options: GridOptions, source: DataSource
) -> tuple[dict, list[RunSpec]]:
    """The dataset identity and every (model, seed) RunSpec of one dataset."""
    data_file = options.data_files.get(name)
    if data_file is not None and not Path(data_file).is_file():
        raise DataError(f"{data_file}: data file for {name} not found")
    identity = {
        "name": name,
        "data_file": None if data_file is None else str(Path(data_file).resolve()),
        "max_lines": options.max_lines,
        "quick": options.quick,
        "settings": source.settings(name),
    }
    runs = []
    for model in models:
        overrides = options.overrides.get(model, {})
        try:
            config = resolve_config(model, quick=options.quick, overrides=overrides)
        except ValueError as err:
            raise UsageError(str(err)) from None
        for seed in dict.fromkeys(options.seeds):
            runs.append(RunSpec(name, model, seed, config,
                                config_hash(model, config, identity, seed, PROTOCOL_VERSION),
                                record_path(options.results_dir, name, model, seed), overrides))
    return identity, runs


def _execute(pending: list[RunSpec], dataset: PreparedDataset, context: dict, jobs: int,
             outcome: GridOutcome) -> None:
    """Run `pending` serially or over joblib workers, with one tqdm bar over runs."""
    bar = tqdm(total=len(pending), desc=f"{dataset.name} runs", unit="run")
    if jobs == 1:
        results = (_guarded_run(spec, dataset, context) for spec in pending)
    else:
        level = logging.getLogger().getEffectiveLevel()
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(_worker_run)(spec, dataset, context, level) for spec in pending)
    with bar:
        for spec, error in results:
            bar.update()
            if error is None:
                outcome.finished.append(spec.path)
            else:
                outcome.failed.append((f"{spec.dataset}/{spec.model}/seed{spec.seed}", error))


def _guarded_run(spec: RunSpec, dataset: PreparedDataset, context: dict
                 ) -> tuple[RunSpec, str | None]:
    """run_one, with a failure logged and returned instead of stopping the grid."""
    try:
        run_one(spec, dataset, context)
    except Exception as err:  # noqa: BLE001 - one failed run must not lose the others
        log.error("%s/%s seed %d failed: %s", spec.dataset, spec.model, spec.seed, err,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return spec, f"{type(err).__name__}: {err}"
    return spec, None


def _worker_run(spec: RunSpec, dataset: PreparedDataset, context: dict, level: int
                ) -> tuple[RunSpec, str | None]:
    """A joblib worker's run: torch threads per the parent's policy (default one), logging to
    stderr at the parent's level."""
    apply_worker_threads()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    return _guarded_run(spec, dataset, context)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description="Run the benchmark grid (datasets × models × seeds) and rebuild the tables "
                    "and figures. Finished runs (same config hash) are skipped.")
    parser.add_argument("--datasets", nargs="+", default=["synthetic"], metavar="NAME",
                        help="dataset cards to run (default: synthetic)")
    parser.add_argument("--models", nargs="+", default=[], metavar="NAME",
                        help="model names or shell patterns, e.g. 'log*' (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS),
                        metavar="K", help="seeds (default: 0 1 2)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="parallel runs (joblib workers, one torch thread each)")
    parser.add_argument("--threads", type=threads_arg, default=None, metavar="N",
                        help="torch threads per run (default: 1 with --jobs > 1, else the "
                             "idle cores: cpu count minus the 1-min load average)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: small data and each model's quick settings")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where raw data and caches live (default: datasets/)")
    parser.add_argument("--data-file", action="append", default=[], metavar="NAME=PATH",
                        type=_data_file_arg, help="use this file for dataset NAME (repeatable)")
    parser.add_argument("--max-lines", type=int, default=None, metavar="N",
                        help="read only the first N lines of each dataset (overrides cards)")
    parser.add_argument("--strict", action="store_true",
                        help="a log line that does not match its format is an error")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE",
                        type=_override_arg, dest="overrides",
                        help="override a model config field, e.g. logbert.epochs=20 "
                             "(VALUE is read as JSON, else as a string; repeatable)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where records, tables and figures go (default: results/)")
    parser.add_argument("--force", action="store_true", help="rerun finished runs")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild tables and figures from the records; no data, no training")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None, source: DataSource | None = None) -> int:
    """CLI entry point; returns the exit code (0 ok, 1 a run failed, 2 usage/data error)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.report_only:
            paths = build_report(args.results_dir)
            print(f"report: {len(paths)} files under {args.results_dir}")
            return 0
        apply_thread_policy(args.threads, args.jobs)
        options = GridOptions(
            datasets=tuple(args.datasets), models=tuple(args.models), seeds=tuple(args.seeds),
            device=args.device, jobs=args.jobs, quick=args.quick, data_dir=args.data_dir,
            data_files=dict(args.data_file), max_lines=args.max_lines,
            results_dir=args.results_dir, force=args.force, strict=args.strict,
            overrides=_group_overrides(args.overrides))
        outcome = run_grid(options, source)
    except (UsageError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are recorded; rerun the same command to resume",
              file=sys.stderr)
        return 130
    print(f"runs: {len(outcome.finished)} finished, {len(outcome.skipped)} already recorded, "
          f"{len(outcome.failed)} failed; report under {args.results_dir}")
    for run, error in outcome.failed:
        print(f"failed: {run}: {error}", file=sys.stderr)
    return 1 if outcome.failed else 0


def _data_file_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def _override_arg(text: str) -> tuple[str, str, Any]:
    """`MODEL.FIELD=VALUE` → (model, field, value); VALUE parsed as JSON, else kept a string."""
    target, sep, raw = text.partition("=")
    model, dot, name = target.partition(".")
    if not (sep and dot and model and name and raw):
        raise argparse.ArgumentTypeError(f"expected MODEL.FIELD=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return model, name, value


def _group_overrides(items: list[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for model, name, value in items:
        grouped.setdefault(model, {})[name] = value
    return grouped
