"""Every command line of the project: `run_all.py` and `python -m benchmark <command>`.

Options that mean the same thing are defined once here (`--data-file`, `--data-dir`,
`--max-lines`, `--strict`, `--quick`) and read the same way everywhere. Exit codes: 0 ok, 1 a run
failed, 2 a usage or data error (one `error: …` line on stderr, no traceback), 130 interrupted.
Heavy modules are imported inside the commands that need them (`--report-only` never imports
torch).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.labelling.grid import LabelPlan

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- shared options

def data_file_arg(text: str) -> tuple[str | None, Path]:
    """`NAME=PATH` → (NAME, PATH); a bare `PATH` → (None, PATH) (only one dataset named)."""
    name, sep, path = text.partition("=")
    if not sep:
        return None, Path(text)
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH or PATH, got {text!r}")
    return name, Path(path)


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-file", action="append", default=[], metavar="[NAME=]PATH",
                        type=data_file_arg,
                        help="raw log to read for dataset NAME instead of the card's file "
                             "(NAME may be left out when one dataset is named; repeatable)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="where raw/ and cache/ live (default: datasets/)")
    parser.add_argument("--max-lines", type=int, default=None, metavar="N",
                        help="read only the first N lines (overrides the card)")
    parser.add_argument("--strict", action="store_true",
                        help="a line that does not match its format, or time going backwards, "
                             "is an error")
    parser.add_argument("--max-unparsed", type=float, default=None, metavar="FRACTION",
                        help="largest fraction of lines that may fail the format "
                             "(default: the card's, 0.05)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the MD5 check of the card's default raw file")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: small synthetic data and each model's quick settings")


def data_request(args: argparse.Namespace, datasets: list[str],
                 templates: list[tuple[str | None, Path]] = ()) -> Any:
    """The `DataRequest` (benchmark.data.request) of the shared data options (and the
    `--templates` items), for `datasets`; raises DataError (exit 2) for a bad value."""
    from benchmark.data.request import DataRequest

    return DataRequest(data_dir=args.data_dir,
                       data_files=data_files_for(args.data_file, datasets),
                       max_lines=args.max_lines, strict=args.strict, quick=args.quick,
                       max_unparsed=args.max_unparsed, verify=not args.no_verify,
                       templates=data_files_for(list(templates), datasets))


def data_files_for(items: list[tuple[str | None, Path]], datasets: list[str]) -> dict[str, Path]:
    """The `--data-file` items as {dataset: path}; a bare PATH needs exactly one dataset.

    Raises DataError (a usage error, exit 2) for a bare PATH with several datasets or a NAME not
    among `datasets`.
    """
    from benchmark.data.errors import DataError

    files: dict[str, Path] = {}
    for name, path in items:
        if name is None:
            if len(datasets) != 1:
                raise DataError(f"--data-file {path}: name the dataset (NAME=PATH) when "
                                f"running several")
            name = datasets[0]
        files[name] = path
    unknown = sorted(set(files) - set(datasets))
    if unknown:
        raise DataError(f"--data-file names dataset(s) not in --datasets: {', '.join(unknown)}")
    return files


# ---------------------------------------------------------------- run_all.py

def threads_arg(text: str) -> int:
    """argparse type of `--threads`: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_int_arg(text: str) -> int:
    """argparse type of `--loc-k`: an integer ≥ 1."""
    return threads_arg(text)


