"""The model conformance checks as a library (scikit-learn `check_estimator` style).

`check_model(name)` runs every check on the registered model `name` (built-in or from any other
package: registering it is enough) and raises `ConformanceError` naming the first failed check;
`parametrize_with_checks(names)` is the pytest decorator that makes one test per (model, check)
(a check that does not apply to a model, e.g. a line-deletion check on a model that zeroes lines,
is skipped). The checks, on the tiny planted dataset (benchmark.tiny_data), fitted once per
model with a short budget:

- `fit` returns self and leaves the BagSets untouched; score shapes, dtypes, ranges and -inf
  padding; scores independent of batch neighbours; `drop=` changes the probabilities of the
  dropped bags only and masks the instance; its shape / range errors; a fully dropped one-line bag
  gets a finite probability; deletion models score a dropped line as the bag without it; same
  seed → bitwise the same scores;
- without fitting: scoring before `fit` raises NotFittedError naming the model; declared traits
  (TrainedBagModel: `trains_on`, `drop_mode`; `paper_row` None or a name); a frozen config whose
  defaults and quick values lie inside their declared ranges;
- a persistable model (benchmark.capabilities.Persistable) saved and loaded scores exactly like
  the fitted one, and a file for another template table is refused; an OpenVocabulary model
  scores an unknown template and leaves known bags unchanged.

No pytest import unless `parametrize_with_checks` is called.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.capabilities import OpenVocabulary, can_save, needs_torch
from benchmark.data.bagset import NO_DROP, BagSet, PreparedDataset, TemplateTable
from benchmark.model_api import BagModel, BagScores, ModelContext, NotFittedError
from benchmark.registry import get_model, model_class, resolve_config
from benchmark.tiny_data import make_tiny_dataset

FAST_SETTINGS = {"epochs": 2, "patience": 2, "batch_size": 16, "steps_per_epoch": 3}
"""TrainSettings fields that keep every model quick; applied only where the config has them."""


class ConformanceError(AssertionError):
    """A model that fails a conformance check (the message names model and check)."""


class NotApplicable(Exception):  # noqa: N818 - a reason to skip, not an error
    """The check does not apply to this model (skipped, not failed)."""


def _device(name: str) -> Any:
    if not needs_torch(model_class(name)):
        return "cpu"
    import torch

    return torch.device("cpu")


def fast_config(name: str) -> Any:
    """The model's quick config with FAST_SETTINGS applied to the fields it has."""
    fields = {f.name for f in dataclasses.fields(model_class(name).config_class)}
    overrides = {k: v for k, v in FAST_SETTINGS.items() if k in fields}
    return resolve_config(name, quick=True, overrides=overrides)


def fit_model(name: str, data: PreparedDataset, seed: int = 0) -> BagModel:
    """`name` built with its fast config and fitted on `data` (fit must return self)."""
    context = ModelContext(templates=data.templates, seed=seed, device=_device(name))
    model = get_model(name, fast_config(name), context)
    fitted = model.fit(data.splits["train"].bags, data.splits["val"].bags)
    _require(fitted is model, f"{name}.fit must return self")
    return model


def _snapshot(bags: BagSet) -> dict[str, np.ndarray]:
    return {"starts": bags.starts.copy(), "ends": bags.ends.copy(), "labels": bags.labels.copy(),
            "lines": np.concatenate([bags.instances(b) for b in range(len(bags))]),
            "vectors": bags.templates.vectors.copy()}


@dataclass
class FittedCase:
    """A model fitted on the tiny dataset, the bags before the fit and its test scores."""

    name: str
    model: BagModel
    data: PreparedDataset
    before: dict[str, dict[str, np.ndarray]]
    test_scores: BagScores


def fitted_case(name: str) -> FittedCase:
    """The fitted case of `name` (fitted once per process and registered class)."""
    return _fitted_case(name, model_class(name))


@cache
def _fitted_case(name: str, cls: type) -> FittedCase:
    del cls  # part of the cache key only: a name registered again is fitted again
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    before = {split: _snapshot(data.splits[split].bags) for split in ("train", "val")}
    model = fit_model(name, data)
    return FittedCase(name, model, data, before, model.score(data.splits["test"].bags))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


