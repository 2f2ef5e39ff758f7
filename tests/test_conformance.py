"""Conformance suite every registered model must pass (scikit-learn `check_estimator` style).

Each model is fitted once per module on the tiny planted dataset with a short budget, then
checked for the `BagModel` contract: `fit` returns self and leaves the BagSets untouched; score
shapes, ranges and padding; `drop=` (and its checks; deletion models score the shortened bag); a
fully dropped one-line bag; same seed → same numbers. Without fitting: declared traits, a frozen
config whose defaults are inside their declared ranges, and a clear error when scoring before fit.
Models without torch (benchmark.capabilities.TorchFreeModel: counts_lr, counts_iforest) run the
same checks; tests/test_torch_free.py shows they fit and score with torch blocked.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset

from benchmark.capabilities import TorchFreeModel, needs_torch
from benchmark.count_models import CountsModel
from benchmark.data.bagset import NO_DROP, BagSet, PreparedDataset
from benchmark.model_api import BagModel, BagScores, ModelContext, NotFittedError
from benchmark.registry import get_model, list_models, model_class, resolve_config
from benchmark.trained_model import TrainedBagModel

FAST_SETTINGS = {"epochs": 2, "patience": 2, "batch_size": 16, "steps_per_epoch": 3}
"""TrainSettings fields that keep every model quick; applied only where the config has them."""


def fast_config(name: str):
    """The model's quick config with FAST_SETTINGS applied to the fields it has."""
    fields = {f.name for f in dataclasses.fields(model_class(name).config_class)}
    overrides = {k: v for k, v in FAST_SETTINGS.items() if k in fields}
    return resolve_config(name, quick=True, overrides=overrides)


def fit_model(name: str, data: PreparedDataset, seed: int = 0) -> BagModel:
    context = ModelContext(templates=data.templates, seed=seed, device=torch.device("cpu"))
    model = get_model(name, fast_config(name), context)
    fitted = model.fit(data.splits["train"].bags, data.splits["val"].bags)
    assert fitted is model, f"{name}.fit must return self"
    return model


def snapshot(bags: BagSet) -> dict[str, np.ndarray]:
    return {
        "starts": bags.starts.copy(), "ends": bags.ends.copy(), "labels": bags.labels.copy(),
        "lines": np.concatenate([bags.instances(b) for b in range(len(bags))]),
        "vectors": bags.templates.vectors.copy(),
    }


@dataclass
class FittedCase:
    name: str
    model: BagModel
    data: PreparedDataset
    before: dict[str, dict[str, np.ndarray]]
    test_scores: BagScores


@pytest.fixture(scope="module", params=list_models())
def case(request) -> FittedCase:
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    before = {split: snapshot(data.splits[split].bags) for split in ("train", "val")}
    model = fit_model(request.param, data)
    return FittedCase(request.param, model, data, before, model.score(data.splits["test"].bags))


def test_fit_does_not_modify_bags(case: FittedCase):
    for split, saved in case.before.items():
        now = snapshot(case.data.splits[split].bags)
        for key, array in saved.items():
            np.testing.assert_array_equal(now[key], array, err_msg=f"{case.name}: {split} {key}")


def test_score_shapes_ranges_and_padding(case: FittedCase):
    bags = case.data.splits["test"].bags
    s = case.test_scores
    assert isinstance(s, BagScores)
    assert s.probabilities.shape == (len(bags),) and s.probabilities.dtype == np.float64
    assert s.instance_scores.shape == (len(bags), bags.max_length)
    assert s.instance_scores.dtype == np.float32
    assert np.all(np.isfinite(s.probabilities))
    assert np.all((s.probabilities >= 0) & (s.probabilities <= 1))
    padding = np.arange(bags.max_length)[None, :] >= bags.lengths[:, None]
    assert np.all(np.isneginf(s.instance_scores[padding])), "padding must score -inf"
    assert not np.any(np.isneginf(s.instance_scores[~padding])), "real instances must not be -inf"
    assert not np.any(np.isnan(s.instance_scores))