def delta_arg(text: str) -> float:
    """argparse type of `--sr-delta`: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def span_arg(text: str) -> Any:
    """argparse type of `--window` / `--stride`: `60s`, `10m`, `1h`, `6h` or `100l`."""
    from benchmark.data.variants import parse_span

    try:
        return parse_span(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser_arg(text: str) -> Any:
    """argparse type of `--parser`: `drain[:depth=D][:sim=S]`, `tipping[:threshold=T]`,
    `ground-truth`."""
    from benchmark.data.variants import parse_parser

    try:
        return parse_parser(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_variant_options(parser: argparse.ArgumentParser) -> None:
    """The sensitivity axes (benchmark.data.variants): each run once per combination."""
    parser.add_argument("--window", nargs="+", type=span_arg, default=[], metavar="SPAN",
                        help="bag windows to sweep: times (30s, 10m, 1h, 6h) or line counts "
                             "(20l, 100l); default: the card's")
    parser.add_argument("--stride", type=span_arg, default=None, metavar="SPAN",
                        help="window step, same unit as the windows (default: the window, "
                             "tumbling windows)")
    parser.add_argument("--max-instances", nargs="+", type=positive_int_arg, default=[],
                        metavar="N", help="longest bags to sweep (default: the card's)")
    parser.add_argument("--parser", nargs="+", type=parser_arg, default=[], dest="parsers",
                        metavar="PARSER",
                        help="parsers to sweep: drain[:depth=D][:sim=S][:children=C], "
                             "tipping[:threshold=T], ground-truth (needs --templates)")
    parser.add_argument("--templates", action="append", default=[], type=data_file_arg,
                        metavar="[NAME=]PATH",
                        help="Loghub *_structured.csv of the dataset's input (EventId per "
                             "line): the ground-truth parser, and every parser's grouping "
                             "accuracy (repeatable)")
    parser.add_argument("--vectors", nargs="+", default=[], metavar="KIND",
                        choices=("word2vec", "hashed", "wordllama"),
                        help="template vectors to sweep: word2vec (the card's), hashed, "
                             "wordllama")


def build_run_all_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description="Run the benchmark grid (datasets × models × seeds) and rebuild the tables "
                    "and figures. Finished runs (same config hash) are skipped.")
    parser.add_argument("--datasets", nargs="+", default=["synthetic"], metavar="NAME",
                        help="dataset cards to run (default: synthetic)")
    parser.add_argument("--models", nargs="+", default=[], metavar="NAME",
                        help="model names or shell patterns, e.g. 'log*' (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="K",
                        help="seeds, each in 0..2^32-1 (default: 0 1 2)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="parallel runs (local workers or LocalCluster workers, one torch "
                             "thread each)")
    parser.add_argument("--backend", choices=("local", "dask"), default="local",
                        help="local: this machine (joblib); dask: one task per run on a "
                             "dask.distributed cluster (default: local)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --backend dask: the scheduler to use (default: start a "
                             "LocalCluster of --jobs workers)")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep the training checkpoints of finished runs")
    parser.add_argument("--threads", type=threads_arg, default=None, metavar="N",
                        help="torch threads per run (default 1, whatever --jobs and --backend, "
                             "so that the records do not depend on the parallelism)")
    add_data_options(parser)
    add_variant_options(parser)
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE",
                        type=override_arg, dest="overrides",
                        help="override a model config field, e.g. logbert.epochs=20 "
                             "(VALUE is read as JSON, else as a string; repeatable)")
    parser.add_argument("--label-budget", nargs="+", type=float, default=[], metavar="B",
                        help="train on labels from the ALPHA pipeline, one run per budget "
                             "(fractions in (0, 1] of the training lines, or of the bags with "
                             "--label-unit bag); records under runs/<dataset>@budget<B>-…/")
    parser.add_argument("--labeller", default="oracle",
                        help="labeller for --label-budget: oracle, noisy-oracle, keywords, "
                             "replay, llm, drift (default: oracle)")
    parser.add_argument("--labeller-option", action="append", default=[], metavar="KEY=VALUE",
                        type=labeller_option_arg, dest="labeller_options",
                        help="labeller option, e.g. flip=0.1, path=answers.jsonl or (drift) "
                             "source=<dataset card> source_file=<raw log> (repeatable)")
    parser.add_argument("--label-unit", default="line", choices=["line", "bag"],
                        help="what the labeller is asked about (default: line)")
    parser.add_argument("--cross-domain", action="store_true",
                        help="cross-domain mode: train on --sources, adapt with --shots labelled "
                             "target bags, test on --target; records under "
                             "runs/crossdomain/<sources>→<target>/")
    parser.add_argument("--sources", nargs="+", default=[], metavar="NAME",
                        help="with --cross-domain: the source dataset cards")
    parser.add_argument("--target", default=None, metavar="NAME",
                        help="with --cross-domain: the target dataset card")
    parser.add_argument("--shots", nargs="+", type=int, default=[0, 1, 5, 10], metavar="K",
                        help="with --cross-domain: labelled target bags per class for adaptation "
                             "(0 = none; default: 0 1 5 10)")
    parser.add_argument("--representation", choices=("hashed", "word2vec"), default="hashed",
                        help="with --cross-domain: shared template vectors, hashed n-grams or a "
                             "Word2Vec fitted on the sources (default: hashed)")
    parser.add_argument("--finetune-steps", type=int, default=20, metavar="N",
                        help="with --cross-domain: steps of the generic fine-tune (default: 20)")
    parser.add_argument("--finetune-lr", type=float, default=1e-4, metavar="LR",
                        help="with --cross-domain: learning rate of the generic fine-tune "
                             "(default: 1e-4)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where records, tables and figures go (default: results/)")
    parser.add_argument("--force", action="store_true", help="rerun finished runs")
    parser.add_argument("--plan", action="store_true",
                        help="print every run of the grid (recorded or to run), the data it "
                             "needs and the projected hours, then exit without training")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild tables and figures from the records; no data, no training")
    parser.add_argument("--variant", default=None, metavar="NAME",
                        help="with --report-only: report the records of this variant (quick, "
                             "quick-<h>, cfg-<h>: runs under --quick or --set) into "
                             "tables/NAME/ and figures/NAME/ (default: the default config's)")
    parser.add_argument("--loc-k", nargs="+", type=positive_int_arg, default=[], metavar="K",
                        help="also report Loc@K for these K (Table II-extra, recomputed from the "
                             "runs' score files)")
    parser.add_argument("--sr-delta", nargs="+", type=delta_arg, default=[], metavar="DELTA",
                        help="also report SR at these δ in [0, 1) (Table II-extra)")
    parser.add_argument("--reference-rows", action="store_true",
                        help="add other papers' published numbers (benchmark/reference_rows.json,"
                             " with provenance) as separate rows of Table I")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def run_all_main(argv: list[str] | None = None, source: Any = None) -> int:
    """`run_all.py`; `source` (a benchmark.grid.DataSource) is injectable for tests."""
    args = build_run_all_parser().parse_args(argv)
    _configure_logging(args.verbose)
    extra = {"loc_ks": tuple(args.loc_k), "sr_deltas": tuple(args.sr_delta)}
    if args.report_only:
        return _report_only(args.results_dir, **extra, reference_rows=args.reference_rows,
                            variant=args.variant)
    if args.variant is not None:
        print("error: --variant goes with --report-only (a run's variant follows from --quick "
              "and --set)", file=sys.stderr)
        return 2
    from benchmark.data.errors import DataError
    from benchmark.grid import UsageError
    from benchmark.interrupt import Interrupted, stop_on_signals

    try:
        with stop_on_signals():
            outcome = _run_grid(args, source)
    except (UsageError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        code = err.exit_code if isinstance(err, Interrupted) else 130
        print(f"interrupted ({err or 'SIGINT'}): every worker stopped; finished runs are "
              f"recorded and unfinished ones keep their last epoch's checkpoint under "
              f"{args.results_dir / 'checkpoints'}; rerun the same command to resume",
              file=sys.stderr)
        return code
    except OSError as err:  # disk full, read-only folder … outside any one run
        print(f"error: {os_error(err)}", file=sys.stderr)
        return 2
    if outcome is None:  # --plan
        return 0
    print(f"runs: {len(outcome.finished)} finished, {len(outcome.skipped)} already recorded, "
          f"{len(outcome.failed)} failed; report under {args.results_dir}")
    for variant in outcome.variants:
        print(f"variant {variant} (--quick / --set): records under runs/<dataset>/<model>/"
              f"{variant}/, report in {args.results_dir / 'tables' / variant} "
              f"(--report-only --variant {variant})")
    for run, error in outcome.failed:
        print(f"failed: {run}: {error}", file=sys.stderr)
    if outcome.report_error is not None:
        print(f"error: {outcome.report_error}", file=sys.stderr)
        return 1 if outcome.failed else 2
    if args.reference_rows:  # the grid's report has none: rebuild it with them
        _report_only(args.results_dir, **extra, reference_rows=True)
    return 1 if outcome.failed else 0


def _run_grid(args: argparse.Namespace, source: Any) -> Any:
    """The grid the options describe (its GridOutcome), or its plan printed (None)."""
    from benchmark.grid import GridOptions, run_grid

    cross = cross_domain_spec(args)
    datasets = list(cross.datasets) if cross is not None else args.datasets
    options = GridOptions(
        datasets=tuple(datasets), models=tuple(args.models), seeds=tuple(args.seeds),
        device=args.device, jobs=args.jobs, threads=args.threads,
        data=data_request(args, datasets, args.templates), results_dir=args.results_dir,
        force=args.force,
        overrides=group_overrides(args.overrides), backend=args.backend,
        scheduler=args.scheduler, keep_checkpoints=args.keep_checkpoints,
        label_plans=label_plans(args), cross_domain=cross, loc_ks=tuple(args.loc_k),
        sr_deltas=tuple(args.sr_delta), prep_variants=prep_variants(args))
    if args.plan:
        _print_plan(options, source)
        return None
    return run_grid(options, source)


def _print_plan(options: Any, source: Any) -> None:
    from benchmark.grid import UsageError
    from benchmark.plan import format_plan, plan_grid
    from benchmark.seeding import resolve_device

    if options.cross_domain is not None:
        raise UsageError("--plan covers ground-truth and label-budget grids, not --cross-domain")
    try:
        device = resolve_device(options.device).type
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--device: {err}") from None
    print(format_plan(plan_grid(options, source), device))


def _report_only(results_dir: Path, loc_ks: tuple[int, ...] = (),
                 sr_deltas: tuple[float, ...] = (), reference_rows: bool = False,
                 variant: str | None = None) -> int:
    from benchmark.layout import LayoutError, check_variant
    from benchmark.report.build import build_report

    if variant is not None:
        try:
            check_variant(variant)
        except LayoutError as err:
            print(f"error: --variant: {err}", file=sys.stderr)
            return 2
    if not (results_dir / "runs").is_dir():
        print(f"error: --report-only: {results_dir / 'runs'} does not exist (no run records to "
              f"report)", file=sys.stderr)
        return 2
    try:
        paths = build_report(results_dir, loc_ks, sr_deltas, reference_rows, variant)
    except OSError as err:
        where = err.filename or results_dir
        print(f"error: --report-only: cannot write {where}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    print(f"report: {len(paths)} files under {results_dir}")
    return 0


def cross_domain_spec(args: argparse.Namespace) -> Any:
    """The `CrossDomainSpec` of `--cross-domain` (None without it); raises UsageError."""
    from benchmark.grid import UsageError

    cross_only = (args.sources or args.target is not None)
    if not args.cross_domain:
        if cross_only:
            raise UsageError("--sources and --target need --cross-domain")
        return None
    if not args.sources or args.target is None:
        raise UsageError("--cross-domain needs --sources and --target")
    if args.datasets != ["synthetic"] or args.label_budget:
        raise UsageError("--cross-domain takes its datasets from --sources and --target "
                         "(no --datasets, no --label-budget)")
    from benchmark.crossdomain import CrossDomainSpec
    from benchmark.data.shared_templates import RepresentationSpec

    try:
        return CrossDomainSpec(tuple(args.sources), args.target,
                               tuple(dict.fromkeys(args.shots)),
                               RepresentationSpec(args.representation), args.finetune_steps,
                               args.finetune_lr)
    except ValueError as err:
        raise UsageError(str(err)) from None


def prep_variants(args: argparse.Namespace) -> tuple[Any, ...]:
    """The data variants of the sensitivity options (empty without any); raises UsageError."""
    from benchmark.data.variants import expand_variants
    from benchmark.grid import UsageError

    try:
        return expand_variants(args.window, args.stride, args.max_instances, args.parsers,
                               args.vectors)
    except ValueError as err:
        raise UsageError(str(err)) from None


def override_arg(text: str) -> tuple[str, str, Any]:
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


def labeller_option_arg(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` → (key, value); VALUE parsed as JSON, else kept a string."""
    key, sep, raw = text.partition("=")
    if not (sep and key and raw):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def label_plans(args: argparse.Namespace) -> tuple[LabelPlan, ...]:
    """The `LabelPlan`s of `--label-budget` (one per distinct budget); raises UsageError."""
    from benchmark.grid import UsageError
    from benchmark.labelling.grid import LabelPlan

    if not args.label_budget:
        if args.labeller != "oracle" or args.labeller_options or args.label_unit != "line":
            raise UsageError("--labeller, --labeller-option and --label-unit need "
                             "--label-budget")
        return ()
    try:
        return tuple(LabelPlan(b, args.labeller, args.label_unit, dict(args.labeller_options))
                     for b in dict.fromkeys(args.label_budget))
    except ValueError as err:
        raise UsageError(f"--label-budget: {err}") from None


