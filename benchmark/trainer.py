"""The one training loop shared by every neural model.

Sampling: `WeightedRandomSampler` on bag labels (each class drawn equally often) or a seeded
shuffle; every RNG seeded from the run seed; device `auto` with mixed precision on CUDA; early
stopping on a validation score (validation F1 for bag-supervised models); a NaN/inf loss stops
with an error naming model, seed and epoch.

Resume: when `context.checkpoint_path` is set, the state after every epoch is checkpointed there
(benchmark.checkpoint) and a later call with the same run identity continues after the last
checkpointed epoch, ending with bit-identical weights and history on the same device. A model
with training state outside `net` (buffers are inside) passes it as `extra_state`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler
from tqdm.auto import tqdm

from benchmark import checkpoint
from benchmark.configs import OMIT_DEFAULT, non_negative, option, positive
from benchmark.data.bagset import BagSet
from benchmark.model_api import ModelContext

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class Stateful(Protocol):
    """Training state a model keeps outside its net, e.g. a `torch.Generator`."""

    def get_state(self) -> Any: ...

    def set_state(self, state: Any) -> Any: ...


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings every trained model config inherits (the harness defaults).

    epochs: maximum passes; patience: epochs without validation improvement before stopping;
    steps_per_epoch: batches per epoch (None = ceil(len(train) / batch_size)).
    min_epochs (issue 26's decision, README Protocol; in every record and hash): epochs before
    min(min_epochs, epochs) are neither kept nor counted towards patience. Study options (left
    out of records and hashes while default): early_stopping False trains all `epochs` and keeps
    the last epoch's weights (Algorithm 1's fixed budget); val_score "f1" (validation F1 at the
    best threshold) or "loss" (minus the model's mean loss on the validation bags, eval mode).
    """

    epochs: int = positive(30)
    batch_size: int = positive(64)
    lr: float = positive(1e-3)
    weight_decay: float = non_negative(1e-2)
    patience: int = positive(5)
    grad_clip: float = positive(1.0)
    steps_per_epoch: int | None = positive(None)
    early_stopping: bool = option(True)
    min_epochs: int = non_negative(8)
    val_score: Literal["f1", "loss"] = option("f1")