def test_scores_do_not_depend_on_batch_neighbours(case: FittedCase):
    bags = case.data.splits["test"].bags
    alone = case.model.score(bags.subset(np.array([3])))
    np.testing.assert_allclose(alone.probabilities, case.test_scores.probabilities[[3]], atol=1e-5)
    width = int(bags.lengths[3])
    np.testing.assert_allclose(alone.instance_scores[0, :width],
                               case.test_scores.instance_scores[3, :width], atol=1e-5)


def test_drop_changes_probability_and_masks_instance(case: FittedCase):
    bags = case.data.splits["test"].bags
    drop = np.full(len(bags), NO_DROP, dtype=np.int64)
    drop[::2] = bags.lengths[::2] - 1  # last instance of every other bag
    dropped = case.model.score(bags, drop=drop)
    assert dropped.probabilities.shape == (len(bags),)
    assert dropped.instance_scores.shape == (len(bags), bags.max_length)
    rows = np.flatnonzero(drop != NO_DROP)
    assert np.all(np.isneginf(dropped.instance_scores[rows, drop[rows]]))
    assert not np.allclose(dropped.probabilities[rows], case.test_scores.probabilities[rows],
                           atol=0, rtol=0), f"{case.name}: drop= changed no probability"
    kept = drop == NO_DROP
    np.testing.assert_allclose(dropped.probabilities[kept], case.test_scores.probabilities[kept],
                               atol=1e-5)


def test_fully_dropped_one_line_bag_gets_finite_probability(case: FittedCase):
    data = case.data
    test = data.splits["test"].bags
    templates = np.concatenate([test.instances(0)[:1], test.instances(1)])
    one = BagSet(templates, np.array([0, 1]), np.array([1, len(templates)]),
                 np.array([0, 0]), data.templates)
    scores = case.model.score(one, drop=np.array([0, NO_DROP]))
    assert scores.probabilities.shape == (2,)
    assert np.all(np.isfinite(scores.probabilities))
    assert np.all((scores.probabilities >= 0) & (scores.probabilities <= 1))
    assert scores.instance_scores.shape == (2, one.max_length)
    assert np.isneginf(scores.instance_scores[0]).all()


def test_same_seed_gives_identical_scores(case: FittedCase):
    again = fit_model(case.name, case.data, seed=0).score(case.data.splits["test"].bags)
    np.testing.assert_array_equal(again.probabilities, case.test_scores.probabilities)
    np.testing.assert_array_equal(again.instance_scores, case.test_scores.instance_scores)


def test_drop_of_wrong_shape_or_outside_its_bag_is_an_error(case: FittedCase):
    bags = case.data.splits["test"].bags
    with pytest.raises(ValueError, match=rf"{case.name}: drop has shape \(3,\)"):
        case.model.score(bags, drop=np.zeros(3, dtype=np.int64))
    for bad in (int(bags.lengths[2]), -2):  # one past the bag's last line; negative, not -1
        drop = np.full(len(bags), NO_DROP, dtype=np.int64)
        drop[2] = bad
        with pytest.raises(ValueError, match=rf"drop\[2\] = {bad} is outside bag 2"):
            case.model.score(bags, drop=drop)


def test_deleting_models_score_a_dropped_line_as_the_bag_without_it(case: FittedCase):
    if getattr(case.model, "drop_mode", None) != "delete":
        pytest.skip(f"{case.name} does not delete dropped lines")
    bags = case.data.splits["test"].bags.subset(np.arange(6))
    drop = np.array([0, 2, NO_DROP, 1, 3, 0], dtype=np.int64)
    lines, lengths = [], []
    for b in range(len(bags)):
        kept = bags.instances(b) if drop[b] == NO_DROP else np.delete(bags.instances(b), drop[b])
        lines.append(kept)
        lengths.append(len(kept))
    ends = np.cumsum(lengths)
    shortened = BagSet(np.concatenate(lines), ends - lengths, ends, bags.labels, bags.templates)
    np.testing.assert_allclose(case.model.score(bags, drop=drop).probabilities,
                               case.model.score(shortened).probabilities, atol=1e-5)


@pytest.mark.parametrize("name", list_models())
def test_score_before_fit_is_a_clear_error(name: str, tiny_dataset: PreparedDataset):
    context = ModelContext(templates=tiny_dataset.templates, seed=0, device=torch.device("cpu"))
    model = get_model(name, resolve_config(name, quick=True), context)
    with pytest.raises(NotFittedError, match=rf"^{name}: call fit\(\) before score\(\)"):
        model.score(tiny_dataset.splits["test"].bags)