def group_overrides(items: list[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for model, name, value in items:
        grouped.setdefault(model, {})[name] = value
    return grouped


# ---------------------------------------------------------------- python -m benchmark

def build_benchmark_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark",
                                     description="Dataset and registry commands.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    describe = commands.add_parser(
        "describe", help="prepare a dataset (or reuse its cache) and print its summary")
    describe.add_argument("dataset", help="dataset card name (datasets/<name>.toml)")
    add_data_options(describe)
    describe.add_argument("--json", action="store_true", help="print one JSON object")
    add_variant_options(describe)

    download = commands.add_parser("download", help="fetch datasets' raw files (MD5-checked)")
    download.add_argument("datasets", nargs="+", metavar="DATASET",
                          help="dataset card names, e.g. bgl zookeeper")
    download.add_argument("--data-dir", type=Path, default=None,
                          help="data root; files go to DIR/raw/<dataset>/ (default: datasets/)")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")

    commands.add_parser("models", help="list registered models with one-line descriptions")

    parse = commands.add_parser(
        "parse", help="parse a log with a card's masking and Drain settings; GA against truth")
    parse.add_argument("dataset", help="dataset card name (datasets/<name>.toml)")
    add_data_options(parse)
    parse.add_argument("--output", type=Path, help="write LineId,TemplateId,EventTemplate CSV")
    parse.add_argument("--truth", type=Path,
                       help="Loghub *_structured.csv (LineId, EventId): print grouping accuracy")
    parse.add_argument("--json", action="store_true",
                       help='print one JSON object {"lines", "templates", "ga", "truth_templates"}')
    parse.add_argument("--parser", type=parser_arg, default=None, metavar="PARSER",
                       help="drain[:depth=D][:sim=S][:children=C] (default: the card's Drain), "
                            "tipping[:threshold=T], ground-truth (reads --truth)")

    localize = commands.add_parser(
        "localize", help="score your own log with a saved model: flagged windows and the lines "
                         "that most likely caused them")
    localize.add_argument("--model", required=True, help="registered model name, e.g. logmilp")
    localize.add_argument("--trained-on", required=True, metavar="DATASET",
                          help="the dataset the saved model was trained on, e.g. synthetic, bgl "
                               "(a cross-domain run: its pair, e.g. 'synthetic→synthetic-b', "
                               "with --shots)")
    localize.add_argument("--shots", type=int, default=None, metavar="K",
                          help="a cross-domain run's K (its model adapted with K shots per "
                               "class; --trained-on names the pair)")
    localize.add_argument("--seed", type=int, default=0, help="the run's seed (default: 0)")
    localize.add_argument("--variant", default=None, metavar="NAME",
                          help="the run's variant folder: quick for a --quick run, quick-<h> or "
                               "cfg-<h> for a --set run (default: the default-config run)")
    localize.add_argument("--log", required=True, type=Path, metavar="FILE",
                          help="your log (.log, .gz, .zip, .tar.gz), in the trained dataset's "
                               "format")
    localize.add_argument("--format", default=None,
                          help="the log's format (bgl, cfdr, zookeeper); must be the trained "
                               "dataset's (default: the trained dataset's)")
    localize.add_argument("--top", type=positive_int_arg, default=3, metavar="K",
                          help="lines listed per flagged window (default: 3)")
    localize.add_argument("--output", type=Path, default=None, metavar="FILE",
                          help="write the report: .html, .md or .json (default: JSON on stdout)")
    localize.add_argument("--results-dir", type=Path, default=Path("results"),
                          help="where the saved models are (default: results/)")
    localize.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")

    compare = commands.add_parser(
        "compare-records", help="are two record sets equivalent (issue 24's rule)? one line "
                                "per model with the deltas of mean AUC, F1, Loc@3, SR")
    compare.add_argument("old", help="a results directory or a git revision (its committed "
                                     "results/runs)")
    compare.add_argument("new", help="a results directory or a git revision")
    compare.add_argument("--dataset", default="synthetic", help="dataset (default: synthetic)")
    compare.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                         help="seeds compared (default: 0 1 2)")
    compare.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return parser


