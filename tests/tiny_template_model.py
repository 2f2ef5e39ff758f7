"""A tiny real model for harness tests: one learned logit per template, log-sum-exp pooling.

Instance score = w[template]; bag probability = sigmoid(logsumexp_i w[t_i] + b); trained with BCE by
`benchmark.trainer.train_network`, early stopping on validation F1. Tests register it as
`zz_tiny_template` with `register()` and remove it with `unregister()`, so no other test module
sees it; a joblib worker (which unpickles its config, importing this module) registers it on
import when REGISTER_ENV is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from benchmark import registry
from benchmark.data.bagset import BagSet, reinsert_dropped
from benchmark.model_api import BagModel, BagScores
from benchmark.threshold import best_f1_threshold
from benchmark.trainer import BagBatch, TrainSettings, iter_batches, make_batch, train_network

NAME = "zz_tiny_template"
REGISTER_ENV = "LOGMILP_BENCH_REGISTER_TINY_MODEL"


@dataclass
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


class TinyTemplateModel(BagModel):
    """Per-template logit, log-sum-exp pooling (harness test model)."""

    config_class = TinyTemplateConfig
    quick_overrides = {"epochs": 4}

    def fit(self, train: BagSet, val: BagSet) -> TinyTemplateModel:
        self.net_ = _Net(train.templates.size)

        def loss_fn(batch: BagBatch) -> torch.Tensor:
            logits, _ = self.net_(batch.ids, batch.mask)
            return nn.functional.binary_cross_entropy_with_logits(logits, batch.labels)

        def validate() -> float:
            return best_f1_threshold(self.score(val).probabilities, val.labels).f1

        self.history_ = train_network(self.net_, train, loss_fn, validate, self.config,
                                      self.context, self.name)
        return self

    @torch.no_grad()
    def score(self, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
        self.net_.eval()
        width = bags.max_length
        probs = np.zeros(len(bags), dtype=np.float64)
        inst = np.full((len(bags), width), -np.inf, dtype=np.float32)
        drop = None if drop is None else np.asarray(drop, dtype=np.int64)
        for index in iter_batches(bags, 64):
            part = None if drop is None else drop[index]
            batch = make_batch(bags, index, self.context.device, drop=part)
            logits, scores = self.net_(batch.ids, batch.mask)
            p = torch.sigmoid(logits).double().cpu().numpy()
            probs[index] = np.where(batch.mask.any(dim=1).cpu().numpy(), p, 0.0)
            inst[index, : scores.shape[1]] = scores.float().cpu().numpy()
        return BagScores(probs, reinsert_dropped(inst, drop))


def register() -> None:
    """Register the model under NAME unless it already is."""
    if NAME not in registry._MODELS:
        registry.register_model(NAME)(TinyTemplateModel)


def unregister() -> None:
    registry._MODELS.pop(NAME, None)


if os.environ.get(REGISTER_ENV):
    register()
