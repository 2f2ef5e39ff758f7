"""Issue 24: the length-aware paths are the defaults of LogBERT, LogFormer and MIDLog, and they
change the numbers by float rounding only.

- Same weights, two scoring paths: bags in length order (new default) and in BagSet order (old)
  give bag probabilities within 1e-5 (and instance scores within 1e-5).
- Same weights, one training batch: the length-chunked loss (new default) equals the loss of the
  whole batch at its longest bag (old) within 1e-5 when dropout is off.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.model_api import ModelContext
from benchmark.registry import get_model, resolve_config
from benchmark.trainer import make_batch
from tests.tiny_data import make_tiny_dataset

MODELS = ("logbert", "logformer", "midlog")


def fitted(name: str, **overrides):
    data = make_tiny_dataset(seed=1)
    config = resolve_config(name, quick=True, overrides={"epochs": 1, **overrides})
    model = get_model(name, config, ModelContext(templates=data.templates, seed=0,
                                                 device=torch.device("cpu")))
    model.fit(data.splits["train"].bags, data.splits["val"].bags)
    return model, data


def old_scoring_path(model) -> None:
    """Score in BagSet order, as before issue 24."""
    if model.name == "logbert":
        model.config = dataclasses.replace(model.config, length_order=False)
    else:
        model.length_ordered_scoring = False


@pytest.mark.parametrize("name", MODELS)
def test_length_aware_defaults(name: str) -> None:
    config = resolve_config(name)
    assert config.length_chunk == 8
    model, data = fitted(name)
    assert model.length_ordered_scoring


@pytest.mark.parametrize("name", MODELS)
def test_same_weights_same_probabilities_in_either_scoring_order(name: str) -> None:
    model, data = fitted(name)
    test = data.splits["test"].bags
    new = model.score(test)
    old_scoring_path(model)
    assert not model.length_ordered_scoring
    old = model.score(test)
    np.testing.assert_allclose(new.probabilities, old.probabilities, rtol=0, atol=1e-5)
    real = np.isfinite(old.instance_scores)
    assert np.array_equal(real, np.isfinite(new.instance_scores))
    np.testing.assert_allclose(new.instance_scores[real], old.instance_scores[real], rtol=0,
                               atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_chunked_training_loss_equals_whole_batch_loss(name: str) -> None:
    model, data = fitted(name, dropout=0.0, length_chunk=4)
    train = data.splits["train"].bags
    batch = make_batch(train, np.arange(32), torch.device("cpu"))
    model.net_.train()
    losses = []
    for chunk in (4, 0):
        for module in model.net_.modules():
            if hasattr(module, "length_chunk"):
                module.length_chunk = chunk
        if name == "logbert":  # the same masks on both sides
            model.mask_generator_ = torch.Generator().manual_seed(5)
        with torch.no_grad():
            losses.append(float(model.batch_loss(batch)))
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