def _raises(kind: type[BaseException], pattern: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except kind as err:
        _require(re.search(pattern, str(err)) is not None,
                 f"{kind.__name__} {str(err)!r} does not match {pattern!r}")
        return
    raise ConformanceError(f"expected {kind.__name__} matching {pattern!r}, nothing raised")


def _close(a: np.ndarray, b: np.ndarray, message: str, atol: float = 1e-5) -> None:
    _require(np.allclose(a, b, atol=atol, rtol=1e-7), message)


# ---------------------------------------------------------------- checks on a fitted model

def check_fit_does_not_modify_bags(case: FittedCase) -> None:
    for split, saved in case.before.items():
        now = _snapshot(case.data.splits[split].bags)
        for key, array in saved.items():
            _require(np.array_equal(now[key], array), f"fit changed the {split} bags' {key}")


def check_score_shapes_ranges_and_padding(case: FittedCase) -> None:
    bags = case.data.splits["test"].bags
    s = case.test_scores
    _require(isinstance(s, BagScores), "score must return BagScores")
    _require(s.probabilities.shape == (len(bags),) and s.probabilities.dtype == np.float64,
             "probabilities must be (B,) float64")
    _require(s.instance_scores.shape == (len(bags), bags.max_length)
             and s.instance_scores.dtype == np.float32,
             "instance scores must be (B, max_length) float32")
    _require(bool(np.all(np.isfinite(s.probabilities))), "probabilities must be finite")
    _require(bool(np.all((s.probabilities >= 0) & (s.probabilities <= 1))),
             "probabilities must lie in [0, 1]")
    padding = np.arange(bags.max_length)[None, :] >= bags.lengths[:, None]
    _require(bool(np.all(np.isneginf(s.instance_scores[padding]))), "padding must score -inf")
    _require(not np.any(np.isneginf(s.instance_scores[~padding])),
             "real instances must not be -inf")
    _require(not np.any(np.isnan(s.instance_scores)), "instance scores must not be NaN")


def check_scores_do_not_depend_on_batch_neighbours(case: FittedCase) -> None:
    bags = case.data.splits["test"].bags
    alone = case.model.score(bags.subset(np.array([3])))
    _close(alone.probabilities, case.test_scores.probabilities[[3]],
           "a bag scored alone must score as in its batch")
    width = int(bags.lengths[3])
    _close(alone.instance_scores[0, :width], case.test_scores.instance_scores[3, :width],
           "a bag's instance scores must not depend on its batch")


def check_drop_changes_probability_and_masks_instance(case: FittedCase) -> None:
    bags = case.data.splits["test"].bags
    drop = np.full(len(bags), NO_DROP, dtype=np.int64)
    drop[::2] = bags.lengths[::2] - 1  # last instance of every other bag
    dropped = case.model.score(bags, drop=drop)
    _require(dropped.probabilities.shape == (len(bags),)
             and dropped.instance_scores.shape == (len(bags), bags.max_length),
             "score with drop= must keep the shapes")
    rows = np.flatnonzero(drop != NO_DROP)
    _require(bool(np.all(np.isneginf(dropped.instance_scores[rows, drop[rows]]))),
             "a dropped instance must score -inf")
    _require(not np.array_equal(dropped.probabilities[rows],
                                case.test_scores.probabilities[rows]),
             "drop= changed no probability")
    kept = drop == NO_DROP
    _close(dropped.probabilities[kept], case.test_scores.probabilities[kept],
           "drop= must leave the other bags' probabilities unchanged")


def check_fully_dropped_one_line_bag_gets_finite_probability(case: FittedCase) -> None:
    data = case.data
    test = data.splits["test"].bags
    templates = np.concatenate([test.instances(0)[:1], test.instances(1)])
    one = BagSet(templates, np.array([0, 1]), np.array([1, len(templates)]),
                 np.array([0, 0]), data.templates)
    scores = case.model.score(one, drop=np.array([0, NO_DROP]))
    _require(scores.probabilities.shape == (2,), "probabilities of 2 bags must be (2,)")
    _require(bool(np.all(np.isfinite(scores.probabilities))
                  and np.all((scores.probabilities >= 0) & (scores.probabilities <= 1))),
             "an emptied bag must get a finite probability in [0, 1]")
    _require(scores.instance_scores.shape == (2, one.max_length)
             and bool(np.isneginf(scores.instance_scores[0]).all()),
             "an emptied bag's instances must all be -inf")


def check_same_seed_gives_identical_scores(case: FittedCase) -> None:
    again = fit_model(case.name, case.data, seed=0).score(case.data.splits["test"].bags)
    _require(np.array_equal(again.probabilities, case.test_scores.probabilities)
             and np.array_equal(again.instance_scores, case.test_scores.instance_scores),
             "the same seed must give bitwise the same scores")


def check_drop_errors(case: FittedCase) -> None:
    bags = case.data.splits["test"].bags
    _raises(ValueError, rf"{case.name}: drop has shape \(3,\)",
            lambda: case.model.score(bags, drop=np.zeros(3, dtype=np.int64)))
    for bad in (int(bags.lengths[2]), -2):  # one past the bag's last line; negative, not -1
        drop = np.full(len(bags), NO_DROP, dtype=np.int64)
        drop[2] = bad
        _raises(ValueError, rf"drop\[2\] = {bad} is outside bag 2",
                lambda drop=drop: case.model.score(bags, drop=drop))


def check_deleting_models_score_the_bag_without_the_line(case: FittedCase) -> None:
    if case.model.drop_mode != "delete":
        raise NotApplicable(f"{case.name} does not delete dropped lines")
    bags = case.data.splits["test"].bags.subset(np.arange(6))
    drop = np.array([0, 2, NO_DROP, 1, 3, 0], dtype=np.int64)
    lines, lengths = [], []
    for b in range(len(bags)):
        kept = bags.instances(b) if drop[b] == NO_DROP else np.delete(bags.instances(b), drop[b])
        lines.append(kept)
        lengths.append(len(kept))
    ends = np.cumsum(lengths)
    shortened = BagSet(np.concatenate(lines), ends - lengths, ends, bags.labels, bags.templates)
    _close(case.model.score(bags, drop=drop).probabilities,
           case.model.score(shortened).probabilities,
           "a deleted line must score like the bag without it")


def check_saved_model_loads_and_scores_exactly(case: FittedCase) -> None:
    from benchmark import artifacts

    if not can_save(case.model):
        raise NotApplicable(f"{case.name} declares no savable state")
    bags = case.data.splits["test"].bags
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed0.pt"
        probe = np.arange(8)
        artifacts.save_model(path, case.model, dataset="tiny", seed=0, config_hash="0" * 64,
                             dataset_identity={"name": "tiny", "card": {}}, threshold=0.5,
                             probe=(bags.subset(probe), case.test_scores.probabilities[probe]))
        saved = artifacts.load_model(path, expect_templates=case.data.templates)
        other = make_tiny_dataset(seed=1, bags_per_split=24).templates
        _raises(artifacts.ArtifactError, "another template table",
                lambda: artifacts.load_model(path, expect_templates=other))
    _require(saved.model is not case.model and saved.threshold == 0.5, "load must rebuild")
    again = saved.model.score(bags)
    _require(np.array_equal(again.probabilities, case.test_scores.probabilities)
             and np.array_equal(again.instance_scores, case.test_scores.instance_scores),
             "a loaded model must score exactly like the fitted one")


def check_unknown_template_is_scored(case: FittedCase) -> None:
    from benchmark import artifacts

    if not (can_save(case.model) and isinstance(case.model, OpenVocabulary)):
        raise NotApplicable(f"{case.name} cannot score unseen templates")
    data = case.data
    test = data.splits["test"].bags
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed0.pt"
        artifacts.save_model(path, case.model, dataset="tiny", seed=0, config_hash="0" * 64,
                             dataset_identity={}, threshold=0.5,
                             probe=(test.subset([]), np.zeros(0)))
        model = artifacts.load_model(path).model
    model.add_unknown_template()
    unknown = data.templates.size
    known = np.asarray(test.instances(0), np.int32)
    ids = np.concatenate([known, known[:2], [unknown], known[2:]]).astype(np.int32)
    table = TemplateTable(data.templates.texts + ("<unknown>",), np.vstack(
        [data.templates.vectors, np.zeros((1, data.templates.dim), np.float32)]))
    bags = BagSet(ids, np.array([0, len(known)]), np.array([len(known), len(ids)]),
                  np.zeros(2, np.int8), table)
    scores = model.score(bags)
    _require(bool(np.all(np.isfinite(scores.probabilities))
                  and np.all((scores.probabilities >= 0) & (scores.probabilities <= 1))),
             "a bag with an unknown template must get a probability in [0, 1]")
    _require(bool(np.all(np.isfinite(scores.instance_scores[1, : len(known) + 1]))),
             "an unknown template must get a finite instance score")
    _close(scores.probabilities[:1], case.test_scores.probabilities[:1],
           "extending to the unknown template must leave known bags unchanged")


FITTED_CHECKS: dict[str, Callable[[FittedCase], None]] = {
    f.__name__.removeprefix("check_"): f for f in (
        check_fit_does_not_modify_bags, check_score_shapes_ranges_and_padding,
        check_scores_do_not_depend_on_batch_neighbours,
        check_drop_changes_probability_and_masks_instance,
        check_fully_dropped_one_line_bag_gets_finite_probability,
        check_same_seed_gives_identical_scores, check_drop_errors,
        check_deleting_models_score_the_bag_without_the_line,
        check_saved_model_loads_and_scores_exactly, check_unknown_template_is_scored)}


# ---------------------------------------------------------------- checks without fitting

def check_score_before_fit_is_a_clear_error(name: str) -> None:
    data = make_tiny_dataset()
    context = ModelContext(templates=data.templates, seed=0, device=_device(name))
    model = get_model(name, resolve_config(name, quick=True), context)
    _raises(NotFittedError, rf"^{name}: call fit\(\) before score\(\)",
            lambda: model.score(data.splits["test"].bags))


def check_traits_are_declared(name: str) -> None:
    from benchmark.trained_model import TrainedBagModel

    cls = model_class(name)
    _require(cls.paper_row is None or (isinstance(cls.paper_row, str) and bool(cls.paper_row)),
             "paper_row must be None or the paper's row name")
    if issubclass(cls, TrainedBagModel) or cls.trains_on is not None:
        _require(cls.trains_on in ("all", "normal"), "trains_on must be 'all' or 'normal'")
        _require(cls.drop_mode in ("zero", "delete"), "drop_mode must be 'zero' or 'delete'")


def check_config_is_frozen_and_in_range(name: str) -> None:
    config = model_class(name).config_class()
    first = dataclasses.fields(config)[0].name
    _raises(dataclasses.FrozenInstanceError, "",
            lambda: setattr(config, first, getattr(config, first)))
    for quick in (False, True):
        resolved = resolve_config(name, quick=quick)
        for f in dataclasses.fields(resolved):
            value = getattr(resolved, f.name)
            bounds = {k: v for k, v in f.metadata.items()
                      if k in ("min", "max", "min_exclusive", "max_exclusive")}
            if value is None or not bounds:
                continue
            where = f"{f.name} = {value} (quick={quick}) outside its declared range {bounds}"
            _require(value >= bounds.get("min", -np.inf) and value <= bounds.get("max", np.inf)
                     and value > bounds.get("min_exclusive", -np.inf)
                     and value < bounds.get("max_exclusive", np.inf), where)


CLASS_CHECKS: dict[str, Callable[[str], None]] = {
    f.__name__.removeprefix("check_"): f for f in (
        check_score_before_fit_is_a_clear_error, check_traits_are_declared,
        check_config_is_frozen_and_in_range)}


def model_checks() -> dict[str, Callable[[str], None]]:
    """Every check by name, each called with a registered model name."""
    checks: dict[str, Callable[[str], None]] = dict(CLASS_CHECKS)
    for check_name, check in FITTED_CHECKS.items():
        checks[check_name] = lambda name, check=check: check(fitted_case(name))
    return checks


def check_model(name: str) -> list[str]:
    """Run every check on the registered model `name`; returns the names of the checks that did
    not apply; raises ConformanceError naming model and check at the first failure."""
    skipped = []
    for check_name, check in model_checks().items():
        try:
            check(name)
        except NotApplicable:
            skipped.append(check_name)
        except ConformanceError as err:
            raise ConformanceError(f"{name}: {check_name}: {err}") from None
    return skipped


def parametrize_with_checks(names: Iterable[str]) -> Any:
    """A pytest decorator giving the test function (arguments `model_name`, `check`) one case
    per (model, check); call `check(model_name)` in it. A check that does not apply skips."""
    import pytest

    def as_test(check: Callable[[str], None]) -> Callable[[str], None]:
        def run(name: str) -> None:
            try:
                check(name)
            except NotApplicable as why:
                pytest.skip(str(why))

        return run

    checks = model_checks()
    return pytest.mark.parametrize(("model_name", "check"), [
        pytest.param(name, as_test(check), id=f"{name}-{check_name}")
        for name in names for check_name, check in checks.items()])
