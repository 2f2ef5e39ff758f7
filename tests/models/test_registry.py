"""Registry behaviour: duplicate names raise, patterns filter, configs resolve and validate."""

from dataclasses import dataclass

import numpy as np
import pytest

from benchmark import registry
from benchmark.model_api import BagModel, BagScores
from benchmark.trainer import TrainSettings


@dataclass(frozen=True)
class _Cfg(TrainSettings):
    width: int = 3


class _Dummy(BagModel):
    """Scores every bag 0 (registry test only)."""

    config_class = _Cfg
    quick_overrides = {"epochs": 1}

    def fit(self, train, val):
        return self

    def score(self, bags, drop=None):
        return BagScores(np.zeros(len(bags)), np.zeros((len(bags), bags.max_length), np.float32))


@pytest.fixture
def dummy_registered():
    registry.register_model("zz_dummy")(_Dummy)
    yield "zz_dummy"
    registry._MODELS.pop("zz_dummy", None)


def test_duplicate_name_raises(dummy_registered):
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(dummy_registered)(_Dummy)


def test_non_model_class_is_rejected():
    with pytest.raises(TypeError):
        registry.register_model("zz_not_a_model")(object)


def test_list_models_filters_by_pattern(dummy_registered):
    assert registry.list_models("zz_*") == ["zz_dummy"]
    assert "zz_dummy" in registry.list_models()
    assert registry.list_models("no_such_*") == []


def test_resolve_config_applies_quick_then_overrides(dummy_registered):
    assert registry.resolve_config("zz_dummy").epochs == TrainSettings().epochs
    assert registry.resolve_config("zz_dummy", quick=True).epochs == 1
    cfg = registry.resolve_config("zz_dummy", quick=True, overrides={"epochs": 4, "width": 9})
    assert (cfg.epochs, cfg.width) == (4, 9)
    with pytest.raises(registry.ConfigError, match="unknown config field"):
        registry.resolve_config("zz_dummy", overrides={"depth": 2})


def test_unknown_model_names_known_ones(dummy_registered):
    with pytest.raises(KeyError, match="zz_dummy"):
        registry.model_class("no_such_model")


def test_describe_model_is_first_docstring_line(dummy_registered):
    assert registry.describe_model("zz_dummy") == "Scores every bag 0 (registry test only)."