def benchmark_main(argv: list[str] | None = None) -> int:
    """`python -m benchmark`: 0 ok, 2 a usage, data or file-system error (one `error:` line),
    130 interrupted (one line)."""
    args = build_benchmark_parser().parse_args(argv)
    _configure_logging(args.verbose)
    command = {"describe": _describe, "download": _download, "models": _models,
               "parse": _parse, "localize": _localize,
               "compare-records": _compare_records}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print(f"interrupted: {args.command} stopped; nothing half-written is left",
              file=sys.stderr)
        return 130
    except OSError as err:
        print(f"error: {os_error(err)}", file=sys.stderr)
        return 2


def os_error(err: OSError) -> str:
    """`PATH: cause` of an OSError (the path when it names one)."""
    where = err.filename if err.filename is not None else None
    cause = err.strerror or str(err)
    return f"{where}: {cause}" if where is not None else cause


def check_output(output: Path | None, inputs: list[Path]) -> str | None:
    """Why `--output` cannot be written (it is one of `inputs`, a folder, or its folder is
    missing or not writable), else None; checked before any work."""
    if output is None:
        return None
    for source in inputs:
        try:
            if Path(source).exists() and output.exists() and output.samefile(source):
                return f"--output {output} is the input {source}; refusing to overwrite it"
        except OSError:
            continue
    if output.is_dir():
        return f"--output {output} is a directory"
    folder = output.parent
    if not folder.is_dir():
        return f"--output {output}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"--output {output}: the folder {folder} is not writable"
    return None


