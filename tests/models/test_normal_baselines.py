"""DeepLog, LogAnomaly and LogBERT: trained on normal bags only, scored by the top-g rule.

The tiny planted dataset has 22 equiprobable normal templates and no sequential structure, so
the next key is unpredictable among them: with the papers' g (9, 15) a normal line often falls
outside the top-g by chance (measured bag AUC 0.54-0.67). The learning test therefore sets g = 20
so that what is measured is the planted signal -- templates 22/23, never seen in normal bags.
A slow test checks sequence learning with DeepLog's own g = 9 on cyclic bags.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset
from sklearn.metrics import roc_auc_score

from baselines.logbert import DIST_ROWS_MIN, masking_rounds
from baselines.next_key import MAX_SURPRISE
from benchmark.capabilities import needs_torch
from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.model_api import BagModel, ModelContext
from benchmark.registry import get_model, list_models, model_class, resolve_config
from benchmark.trainer import make_batch

NORMAL_MODELS = tuple(m for m in list_models()
                      if model_class(m).trains_on == "normal" and needs_torch(model_class(m)))
"""The neural models that learn normal behaviour (trait `trains_on = "normal"`); the classical
counts_iforest has its own tests (tests/models/test_count_models.py)."""
LEARN_SETTINGS = {"epochs": 8, "patience": 8, "batch_size": 8, "top_g": 20}


def fitted(name: str, train: BagSet, val: BagSet, **overrides) -> BagModel:
    context = ModelContext(templates=train.templates, seed=0, device=torch.device("cpu"))
    config = resolve_config(name, quick=True, overrides={**LEARN_SETTINGS, **overrides})
    return get_model(name, config, context).fit(train, val)


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_dataset()


@pytest.mark.parametrize("name", NORMAL_MODELS)
def test_learns_planted_task(name, tiny):
    test = tiny.splits["test"]
    model = fitted(name, tiny.splits["train"].bags, tiny.splits["val"].bags)
    scores = model.score(test.bags)
    assert roc_auc_score(test.bags.labels, scores.probabilities) > 0.7
    if name != "logbert":  # surprise of the never-seen anomalous templates
        labels = test.instance_labels()
        real = np.isfinite(scores.instance_scores)
        assert roc_auc_score(labels[real], scores.instance_scores[real]) > 0.9


@pytest.mark.parametrize("name", NORMAL_MODELS)
def test_needs_a_normal_training_bag(name, tiny):
    train = tiny.splits["train"].bags
    positive = train.subset(np.flatnonzero(train.labels == 1))
    with pytest.raises(ValueError, match="no normal"):
        fitted(name, positive, tiny.splits["val"].bags)


@pytest.mark.parametrize("name", ("deeplog", "loganomaly"))
def test_unseen_template_is_outside_top_g_and_first_line_is_scored(name, tiny):
    model = fitted(name, tiny.splits["train"].bags, tiny.splits["val"].bags, epochs=1)
    lines = np.array([3, 22, 5], dtype=np.int32)  # template 22 never occurs in normal bags
    bag = BagSet(lines, np.array([0]), np.array([3]), np.array([0]), tiny.templates)
    scores = model.score(bag)
    assert np.all(np.isfinite(scores.instance_scores[0]))  # line 0 predicted from START
    assert scores.instance_scores[0, 1] == pytest.approx(MAX_SURPRISE)
    assert scores.probabilities[0] >= 1 / 3


def test_logbert_masks_every_position_once_independent_of_width():
    rounds = masking_rounds(1200, 2, seed=0)
    np.testing.assert_array_equal(masking_rounds(37, 2, seed=0), rounds[:37])
    assert set(np.unique(rounds)) == {0, 1}
    assert abs(int(np.sum(rounds[:1024] == 0)) - 512) == 0  # balanced within full blocks
    assert not np.array_equal(masking_rounds(100, 2, seed=1), rounds[:100])


def test_logbert_instance_score_options(tiny):
    train, val, test = (tiny.splits[k].bags for k in ("train", "val", "test"))
    attention = fitted("logbert", train, val, epochs=1).score(test)
    surprise = fitted("logbert", train, val, epochs=1, instance_score="surprise").score(test)
    np.testing.assert_array_equal(attention.probabilities, surprise.probabilities)
    real = np.isfinite(attention.instance_scores)
    np.testing.assert_array_equal(real, np.isfinite(surprise.instance_scores))
    # attention from [DIST] over the lines: a distribution minus [DIST]'s attention to itself
    assert np.all(attention.instance_scores[real] >= 0)
    assert np.all(np.where(real, attention.instance_scores, 0).sum(axis=1) <= 1 + 1e-5)
    assert np.all(surprise.instance_scores[real] >= 0)


@pytest.mark.parametrize("n_bags", [DIST_ROWS_MIN - 1, DIST_ROWS_MIN + 3])
def test_logbert_dist_output_is_the_dist_row_of_the_full_pass(tiny, n_bags):
    """The centre's [DIST]-row-only last layer (from DIST_ROWS_MIN bags) and the whole-layer
    fallback give the [DIST] row of the full forward pass (bitwise on the machine measured;
    float rounding allowed elsewhere)."""
    train, val = (tiny.splits[k].bags for k in ("train", "val"))
    model = fitted("logbert", train, val, epochs=1)
    index = np.resize(np.arange(len(train)), n_bags)  # repeats bags if the split is smaller
    batch = make_batch(train, index, torch.device("cpu"))
    tokens = model.net_.tokens(batch)
    with torch.no_grad():
        full = model.net_(tokens, batch.mask)[0][:, 0]
        rows = model.net_.dist_output(tokens, batch.mask)
    assert rows.shape == full.shape == (n_bags, model.config.hidden)
    torch.testing.assert_close(rows, full, rtol=0, atol=1e-5)


def test_logbert_rejects_unknown_instance_score():
    with pytest.raises(ValueError, match="logbert.instance_score must be one of 'attention', "
                                         "'surprise', got 'gradient'"):
        resolve_config("logbert", overrides={"instance_score": "gradient"})


def cyclic_bags(seed: int, n_bags: int = 60, n_templates: int = 30) -> BagSet:
    """Normal bags walk the templates in order (t, t+1, ...); in 40 % of the bags one line is
    replaced by a far-away template: an order anomaly made only of templates seen in training."""
    rng = np.random.default_rng(seed)
    lines, starts, ends, labels = [], [], [], []
    for _ in range(n_bags):
        n, first = int(rng.integers(8, 17)), int(rng.integers(n_templates))
        seq = [(first + i) % n_templates for i in range(n)]
        label = int(rng.random() < 0.4)
        if label:
            pos = int(rng.integers(1, n))
            seq[pos] = (seq[pos] + int(rng.integers(5, n_templates - 5))) % n_templates
        starts.append(len(lines))
        lines += seq
        ends.append(len(lines))
        labels.append(label)
    templates = TemplateTable(tuple(f"step {i}" for i in range(n_templates)),
                              np.random.default_rng(0).normal(size=(n_templates, 8))
                              .astype(np.float32))
    return BagSet(np.array(lines, dtype=np.int32), np.array(starts), np.array(ends),
                  np.array(labels), templates)


@pytest.mark.slow
def test_deeplog_learns_order_with_paper_top_g():
    train, val, test = cyclic_bags(0), cyclic_bags(1), cyclic_bags(2)
    model = fitted("deeplog", train, val, epochs=60, patience=60, top_g=9)
    assert roc_auc_score(test.labels, model.score(test).probabilities) > 0.7
