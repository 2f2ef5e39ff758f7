"""A tiny real model for harness tests: one learned logit per template, log-sum-exp pooling.

Instance score = w[template]; bag probability = sigmoid(logsumexp_i w[t_i] + b); trained with BCE on
the `TrainedBagModel` base (shared trainer, early stopping on validation F1). Tests register it as
`zz_tiny_template` with `register()` and remove it with `unregister()`, so no other test module
sees it (`register_inverted()` adds `zz_tiny_inverted`, the same model with its scores turned
upside down, 1 − p, for the below-chance guard); a joblib worker (which unpickles its config,
importing this module) registers it on import when REGISTER_ENV is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from benchmark import registry
from benchmark.data.bagset import BagSet
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings

NAME = "zz_tiny_template"
INVERTED_NAME = "zz_tiny_inverted"
REGISTER_ENV = "LOGMILP_BENCH_REGISTER_TINY_MODEL"


@dataclass(frozen=True)
class TinyTemplateConfig(TrainSettings):
    epochs: int = 10
    patience: int = 10
    batch_size: int = 16
    lr: float = 0.1
    weight_decay: float = 0.0


class _Net(nn.Module):
    def __init__(self, n_templates: int) -> None:
        super().__init__()
        self.weight = nn.Embedding(n_templates, 1)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, mask (n, W) → bag logits (n,), instance scores (n, W) with -inf at padding."""
        inst = self.weight(ids).squeeze(-1).masked_fill(~mask, float("-inf"))
        bag = torch.logsumexp(inst, dim=1)
        bag = torch.where(mask.any(dim=1), bag + self.bias, torch.full_like(bag, -1e4))
        return bag, inst


class TinyTemplateModel(TrainedBagModel):
    """Per-template logit, log-sum-exp pooling (harness test model)."""

    config_class = TinyTemplateConfig
    quick_overrides = {"epochs": 4}
    trains_on = "all"
    drop_mode = "delete"

    def build_network(self, train: BagSet, val: BagSet) -> nn.Module:
        return _Net(train.templates.size)

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        logits, _ = self.net_(batch.ids, batch.mask)
        return nn.functional.binary_cross_entropy_with_logits(logits, batch.labels)

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        logits, scores = self.net_(batch.ids, batch.mask)
        return torch.sigmoid(logits), scores

    def scoring_batch_size(self) -> int:
        return 64


class InvertedTinyModel(TinyTemplateModel):
    """The tiny model trained and early-stopped as usual (on its own scores), then scoring
    1 − p and −(instance score): a model that ranks bags upside down."""

    invert = True

    def validate(self, train: BagSet, val: BagSet) -> float:
        self.invert = False
        try:
            return super().validate(train, val)
        finally:
            self.invert = True

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        probabilities, scores = super().batch_scores(batch)
        return (1.0 - probabilities, -scores) if self.invert else (probabilities, scores)


def register_inverted() -> None:
    """Register InvertedTinyModel under INVERTED_NAME unless it already is."""
    if INVERTED_NAME not in registry._MODELS:
        registry.register_model(INVERTED_NAME)(InvertedTinyModel)


def unregister_inverted() -> None:
    registry._MODELS.pop(INVERTED_NAME, None)


def register() -> None:
    """Register the model under NAME unless it already is."""
    if NAME not in registry._MODELS:
        registry.register_model(NAME)(TinyTemplateModel)


def unregister() -> None:
    registry._MODELS.pop(NAME, None)


if os.environ.get(REGISTER_ENV):
    register()
