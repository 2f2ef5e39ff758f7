"""The public model kit (benchmark.kit) on a model that lives outside models/ and baselines/: a
temporary package's model passes `check_model` and the pytest parametrisation, and a model
that breaks the contract fails it, naming the check."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark import kit
from benchmark.conformance import model_checks

MODULE = '''
"""A max-pooled instance scorer written against the public kit only."""
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from benchmark.kit import BagScores, TrainedBagModel, TrainSettings, positive, register_model


@dataclass(frozen=True)
class PoolConfig(TrainSettings):
    hidden: int = positive(8)


class PoolNet(nn.Module):
    def __init__(self, vectors: np.ndarray, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(torch.as_tensor(vectors), freeze=True)
        self.score = nn.Sequential(nn.Linear(vectors.shape[1], hidden), nn.Tanh(),
                                   nn.Linear(hidden, 1))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        inst = self.score(self.embed(ids)).squeeze(-1).masked_fill(~mask, -1e9)
        return inst.max(dim=1).values, inst


@register_model("kit_pool")
class Pool(TrainedBagModel):
    """Bag logit = the largest instance logit (a kit example)."""

    config_class = PoolConfig
    trains_on = "all"
    drop_mode = "delete"

    def build_network(self, train, val) -> nn.Module:
        return PoolNet(self.context.templates.vectors, self.config.hidden)

    def batch_loss(self, batch) -> torch.Tensor:
        logits, _ = self.net_(batch.ids, batch.mask)
        return nn.functional.binary_cross_entropy_with_logits(logits, batch.labels)

    def batch_scores(self, batch):
        logits, inst = self.net_(batch.ids, batch.mask)
        return torch.sigmoid(logits), inst


@register_model("kit_sloppy")
class Sloppy(Pool):
    """Returns float32 probabilities: breaks the contract."""

    def score(self, bags, drop=None):
        scores = super().score(bags, drop)
        return BagScores(scores.probabilities.astype(np.float32), scores.instance_scores)
'''


@pytest.fixture(scope="module")
def lab_package(tmp_path_factory):
    """A package `labkit` (not models/ nor baselines/) on sys.path, its model module imported;
    its models are unregistered afterwards."""
    root = tmp_path_factory.mktemp("lab")
    (root / "labkit").mkdir()
    (root / "labkit" / "__init__.py").write_text("")
    (root / "labkit" / "pool.py").write_text(textwrap.dedent(MODULE))
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("labkit.pool")
        assert Path(module.__file__).resolve().is_relative_to(root)
        yield module
    finally:
        for name in ("kit_pool", "kit_sloppy"):
            if name in kit.list_models():
                kit.unregister_model(name)
        for name in ("labkit.pool", "labkit"):
            sys.modules.pop(name, None)
        sys.path.remove(str(root))


def test_a_model_outside_the_model_packages_passes_the_kit(lab_package):
    assert "kit_pool" in kit.list_models("kit_*")
    skipped = kit.check_model("kit_pool")
    assert skipped == ["unknown_template_is_scored"]  # optional: it scores no unseen template


def test_a_model_breaking_the_contract_fails_naming_the_check(lab_package):
    with pytest.raises(kit.ConformanceError,
                       match=r"kit_sloppy: score_shapes_ranges_and_padding: probabilities "
                             r"must be \(B,\) float64"):
        kit.check_model("kit_sloppy")


def test_unregister_removes_a_model_and_names_the_known_ones(lab_package):
    cls = kit.unregister_model("kit_sloppy")
    assert cls.__name__ == "Sloppy" and "kit_sloppy" not in kit.list_models()
    with pytest.raises(KeyError, match="unknown model 'kit_sloppy'; registered models: .*kit_pool"):
        kit.unregister_model("kit_sloppy")
    kit.register_model("kit_sloppy")(cls)  # back, for the fixture's clean-up


def test_parametrize_with_checks_makes_one_case_per_check():
    mark = kit.parametrize_with_checks(["a", "b"])
    names, params = mark.args
    assert names == ("model_name", "check")
    ids = [p.id for p in params]
    assert len(ids) == 2 * len(model_checks()) and "a-score_before_fit_is_a_clear_error" in ids
    assert "b-saved_model_loads_and_scores_exactly" in ids
