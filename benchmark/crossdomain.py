"""The cross-domain protocol: train on source datasets, adapt with K target shots, test once.

For a pair (sources → target), every model and seed:
1. the datasets are put over one shared template table (benchmark.data.shared_templates, the
   chosen representation; Word2Vec is fitted on the sources only);
2. the model is trained on the sources' training bags (`fit_sources`; early stopping on the
   sources' validation bags), once per (model, seed);
3. for each K in `shots`: a copy of the trained model is adapted on the K-shot support, K bags
   per class drawn with the seed from the target's TRAINING split only
   (benchmark.adaptation.draw_support; K = 0: no adaptation), with `adapt(support, steps, lr)`
   (ProtoNet: prototypes; MAML: inner loop; every other model: the generic fine-tune);
4. τ on the target's validation split, the target's test split scored once
   (benchmark.protocol.evaluate), one `RunRecord` per (model, K, seed) at
   `runs/crossdomain/<pair>/<model>/shots<K>/seed<k>.json` (benchmark.store).
The record's dataset is the pair name `<source>+<source>→<target>` (`@<representation>` added
unless hashed); `extras["cross_domain"]` holds sources, target, K, representation, the
adaptation settings and the support drawn; its config hash covers all of these and the data
identities. A (model, seed) whose records all verify is skipped (resumable); otherwise it is
retrained (deterministic) and only its missing records are written. Runs execute one after
another in this process (no model or score files are saved for them).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from benchmark.data.shared_templates import RepresentationSpec
from benchmark.records import RunRecord, plain
from benchmark.store import (
    CROSS_DOMAIN_KEY,
    config_hash,
    cross_domain_record_path,
    is_finished,
    write_record,
)

log = logging.getLogger(__name__)

CROSS_DOMAIN_VERSION = 1
"""Bumped whenever this protocol changes what a cross-domain record's numbers mean."""
DEFAULT_SHOTS = (0, 1, 5, 10)


@dataclass(frozen=True)
class CrossDomainSpec:
    """sources → target; shots K (per class); representation; the generic fine-tune's
    `finetune_steps` AdamW steps at `finetune_lr`."""

    sources: tuple[str, ...]
    target: str
    shots: tuple[int, ...] = DEFAULT_SHOTS
    representation: RepresentationSpec = field(default_factory=RepresentationSpec)
    finetune_steps: int = 20
    finetune_lr: float = 1e-4

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("--sources: name at least one source dataset")
        if self.target in self.sources:
            raise ValueError(f"--target {self.target} is also a source")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"--sources names a dataset twice: {' '.join(self.sources)}")
        if not self.shots or any(k < 0 for k in self.shots):
            raise ValueError(f"--shots must be integers ≥ 0, got {list(self.shots)}")
        if self.finetune_steps < 0 or not self.finetune_lr > 0:
            raise ValueError("--finetune-steps must be ≥ 0 and --finetune-lr > 0")

    @property
    def datasets(self) -> tuple[str, ...]:
        return (*self.sources, self.target)

    @property
    def pair(self) -> str:
        """The records' dataset name, e.g. `synthetic→synthetic-b` (`@word2vec` if so)."""
        name = f"{'+'.join(self.sources)}→{self.target}"
        kind = self.representation.kind
        return name if kind == "hashed" else f"{name}@{kind}"

    def identity(self, identities: dict[str, dict], shots: int) -> dict[str, Any]:
        """What the config hash of a run with K = `shots` covers besides model, config, seed."""
        return {"cross_domain": {"version": CROSS_DOMAIN_VERSION,
                                 "sources": {s: identities[s] for s in self.sources},
                                 "target": identities[self.target], "shots": shots,
                                 "representation": asdict(self.representation),
                                 "finetune_steps": self.finetune_steps,
                                 "finetune_lr": self.finetune_lr}}


@dataclass(frozen=True)
class CrossRun:
    """One (model, seed) of a pair: its config and, per K, record path and config hash."""

    model: str
    seed: int
    config: Any
    overrides: dict[str, Any]
    paper_row: str
    paths: dict[int, Path]
    hashes: dict[int, str]
    variant: str | None = None
    """The records' variant folder (benchmark.layout; `--quick` runs only), None = default."""


def plan_cross_domain(spec: CrossDomainSpec, models: list[str], configs: dict[str, Any],
                      overrides: dict[str, dict[str, Any]], seeds: tuple[int, ...],
                      identities: dict[str, dict], results_dir: Path,
                      quick: bool = False) -> list[CrossRun]:
    """Every (model, seed) of the pair with the paths and hashes of its K records (`--quick`
    runs in the `quick` variant folder, benchmark.layout, whatever their `--set`: smoke runs
    never overwrite the full-data records, which may carry `--set` overrides)."""
    from benchmark.layout import QUICK
    from benchmark.protocol import PROTOCOL_VERSION
    from benchmark.registry import model_class

    runs = []
    for model in models:
        paper_row = getattr(model_class(model), "paper_row", None) or model
        variant = QUICK if quick else None
        for seed in dict.fromkeys(seeds):
            paths = {k: cross_domain_record_path(results_dir, spec.pair, model, k, seed, variant)
                     for k in spec.shots}
            hashes = {k: config_hash(model, configs[model], spec.identity(identities, k), seed,
                                     PROTOCOL_VERSION) for k in spec.shots}
            runs.append(CrossRun(model, seed, configs[model], overrides.get(model, {}),
                                 paper_row, paths, hashes, variant))
    return runs


