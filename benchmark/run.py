"""The one run executor: a `RunSpec` → seed → build the model → fit → (adapt) → evaluate → save
its artifacts → write its `RunRecord`(s), atomically.

Every planner emits `RunSpec`s and every backend (benchmark.backends) executes them with
`guarded_run` → `run_one`, in the driver or in a worker process:

- ground truth (benchmark.grid.plan_dataset): one output, the dataset's own labels (on a data
  variant, benchmark.data.variants: the key's `data_variant`, the inputs prepared with `prep`);
- label budget (`--label-budget`): the same, with a label transform (`label_plan`,
  benchmark.labelling.grid.LabelPlan) applied to the training labels before the fit; the run's
  key carries the plan (benchmark.layout.RunKey.label_plan), which decides where it lives;
- cross-domain (`--cross-domain`, benchmark.crossdomain.plan_cross_domain): an adaptation step
  (`adaptation`, an `AdaptationStep`) that fits on the sources, and one output per K shots,
  each adapting a copy of the fitted model before it is evaluated on the target.

So every kind of run gets the same backends (`--jobs`, Dask), end-of-epoch checkpoints and
resume, saved models (benchmark.artifacts, loadable by `localize`) and score files; all paths
come from the run's `RunKey` through benchmark.layout.ResultsLayout. A run leaves its records
and, written just before each, its artifacts; its checkpoint is removed once every record is
written, unless kept. Thread policy: `RunContext.threads` threads (None:
benchmark.threads.DEFAULT_THREADS, one, whatever the parallelism), set the way the model
computes (benchmark.capabilities): torch's intra-op threads for a torch model; for a
`TorchFreeModel` the BLAS / OpenMP pools (threadpoolctl) around fit and evaluation, with no
torch seeding, device, or checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmark.cost import CostLedger
from benchmark.data.bagset import PreparedDataset
from benchmark.layout import ResultsLayout, RunKey
from benchmark.protocol import PROTOCOL_VERSION, evaluate, loc_key
from benchmark.records import RunRecord, plain
from benchmark.store import write_record

log = logging.getLogger(__name__)


class LabelTransform(Protocol):
    """Replaces the training bag labels before the fit (benchmark.labelling.grid.LabelPlan)."""

    key: str

    def apply(self, dataset: PreparedDataset, seed: int) -> tuple[PreparedDataset, dict]: ...

    def record_extras(self, dataset: str, summary: dict[str, Any]) -> dict[str, Any]: ...


class AdaptationStep(Protocol):
    """Fits on some inputs and adapts to a target before each output is evaluated
    (benchmark.crossdomain.CrossDomainSpec)."""

    def target_of(self, inputs: Any) -> PreparedDataset:
        """The dataset whose validation and test splits every output is evaluated on."""
        ...

    def fit(self, model: Any, inputs: Any) -> None:
        """Train `model` on the inputs (e.g. several source datasets)."""
        ...

    def adapt(self, model: Any, inputs: Any, shots: int, seed: int
              ) -> tuple[Any, dict[str, Any]]:
        """A copy of the fitted `model` adapted with `shots`, and the record's extras."""
        ...


@dataclass(frozen=True)
class RunOutput:
    """One record a run writes: its key (which decides its paths), record path, config hash
    and the dataset identity the record carries."""

    key: RunKey
    path: Path
    config_hash: str
    identity: dict[str, Any]


@dataclass(frozen=True)
class RunSpec:
    """One run: a model, seed and resolved config fitted once, then evaluated once per output
    (one output unless an adaptation step makes several, e.g. one per K shots)."""

    model: str
    seed: int
    config: Any
    outputs: tuple[RunOutput, ...]
    fit_hash: str
    """The hash of what is trained (names the checkpoint); = the output's hash for one output."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields set from the command line (`--set`), recorded as `config_overrides`."""
    paper_row: str = ""
    label_plan: LabelTransform | None = None
    """Where the training bag labels come from (benchmark.labelling); None = the ground truth."""
    adaptation: AdaptationStep | None = None
    """Fit elsewhere and adapt before evaluating (cross-domain); None = fit on the dataset."""
    prep: Any = None
    """The run's data variant (benchmark.data.variants.PrepVariant); None = the card's data.
    Its key is the run key's `data_variant` and `identity` includes the variant."""
    data_variant: dict[str, Any] | None = None
    """The data variant's key and axis values, recorded as `extras["data_variant"]`."""

    def __post_init__(self) -> None:
        if not self.outputs:
            raise ValueError(f"{self.model} seed {self.seed}: a run needs at least one output")

    @property
    def key(self) -> RunKey:
        """The run's key: its first output's (the checkpoint's place ignores K)."""
        return self.outputs[0].key

    @property
    def dataset(self) -> str:
        """The dataset name of the run's records."""
        return self.key.record_dataset

    @property
    def variant(self) -> str | None:
        return self.key.variant

    @property
    def path(self) -> Path:
        """The first output's record path (the run's lock lives beside it)."""
        return self.outputs[0].path

    @property
    def config_hash(self) -> str:
        return self.fit_hash

    @property
    def identity(self) -> dict[str, Any]:
        return self.outputs[0].identity