@dataclass(frozen=True)
class BagBatch:
    """A mini-batch on the model's device.

    ids: (n, W) int64 template ids, 0 at padding; mask: (n, W) bool, True = real instance;
    labels: (n,) float32 bag labels; index: (n,) int64 bag positions in the BagSet;
    zeroed: None, or (n,) int64 instance per bag whose input a model that zeroes dropped
    instances (drop_mode "zero") must zero (NO_DROP = none); set only when scoring with `drop`.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    index: np.ndarray
    zeroed: torch.Tensor | None = None


def make_batch(
    bags: BagSet, index: np.ndarray, device: torch.device, drop: np.ndarray | None = None
) -> BagBatch:
    """Gather bags `index` (optionally deleting instance `drop[i]`) into a BagBatch."""
    ids, mask = bags.padded(index, drop=drop)
    return BagBatch(
        ids=torch.from_numpy(ids).to(device),
        mask=torch.from_numpy(mask).to(device),
        labels=torch.from_numpy(bags.labels[index].astype(np.float32)).to(device),
        index=np.asarray(index),
    )


def iter_batches(bags: BagSet, batch_size: int):
    """Consecutive index blocks over all bags (for scoring, no shuffling)."""
    for start in range(0, len(bags), batch_size):
        yield np.arange(start, min(start + batch_size, len(bags)))


@dataclass
class TrainHistory:
    """Per-epoch mean loss and validation score; best_epoch is 1-based (0 = never validated).

    resumed_after: the checkpointed epoch training continued after (0 = started afresh).
    """

    losses: list[float] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    resumed_after: int = 0
    steps: int = 0
    """Optimiser steps taken over all epochs (benchmark.cost's `train_steps`)."""
    diagnostics: list[dict[str, float]] = field(default_factory=list,
                                                metadata={OMIT_DEFAULT: True})
    """Per epoch, what the model's `diagnose` callback measured (left out of records when
    empty, i.e. for models without diagnostics)."""


def train_network(
    net: nn.Module,
    train: BagSet | None,
    loss_fn: Callable[[BagBatch], torch.Tensor],
    validate: Callable[[], float],
    settings: TrainSettings,
    context: ModelContext,
    model_name: str,
    sampler: Literal["weighted", "shuffle"] = "weighted",
    extra_state: Mapping[str, Stateful] | None = None,
    diagnose: Callable[[], dict[str, float]] | None = None,
    step_source: Callable[[], Any] | None = None,
) -> TrainHistory:
    """Train `net` in place with AdamW; keep the weights of the best validation epoch (the
    last epoch when `settings.early_stopping` is False).

    loss_fn(batch) -> scalar loss (net must be in train mode when called);
    validate() -> score, higher is better (called with net in eval mode after each epoch);
    extra_state: model-owned state that changes across epochs, checkpointed by name;
    diagnose() -> named numbers recorded per epoch in `history.diagnostics` (net in eval mode,
    no grad, every global RNG state restored afterwards: it never changes a training number);
    step_source() -> what `loss_fn` takes at each step instead of a mini-batch of `train` (e.g.
    episodes, models.episodes; the support's blocks, benchmark.adaptation; template token
    batches, LogFormer's stage 1): `settings.steps_per_epoch` steps per epoch, no bag order
    drawn (`train` may be None; a source keeps its own RNG, checkpointed via `extra_state`).
    """
    if step_source is None and (train is None or len(train) == 0):
        raise ValueError(f"{model_name}: no training bags")
    if step_source is not None and not settings.steps_per_epoch:
        raise ValueError(f"{model_name}: a step source needs settings.steps_per_epoch")
    device = context.device
    net.to(device)
    extra_state = dict(extra_state or {})

    def fresh() -> tuple[torch.Generator, Optimiser]:
        return (torch.Generator().manual_seed(context.seed),
                Optimiser(net, settings.lr, settings.weight_decay, settings.grad_clip, device))

    generator, optimiser = fresh()
    steps = settings.steps_per_epoch or -(-len(train) // settings.batch_size)
    history = TrainHistory()
    best_score, best_state, waited, done, first = -np.inf, None, 0, False, 1
    path = context.checkpoint_path
    identity = _identity(settings, context, model_name, sampler)
    saved = checkpoint.load(path, identity) if path is not None else None
    state = None if saved is None else saved.payload
    if state is not None:
        before = (copy.deepcopy(net.state_dict()), checkpoint.global_rng_state(),
                  {name: obj.get_state() for name, obj in extra_state.items()})
        try:
            _check_state(state, settings)
            net.load_state_dict(state["net"])
            optimiser.load_state_dict(state["optimiser"])
            generator.set_state(state["generator"])
            for name, obj in extra_state.items():
                obj.set_state(state["extra"][name])
            checkpoint.set_global_rng_state(state["rng"])
            history = TrainHistory(**state["history"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            log.warning("ignoring checkpoint %s: it does not fit this run (%s: %s); training "
                        "starts from epoch 1", path, type(err).__name__, err)
            net.load_state_dict(before[0])
            checkpoint.set_global_rng_state(before[1])
            for name, obj in extra_state.items():
                obj.set_state(before[2][name])
            generator, optimiser = fresh()
            history, state = TrainHistory(), None
    if state is not None:
        history.resumed_after = first = state["epoch"]
        first += 1
        best_score, best_state = state["best_score"], state["best_state"]
        waited, done = state["waited"], state["done"]
        log.info("%s seed %d: resuming from checkpoint %s after epoch %d", model_name,
                 context.seed, path, state["epoch"])

    epochs = tqdm(range(first, 0 if done else settings.epochs + 1),
                  desc=f"{model_name} seed {context.seed}", unit="epoch", leave=False,
                  initial=first - 1, total=settings.epochs)
    for epoch in epochs:
        net.train()
        order = (None if step_source is not None else
                 _epoch_order(train, steps * settings.batch_size, sampler, generator))
        losses: list[torch.Tensor] = []  # on the device: no host synchronisation per step
        for step in range(steps):
            if order is not None:
                index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
                if len(index) == 0:
                    break
                batch = make_batch(train, index, device)
            with optimiser.autocast():
                loss = loss_fn(batch if order is not None else step_source())
            optimiser.step(loss)
            history.steps += 1
            losses.append(loss.detach())
        history.losses.append(epoch_mean_loss(losses, steps, model_name, context.seed, epoch))

        net.eval()
        with torch.no_grad():
            score = float(validate())
        history.val_scores.append(score)
        if diagnose is not None:
            history.diagnostics.append(isolated_diagnostics(diagnose))
        epochs.set_postfix(loss=f"{history.losses[-1]:.4f}", val=f"{score:.4f}")
        log.debug("%s seed %d epoch %d: loss %.4f val %.4f", model_name, context.seed, epoch,
                  history.losses[-1], score)
        if not settings.early_stopping:
            best_score, best_state = score, None
            history.best_epoch = epoch
        elif epoch < min(settings.min_epochs, settings.epochs):
            pass  # not a candidate, and patience has not started
        elif score > best_score:
            best_score, best_state, waited = score, copy.deepcopy(net.state_dict()), 0
            history.best_epoch = epoch
        else:
            waited += 1
            if waited >= settings.patience:
                history.stopped_early = done = True
        if path is not None:
            checkpoint.save(path, checkpoint.TrainState(identity, {
                "epoch": epoch, "done": done, "net": net.state_dict(),
                "optimiser": optimiser.state_dict(), "generator": generator.get_state(),
                "extra": {name: obj.get_state() for name, obj in extra_state.items()},
                "rng": checkpoint.global_rng_state(), "best_score": float(best_score),
                "best_state": best_state, "waited": waited,
                "history": dataclasses.asdict(history)}))
        if done:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    log.info("%s seed %d: best epoch %d of %d (val %.4f)", model_name, context.seed,
             history.best_epoch, len(history.losses), best_score)
    return history


def isolated_diagnostics(diagnose: Callable[[], dict[str, float]]) -> dict[str, float]:
    """diagnose() in eval mode under no_grad, with the torch, numpy and `random` RNG states
    saved before and restored after, so that training continues exactly as without it."""
    state = checkpoint.global_rng_state()
    try:
        with torch.no_grad():
            return {name: float(value) for name, value in diagnose().items()}
    finally:
        checkpoint.set_global_rng_state(state)


class Optimiser:
    """AdamW on `net`'s parameters with gradient-norm clipping; mixed precision (autocast and
    a gradient scaler) when `device` is CUDA, plain float32 steps otherwise."""

    def __init__(self, net: nn.Module, lr: float, weight_decay: float, grad_clip: float,
                 device: torch.device) -> None:
        self.net, self.grad_clip, self.device = net, grad_clip, device
        self.use_amp = device.type == "cuda"
        self.adamw = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def autocast(self) -> AbstractContextManager:
        """Context for the forward pass and loss (a no-op without mixed precision)."""
        return torch.autocast(device_type=self.device.type, enabled=self.use_amp)

    def state_dict(self) -> dict[str, Any]:
        """AdamW and gradient-scaler state (for checkpoints)."""
        return {"adamw": self.adamw.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.adamw.load_state_dict(state["adamw"])
        self.scaler.load_state_dict(state["scaler"])

    def step(self, loss: torch.Tensor) -> None:
        """Back-propagate the scalar `loss`, clip the gradient norm, update the weights."""
        self.adamw.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.adamw)
        nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
        self.scaler.step(self.adamw)
        self.scaler.update()


def _check_state(state: Mapping[str, Any], settings: TrainSettings) -> None:
    """ValueError unless a checkpoint's counters fit this run: epoch in 1..epochs, one loss and
    one validation score per finished epoch, best epoch and epochs waited within them."""
    epoch, history = state["epoch"], state["history"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch <= settings.epochs:
        raise ValueError(f"epoch {epoch!r} is not within 1..{settings.epochs}")
    losses, scores = history["losses"], history["val_scores"]
    if len(losses) != epoch or len(scores) != epoch:
        raise ValueError(f"history holds {len(losses)} losses and {len(scores)} validation "
                         f"scores for {epoch} epoch(s)")
    if not 0 <= history["best_epoch"] <= epoch or not 0 <= state["waited"] <= epoch:
        raise ValueError(f"best epoch {history['best_epoch']} or epochs waited "
                         f"{state['waited']} outside 0..{epoch}")


def epoch_mean_loss(losses: list[torch.Tensor], steps: int, model_name: str, seed: int,
                    epoch: int) -> float:
    """Sum of the epoch's step losses (scalar tensors, in step order, summed as Python floats)
    / steps, read back in one transfer at the end of the epoch; TrainingDiverged naming the
    first step whose loss is NaN/inf (the run stops at the end of that epoch, before any
    checkpoint or validation)."""
    values = torch.stack(losses).double().cpu().tolist() if losses else []
    total = 0.0
    for step, value in enumerate(values, start=1):
        if not np.isfinite(value):
            raise TrainingDiverged(f"{model_name}: loss became {value} at seed {seed}, "
                                   f"epoch {epoch}, step {step}")
        total += value
    return total / steps


def check_finite(loss: torch.Tensor, model_name: str, seed: int, epoch: int, step: int) -> None:
    """Raise TrainingDiverged naming model, seed, epoch and (1-based) step if `loss` is NaN/inf."""
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"{model_name}: loss became {loss.item()} at seed {seed}, epoch {epoch}, step {step}"
        )


def _identity(settings: TrainSettings, context: ModelContext, model_name: str,
              sampler: str) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: model, seed, file name (it carries the config
    hash) and the training settings."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(TrainSettings)}
    return {"model": model_name, "seed": context.seed, "sampler": sampler,
            "file": context.checkpoint_path.name if context.checkpoint_path else None,
            "settings": fields}


def _epoch_order(
    train: BagSet, n: int, sampler: str, generator: torch.Generator
) -> np.ndarray:
    """Bag indices for one epoch: class-balanced draws with replacement, or a shuffle."""
    if sampler == "weighted":
        labels = train.labels.astype(np.int64)
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        weights = 1.0 / counts[labels]
        draw = WeightedRandomSampler(torch.from_numpy(weights), num_samples=n, replacement=True,
                                     generator=generator)
        return np.fromiter(draw, dtype=np.int64, count=n)
    if sampler == "shuffle":
        perm = torch.randperm(len(train), generator=generator).numpy()
        return perm[: min(n, len(train))]
    raise ValueError(f"unknown sampler {sampler!r}; use 'weighted' or 'shuffle'")
