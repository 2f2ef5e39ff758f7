"""The `Labeller` interface and its registry.

A labeller answers "is this log line (or window) anomalous?" for a batch of texts: labels (n,) int8
in {0, 1} (1 = anomalous) with confidences (n,) float64 in [0, 1]. `ids` are optional integer
handles (the line index in the dataset's line array, or a bag index) that ground-truth labellers
need and text-only labellers ignore. Every labeller counts the labels it was asked for in
`.queries`, so a budget can be checked against what was actually spent; one that talks to a
language model also counts the tokens it sent and received (`.tokens`, None for the others).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class LabellingError(RuntimeError):
    """A labeller could not answer (missing replay entry, unparsable LLM reply, bad input)."""


@dataclass(frozen=True)
class Labels:
    """Answers to one `Labeller.label` call.

    labels: (n,) int8 in {0, 1}; confidences: (n,) float64 in [0, 1].
    """

    labels: np.ndarray
    confidences: np.ndarray

    def __post_init__(self) -> None:
        if self.labels.shape != self.confidences.shape or self.labels.ndim != 1:
            raise ValueError("labels and confidences must be 1-D arrays of one length")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        if len(self.confidences) and (self.confidences.min() < 0 or self.confidences.max() > 1):
            raise ValueError("confidences must lie in [0, 1]")


class Labeller(ABC):
    """Base class: subclasses implement `_label`; `label` validates, counts and returns."""

    name: str = "labeller"

    def __init__(self) -> None:
        self.queries = 0
        self.tokens: dict[str, int] | None = None
        """{"sent": n, "received": n} as the model's server reported them (LLM labellers)."""

    def label(self, texts: Sequence[str], ids: Sequence[int] | np.ndarray | None = None) -> Labels:
        """Label `texts` (n,); `ids` (n,) ints or None. Adds n to `self.queries`."""
        texts = list(texts)
        ids_arr = None if ids is None else np.asarray(ids, dtype=np.int64)
        if ids_arr is not None and ids_arr.shape != (len(texts),):
            raise ValueError(f"{len(texts)} texts but ids of shape {ids_arr.shape}")
        self.queries += len(texts)
        if not texts:
            return Labels(np.zeros(0, np.int8), np.zeros(0, np.float64))
        labels, conf = self._label(texts, ids_arr)
        return Labels(np.asarray(labels, dtype=np.int8), np.asarray(conf, dtype=np.float64))

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Raise ValueError when `options` cannot build this labeller, checked before any run
        (here: an option the constructor does not take; subclasses add their own checks)."""
        params = inspect.signature(cls.__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        known = sorted(set(params) - {"self"})
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"{cls.name}: unknown option(s) {', '.join(unknown)}; known: "
                             f"{', '.join(known) or 'none'}")

    @abstractmethod
    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Return labels (n,) and confidences (n,) for a non-empty batch."""


_REGISTRY: dict[str, type[Labeller]] = {}


def register_labeller(name: str) -> Callable[[type[Labeller]], type[Labeller]]:
    """Class decorator: make `get_labeller(name, **options)` build this class."""

    def wrap(cls: type[Labeller]) -> type[Labeller]:
        if name in _REGISTRY:
            raise ValueError(f"labeller {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def get_labeller(name: str, **options: object) -> Labeller:
    """Build the labeller registered as `name` with its keyword options."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown labeller {name!r}; known: {', '.join(list_labellers())}")
    return _REGISTRY[name](**options)


def check_labeller_options(name: str, options: Mapping[str, Any]) -> None:
    """The registered labeller's `check_options`; ValueError for an unknown name too."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown labeller {name!r}; known: {', '.join(list_labellers())}")
    _REGISTRY[name].check_options(options)


def list_labellers() -> list[str]:
    """Registered labeller names, sorted."""
    return sorted(_REGISTRY)
