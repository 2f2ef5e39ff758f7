"""The shared trainer: class-balanced sampling, divergence errors, best-epoch restore, seeding."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.model_api import ModelContext
from benchmark.trainer import (
    TrainingDiverged,
    TrainSettings,
    _epoch_order,
    make_batch,
    train_network,
)


class _BagMean(nn.Module):
    """Mean of per-template logits over a bag's real instances."""

    def __init__(self, n_templates: int):
        super().__init__()
        self.weight = nn.Embedding(n_templates, 1)

    def forward(self, ids, mask):
        logits = self.weight(ids).squeeze(-1).masked_fill(~mask, -1e4)
        return logits.max(dim=1).values


def _train(tiny_dataset, context, settings, loss_scale=1.0):
    net = _BagMean(tiny_dataset.templates.size)
    train = tiny_dataset.splits["train"].bags
    val = tiny_dataset.splits["val"].bags

    def loss_fn(batch):
        out = net(batch.ids, batch.mask)
        return loss_scale * nn.functional.binary_cross_entropy_with_logits(out, batch.labels)

    def validate():
        batch = make_batch(val, np.arange(len(val)), context.device)
        p = torch.sigmoid(net(batch.ids, batch.mask)).numpy()
        return -float(np.mean((p - val.labels) ** 2))

    history = train_network(net, train, loss_fn, validate, settings, context, "toy")
    return net, history


def test_weighted_sampler_balances_classes(tiny_dataset):
    train = tiny_dataset.splits["train"].bags
    order = _epoch_order(train, 4000, "weighted", torch.Generator().manual_seed(0))
    positive_share = train.labels[order].mean()
    assert train.labels.mean() < 0.45
    assert 0.45 < positive_share < 0.55


def test_nan_loss_names_model_seed_and_epoch(tiny_dataset, cpu_context):
    settings = TrainSettings(epochs=2, batch_size=8)
    with pytest.raises(TrainingDiverged, match=r"toy: loss became nan at seed 0, epoch 1"):
        _train(tiny_dataset, cpu_context, settings, loss_scale=float("nan"))


def test_training_is_deterministic_and_learns(tiny_dataset, cpu_context):
    settings = TrainSettings(epochs=6, batch_size=8, lr=0.1, patience=6)
    torch.manual_seed(0)
    net_a, hist_a = _train(tiny_dataset, cpu_context, settings)
    torch.manual_seed(0)
    net_b, hist_b = _train(tiny_dataset, cpu_context, settings)
    assert hist_a.losses == hist_b.losses
    assert torch.equal(net_a.weight.weight, net_b.weight.weight)
    assert hist_a.losses[-1] < hist_a.losses[0]


def test_best_epoch_weights_are_restored(tiny_dataset, cpu_context):
    settings = TrainSettings(epochs=5, batch_size=8, lr=0.1, patience=2, min_epochs=0)
    net, history = _train(tiny_dataset, cpu_context, settings)
    assert history.best_epoch == int(np.argmax(history.val_scores)) + 1
    val = tiny_dataset.splits["val"].bags
    batch = make_batch(val, np.arange(len(val)), cpu_context.device)
    p = torch.sigmoid(net(batch.ids, batch.mask)).detach().numpy()
    restored = -float(np.mean((p - val.labels) ** 2))
    assert restored == pytest.approx(max(history.val_scores), abs=1e-6)


def test_default_selection_starts_at_epoch_8(tiny_dataset, cpu_context):
    """Issue 26's decision: epochs before min_epochs (8) are neither kept nor counted."""
    settings = TrainSettings(epochs=9, batch_size=8, lr=0.1, patience=1)
    assert settings.min_epochs == 8
    _, history = _train(tiny_dataset, cpu_context, settings)
    assert history.best_epoch in (8, 9) and len(history.losses) == 9


def test_other_seed_changes_sampling(tiny_dataset, cpu_context):
    settings = TrainSettings(epochs=1, batch_size=8, lr=0.1)
    torch.manual_seed(0)
    _, h0 = _train(tiny_dataset, cpu_context, settings)
    torch.manual_seed(0)
    _, h1 = _train(tiny_dataset, replace(cpu_context, seed=1), settings)
    assert h0.losses != h1.losses


def test_no_training_bags_is_a_clear_error(tiny_dataset, cpu_context):
    empty = tiny_dataset.splits["train"].bags.subset(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="no training bags"):
        train_network(nn.Linear(1, 1), empty, None, None, TrainSettings(), cpu_context, "toy")


def test_context_is_frozen(cpu_context):
    with pytest.raises(AttributeError):
        cpu_context.seed = 3  # type: ignore[misc]
    assert isinstance(cpu_context, ModelContext)
