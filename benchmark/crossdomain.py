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
   `runs/crossdomain/<pair>/<model>/shots<K>/seed<k>.json` (benchmark.layout).
The record's dataset is the pair name `<source>+<source>→<target>` (`@<representation>` added
unless hashed); `extras["cross_domain"]` holds sources, target, K, representation, the
adaptation settings and the support drawn; its config hash covers all of these and the data
identities.

`plan_cross_domain` emits one `benchmark.run.RunSpec` per (model, seed) whose adaptation step is
the `CrossDomainSpec` itself (`fit` on the sources, `adapt` per K, `target_of`) and whose outputs
are the K records; the one executor (benchmark.run.run_one) runs it like any other run, so
cross-domain runs get `--jobs` / Dask, end-of-epoch checkpoints (keyed by the hash of what is
trained, shared by every K, under `checkpoints/crossdomain/`) and resume, and a saved model and
score file per K under `models/crossdomain/<pair>/<model>/[<variant>/]shots<K>/`, which
`localize --trained-on <pair> --shots K` loads. A (model, seed) whose records all verify is
skipped (resumable); otherwise it is retrained (deterministic) and only its missing records are
written.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.data.bagset import PreparedDataset
from benchmark.data.shared_templates import RepresentationSpec
from benchmark.store import CROSS_DOMAIN_KEY, config_hash

if TYPE_CHECKING:
    from benchmark.run import RunSpec

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

    def identity(self, identities: dict[str, dict], shots: int | None) -> dict[str, Any]:
        """What the config hash of a run with K = `shots` covers besides model, config, seed
        (`shots` None: what the training shared by every K covers)."""
        return {"cross_domain": {"version": CROSS_DOMAIN_VERSION,
                                 "sources": {s: identities[s] for s in self.sources},
                                 "target": identities[self.target], "shots": shots,
                                 "representation": asdict(self.representation),
                                 "finetune_steps": self.finetune_steps,
                                 "finetune_lr": self.finetune_lr}}


    def target_of(self, inputs: dict[str, PreparedDataset]) -> PreparedDataset:
        """The target dataset among the shared inputs (benchmark.run.AdaptationStep)."""
        return inputs[self.target]

    def fit(self, model: Any, inputs: dict[str, PreparedDataset]) -> None:
        """Train `model` on the sources' training bags (early stopping on their validation
        bags)."""
        model.fit_sources([inputs[s].splits["train"].bags for s in self.sources],
                          [inputs[s].splits["val"].bags for s in self.sources])

    def adapt(self, model: Any, inputs: dict[str, PreparedDataset], shots: int, seed: int
              ) -> tuple[Any, dict[str, Any]]:
        """A copy of the fitted `model` adapted on the K-shot support of the target's training
        split (K = 0: not adapted), and the record's `extras["cross_domain"]`."""
        from benchmark.adaptation import draw_support

        target = inputs[self.target]
        train = target.splits["train"].bags
        support_index = draw_support(train, shots, seed)
        support = train.subset(support_index)
        adapted = copy.deepcopy(model)
        if shots > 0:
            adapted.adapt(support, self.finetune_steps, self.finetune_lr)
        return adapted, {CROSS_DOMAIN_KEY: {
            "pair": self.pair, "sources": list(self.sources), "target": self.target,
            "shots": shots, "representation": self.representation.kind,
            "finetune_steps": self.finetune_steps, "finetune_lr": self.finetune_lr,
            "support": {"bags": [int(i) for i in support_index],
                        "positive": int(support.labels.sum()),
                        "negative": int(len(support) - support.labels.sum())},
            "shared_templates": target.templates.size,
            "source_summaries": {s: inputs[s].summary for s in self.sources}}}


def plan_cross_domain(spec: CrossDomainSpec, models: list[str], configs: dict[str, Any],
                      overrides: dict[str, dict[str, Any]], seeds: tuple[int, ...],
                      identities: dict[str, dict], results_dir: Path,
                      quick: bool = False) -> list[RunSpec]:
    """One RunSpec per (model, seed) of the pair, one output per K (`--quick` runs in the
    `quick` variant folder, benchmark.layout, whatever their `--set`: smoke runs never
    overwrite the full-data records, which may carry `--set` overrides)."""
    from benchmark.layout import QUICK, ResultsLayout, RunKey
    from benchmark.protocol import PROTOCOL_VERSION
    from benchmark.registry import model_class
    from benchmark.run import RunOutput, RunSpec

    layout = ResultsLayout(results_dir)
    recorded_quick = {"quick": any(i.get("quick", False) for i in identities.values())}
    runs = []
    for model in models:
        paper_row = model_class(model).paper_row or model
        variant = QUICK if quick else None
        for seed in dict.fromkeys(seeds):
            outputs = []
            for k in spec.shots:
                key = RunKey(spec.pair, model, seed, variant, shots=k)
                identity = spec.identity(identities, k)
                outputs.append(RunOutput(
                    key, layout.record(key),
                    config_hash(model, configs[model], identity, seed, PROTOCOL_VERSION),
                    identity | recorded_quick))
            fit_hash = config_hash(model, configs[model], spec.identity(identities, None),
                                   seed, PROTOCOL_VERSION)
            runs.append(RunSpec(model, seed, configs[model], tuple(outputs), fit_hash,
                                overrides.get(model, {}), paper_row, adaptation=spec))
    return runs
