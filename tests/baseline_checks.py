"""Checks shared by the bag-supervised baseline tests (LogFormer, MIDLog), beyond the registry
conformance suite (tests/models/test_conformance.py, which covers shapes, ranges, padding, `drop`
and determinism for every model): deletion models score an emptied bag 0, and bag AUC.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from benchmark.data.bagset import NO_DROP, BagSet, PreparedDataset
from benchmark.model_api import BagModel, ModelContext
from benchmark.registry import get_model


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


def fit_on_tiny(name: str, config, data: PreparedDataset, seed: int = 0) -> BagModel:
    """Model `name` with `config`, fitted on the train/val bags of `data` on the CPU."""
    context = ModelContext(data.templates, seed=seed, device=torch.device("cpu"))
    return get_model(name, config, context).fit(data.splits["train"].bags,
                                                data.splits["val"].bags)
