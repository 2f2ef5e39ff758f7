"""Template counts + isolation forest: the unsupervised classical reference (no torch).

Paper: F. T. Liu, K. M. Ting, Z.-H. Zhou, "Isolation Forest", ICDM 2008; on log event-count
vectors as in loglizer (He et al., "Experience Report: System Log Analysis for Anomaly
Detection", ISSRE 2016).

Faithful: scikit-learn `IsolationForest` with the paper's defaults, t = 100 trees each grown on
a sub-sample of ψ = 256 (all features, no bootstrap); anomaly score s(x) = 2^(−E[h(x)] / c(ψ)).

Adapted to bags:
- Features: a bag's log-scaled template counts, x_t = log(1 + count), over the trained template
  table plus one unknown-template column that is always 0 in training
  (benchmark.count_models). The forest is fitted on the training bags labelled normal only (the
  unsupervised classic learns what normal looks like); the validation bags are not used in
  fitting (the protocol sets τ on them).
- Bag probability = s(x) ∈ (0, 1] itself (scikit-learn's `score_samples` is −s(x)); a bag left
  with no line scores 0.
- Instance score of a line = the drop in its bag's anomaly score when the count of the line's
  template goes down by one, s(x) − s(x − e_t) (lines of one template share it): positive when
  the line makes the bag look more anomalous. `drop` removes the line from the counts.
- Scoring walks the forest from its saved node arrays (feature, threshold, children, leaf path
  length), not through scikit-learn, so a loaded model scores bit-identically and the model
  file holds arrays only; tests check it against `IsolationForest.score_samples`.
- A column that is constant in training is never split on, so templates unseen in training
  (and the unknown column) do not move the score: their lines score 0. The forest cannot flag
  a bag for holding a template it never saw; that is the classic's behaviour, kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from benchmark.configs import positive
from benchmark.count_models import CountsModel
from benchmark.registry import register_model

CHUNK_VALUES = 1 << 22
"""Dense values (rows × columns) scored at once."""


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n points
    (Liu et al. 2008, eq. 1); 0 for n ≤ 1, 1 for n = 2."""
    n = np.asarray(n, np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass(frozen=True)
class CountsIForestConfig:
    """Isolation forest (paper defaults): t = 100 trees, sub-sample size ψ = 256."""

    n_estimators: int = positive(100)
    max_samples: int = positive(256)


@register_model("counts_iforest")
class CountsIForest(CountsModel):
    """Template counts + isolation forest on normal bags (score-drop attribution): classical."""

    config_class = CountsIForestConfig
    trains_on = "normal"

    def __init__(self, config: CountsIForestConfig, context) -> None:
        super().__init__(config, context)
        self.nodes_: dict[str, np.ndarray] | None = None
        self.normaliser_ = 1.0
        """c(ψ) × number of trees: E[h(x)] summed over trees is divided by it."""

    def fit_counts(self, train: sparse.csr_matrix, train_labels: np.ndarray,
                   val: sparse.csr_matrix, val_labels: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        x = train.copy()
        x.data = np.log1p(x.data)
        forest = IsolationForest(n_estimators=self.config.n_estimators,
                                 max_samples=min(self.config.max_samples, x.shape[0]),
                                 max_features=1.0, bootstrap=False,
                                 random_state=self.context.seed).fit(x)
        self.nodes_ = _forest_nodes(forest)
        self.normaliser_ = float(len(forest.estimators_)
                                 * average_path_length(np.array([forest.max_samples_]))[0])

    def probabilities_of(self, counts: sparse.csr_matrix) -> np.ndarray:
        rows = np.arange(counts.shape[0])
        return self._scores(counts, rows, None)

    def entry_scores(self, counts: sparse.csr_matrix) -> np.ndarray:
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        whole = self.probabilities_of(counts)
        return whole[rows] - self._scores(counts, rows, counts.indices)

    def fitted_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return dict(self.nodes_), {"normaliser": self.normaliser_}

    def restore_fitted_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.nodes_ = {name: np.asarray(arrays[name]) for name in _NODE_ARRAYS}
        self.normaliser_ = float(meta["normaliser"])

    def _scores(self, counts: sparse.csr_matrix, rows: np.ndarray,
                minus_one: np.ndarray | None) -> np.ndarray:
        """s(x) of count rows `rows`, each with the count of template `minus_one[i]` lowered by
        one when given (CHUNK_VALUES dense values at a time)."""
        out = np.zeros(len(rows), np.float64)
        step = max(1, CHUNK_VALUES // counts.shape[1])
        for start in range(0, len(rows), step):
            part = slice(start, start + step)
            dense = counts[rows[part]].toarray()
            if minus_one is not None:
                dense[np.arange(len(dense)), minus_one[part]] -= 1.0
            out[part] = np.exp2(-self._path_length_sums(np.log1p(dense).astype(np.float32))
                                / self.normaliser_)
        return out

    def _path_length_sums(self, x: np.ndarray) -> np.ndarray:
        """Σ over trees of h(x) (depth of x's leaf + c(samples in that leaf)), (n,) float64."""
        nodes = self.nodes_
        node = np.broadcast_to(nodes["roots"], (len(x), len(nodes["roots"]))).copy()
        rows = np.arange(len(x))[:, None]
        while True:
            feature = nodes["feature"][node]
            inner = feature >= 0
            if not inner.any():
                break
            left = x[rows, np.where(inner, feature, 0)] <= nodes["threshold"][node]
            node = np.where(inner, np.where(left, nodes["left"][node], nodes["right"][node]),
                            node)
        return nodes["path_length"][node].sum(axis=1)


_NODE_ARRAYS = ("roots", "feature", "threshold", "left", "right", "path_length")


def _forest_nodes(forest: Any) -> dict[str, np.ndarray]:
    """The fitted trees as one set of node arrays (global node indices; feature −1 at leaves):
    roots (T,), feature, threshold, left, right, path_length (depth + c(node samples))."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _NODE_ARRAYS}
    offset = 0
    for estimator, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
        tree = estimator.tree_
        left, right = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
        leaf = left < 0
        depth = np.zeros(tree.node_count, np.float64)
        for node in range(tree.node_count):  # children come after their parent
            if not leaf[node]:
                depth[left[node]] = depth[right[node]] = depth[node] + 1
        feature = np.where(leaf, -1, np.asarray(features, np.int64)[np.maximum(
            tree.feature, 0)])
        parts["roots"].append(np.array([offset]))
        parts["feature"].append(feature)
        parts["threshold"].append(tree.threshold.astype(np.float64))
        parts["left"].append(np.where(leaf, -1, left + offset))
        parts["right"].append(np.where(leaf, -1, right + offset))
        parts["path_length"].append(depth + average_path_length(tree.n_node_samples))
        offset += tree.node_count
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}
