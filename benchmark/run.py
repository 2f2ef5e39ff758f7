"""One run of the grid: seed → build the model → fit → evaluate → `RunRecord`, written atomically.

`run_one` is what every backend (benchmark.backends) executes, in the driver or in a worker
process; a run leaves its record and, written just before it, its artifacts
(benchmark.artifacts: the fitted model and the test split's scores); its end-of-epoch checkpoint
is removed once the record is written, unless kept. Thread policy: `RunContext.threads` threads
(None: benchmark.threads.DEFAULT_THREADS, one, whatever the parallelism), set the way the model
computes (benchmark.capabilities): torch's
intra-op threads for a torch model; for a `TorchFreeModel` the BLAS / OpenMP pools
(threadpoolctl) around fit and evaluation, with no torch seeding, device, or checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.cost import CostLedger
from benchmark.data.bagset import PreparedDataset
from benchmark.labelling.grid import LabelPlan
from benchmark.protocol import PROTOCOL_VERSION, evaluate, loc_key
from benchmark.records import RunRecord, plain
from benchmark.store import write_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One run, with its resolved config, data identity and the hash that identifies its record."""

    dataset: str
    model: str
    seed: int
    config: Any
    config_hash: str
    path: Path
    identity: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields set from the command line (`--set`), recorded as `config_overrides`."""
    paper_row: str = ""
    label_plan: LabelPlan | None = None
    """Where the training bag labels come from (benchmark.labelling); None = the ground truth.
    `dataset` is then `<base dataset>@<plan key>` and `identity` includes the plan."""
    variant: str | None = None
    """The run's variant folder (benchmark.layout: quick / `--set` configs); None = default."""
    prep: Any = None
    """The run's data variant (benchmark.data.variants.PrepVariant); None = the card's data.
    `dataset` is then `<base dataset>~<variant key>` and `identity` includes the variant."""
    data_variant: dict[str, Any] | None = None
    """The data variant's key and axis values, recorded as `extras["data_variant"]`."""


@dataclass(frozen=True)
class RunContext:
    """What every run of a dataset shares: environment facts recorded beside the numbers."""

    device: str
    libraries: dict[str, str | None]
    git_commit: str | None
    python: str
    prepare_seconds: float = 0.0
    threads: int | None = None
    results_dir: Path = Path("results")
    """The run's checkpoint lives below it (`checkpoints/`)."""
    keep_checkpoints: bool = False
    force: bool = False
    """--force: rerun even when a record with the same hash appeared since planning."""


def run_one(spec: RunSpec, dataset: PreparedDataset, context: RunContext) -> Path:
    """Fit, evaluate and record one run; returns the record path."""
    from benchmark.capabilities import needs_torch
    from benchmark.registry import model_class
    from benchmark.threads import default_threads

    threads = context.threads or default_threads(jobs=1)
    extras: dict[str, Any] = {} if spec.variant is None else {"variant": spec.variant}
    if spec.data_variant is not None:
        extras["data_variant"] = spec.data_variant
    if spec.label_plan is not None:
        plan = spec.label_plan
        dataset, summary = plan.apply(dataset, spec.seed)
        base = spec.dataset.removesuffix(plan.dataset_name(""))
        extras["label_budget"] = plan.record_extras(base, summary)
    if needs_torch(model_class(spec.model)):
        return _run_torch(spec, dataset, context, threads, extras)
    from threadpoolctl import threadpool_limits

    from benchmark.seeding import seed_python_numpy

    with threadpool_limits(limits=threads):
        seed_python_numpy(spec.seed)
        return _fit_evaluate_record(spec, dataset, context, "cpu", None,
                                    {"device": "cpu", "threads": threads}, extras)


def _run_torch(spec: RunSpec, dataset: PreparedDataset, context: RunContext, threads: int,
               extras: dict[str, Any]) -> Path:
    """run_one for a torch model: torch threads, seeds, device and checkpoint."""
    import torch

    from benchmark import checkpoint
    from benchmark.seeding import seed_everything

    torch.set_num_threads(threads)
    seed_everything(spec.seed)
    ckpt = checkpoint.checkpoint_path(context.results_dir, spec.dataset, spec.model, spec.seed,
                                      spec.config_hash)
    path = _fit_evaluate_record(spec, dataset, context, torch.device(context.device), ckpt,
                                {"device": context.device,
                                 "torch_threads": torch.get_num_threads()}, extras)
    if not context.keep_checkpoints:
        checkpoint.remove(ckpt)
    return path


