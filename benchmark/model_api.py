"""The one interface every model implements.

A model is built from a typed config dataclass and a `ModelContext`, learns from bag labels only
in `fit(train, val)`, and returns `BagScores` from `score(bags, drop)`. Convention everywhere:
higher = more anomalous / more suspicious.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from benchmark.data.bagset import NO_DROP, BagSet, TemplateTable


class NotFittedError(RuntimeError):
    """`score` was called before `fit`."""

if TYPE_CHECKING:  # torch is imported by the models that need it, not by the report
    import torch


@dataclass(frozen=True)
class ModelContext:
    """What a model may know besides its config: the template table, seed and device.

    device: a torch.device for torch models; the string "cpu" for a TorchFreeModel
    (benchmark.capabilities), which never touches torch.

    checkpoint_path: where the trainer keeps this run's end-of-epoch checkpoint (None = none).
    diagnostic_line_labels: ground-truth label of every line of the training bags' line array,
    for the per-epoch diagnostics of models that record them (training-set Loc@3 and key hit
    rate); never used for a decision (None = those diagnostics are left out).
    """

    templates: TemplateTable
    seed: int
    device: torch.device | str
    checkpoint_path: Path | None = None
    diagnostic_line_labels: np.ndarray | None = None


@dataclass(frozen=True)
class BagScores:
    """Model output for a BagSet.

    probabilities: (B,) float64 bag anomaly probability in [0, 1].
    instance_scores: (B, W) float32 per-instance suspicion, W = bags.max_length; -inf at
    padding and at an instance removed with `drop`.
    """

    probabilities: np.ndarray
    instance_scores: np.ndarray


class BagModel(ABC):
    """Base class: hyperparameters in the config, learned state in attributes ending with `_`."""

    name: ClassVar[str]
    config_class: ClassVar[type | None] = None
    """The config dataclass (checked by @register_model; None = not declared)."""
    paper_row: ClassVar[str | None] = None
    """The model's row name in the LogMILP paper's tables (None: not in the paper)."""
    trains_on: ClassVar[Literal["all", "normal"] | None] = None
    """Which training bags it learns from (declared by the bases: TrainedBagModel, CountsModel;
    None = not declared)."""
    drop_mode: ClassVar[Literal["zero", "delete"] | None] = None
    """How it removes a dropped line (declared by the bases; None = not declared)."""
    quick_overrides: ClassVar[dict[str, Any]] = {}
    """Config fields replaced for `--quick` smoke runs (the defaults stay the papers')."""

    def __init__(self, config: Any, context: ModelContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    def fit(self, train: BagSet, val: BagSet) -> BagModel:
        """Learn from bag labels only; model selection may use `val`. Returns self."""

    @abstractmethod
    def score(self, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
        """Score bags. drop: optional (B,) int64 instance index to remove per bag (-1 = none).

        Each model removes the instance its own natural way (LogMILP zeroes its input vector;
        sequence models delete the line). A bag left with no instance still gets a finite
        probability (models that delete the line score it 0). Raises NotFittedError before
        `fit` and ValueError for a `drop` that fails `checked_drop`.
        """


def checked_drop(drop: np.ndarray | None, bags: BagSet, model_name: str) -> np.ndarray | None:
    """`drop` as a (B,) int64 array whose entries are NO_DROP or an instance index inside their
    bag; ValueError (naming the model and the first bad bag) otherwise. None stays None."""
    if drop is None:
        return None
    drop = np.asarray(drop, dtype=np.int64)
    if drop.shape != (len(bags),):
        raise ValueError(f"{model_name}: drop has shape {drop.shape}, expected ({len(bags)},)")
    outside = (drop != NO_DROP) & ((drop < 0) | (drop >= bags.lengths))
    if np.any(outside):
        b = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{model_name}: drop[{b}] = {drop[b]} is outside bag {b} of "
                         f"{bags.lengths[b]} instances (use {NO_DROP} for none)")
    return drop


def normal_bags(train: BagSet, model_name: str) -> BagSet:
    """The training bags labelled normal (0): all that a normal-behaviour model may learn from."""
    normal = train.subset(np.flatnonzero(train.labels == 0))
    if len(normal) == 0:
        raise ValueError(f"{model_name}: no normal (label 0) training bag to learn from")
    return normal