@pytest.mark.parametrize("name", list_models())
def test_traits_are_declared(name: str):
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
def test_config_is_frozen_and_in_range(name: str):
    config_class = model_class(name).config_class
    config = config_class()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 1
    for quick in (False, True):
        resolved = resolve_config(name, quick=quick)
        for f in dataclasses.fields(resolved):
            value = getattr(resolved, f.name)
            bounds = {k: v for k, v in f.metadata.items()
                      if k in ("min", "max", "min_exclusive", "max_exclusive")}
            if value is None or not bounds:
                continue
            where = f"{name}.{f.name} = {value} (quick={quick})"
            assert value >= bounds.get("min", -np.inf), where
            assert value <= bounds.get("max", np.inf), where
            assert value > bounds.get("min_exclusive", -np.inf), where
            assert value < bounds.get("max_exclusive", np.inf), where


def test_saved_model_loads_and_scores_exactly_like_the_fitted_one(case: FittedCase, tmp_path):
    from benchmark import artifacts

    bags = case.data.splits["test"].bags
    path = tmp_path / "seed0.pt"
    probe = np.arange(8)
    artifacts.save_model(path, case.model, dataset="tiny", seed=0, config_hash="0" * 64,
                         dataset_identity={"name": "tiny", "card": {}}, threshold=0.5,
                         probe=(bags.subset(probe), case.test_scores.probabilities[probe]))
    saved = artifacts.load_model(path, expect_templates=case.data.templates)
    assert saved.model is not case.model and saved.threshold == 0.5
    again = saved.model.score(bags)
    np.testing.assert_array_equal(again.probabilities, case.test_scores.probabilities)
    np.testing.assert_array_equal(again.instance_scores, case.test_scores.instance_scores)


def test_unknown_template_is_scored_and_leaves_known_bags_unchanged(case: FittedCase, tmp_path):
    from benchmark import artifacts
    from benchmark.data.bagset import TemplateTable

    data = case.data
    path = tmp_path / "seed0.pt"
    test = data.splits["test"].bags
    artifacts.save_model(path, case.model, dataset="tiny", seed=0, config_hash="0" * 64,
                         dataset_identity={}, threshold=0.5, probe=(test.subset([]), np.zeros(0)))
    model = artifacts.load_model(path).model
    try:
        model.add_unknown_template()
    except NotImplementedError as err:  # optional for plug-in models, never for built-in ones
        assert case.name in str(err)
        here = Path(__file__).resolve().parents[1]
        assert not Path(inspect.getfile(type(model))).resolve().is_relative_to(here), case.name
        return
    unknown = data.templates.size
    known = np.asarray(test.instances(0), np.int32)
    ids = np.concatenate([known, known[:2], [unknown], known[2:]]).astype(np.int32)
    table = TemplateTable(data.templates.texts + ("<unknown>",), np.vstack(
        [data.templates.vectors, np.zeros((1, data.templates.dim), np.float32)]))
    bags = BagSet(ids, np.array([0, len(known)]), np.array([len(known), len(ids)]),
                  np.zeros(2, np.int8), table)
    scores = model.score(bags)
    assert np.all(np.isfinite(scores.probabilities))
    assert np.all((scores.probabilities >= 0) & (scores.probabilities <= 1))
    assert np.all(np.isfinite(scores.instance_scores[1, : len(known) + 1]))
    np.testing.assert_allclose(scores.probabilities[0], case.test_scores.probabilities[0],
                               atol=1e-5)


def test_a_model_file_for_another_template_table_is_refused(case: FittedCase, tmp_path):
    from benchmark import artifacts

    path = tmp_path / "seed0.pt"
    test = case.data.splits["test"].bags
    artifacts.save_model(path, case.model, dataset="tiny", seed=0, config_hash="0" * 64,
                         dataset_identity={}, threshold=0.5, probe=(test.subset([]), np.zeros(0)))
    other = make_tiny_dataset(seed=1, bags_per_split=24).templates
    with pytest.raises(artifacts.ArtifactError, match="another template table"):
        artifacts.load_model(path, expect_templates=other)