def _compare_records(args: argparse.Namespace) -> int:
    from benchmark.equivalence import compare_main

    return compare_main(args.old, args.new, args.dataset, args.seeds, args.markdown)


def _describe(args: argparse.Namespace) -> int:
    from benchmark.data.describe import format_summary
    from benchmark.data.errors import DataError
    from benchmark.data.request import pipeline_source
    from benchmark.grid import UsageError

    try:
        variants = prep_variants(args)
        if len(variants) > 1:
            raise UsageError(f"describe prepares one data variant; the options give "
                             f"{len(variants)} (one value per axis)")
        prep = variants[0] if variants else None
        data = data_request(args, [args.dataset], args.templates).prepare(
            args.dataset, pipeline_source(), prep)
    except (DataError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(data.summary) if args.json else format_summary(data.summary))
    return 0


def _parse(args: argparse.Namespace) -> int:
    """Read and parse stages only; per-line templates to CSV, GA against Loghub ground truth."""
    from benchmark.data.errors import DataError
    from benchmark.data.grouping import parse_scores, write_line_templates
    from benchmark.data.pipeline import parse_log
    from benchmark.data.variants import PrepVariant

    try:
        request = data_request(args, [args.dataset])
        problem = check_output(args.output, [*request.data_files.values(),
                                             *([args.truth] if args.truth else [])])
        if problem is not None:
            raise DataError(problem)
        line_templates, texts = parse_log(args.dataset, data_file=request.data_file(args.dataset),
                                          data_dir=request.data_dir, max_lines=request.max_lines,
                                          strict=request.strict, quick=request.quick,
                                          variant=PrepVariant(parser=args.parser),
                                          templates=args.truth)
        result = parse_scores(line_templates, len(texts), args.truth)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.output is not None:
        write_line_templates(args.output, line_templates, texts)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(f"{key:<16} {'–' if value is None else value}"
                        for key, value in result.items()))
    return 0


