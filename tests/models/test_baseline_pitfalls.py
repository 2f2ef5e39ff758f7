"""Failure modes of the anchors' reference code, checked on our DeepLog, LogAnomaly and LogBERT.

- wuyifan18/DeepLog #32: test sessions were de-duplicated (a set), so repeated windows counted
  once. Here identical bags are scored separately.
- HelenGuohx/logbert #24: sequences were silently cut to a maximum length / subsampled. Here a
  bag longer than any internal length (LogBERT's public max_len is 512) is scored in full, and
  training sees every normal training bag.
- LogBERT's `find_best_threshold` / deep-loglizer's best top-k were chosen on test. Here top-g is
  a config value that neither `fit` nor `score` changes, and `score` never reads bag labels (the
  protocol picks the threshold on validation).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset

import benchmark.trainer
from benchmark.capabilities import needs_torch
from benchmark.data.bagset import BagSet
from benchmark.model_api import BagModel, ModelContext
from benchmark.registry import get_model, list_models, model_class, resolve_config

NORMAL_MODELS = tuple(m for m in list_models()
                      if model_class(m).trains_on == "normal" and needs_torch(model_class(m)))
"""The neural models that learn normal behaviour (trait `trains_on = "normal"`); the classical
counts_iforest has its own tests (tests/models/test_count_models.py)."""
FAST = {"epochs": 1, "batch_size": 8}
LONG = 700


def with_long_bag(bags: BagSet, label: int) -> BagSet:
    """`bags` plus one bag of LONG lines cycling through the normal templates."""
    long_lines = (np.arange(LONG) % 22).astype(np.int32)
    lines = np.concatenate([np.concatenate([bags.instances(b) for b in range(len(bags))]),
                            long_lines])
    lengths = np.r_[bags.lengths, LONG]
    ends = np.cumsum(lengths)
    return BagSet(lines, ends - lengths, ends, np.r_[bags.labels, label], bags.templates)


def fit(name: str, data, train: BagSet | None = None, **overrides) -> BagModel:
    context = ModelContext(templates=data.templates, seed=0, device=torch.device("cpu"))
    config = resolve_config(name, quick=True, overrides={**FAST, **overrides})
    train = data.splits["train"].bags if train is None else train
    return get_model(name, config, context).fit(train, data.splits["val"].bags)


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset(bags_per_split=24)


@pytest.fixture(scope="module", params=NORMAL_MODELS)
def model(request, data) -> BagModel:
    return fit(request.param, data)


def test_identical_bags_are_scored_separately(model, data):
    test = data.splits["test"].bags
    twice = test.subset(np.array([0, 0, 1, 1, 2]))
    scores = model.score(twice)
    assert scores.probabilities.shape == (5,)
    assert scores.instance_scores.shape[0] == 5
    assert scores.probabilities[0] == scores.probabilities[1]
    np.testing.assert_array_equal(scores.instance_scores[2], scores.instance_scores[3])


def test_bag_longer_than_any_internal_length_is_fully_scored(model, data):
    bags = with_long_bag(data.splits["test"].bags, label=0)
    scores = model.score(bags)
    assert scores.instance_scores.shape == (len(bags), LONG)
    assert np.all(np.isfinite(scores.instance_scores[-1]))  # every one of the 700 lines
    assert 0.0 <= scores.probabilities[-1] <= 1.0


def test_logbert_masks_every_line_of_a_long_bag(data):
    model = fit("logbert", data, instance_score="surprise")
    scores = model.score(with_long_bag(data.splits["test"].bags, label=0))
    # surprise exists only where a line was masked and predicted: all 700 lines were
    assert np.all(np.isfinite(scores.instance_scores[-1]))


@pytest.mark.parametrize("name", NORMAL_MODELS)
def test_training_uses_every_normal_bag_and_no_other(name, data, monkeypatch):
    train = with_long_bag(data.splits["train"].bags, label=0)
    seen_starts, seen_lengths = [], []
    original = benchmark.trainer.make_batch

    def recording_make_batch(bags, index, device, drop=None):
        batch = original(bags, index, device, drop)
        seen_starts.extend(bags.starts[index].tolist())
        seen_lengths.extend(batch.mask.sum(dim=1).tolist())
        return batch

    monkeypatch.setattr(benchmark.trainer, "make_batch", recording_make_batch)
    fit(name, data, train=train)
    normal = train.labels == 0
    assert sorted(seen_starts) == sorted(train.starts[normal].tolist())  # each once per epoch
    assert LONG in seen_lengths  # the long bag reached the loss uncut


@pytest.mark.parametrize("name", NORMAL_MODELS)
def test_top_g_and_config_are_not_learned_from_data(name, data):
    config = resolve_config(name, quick=True, overrides=FAST)
    before = dataclasses.asdict(config)
    context = ModelContext(templates=data.templates, seed=0, device=torch.device("cpu"))
    model = get_model(name, config, context).fit(data.splits["train"].bags,
                                                 data.splits["val"].bags)
    model.score(data.splits["test"].bags)
    assert dataclasses.asdict(model.config) == before
    assert model.config.top_g == resolve_config(name).top_g  # quick runs keep the paper's g


def test_score_does_not_read_labels(model, data):
    test = data.splits["test"].bags
    lines = np.concatenate([test.instances(b) for b in range(len(test))])
    ends = np.cumsum(test.lengths)
    flipped = BagSet(lines, ends - test.lengths, ends, 1 - test.labels, test.templates)
    same = BagSet(lines, ends - test.lengths, ends, test.labels, test.templates)
    a, b = model.score(same), model.score(flipped)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.instance_scores, b.instance_scores)
