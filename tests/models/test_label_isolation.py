"""Instance (line) labels are unreachable from `fit`: a prying model tries and fails.

The probe walks every object reachable from the BagSets it is given — attributes, `__dict__`,
`__slots__`, dataclass fields, containers, properties and numpy `.base` chains — and records every
array it meets. None may equal or share memory with the hidden line-label array.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import torch

from benchmark.data.bagset import BagSet
from benchmark.model_api import BagModel, BagScores, ModelContext
from benchmark.trainer import TrainSettings


def reachable_arrays(root: object) -> list[np.ndarray]:
    """Every ndarray reachable from `root` through instance state (not through classes/modules)."""
    seen: set[int] = set()
    arrays: list[np.ndarray] = []
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | bool):
            continue
        seen.add(id(obj))
        if isinstance(obj, type | type(inspect) | type(len)) or inspect.isroutine(obj):
            continue
        if isinstance(obj, np.ndarray):
            arrays.append(obj)
            stack.append(obj.base)
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
            continue
        if isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
            continue
        stack.extend(_instance_state(obj))
    return arrays


def _instance_state(obj: object) -> list[object]:
    """Values held by `obj`: __dict__, __slots__ (whole MRO), dataclass fields, properties."""
    values = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(obj, slot):
                values.append(getattr(obj, slot))
        for name, member in vars(cls).items():
            if isinstance(member, property):
                try:
                    values.append(getattr(obj, name))
                except Exception:  # a property that needs state it lacks: nothing to reach
                    pass
    if dataclasses.is_dataclass(obj):
        values.extend(getattr(obj, f.name) for f in dataclasses.fields(obj))
    return values


class PryingModel(BagModel):
    """Test probe: in `fit`, collects everything reachable from train/val and looks for labels."""

    config_class = TrainSettings

    def fit(self, train: BagSet, val: BagSet) -> PryingModel:
        self.seen_arrays_ = reachable_arrays([train, val])
        self.attribute_errors_ = []
        for bags in (train, val):
            for name in ("line_labels", "instance_labels", "_line_labels"):
                try:
                    getattr(bags, name)
                except AttributeError:
                    self.attribute_errors_.append(name)
        return self

    def score(self, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
        raise NotImplementedError


def test_fit_cannot_reach_line_labels(tiny_dataset):
    context = ModelContext(tiny_dataset.templates, seed=0, device=torch.device("cpu"))
    model = PryingModel(TrainSettings(), context).fit(tiny_dataset.splits["train"].bags,
                                                       tiny_dataset.splits["val"].bags)
    assert model.attribute_errors_ == ["line_labels", "instance_labels", "_line_labels"] * 2
    assert len(model.seen_arrays_) >= 5, "the probe must actually reach the BagSet's arrays"
    for evaluation in tiny_dataset.splits.values():
        hidden = evaluation.line_labels
        for array in model.seen_arrays_:
            assert not np.shares_memory(array, hidden), f"{array.shape} shares line-label memory"
            assert not (array.shape == hidden.shape and np.array_equal(array, hidden))


def test_probe_would_find_leaked_labels(tiny_dataset):
    """Control: the walk does find line labels when a BagSet-like object carries them."""
    hidden = tiny_dataset.splits["train"].line_labels

    class Leaky:
        def __init__(self):
            self.payload = {"x": (hidden[2:9],)}

    arrays = reachable_arrays([Leaky()])
    assert any(np.shares_memory(a, hidden) for a in arrays)