def _fit_evaluate_record(spec: RunSpec, dataset: PreparedDataset, context: RunContext,
                         device: Any, ckpt: Path | None, environment: dict[str, Any],
                         extras: dict[str, Any]) -> Path:
    """Build the model on `device`, fit, evaluate, save its artifacts and write the record."""
    from benchmark.model_api import ModelContext
    from benchmark.registry import get_model

    model_context = ModelContext(templates=dataset.templates, seed=spec.seed, device=device,
                                 checkpoint_path=ckpt,
                                 diagnostic_line_labels=dataset.splits["train"].line_labels)
    model = get_model(spec.model, spec.config, model_context)
    splits = dataset.splits
    ledger = CostLedger(str(device))
    with ledger.phase("fit"):
        model.fit(splits["train"].bags, splits["val"].bags)
    with ledger.phase("evaluate"):
        evaluation = evaluate(model, {"val": splits["val"], "test": splits["test"]})
    fit_seconds = ledger.seconds["fit"]
    _save_artifacts(spec, model, evaluation, splits["test"].bags, context.results_dir)
    history = getattr(model, "history_", None)
    record = RunRecord(
        dataset=spec.dataset, model=spec.model, seed=spec.seed, config_hash=spec.config_hash,
        protocol_version=PROTOCOL_VERSION, paper_row=spec.paper_row or spec.model,
        config_class=type(spec.config).__qualname__, config=plain(spec.config),
        config_overrides=spec.overrides, dataset_identity=spec.identity,
        data_summary=dataset.summary, metrics=evaluation["metrics"],
        threshold=evaluation["threshold"], counts=evaluation["counts"],
        pr_curve=evaluation["pr_curve"], notes=evaluation["notes"],
        history=None if history is None else plain(history),
        timings={"prepare_seconds": context.prepare_seconds,
                 **ledger.timings(model, extras)},
        environment={**environment, "libraries": context.libraries, "python": context.python,
                     "git_commit": context.git_commit},
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"), extras=extras)
    write_record(spec.path, record)
    m, loc = evaluation["metrics"], loc_key()
    log.info("%s/%s seed %d: auc %.4f f1 %.4f %s %.4f sr %.4f (fit %.1f s)", spec.dataset,
             spec.model, spec.seed, m["auc"], m["f1"], loc, m[loc], m["sr"], fit_seconds)
    return spec.path


def _save_artifacts(spec: RunSpec, model: Any, evaluation: dict, test: Any,
                    results_dir: Path) -> None:
    """The test scores (every model) and the fitted model (models that can save their state),
    beside the record."""
    from benchmark import artifacts
    from benchmark.capabilities import can_save

    scores = evaluation["test_scores"]
    where = (results_dir, spec.dataset, spec.model, spec.seed, spec.variant)
    artifacts.save_scores(artifacts.scores_path(*where), scores, spec.config_hash)
    if not can_save(model):
        log.info("%s: declares no savable state (benchmark.capabilities); no model file saved",
                 spec.model)
        return
    probe = np.arange(min(artifacts.PROBE_BAGS, len(test)))
    artifacts.save_model(artifacts.model_path(*where), model, dataset=spec.dataset, seed=spec.seed,
                         config_hash=spec.config_hash, dataset_identity=spec.identity,
                         threshold=scores.threshold,
                         probe=(test.subset(probe), scores.probabilities[probe]))


class Elsewhere(str):
    """The outcome of a run not done here: another grid holds its lock (benchmark.runlock) or
    recorded it since this grid planned."""


def guarded_run(spec: RunSpec, dataset: PreparedDataset, context: RunContext
                ) -> tuple[RunSpec, str | None]:
    """run_one under the run's lock, with a failure logged and returned instead of stopping the
    grid; an `Elsewhere` when another grid has the run."""
    from benchmark.runlock import RunLock
    from benchmark.store import is_finished

    lock = RunLock(spec.path)
    try:
        if not lock.acquire():
            log.info("%s/%s seed %d: left to the grid holding it, %s", spec.dataset, spec.model,
                     spec.seed, lock.describe_holder())
            return spec, Elsewhere(f"held by {lock.describe_holder()}")
        if not context.force and is_finished(spec.path, spec.config_hash):
            return spec, Elsewhere("recorded by another grid")
        run_one(spec, dataset, context)
    except Exception as err:  # noqa: BLE001 - one failed run must not lose the others
        log.error("%s/%s seed %d failed: %s", spec.dataset, spec.model, spec.seed, err,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return spec, f"{type(err).__name__}: {err}"
    finally:
        lock.release()
    return spec, None
