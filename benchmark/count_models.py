"""`CountsModel`: the base of the classical references on template counts (no torch).

A bag becomes one row of a count matrix over the trained template table plus one
unknown-template column (`n_templates_`, always 0 in training): a template a user's log holds
that training never saw (`add_unknown_template`, used by `localize`) is counted there. The
features are log-scaled counts, x_t = log(1 + count of template t in the bag): bag lengths vary
by orders of magnitude (time windows), and the log keeps "present" apart from "absent" while a
burst of one template does not swamp the rest; TF-IDF was not chosen because its per-bag length
normalisation makes one line's removal change every feature of the bag.

Removing a line (`drop`) removes it from the counts (the bag without the line, like the models
that delete it); a bag left with no line scores probability 0. Instance scores are per
(bag, template) and shared by the lines of one template in the bag (`entry_scores`).
A subclass implements `fit_counts`, `probabilities_of` and `entry_scores`, and saves its fitted
state as NumPy arrays + JSON values (`fitted_arrays` / `restore_fitted_arrays`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import sparse

from benchmark.data.bagset import BagSet
from benchmark.model_api import (
    BagModel,
    BagScores,
    ModelContext,
    NotFittedError,
    checked_drop,
    normal_bags,
)


class BagLines:
    """The lines of a BagSet that remain after `drop`: their template id, bag and position."""

    def __init__(self, bags: BagSet, drop: np.ndarray | None) -> None:
        lengths = np.asarray(bags.lengths, np.int64)
        n = len(bags)
        self.ids = (np.concatenate([bags.instances(b) for b in range(n)]).astype(np.int64)
                    if n else np.zeros(0, np.int64))
        self.bag = np.repeat(np.arange(n, dtype=np.int64), lengths)
        self.position = np.arange(len(self.ids), dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths)
        if drop is not None:
            keep = self.position != drop[self.bag]
            self.ids, self.bag, self.position = self.ids[keep], self.bag[keep], self.position[keep]
        self.remaining = np.bincount(self.bag, minlength=n)
        """(B,) lines left per bag."""


def count_matrix(lines: BagLines, n_bags: int, n_columns: int) -> sparse.csr_matrix:
    """(n_bags, n_columns) float64 CSR template counts, canonical (sorted, summed entries)."""
    counts = sparse.csr_matrix((np.ones(len(lines.ids)), (lines.bag, lines.ids)),
                               shape=(n_bags, n_columns))
    counts.sum_duplicates()
    counts.sort_indices()
    return counts


def log_scaled(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """log(1 + counts), entry by entry (zeros stay zero)."""
    out = counts.copy()
    out.data = np.log1p(out.data)
    return out


def entry_of_line(counts: sparse.csr_matrix, lines: BagLines) -> np.ndarray:
    """For every line, the index of its (bag, template) entry in `counts.data`."""
    width = counts.shape[1]
    rows = np.repeat(np.arange(counts.shape[0], dtype=np.int64), np.diff(counts.indptr))
    keys = rows * width + counts.indices
    return np.searchsorted(keys, lines.bag * width + lines.ids)


class CountsModel(BagModel):
    """A BagModel on log-scaled template counts (not registered itself).

    Traits as in TrainedBagModel: `trains_on` ("all" or "normal"), `drop_mode` = "delete",
    `paper_row` None (not a row of the paper). Learned state: `n_templates_` (the trained table's
    size; the unknown-template column is that index), `unknown_added_`, and the subclass's own.
    """

    trains_on: ClassVar[Literal["all", "normal"]]
    drop_mode: ClassVar[Literal["delete"]] = "delete"
    paper_row: ClassVar[str | None] = None

    def __init__(self, config: Any, context: ModelContext) -> None:
        super().__init__(config, context)
        self.n_templates_: int | None = None
        self.unknown_added_ = False

    # ---- the hooks a model implements -----------------------------------------------------

    @abstractmethod
    def fit_counts(self, train: sparse.csr_matrix, train_labels: np.ndarray,
                   val: sparse.csr_matrix, val_labels: np.ndarray) -> None:
        """Learn from raw count matrices (the bags `trains_on` selects) and bag labels."""

    @abstractmethod
    def probabilities_of(self, counts: sparse.csr_matrix) -> np.ndarray:
        """(B,) float64 bag probabilities in [0, 1] of raw count rows."""

    @abstractmethod
    def entry_scores(self, counts: sparse.csr_matrix) -> np.ndarray:
        """float64 instance score of every stored (bag, template) entry of `counts` (aligned
        with `counts.data`): the score of each line of that template in that bag."""

    @abstractmethod
    def fitted_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The subclass's learned state: named arrays and JSON-able values."""

    @abstractmethod
    def restore_fitted_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Set the attributes `fitted_arrays` saved."""

    # ---- the contract ---------------------------------------------------------------------

    @property
    def n_columns(self) -> int:
        """Trained templates + the unknown-template column."""
        return int(self.n_templates_) + 1

    def fit(self, train: BagSet, val: BagSet) -> CountsModel:
        """Count the bags (the normal training bags only if trains_on = "normal") and call
        `fit_counts`. Returns self."""
        if self.trains_on == "normal":
            train = normal_bags(train, self.name)
        self.n_templates_ = train.templates.size
        self.unknown_added_ = False
        matrices = [count_matrix(BagLines(bags, None), len(bags), self.n_columns)
                    for bags in (train, val)]
        self.fit_counts(matrices[0], np.asarray(train.labels), matrices[1],
                        np.asarray(val.labels))
        return self

    def score(self, bags: BagSet, drop: np.ndarray | None = None) -> BagScores:
        """Probabilities (B,) float64 and instance scores (B, bags.max_length) float32, -inf at
        padding and at the dropped line, which is removed from the counts."""
        counts, lines = self._counts(bags, checked_drop(drop, bags, self.name))
        instance_scores = np.full((len(bags), bags.max_length), -np.inf, np.float32)
        entries = self.entry_scores(counts)
        instance_scores[lines.bag, lines.position] = entries[entry_of_line(counts, lines)]
        return BagScores(self._probabilities(counts, lines), instance_scores)

    def bag_probabilities(self, bags: BagSet) -> np.ndarray:
        """(B,) float64 bag probabilities of whole bags (no instance scores computed)."""
        counts, lines = self._counts(bags, None)
        return self._probabilities(counts, lines)

    def add_unknown_template(self) -> None:
        """Template id `n_templates_` (one past the trained table) becomes the unknown column."""
        self._check_fitted()
        self.unknown_added_ = True

    def state_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON values of the fitted model (benchmark.capabilities.TorchFreeModel)."""
        self._check_fitted()
        arrays, meta = self.fitted_arrays()
        return arrays, {**meta, "n_templates": int(self.n_templates_)}

    def load_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> CountsModel:
        """Become the fitted model `state_arrays` described; KeyError for a missing entry."""
        self.n_templates_ = int(meta["n_templates"])
        self.unknown_added_ = False
        self.restore_fitted_arrays(arrays, meta)
        return self

    # ---- internals ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.n_templates_ is None:
            raise NotFittedError(f"{self.name}: call fit() before score()")

    def _counts(self, bags: BagSet, drop: np.ndarray | None
                ) -> tuple[sparse.csr_matrix, BagLines]:
        self._check_fitted()
        lines = BagLines(bags, drop)
        known = self.n_templates_ + (1 if self.unknown_added_ else 0)
        if len(lines.ids) and (lines.ids.min() < 0 or lines.ids.max() >= known):
            bad = int(lines.ids[(lines.ids < 0) | (lines.ids >= known)][0])
            raise ValueError(f"{self.name}: template id {bad} is outside the {known} templates "
                             "this model was trained on (add_unknown_template for an unseen one)")
        return count_matrix(lines, len(bags), self.n_columns), lines

    def _probabilities(self, counts: sparse.csr_matrix, lines: BagLines) -> np.ndarray:
        p = np.clip(np.asarray(self.probabilities_of(counts), np.float64), 0.0, 1.0)
        p[lines.remaining == 0] = 0.0
        return p