def single_run(key: RunKey, config: Any, config_hash: str, path: Path,
               identity: dict[str, Any], **kwargs: Any) -> RunSpec:
    """A RunSpec with one output (ground truth, label budget); kwargs: RunSpec's optional
    fields."""
    return RunSpec(key.model, key.seed, config, (RunOutput(key, path, config_hash, identity),),
                   config_hash, **kwargs)


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
    """The run's checkpoint and artifacts live below it (benchmark.layout.ResultsLayout)."""
    keep_checkpoints: bool = False
    force: bool = False
    """--force: rerun even when a record with the same hash appeared since planning."""


def run_one(spec: RunSpec, inputs: Any, context: RunContext) -> list[Path]:
    """Fit, (adapt,) evaluate and record every output of one run; returns the record paths.
    inputs: the PreparedDataset (or, with an adaptation step, what the step reads)."""
    from benchmark.capabilities import needs_torch
    from benchmark.registry import model_class
    from benchmark.threads import default_threads

    threads = context.threads or default_threads(jobs=1)
    extras: dict[str, Any] = {} if spec.variant is None else {"variant": spec.variant}
    if spec.data_variant is not None:
        extras["data_variant"] = spec.data_variant
    if spec.label_plan is not None:
        plan = spec.label_plan
        inputs, summary = plan.apply(inputs, spec.seed)
        extras["label_budget"] = plan.record_extras(spec.key.data_name, summary)
    if needs_torch(model_class(spec.model)):
        return _run_torch(spec, inputs, context, threads, extras)
    from threadpoolctl import threadpool_limits

    from benchmark.seeding import seed_python_numpy

    with threadpool_limits(limits=threads):
        seed_python_numpy(spec.seed)
        return _fit_evaluate_record(spec, inputs, context, "cpu", None,
                                    {"device": "cpu", "threads": threads}, extras)


def _run_torch(spec: RunSpec, inputs: Any, context: RunContext, threads: int,
               extras: dict[str, Any]) -> list[Path]:
    """run_one for a torch model: torch threads, seeds, device and checkpoint."""
    import torch

    from benchmark import checkpoint
    from benchmark.seeding import seed_everything

    torch.set_num_threads(threads)
    seed_everything(spec.seed)
    ckpt = ResultsLayout(context.results_dir).checkpoint(spec.key, spec.fit_hash)
    paths = _fit_evaluate_record(spec, inputs, context, torch.device(context.device), ckpt,
                                 {"device": context.device,
                                  "torch_threads": torch.get_num_threads()}, extras)
    if not context.keep_checkpoints:
        checkpoint.remove(ckpt)
    return paths