def _localize(args: argparse.Namespace) -> int:
    from benchmark.data.errors import DataError
    from benchmark.localize import localize
    from benchmark.report.localize_html import to_html, to_markdown

    writers = {".html": to_html, ".htm": to_html, ".md": to_markdown,
               ".json": lambda r: json.dumps(r, indent=2, ensure_ascii=False) + "\n"}
    suffix = args.output.suffix.lower() if args.output is not None else ".json"
    if suffix not in writers:
        print(f"error: --output {args.output}: use a .html, .md or .json file", file=sys.stderr)
        return 2
    problem = check_output(args.output, [args.log])
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        result = localize(args.model, args.trained_on, args.log, seed=args.seed,
                          fmt=args.format, top=args.top, results_dir=args.results_dir,
                          device=args.device, variant=args.variant, shots=args.shots)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = writers[suffix](result)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    from benchmark.atomic import atomic_write_bytes

    try:
        atomic_write_bytes(args.output, text.encode("utf-8"))
    except OSError as err:
        print(f"error: --output {args.output}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"{result['flagged']} of {result['bags']} windows flagged (p ≥ τ = "
          f"{result['threshold']:.4f}); {result['unknown']['lines']} lines of unknown templates; "
          f"report: {args.output}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from benchmark.data.download import download_datasets

    return download_datasets(args.datasets, args.data_dir, progress=not args.no_progress)


def _models(args: argparse.Namespace) -> int:
    from benchmark.registry import describe_model, list_models

    names = list_models()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {describe_model(name)}")
    return 0


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
