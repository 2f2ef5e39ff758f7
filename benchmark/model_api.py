"""The one interface every model implements (SPEC §3).

A model is built from a typed config dataclass and a `ModelContext`, learns from bag labels only
in `fit(train, val)`, and returns `BagScores` from `score(bags, drop)`. Convention everywhere:
higher = more anomalous / more suspicious.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data.bagset import BagSet, TemplateTable


@dataclass(frozen=True)
class ModelContext:
    """What a model may know besides its config: the template table, seed and device.

    checkpoint_path: where the trainer keeps this run's end-of-epoch checkpoint (None = none).
    """

    templates: TemplateTable
    seed: int
    device: torch.device
    checkpoint_path: Path | None = None


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
    config_class: ClassVar[type]
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
        probability (models that delete the line score it 0).
        """