def _fit_evaluate_record(spec: RunSpec, inputs: Any, context: RunContext, device: Any,
                         ckpt: Path | None, environment: dict[str, Any],
                         extras: dict[str, Any]) -> list[Path]:
    """Build the model on `device`, fit, then per output: adapt, evaluate, save its artifacts
    and write its record."""
    from benchmark.model_api import ModelContext
    from benchmark.registry import get_model

    step = spec.adaptation
    target = inputs if step is None else step.target_of(inputs)
    splits = target.splits
    model_context = ModelContext(
        templates=target.templates, seed=spec.seed, device=device, checkpoint_path=ckpt,
        diagnostic_line_labels=splits["train"].line_labels if step is None else None)
    model = get_model(spec.model, spec.config, model_context)
    ledger = CostLedger(str(device))
    with ledger.phase("fit"):
        if step is None:
            model.fit(splits["train"].bags, splits["val"].bags)
        else:
            step.fit(model, inputs)
    fit_seconds = ledger.seconds["fit"]
    history = _history(model)
    written = []
    for output in spec.outputs:
        evaluated, output_extras = model, extras
        if output.key.shots is not None and step is not None:
            with ledger.phase("adapt"):
                evaluated, adapted = step.adapt(model, inputs, output.key.shots, spec.seed)
            output_extras = {**adapted, **extras}
        with ledger.phase("evaluate"):
            evaluation = evaluate(evaluated, {"val": splits["val"], "test": splits["test"]})
        _save_artifacts(spec, output, evaluated, evaluation, splits["test"].bags,
                        context.results_dir)
        record = RunRecord(
            dataset=output.key.record_dataset, model=spec.model, seed=spec.seed,
            config_hash=output.config_hash, protocol_version=PROTOCOL_VERSION,
            paper_row=spec.paper_row or spec.model,
            config_class=type(spec.config).__qualname__, config=plain(spec.config),
            config_overrides=spec.overrides, dataset_identity=output.identity,
            data_summary=target.summary, metrics=evaluation["metrics"],
            threshold=evaluation["threshold"], counts=evaluation["counts"],
            pr_curve=evaluation["pr_curve"], notes=evaluation["notes"],
            history=None if history is None else plain(history),
            timings={"prepare_seconds": context.prepare_seconds,
                     **ledger.timings(evaluated, output_extras)},
            environment={**environment, "libraries": context.libraries,
                         "python": context.python, "git_commit": context.git_commit},
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"), extras=output_extras)
        write_record(output.path, record)
        written.append(output.path)
        m, loc = evaluation["metrics"], loc_key()
        shots = "" if output.key.shots is None else f" K={output.key.shots}"
        log.info("%s/%s%s seed %d: auc %.4f f1 %.4f %s %.4f sr %.4f (fit %.1f s)",
                 output.key.record_dataset, spec.model, shots, spec.seed, m["auc"], m["f1"],
                 loc, m[loc], m["sr"], fit_seconds)
    return written


def _history(model: Any) -> Any:
    """The training history a model keeps (benchmark.capabilities.HasHistory), else None."""
    from benchmark.capabilities import HasHistory

    return model.history_ if isinstance(model, HasHistory) else None


def _save_artifacts(spec: RunSpec, output: RunOutput, model: Any, evaluation: dict, test: Any,
                    results_dir: Path) -> None:
    """The test scores (every model) and the fitted model (models that can save their state),
    beside the record."""
    from benchmark import artifacts
    from benchmark.capabilities import can_save

    layout = ResultsLayout(results_dir)
    scores = evaluation["test_scores"]
    artifacts.save_scores(layout.scores(output.key), scores, output.config_hash)
    if not can_save(model):
        log.info("%s: declares no savable state (benchmark.capabilities); no model file saved",
                 spec.model)
        return
    probe = np.arange(min(artifacts.PROBE_BAGS, len(test)))
    artifacts.save_model(layout.model(output.key), model, dataset=output.key.record_dataset,
                         seed=spec.seed, config_hash=output.config_hash,
                         dataset_identity=output.identity, threshold=scores.threshold,
                         probe=(test.subset(probe), scores.probabilities[probe]))


class Elsewhere(str):
    """The outcome of a run not done here: another grid holds its lock (benchmark.runlock) or
    recorded it since this grid planned."""


def guarded_run(spec: RunSpec, inputs: Any, context: RunContext
                ) -> tuple[RunSpec, str | None]:
    """run_one under the run's lock, with a failure logged and returned instead of stopping the
    grid; an `Elsewhere` when another grid has the run. The returned spec holds the outputs
    this call was responsible for (those recorded meanwhile by another grid are left out)."""
    from benchmark.runlock import RunLock
    from benchmark.store import is_finished

    lock = RunLock(spec.path)
    try:
        if not lock.acquire():
            log.info("%s/%s seed %d: left to the grid holding it, %s", spec.dataset, spec.model,
                     spec.seed, lock.describe_holder())
            return spec, Elsewhere(f"held by {lock.describe_holder()}")
        pending = tuple(o for o in spec.outputs
                        if context.force or not is_finished(o.path, o.config_hash))
        if not pending:
            return spec, Elsewhere("recorded by another grid")
        spec = dataclasses.replace(spec, outputs=pending)
        run_one(spec, inputs, context)
    except Exception as err:  # noqa: BLE001 - one failed run must not lose the others
        log.error("%s/%s seed %d failed: %s", spec.dataset, spec.model, spec.seed, err,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return spec, f"{type(err).__name__}: {err}"
    finally:
        lock.release()
    return spec, None
