"""ALPHA's active-labelling core: cluster, pick representatives, label, refine, propagate.

Instances (log lines) that share an embedding form a *group* (all lines of one template under the
template embedding; all lines of one text under TF-IDF). Groups are the points that are clustered
and propagated over; queries are asked about single instances, so a group can be asked about more
than once (another of its lines) when the budget exceeds the number of groups.

Round 1 (the paper's first few-shot round): k-means with k = ceil(stage1_fraction × budget) (at most
the number of groups) over L2-normalised group features weighted by group size; the group closest
to each centroid is the cluster's representative and one of its lines (seeded choice) is labelled.
Rounds 2… (the two-stage refinement): labels are propagated, and the remaining budget goes to the
groups with the most expected mislabelled lines, (unlabelled lines) × (Laplace-smoothed minority
rate of the group's answers, the propagated probability counting as one pseudo-answer); each
allocated query asks about another line of that group. Final labels: a labelled line keeps its
answer; any other line takes its group's label — the confidence-weighted majority of the group's
own answers when it has any, else the propagated one (cluster-wise majority, or sklearn
`LabelSpreading` over a k-NN graph of the groups), 1 when its probability is ≥ 0.5.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.semi_supervised import LabelSpreading

from benchmark.labelling.base import Labeller

log = logging.getLogger(__name__)

PROPAGATIONS = ("cluster", "spreading")


@dataclass(frozen=True)
class AlphaSettings:
    """Knobs of the pipeline (all recorded in the budget summary)."""

    embedding: str = "template"
    """"template" (the pipeline's template vectors) or "tfidf" (TF-IDF over the line texts)."""
    propagation: str = "spreading"
    """"cluster" (cluster-wise majority) or "spreading" (sklearn LabelSpreading, k-NN kernel)."""
    rounds: int = 2
    """1 = cluster representatives only; 2 = plus one uncertainty round (the paper's two stages)."""
    stage1_fraction: float = 0.5
    """Share of the budget spent on cluster representatives when rounds > 1."""
    n_neighbors: int = 7
    spreading_alpha: float = 0.2
    kmeans_n_init: int = 3
    tfidf_components: int = 64
    """TF-IDF vectors are reduced to this many SVD components when the vocabulary is larger."""
    smooth: bool = False
    """True: a labelled line also takes its group's majority (denoises a noisy labeller but loses
    minorities inside a group); False: labelled lines keep their own answers (the oracle at
    budget 1.0 then reproduces the ground truth exactly)."""

    def __post_init__(self) -> None:
        if self.embedding not in ("template", "tfidf"):
            raise ValueError(f"embedding must be 'template' or 'tfidf', got {self.embedding!r}")
        if self.propagation not in PROPAGATIONS:
            raise ValueError(f"propagation must be one of {PROPAGATIONS}, got "
                             f"{self.propagation!r}")
        if self.rounds < 1 or not 0.0 < self.stage1_fraction <= 1.0:
            raise ValueError("rounds must be ≥ 1 and stage1_fraction in (0, 1]")


@dataclass
class Propagated:
    """Result of `propagate_labels`: labels (N,) int8, queried (N,) bool, info (JSON-able)."""

    labels: np.ndarray
    queried: np.ndarray
    info: dict = field(default_factory=dict)


def propagate_labels(features: np.ndarray, group_of: np.ndarray, texts: Sequence[str],
                     ids: np.ndarray, labeller: Labeller, n_queries: int, seed: int,
                     settings: AlphaSettings | None = None) -> Propagated:
    """Spend `n_queries` labeller calls on N instances and label all of them.

    features: (G, d) float group features; group_of: (N,) int group of each instance (every group
    has at least one instance); texts: (N,) what the labeller reads; ids: (N,) what it gets as ids.
    n_queries ≥ N labels every instance directly (no propagation).
    """
    settings = settings if settings is not None else AlphaSettings()
    n, g = len(group_of), features.shape[0]
    if n == 0:
        raise ValueError("no instances to label")
    weights = np.bincount(group_of, minlength=g)
    if weights.min() == 0:
        raise ValueError("every group needs at least one instance")
    state = _State(group_of, texts, ids, labeller, np.random.default_rng(seed))
    if n_queries >= n:
        state.ask(np.arange(n))
        labels = state.answers
        if settings.smooth:
            labels = (state.pos / state.votes >= 0.5)[group_of]
        return Propagated(labels.astype(np.int8), state.queried.copy(),
                          {"groups": g, "clusters": None, "round_queries": [n]})

    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    first = n_queries if settings.rounds == 1 else math.ceil(settings.stage1_fraction * n_queries)
    clusters, reps = _representatives(x, weights, min(first, g), seed, settings)
    state.ask(state.next_members(reps))
    rounds = [int(state.queried.sum())]
    for r in range(1, settings.rounds):
        left = n_queries - int(state.queried.sum())
        if left <= 0:
            break
        share = left // (settings.rounds - r)
        p = _group_probability(x, clusters, state, settings)
        picks = _allocate(p, weights, state, share)
        state.ask(state.next_members(picks))
        rounds.append(len(picks))
    p = _group_probability(x, clusters, state, settings)
    own = state.queried & (not settings.smooth)
    labels = np.where(own, state.answers, (p[group_of] >= 0.5)).astype(np.int8)
    return Propagated(labels, state.queried.copy(),
                      {"groups": g, "clusters": int(clusters.max()) + 1, "round_queries": rounds})


class _State:
    """Answers so far, per instance and as confidence-weighted votes per group."""

    def __init__(self, group_of: np.ndarray, texts: Sequence[str], ids: np.ndarray,
                 labeller: Labeller, rng: np.random.Generator) -> None:
        self.group_of, self.texts, self.ids, self.labeller = group_of, texts, ids, labeller
        g = int(group_of.max()) + 1
        order = rng.permutation(len(group_of))
        self.members = order[np.argsort(group_of[order], kind="stable")]  # grouped, random within
        self.offset = np.concatenate([[0], np.cumsum(np.bincount(group_of, minlength=g))])
        self.asked = np.zeros(g, dtype=np.int64)
        self.answers = np.zeros(len(group_of), dtype=np.int8)
        self.queried = np.zeros(len(group_of), dtype=bool)
        self.pos = np.zeros(g)
        self.votes = np.zeros(g)

    def next_members(self, groups: Sequence[int] | np.ndarray) -> np.ndarray:
        """One not-yet-asked instance of each listed group (a group may be listed repeatedly)."""
        out = []
        for grp in groups:
            out.append(self.members[self.offset[grp] + self.asked[grp]])
            self.asked[grp] += 1
        return np.asarray(out, dtype=np.int64)

    def ask(self, idx: np.ndarray) -> None:
        """Label instances `idx` (from `next_members`, or all of them) in one labeller call."""
        if len(idx) == 0:
            return
        got = self.labeller.label([self.texts[i] for i in idx], self.ids[idx])
        self.answers[idx] = got.labels
        self.queried[idx] = True
        conf = np.maximum(got.confidences, 1e-6)  # a zero-confidence answer still counts a little
        np.add.at(self.pos, self.group_of[idx], conf * got.labels)
        np.add.at(self.votes, self.group_of[idx], conf)


def _representatives(x: np.ndarray, weights: np.ndarray, k: int, seed: int,
                     settings: AlphaSettings) -> tuple[np.ndarray, np.ndarray]:
    """(G,) cluster of each group and the representative group of every non-empty cluster."""
    g = len(x)
    if k >= g:
        return np.arange(g), np.arange(g)
    km = KMeans(n_clusters=k, random_state=seed, n_init=settings.kmeans_n_init)
    clusters = km.fit_predict(x, sample_weight=weights.astype(np.float64))
    dist = np.linalg.norm(x - km.cluster_centers_[clusters], axis=1)
    reps = [int(np.flatnonzero(clusters == c)[np.argmin(dist[clusters == c])])
            for c in np.unique(clusters)]
    _, clusters = np.unique(clusters, return_inverse=True)
    return clusters, np.asarray(reps, dtype=np.int64)


def _group_probability(x: np.ndarray, clusters: np.ndarray, state: _State,
                       settings: AlphaSettings) -> np.ndarray:
    """(G,) probability that a group is anomalous: own votes where asked, else propagated."""
    asked = state.votes > 0
    own = np.divide(state.pos, state.votes, out=np.zeros_like(state.pos), where=asked)
    if settings.propagation == "cluster":
        c = clusters.max() + 1
        pos = np.bincount(clusters, weights=state.pos, minlength=c)
        votes = np.bincount(clusters, weights=state.votes, minlength=c)
        prior = state.pos.sum() / max(state.votes.sum(), 1e-12)
        spread = np.where(votes > 0, pos / np.maximum(votes, 1e-12), prior)[clusters]
    else:
        spread = _spread(x, np.where(asked, (own >= 0.5).astype(np.int64), -1), settings)
    return np.where(asked, own, spread)


def _spread(x: np.ndarray, y: np.ndarray, settings: AlphaSettings) -> np.ndarray:
    """(G,) P(class 1) from LabelSpreading; y (G,) in {-1 (unlabelled), 0, 1}."""
    classes = np.unique(y[y >= 0])
    if len(classes) == 1 or len(x) < 3:
        return np.full(len(x), float(classes[-1]) if len(classes) == 1 else
                       float(y[y >= 0].mean()))
    model = LabelSpreading(kernel="knn", n_neighbors=min(settings.n_neighbors, len(x) - 1),
                           alpha=settings.spreading_alpha, max_iter=100)
    with np.errstate(invalid="ignore", divide="ignore"):
        model.fit(x, y)
    dist = np.nan_to_num(model.label_distributions_, nan=0.5)
    return dist[:, list(model.classes_).index(1)]


def _allocate(p: np.ndarray, weights: np.ndarray, state: _State, budget: int) -> list[int]:
    """Greedy: `budget` groups (repeats allowed) with the most expected mislabelled lines.

    Expected mislabelled lines of a group = (lines not yet asked) × (min(a, b) + 1) / (a + b + 2)
    with a = positive votes + p, b = negative votes + (1 - p): the group's answers so far plus its
    propagated probability p as one pseudo-answer, Laplace-smoothed. Each allocation is assumed to
    agree with the majority (the denominator grows by one).
    """
    a = state.pos + p
    b = (state.votes - state.pos) + (1 - p)
    minority = np.minimum(a, b) + 1

    def priority(grp: int, extra: int) -> float:
        left = weights[grp] - state.asked[grp] - extra
        return -(left * minority[grp] / (a[grp] + b[grp] + 2 + extra)) if left > 0 else 0.0

    heap = [(priority(grp, 0), grp, 0) for grp in range(len(p)) if weights[grp] > state.asked[grp]]
    heapq.heapify(heap)
    picks: list[int] = []
    while heap and len(picks) < budget:
        _, grp, extra = heapq.heappop(heap)
        picks.append(grp)
        if weights[grp] - state.asked[grp] - extra - 1 > 0:
            heapq.heappush(heap, (priority(grp, extra + 1), grp, extra + 1))
    return picks
