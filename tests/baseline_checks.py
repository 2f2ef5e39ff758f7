"""Interface checks shared by the bag-supervised baseline tests (LogFormer, MIDLog).

Each check takes a model fitted on `make_tiny_dataset` and asserts the `BagModel.score` contract:
shapes, ranges, -inf padding, `drop` semantics, empty bags and determinism.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmark.data.bagset import NO_DROP, BagSet
from benchmark.model_api import BagModel


def check_score_contract(model: BagModel, bags: BagSet) -> None:
    """Shapes, dtypes, ranges and -inf exactly at padding."""
    out = model.score(bags)
    assert out.probabilities.shape == (len(bags),)
    assert out.probabilities.dtype == np.float64
    assert np.all((out.probabilities >= 0) & (out.probabilities <= 1))
    assert out.instance_scores.shape == (len(bags), bags.max_length)
    assert out.instance_scores.dtype == np.float32
    real = np.arange(bags.max_length)[None, :] < bags.lengths[:, None]
    assert np.all(np.isfinite(out.instance_scores[real]))
    assert np.all(np.isneginf(out.instance_scores[~real]))


def check_drop(model: BagModel, bags: BagSet) -> None:
    """Dropping line 0 of bag 0 marks it -inf, leaves other bags unchanged, changes bag 0."""
    base = model.score(bags)
    drop = np.full(len(bags), NO_DROP, dtype=np.int64)
    drop[0] = 0
    out = model.score(bags, drop=drop)
    assert np.isneginf(out.instance_scores[0, 0])
    n0 = int(bags.lengths[0])
    assert np.all(np.isfinite(out.instance_scores[0, 1:n0]))
    np.testing.assert_allclose(out.probabilities[1:], base.probabilities[1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.instance_scores[1:], base.instance_scores[1:], rtol=1e-5,
                               atol=1e-6)
    assert not np.isclose(out.probabilities[0], base.probabilities[0], rtol=0, atol=1e-9)


def check_empty_bag(model: BagModel, bags: BagSet) -> None:
    """A length-1 bag with its only line dropped scores probability 0 and no NaN."""
    one = BagSet(np.array([5, 7], dtype=np.int32), np.array([0, 1]), np.array([1, 2]),
                 np.array([0, 0], dtype=np.int8), bags.templates)
    out = model.score(one, drop=np.array([0, NO_DROP]))
    assert out.probabilities[0] == 0.0
    assert np.isfinite(out.probabilities[1])
    assert np.all(np.isneginf(out.instance_scores[0]))
    assert np.isfinite(out.instance_scores[1, 0])


def bag_auc(model: BagModel, bags: BagSet) -> float:
    """Bag-level ROC-AUC of `model` on `bags`."""
    return float(roc_auc_score(bags.labels, model.score(bags).probabilities))
