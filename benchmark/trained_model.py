"""`TrainedBagModel`: the base of every neural model; a model supplies only its three hooks.

A model declares its traits as class attributes and implements `build_network`, `batch_loss`
and `batch_scores`; this base owns the rest of the `BagModel` contract:

- `fit`: the training bags (all of them, or only those labelled normal), `torch.manual_seed`,
  the network, `train_network` with the class-balanced sampler (bag-supervised models) or a
  seeded shuffle (normal-only models), early stopping on `validate` (validation F1 at the best
  threshold);
- `score`: the not-fitted error, the check of `drop`, the batched eval-mode loop, removing the
  dropped instance the model's way (`drop_mode`), -inf at padding and at the dropped position,
  probability 0 for a bag left empty;
- saving and loading a fitted model (`state_for_saving` / `load_state`, used by
  benchmark.artifacts): the network's `state_dict` plus `fitted_state()`, the learned state
  outside the network that the network is built from (e.g. the templates seen in training). A
  loaded model rebuilds its network with `network_from_state` and scores like the fitted one.
  Default: the network depends on the config and template table only, so it is rebuilt with
  `build_network` on empty bag sets; a model whose network depends on the training bags
  overrides `fitted_state`, `restore_fitted_state` and `network_from_state`;
- a model that can score templates unseen in training (`localize`) implements
  `add_unknown_template()` (benchmark.capabilities.OpenVocabulary); the base has none.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from benchmark.data.bagset import NO_DROP, BagSet, EvalSplit, reinsert_dropped
from benchmark.length_batching import iter_length_batches
from benchmark.model_api import (
    BagModel,
    BagScores,
    ModelContext,
    NotFittedError,
    checked_drop,
    normal_bags,
)
from benchmark.threshold import best_f1_threshold
from benchmark.trainer import (
    BagBatch,
    Stateful,
    TrainHistory,
    iter_batches,
    make_batch,
    train_network,
)


class TrainedBagModel(BagModel):
    """A BagModel trained by `benchmark.trainer.train_network` (not registered itself).

    Traits (class attributes): `trains_on` "all" (bag labels, class-balanced sampling) or
    "normal" (the bags labelled 0 only, shuffled); `drop_mode` "delete" (the line is removed
    from the sequence) or "zero" (its input vector is zeroed, the bag keeps its length);
    `paper_row`, the model's row name in the LogMILP paper's tables (None: not in the paper).
    Learned state lives in attributes ending with `_`; `net_` is None until `fit`.
    """

    trains_on: ClassVar[Literal["all", "normal"]]
    drop_mode: ClassVar[Literal["zero", "delete"]]
    paper_row: ClassVar[str | None] = None
    diagnostic_bags: ClassVar[int] = 0
    """Training bags with an anomalous line, evenly spaced, on which `epoch_diagnostics`
    measures Loc@3 / key hit / SR after every epoch (0 = no per-epoch diagnostics)."""
    length_ordered_scoring: ClassVar[bool] = False
    """Score bags in length order (each batch cut near its bags' own lengths; outputs in BagSet
    order): set it for networks whose per-bag outputs do not depend on the batch's padding."""

    def __init__(self, config: Any, context: ModelContext) -> None:
        super().__init__(config, context)
        for trait, allowed in (("trains_on", ("all", "normal")), ("drop_mode", ("zero", "delete"))):
            value = getattr(type(self), trait)  # BagModel declares both (None: undeclared)
            if value not in allowed:
                raise TypeError(f"{type(self).__qualname__}.{trait} must be one of {allowed}, "
                                f"got {value!r}")
        self.check_config()
        self.net_: nn.Module | None = None
        self.history_: TrainHistory | None = None

    # ---- the hooks a model implements -----------------------------------------------------

    @abstractmethod
    def build_network(self, train: BagSet, val: BagSet) -> nn.Module:
        """The untrained network (runs after torch.manual_seed(seed)); `train` = the bags
        trained on (see `trains_on`). May set other learned state (e.g. a vocabulary)."""

    @abstractmethod
    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        """Scalar training loss of a batch (`self.net_` in train mode)."""

    @abstractmethod
    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(n,) bag probabilities in [0, 1] and (n, w) instance scores (w = batch width) of a
        batch, `self.net_` in eval mode, no grad. With drop_mode "zero", `batch.zeroed` holds
        the instance to zero per bag when scoring with `drop`."""

    # ---- optional hooks -------------------------------------------------------------------

    def batch_probabilities(self, batch: BagBatch) -> torch.Tensor:
        """(n,) bag probabilities only (validation); override when instances cost extra."""
        return self.batch_scores(batch)[0]

    def validate(self, train: BagSet, val: BagSet) -> float:
        """Epoch score for early stopping, higher is better: validation F1 at the best
        threshold (config `val_score` "f1"), or minus the mean loss on the validation bags
        ("loss"). Called after every epoch, net in eval mode, no grad."""
        if getattr(self.config, "val_score", "f1") == "loss":
            return -self.mean_loss(val)
        return best_f1_threshold(self.bag_probabilities(val), val.labels).f1

    def mean_loss(self, bags: BagSet) -> float:
        """Bag-weighted mean of `batch_loss` over `bags` in consecutive batches, net in eval
        mode (no dropout), no grad; global RNG states restored afterwards."""
        from benchmark.trainer import isolated_diagnostics

        def total() -> dict[str, float]:
            self.net_.eval()
            weighted = 0.0
            for index in iter_batches(bags, self.scoring_batch_size()):
                batch = make_batch(bags, index, self.context.device)
                weighted += float(self.batch_loss(batch)) * len(index)
            return {"loss": weighted / max(len(bags), 1)}

        return isolated_diagnostics(total)["loss"]

    def epoch_loss_terms(self) -> dict[str, float]:
        """The epoch's mean of each term of the training loss (a model with several terms
        accumulates them in `batch_loss` and resets here). Default: none."""
        return {}

    def epoch_diagnostics(self, train: BagSet) -> dict[str, float]:
        """After an epoch (eval mode, no grad, RNG isolated by the trainer): `epoch_loss_terms`
        plus, with `context.diagnostic_line_labels`, `train_loc@3`, `train_key_hit`,
        `train_sr`, `train_sr_unique_key` on a fixed sample of `diagnostic_bags` training bags
        holding an anomalous line (labels used for this record only, never a decision)."""
        from benchmark.protocol import positive_bag_metrics

        out = {f"loss_{name}": value for name, value in self.epoch_loss_terms().items()}
        labels = self.context.diagnostic_line_labels
        if labels is None:
            return out
        split = EvalSplit(train, labels)
        positive = np.flatnonzero(split.instance_labels().any(axis=1))
        if len(positive) > self.diagnostic_bags:
            positive = positive[np.linspace(0, len(positive) - 1, self.diagnostic_bags)
                                .round().astype(np.int64)]
        metrics = positive_bag_metrics(self, split, positive)
        out.update({f"train_{name}": value for name, value in metrics.items()})
        return out

    def training_state(self) -> dict[str, Stateful]:
        """Model-owned state outside `net_` that changes across epochs (e.g. a mask RNG),
        checkpointed by name so a resumed run continues bit-identically."""
        return {}

    def check_config(self) -> None:
        """Raise ValueError for a config this model cannot run (beyond field ranges)."""

    def check_bags(self, bags: BagSet) -> None:
        """Raise ValueError for bags this fitted model cannot score."""

    def scoring_batch_size(self) -> int:
        """Bags per forward pass when scoring."""
        return self.config.batch_size

    def fitted_state(self) -> dict[str, Any]:
        """Learned state outside `net_` that scoring needs and the network is built from
        (tensors, ints, floats, strings; loadable with `torch.load(weights_only=True)`)."""
        return {}

    def restore_fitted_state(self, state: dict[str, Any]) -> None:
        """Set the attributes `fitted_state` saved (before `network_from_state`)."""

    def network_from_state(self) -> nn.Module:
        """The untrained network of a loaded model, shaped like the fitted one (its weights are
        loaded next). Default: `build_network` on empty bag sets over the template table."""
        empty = BagSet(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64),
                       np.zeros(0, np.int8), self.context.templates)
        return self.build_network(empty, empty)

    # ---- the contract ---------------------------------------------------------------------

    def fit(self, train: BagSet, val: BagSet) -> TrainedBagModel:
        """Train on `train` (its normal bags only if trains_on = "normal"); keep the weights of
        the best `validate` epoch. Returns self."""
        if self.trains_on == "normal":
            train = normal_bags(train, self.name)
        torch.manual_seed(self.context.seed)
        self.net_ = self.build_network(train, val).to(self.context.device)
        self.history_ = train_network(
            self.net_, train, self.batch_loss, lambda: self.validate(train, val), self.config,
            self.context, self.name, sampler="weighted" if self.trains_on == "all" else "shuffle",
            extra_state=self.training_state(),
            diagnose=(lambda: self.epoch_diagnostics(train)) if self.diagnostic_bags else None,
        )
        return self

    def fit_sources(self, trains: list[BagSet], vals: list[BagSet]) -> TrainedBagModel:
        """Train on several source datasets over one shared template table
        (benchmark.data.shared_templates). Default: `fit` on their concatenations; episodic
        models (models.episodes) draw their tasks per dataset. Returns self."""
        from benchmark.data.bagset import concat_bagsets

        return self.fit(concat_bagsets(trains), concat_bagsets(vals))

    def adapt(self, support: BagSet, steps: int, lr: float) -> TrainedBagModel:
        """Adapt the fitted model to a new dataset from its labelled support bags (K-shot).
        Default: `steps` steps of the model's own loss at learning rate `lr`
        (benchmark.adaptation.fine_tune); a model with its own rule overrides this (ProtoNet:
        prototypes from the support; MAML: its inner loop). Returns self."""
        from benchmark.adaptation import fine_tune

        self._check_fitted()
        fine_tune(self, support, steps, lr)
        return self

    def extend_to(self, bags: BagSet) -> None:
        """Let learned state outside `net_` cover `bags` before fine-tuning on them (e.g. a
        vocabulary of templates seen in training). Default: nothing to extend."""

    def score(self, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
        """Probabilities (B,) float64 and instance scores (B, bags.max_length) float32, -inf at
        padding and at the dropped instance; `drop` removes one instance per bag (drop_mode)."""
        self._check_fitted()
        drop = checked_drop(drop, bags, self.name)
        self.check_bags(bags)
        return self._score(bags, drop, with_instances=True)

    def state_for_saving(self) -> dict[str, Any]:
        """{"net": the network's state_dict (on the CPU), "fitted": fitted_state()}."""
        self._check_fitted()
        net = {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}
        return {"net": net, "fitted": self.fitted_state()}

    def load_state(self, state: dict[str, Any]) -> TrainedBagModel:
        """Become the fitted model `state_for_saving` described (weights loaded strictly: a
        missing, unexpected or ill-shaped tensor raises RuntimeError). Returns self."""
        self.restore_fitted_state(state["fitted"])
        torch.manual_seed(self.context.seed)
        net = self.network_from_state()
        net.load_state_dict(state["net"], strict=True)
        self.net_ = net.to(self.context.device).eval()
        return self

    def bag_probabilities(self, bags: BagSet) -> np.ndarray:
        """(B,) float64 bag probabilities of whole bags (no instance scores computed)."""
        self._check_fitted()
        return self._score(bags, None, with_instances=False).probabilities

    def _check_fitted(self) -> None:
        if self.net_ is None:
            raise NotFittedError(f"{self.name}: call fit() before score()")

    def _score(self, bags: BagSet, drop: np.ndarray | None, with_instances: bool) -> BagScores:
        width = bags.max_length
        probabilities = np.zeros(len(bags), dtype=np.float64)
        instance_scores = np.full((len(bags), width), -np.inf, dtype=np.float32)
        self.net_.eval()
        outputs = []  # kept on the device until the loop ends: no host synchronisation per batch
        with torch.no_grad():
            batches = (iter_length_batches(bags, self.scoring_batch_size())
                       if self.length_ordered_scoring
                       else iter_batches(bags, self.scoring_batch_size()))
            for index in batches:
                batch = self._scoring_batch(bags, index, drop)
                if with_instances:
                    prob, inst = self.batch_scores(batch)
                    inst = inst.float().masked_fill(~batch.mask, -torch.inf)
                else:
                    prob, inst = self.batch_probabilities(batch), None
                prob = torch.where(batch.mask.any(dim=1), prob.float(), 0.0)
                outputs.append((index, prob, inst))
        for index, prob, inst in outputs:
            probabilities[index] = np.clip(prob.cpu().numpy().astype(np.float64), 0.0, 1.0)
            if inst is not None:
                instance_scores[index, : inst.shape[1]] = inst[:, :width].cpu().numpy()
        if drop is not None and self.drop_mode == "delete":
            instance_scores = reinsert_dropped(instance_scores, drop)
        elif drop is not None:
            rows = np.flatnonzero(drop != NO_DROP)
            instance_scores[rows, drop[rows]] = -np.inf
        return BagScores(probabilities, instance_scores)

    def _scoring_batch(self, bags: BagSet, index: np.ndarray, drop: np.ndarray | None) -> BagBatch:
        device = self.context.device
        if drop is None:
            return make_batch(bags, index, device)
        if self.drop_mode == "delete":
            return make_batch(bags, index, device, drop=drop[index])
        batch = make_batch(bags, index, device)
        return dataclasses.replace(batch, zeroed=torch.from_numpy(drop[index]).to(device))
