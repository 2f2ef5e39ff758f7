"""Episodic (meta-)training shared by ProtoNet and MAML (not a registered model).

An episode is a 2-way (normal / anomalous bag) K-shot task drawn from ONE source dataset:
`shots` support and `queries` query bags per class, without replacement when the class has
enough bags (with replacement otherwise), from a numpy Generator seeded with the run seed. A
source dataset whose training split lacks one class gives no episode. Trained on one dataset
(`fit`), episodes are drawn within it.

`MetaBagModel` trains with the shared trainer (benchmark.trainer.train_network: AdamW,
gradient clipping, early stopping, end-of-epoch checkpoints and bit-identical resume) with the
episodes as its step source (no bag batches are drawn): each step's loss is the mean
`episode_loss` of `tasks_per_step` episodes from an `EpisodeSampler` (its Generator state is
checkpointed with the run), for `steps_per_epoch` steps per epoch. Early stopping is on the mean
over source datasets of the validation F1 at the best threshold (`domain_score`; datasets whose
validation split lacks a class are skipped). Every source dataset gets one fixed validation
support set (`shots` bags per class of its training split, drawn once per run) that models which
adapt before scoring (MAML) use in `domain_score`.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.configs import positive
from benchmark.data.bagset import BagSet, concat_bagsets
from benchmark.threshold import best_f1_threshold
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings, make_batch, train_network


@dataclass(frozen=True)
class EpisodeSettings(TrainSettings):
    """Encoder widths (hidden_dim h, attention_dim), episode shape (shots and queries per
    class), outer steps per epoch (steps_per_epoch), tasks per outer step; batch_size = bags
    per forward pass when scoring."""

    hidden_dim: int = positive(64)
    attention_dim: int = positive(32)
    shots: int = positive(5)
    queries: int = positive(5)
    steps_per_epoch: int | None = positive(40)
    tasks_per_step: int = positive(1)
    epochs: int = positive(20)


@dataclass(frozen=True)
class Episode:
    """One task: the dataset's bags and the support / query bag indices into them."""

    bags: BagSet
    support: np.ndarray
    query: np.ndarray


def class_indices(bags: BagSet) -> tuple[np.ndarray, np.ndarray]:
    """(normal, anomalous) bag indices of `bags`."""
    return np.flatnonzero(bags.labels == 0), np.flatnonzero(bags.labels == 1)


