"""What the harness asks a model beyond `BagModel`: small protocols, checked with isinstance.

- `TorchStateModel`: a fitted model whose saved state is a torch network's `state_dict` plus its
  fitted state (every `TrainedBagModel`). The harness treats any model that is not a
  `TorchFreeModel` as a torch model: it seeds torch, sets torch's thread count, hands it a
  `torch.device` and an end-of-epoch checkpoint path.
- `TorchFreeModel`: fits and scores with NumPy / scikit-learn only, and its fitted state is
  NumPy arrays plus JSON values (the classical references, benchmark.count_models). The harness
  seeds Python and NumPy only, limits the BLAS / OpenMP thread pools (threadpoolctl) instead of
  torch's, passes the device as the string "cpu" and keeps no checkpoint.

`CrossDomainModel` (alias `Adaptable`): trains on several source datasets and adapts to a target
with K labelled bags (`--cross-domain`); the classical references do not.

`OpenVocabulary`: a fitted model that can score template id `templates.size` (one past its
trained table) as its own unknown template (`localize` on a log with unseen lines); every
built-in model is one. `Persistable` (`can_save`): a TorchStateModel or a TorchFreeModel, written
to a model file. `HasHistory` / `HasNetwork`: keeps its training history in `history_` / its
fitted torch network in `net_` (recorded and counted by the harness).

The harness asks for a capability only with `isinstance` / `issubclass` on these protocols, never
with `hasattr`.

Both state kinds are written to a model file and rebuilt from it by the same code
(benchmark.artifacts). The protocols hold methods only, so `issubclass` works on a registered
class before it is built.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from benchmark.data.bagset import BagSet


@runtime_checkable
class TorchStateModel(Protocol):
    """Saved as {"net": state_dict, "fitted": fitted state} (benchmark.trained_model)."""

    def state_for_saving(self) -> dict[str, Any]: ...

    def load_state(self, state: dict[str, Any]) -> Any: ...

    def bag_probabilities(self, bags: BagSet) -> np.ndarray: ...


@runtime_checkable
class TorchFreeModel(Protocol):
    """Fits and scores without torch; saved as arrays + JSON values."""

    def state_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(named NumPy arrays, JSON-able values) of the fitted model."""
        ...

    def load_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        """Become the fitted model `state_arrays` described; returns self."""
        ...

    def bag_probabilities(self, bags: BagSet) -> np.ndarray: ...


@runtime_checkable
class CrossDomainModel(Protocol):
    """Trains on several sources and adapts to a target (benchmark.crossdomain)."""

    def fit_sources(self, trains: list[BagSet], vals: list[BagSet]) -> Any: ...

    def adapt(self, support: BagSet, steps: int, lr: float) -> Any: ...


Adaptable = CrossDomainModel
"""The adaptable capability under its kit name (benchmark.kit)."""


@runtime_checkable
class OpenVocabulary(Protocol):
    """Scores template id `templates.size` as its own unknown template once extended."""

    def add_unknown_template(self) -> None:
        """Extend the fitted model so that template id `templates.size` is its unknown one."""
        ...


@runtime_checkable
class HasHistory(Protocol):
    """Keeps its training history (benchmark.trainer.TrainHistory) in `history_` after fit."""

    history_: Any


@runtime_checkable
class HasNetwork(Protocol):
    """Keeps its fitted torch network in `net_` (None before fit)."""

    net_: Any


def needs_torch(model_or_class: Any) -> bool:
    """Whether the harness must run a model (instance or registered class) with torch."""
    if isinstance(model_or_class, type):
        return not issubclass(model_or_class, TorchFreeModel)
    return not isinstance(model_or_class, TorchFreeModel)


Persistable = TorchStateModel | TorchFreeModel
"""What benchmark.artifacts can write to a model file and rebuild from it."""


def can_save(model: Any) -> bool:
    """Whether benchmark.artifacts can write `model` to a model file."""
    return isinstance(model, Persistable)