def pending_shots(run: CrossRun, force: bool) -> list[int]:
    """The K of `run` without a verified record of the same hash (all of them with force)."""
    return [k for k in run.paths if force or not is_finished(run.paths[k], run.hashes[k])]


def run_pair(spec: CrossDomainSpec, runs: list[CrossRun], shared: dict, identities: dict,
             environment: dict[str, Any], device: str, force: bool) -> tuple[list[Path],
                                                                             list[tuple]]:
    """Run every pending (model, seed) of `runs` on the shared datasets; returns the record
    paths written and the failures (run name, error)."""
    finished, failed = [], []
    todo = [(r, pending_shots(r, force)) for r in runs]
    todo = [(r, ks) for r, ks in todo if ks]
    for run, shots in tqdm(todo, desc=f"{spec.pair} runs", unit="run"):
        try:
            finished += _train_and_adapt(spec, run, shots, shared, identities, environment,
                                         device)
        except Exception as err:  # noqa: BLE001 - one failed run must not lose the others
            log.error("%s/%s seed %d failed: %s", spec.pair, run.model, run.seed, err,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            failed.append((f"{spec.pair}/{run.model}/seed{run.seed}",
                           f"{type(err).__name__}: {err}"))
    return finished, failed


def _train_and_adapt(spec: CrossDomainSpec, run: CrossRun, shots: list[int], shared: dict,
                     identities: dict, environment: dict[str, Any], device: str) -> list[Path]:
    import torch

    from benchmark.adaptation import draw_support
    from benchmark.model_api import ModelContext
    from benchmark.protocol import PROTOCOL_VERSION, evaluate
    from benchmark.registry import get_model
    from benchmark.seeding import seed_everything

    target = shared[spec.target]
    seed_everything(run.seed)
    context = ModelContext(templates=target.templates, seed=run.seed,
                           device=torch.device(device))
    model = get_model(run.model, run.config, context)
    start = time.perf_counter()
    model.fit_sources([shared[s].splits["train"].bags for s in spec.sources],
                      [shared[s].splits["val"].bags for s in spec.sources])
    fit_seconds = time.perf_counter() - start
    history = getattr(model, "history_", None)
    written = []
    train = target.splits["train"].bags
    for k in shots:
        support_index = draw_support(train, k, run.seed)
        support = train.subset(support_index)
        adapted = copy.deepcopy(model)
        start = time.perf_counter()
        if k > 0:
            adapted.adapt(support, spec.finetune_steps, spec.finetune_lr)
        adapt_seconds = time.perf_counter() - start
        start = time.perf_counter()
        evaluation = evaluate(adapted, {"val": target.splits["val"],
                                        "test": target.splits["test"]})
        extras = {CROSS_DOMAIN_KEY: {
            "pair": spec.pair, "sources": list(spec.sources), "target": spec.target,
            "shots": k, "representation": spec.representation.kind,
            "finetune_steps": spec.finetune_steps, "finetune_lr": spec.finetune_lr,
            "support": {"bags": [int(i) for i in support_index],
                        "positive": int(support.labels.sum()),
                        "negative": int(len(support) - support.labels.sum())},
            "shared_templates": target.templates.size,
            "source_summaries": {s: shared[s].summary for s in spec.sources}}}
        if run.variant is not None:
            extras["variant"] = run.variant
        record = RunRecord(
            dataset=spec.pair, model=run.model, seed=run.seed, config_hash=run.hashes[k],
            protocol_version=PROTOCOL_VERSION, paper_row=run.paper_row,
            config_class=type(run.config).__qualname__, config=plain(run.config),
            config_overrides=run.overrides,
            dataset_identity=spec.identity(identities, k) | {
                "quick": any(i.get("quick", False) for i in identities.values())},
            data_summary=target.summary, metrics=evaluation["metrics"],
            threshold=evaluation["threshold"], counts=evaluation["counts"],
            pr_curve=evaluation["pr_curve"], notes=evaluation["notes"],
            history=None if history is None else plain(history),
            timings={"fit_seconds": fit_seconds, "adapt_seconds": adapt_seconds,
                     "evaluate_seconds": time.perf_counter() - start},
            environment={"device": device, "torch_threads": torch.get_num_threads(),
                         **environment},
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"), extras=extras)
        write_record(run.paths[k], record)
        written.append(run.paths[k])
        m = evaluation["metrics"]
        log.info("%s/%s K=%d seed %d: auc %.4f f1 %.4f", spec.pair, run.model, k, run.seed,
                 m["auc"], m["f1"])
    return written