def draw_per_class(bags: BagSet, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` bags of each class present (fewer than asked: with replacement), normal
    ones first, each class in drawn order."""
    picked = []
    for pool in class_indices(bags):
        if len(pool):
            picked.append(rng.choice(pool, per_class, replace=len(pool) < per_class))
    return np.concatenate(picked).astype(np.int64) if picked else np.zeros(0, np.int64)


def sample_episode(domains: list[BagSet], shots: int, queries: int,
                   rng: np.random.Generator) -> Episode:
    """A 2-way episode from one of `domains` (uniformly chosen; each holds both classes)."""
    bags = domains[int(rng.integers(len(domains)))]
    support, query = [], []
    for pool in class_indices(bags):
        drawn = rng.choice(pool, shots + queries, replace=len(pool) < shots + queries)
        support.append(drawn[:shots])
        query.append(drawn[shots:])
    return Episode(bags, np.concatenate(support), np.concatenate(query))


class EpisodeSampler:
    """Draws episodes from `domains` with its own seeded Generator; its state is checkpointed
    (`get_state` / `set_state`, the trainer's Stateful) so a resumed run draws the same ones."""

    def __init__(self, domains: list[BagSet], shots: int, queries: int, seed: int) -> None:
        self.domains, self.shots, self.queries = domains, shots, queries
        self.rng = np.random.default_rng(seed)

    def draw(self) -> Episode:
        return sample_episode(self.domains, self.shots, self.queries, self.rng)

    def get_state(self) -> dict[str, str]:
        return {"bit_generator": json.dumps(self.rng.bit_generator.state)}

    def set_state(self, state: dict[str, str]) -> None:
        self.rng.bit_generator.state = json.loads(state["bit_generator"])


class MetaBagModel(TrainedBagModel):
    """Base of the episodically trained bag classifiers (trains_on "all", drop_mode "delete")."""

    trains_on = "all"
    drop_mode = "delete"
    config: EpisodeSettings

    @abstractmethod
    def episode_loss(self, episode: Episode) -> torch.Tensor:
        """Scalar meta-training loss of one episode (net in train mode)."""

    def after_epoch(self, trains: list[BagSet]) -> None:
        """Set scoring state from the source training bags before validation (default: none)."""

    def domain_score(self, train: BagSet, val: BagSet, support: np.ndarray) -> float:
        """Validation score of one source dataset (default: F1 at the best threshold of the
        unadapted model); `support`: its fixed validation support (indices into `train`)."""
        return best_f1_threshold(self.bag_probabilities(val), val.labels).f1

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        raise NotImplementedError(f"{self.name}: trained episodically, not by batches")

    def scoring_batch_size(self) -> int:
        return self.config.batch_size

    def fit(self, train: BagSet, val: BagSet) -> MetaBagModel:
        """Episodic training within one dataset, then `settle` on that dataset's fixed
        validation support, so the scored model is the one early stopping validated."""
        self.fit_sources([train], [val])
        self.settle(train.subset(self.supports_[0]))
        return self

    def settle(self, support: BagSet) -> None:
        """Make the fitted model the one its validation scored, given the dataset's fixed
        support bags (default: nothing; MAML adapts on them)."""

    def fit_sources(self, trains: list[BagSet], vals: list[BagSet]) -> MetaBagModel:
        """Episodic training on source datasets (see the module docstring). Returns self."""
        cfg, seed = self.config, self.context.seed
        episodic = [t for t in trains if all(len(c) for c in class_indices(t))]
        if not episodic:
            raise ValueError(f"{self.name}: no training dataset holds both normal and anomalous "
                             "bags; episodes need both classes")
        torch.manual_seed(seed)
        self.net_ = self.build_network(trains[0], vals[0]).to(self.context.device)
        support_rng = np.random.default_rng([seed, 1])
        supports = [draw_per_class(t, cfg.shots, support_rng) for t in trains]
        self.supports_ = supports
        sampler = EpisodeSampler(episodic, cfg.shots, cfg.queries, seed)

        def tasks() -> Iterator[Any]:  # drawn one at a time, as the loss asks for them
            return (sampler.draw() for _ in range(cfg.tasks_per_step))

        def meta_loss(episodes: Iterator[Any]) -> torch.Tensor:
            return torch.stack([self.episode_loss(episode) for episode in episodes]).mean()

        def validate() -> float:
            self.after_epoch(trains)
            return self._validation_score(trains, vals, supports)

        self.history_ = train_network(self.net_, concat_bagsets(trains), meta_loss, validate, cfg,
                                      self.context, self.name, sampler="weighted",
                                      extra_state={"episodes": sampler}, step_source=tasks)
        return self

    def _validation_score(self, trains: list[BagSet], vals: list[BagSet],
                          supports: list[np.ndarray]) -> float:
        scores = []
        for train, val, support in zip(trains, vals, supports, strict=True):
            if val.labels.min(initial=1) == 0 and val.labels.max(initial=0) == 1:
                scores.append(self.domain_score(train, val, support))
        return float(np.mean(scores)) if scores else 0.0

    def episode_batch(self, bags: BagSet, index: np.ndarray) -> BagBatch:
        """The bags `index` of `bags` as a batch on the model's device."""
        return make_batch(bags, index, self.context.device)

    def add_unknown_template(self) -> None:
        """The unknown template's input vector is zero."""
        self.net_.encoder.add_unknown_template()
