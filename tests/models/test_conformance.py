"""Conformance suite every registered model must pass: the library checks of
benchmark.conformance (scikit-learn `check_estimator` style), one test per (model, check), plus
what only the built-in models promise (each uses a base; every torch model is a paper row; every
one can save itself and score unseen templates).

Each model is fitted once per process on the tiny planted dataset with a short budget (see
benchmark.conformance for the checks). Models without torch (benchmark.capabilities.
TorchFreeModel: counts_lr, counts_iforest) run the same checks.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from benchmark.capabilities import OpenVocabulary, TorchFreeModel, can_save, needs_torch
from benchmark.conformance import fitted_case, parametrize_with_checks
from benchmark.count_models import CountsModel
from benchmark.registry import list_models, model_class
from benchmark.trained_model import TrainedBagModel

REPO = Path(__file__).resolve().parents[2]


@parametrize_with_checks(list_models())
def test_model_conforms(model_name, check):
    check(model_name)


@pytest.mark.parametrize("name", list_models())
def test_built_in_models_use_a_base_and_declare_their_row(name: str):
    cls = model_class(name)
    if issubclass(cls, TorchFreeModel):  # the classical references: not rows of the paper
        assert issubclass(cls, CountsModel) and not issubclass(cls, TrainedBagModel), name
        assert cls.paper_row is None and not needs_torch(cls)
    else:
        assert issubclass(cls, TrainedBagModel), f"{name}: every built-in model uses a base"
        assert isinstance(cls.paper_row, str) and cls.paper_row
        assert needs_torch(cls)
    assert cls.trains_on in ("all", "normal")
    assert cls.drop_mode in ("zero", "delete")


@pytest.mark.parametrize("name", list_models())
def test_built_in_models_save_and_score_unseen_templates(name: str):
    """Optional for plug-in models (a `baselines/` package elsewhere), never for built-in ones."""
    if not Path(inspect.getfile(model_class(name))).resolve().is_relative_to(REPO):
        pytest.skip(f"{name} is a plug-in model")
    model = fitted_case(name).model
    assert can_save(model) and isinstance(model, OpenVocabulary), name
