"""Episodic (meta-)training shared by ProtoNet and MAML (not a registered model).

An episode is a 2-way (normal / anomalous bag) K-shot task drawn from ONE source dataset:
`shots` support and `queries` query bags per class, without replacement when the class has
enough bags (with replacement otherwise), from a numpy Generator seeded with the run seed. A
source dataset whose training split lacks one class gives no episode. Trained on one dataset
(`fit`), episodes are drawn within it.

`MetaBagModel` owns the loop: `torch.manual_seed(seed)`, the network, `steps_per_epoch` outer
steps per epoch (each the mean `episode_loss` of `tasks_per_step` episodes; AdamW, gradient
clipping from the shared trainer), then early stopping on the mean over source datasets of the
validation F1 at the best threshold (`domain_score`; datasets whose validation split lacks a
class are skipped), keeping the best epoch's weights. Every source dataset gets one fixed
validation support set (`shots` bags per class of its training split, drawn once per run) that
models which adapt before scoring (MAML) use in `domain_score`. Unlike the shared trainer, no
end-of-epoch checkpoint is written: an interrupted run restarts from epoch 1.
"""

from __future__ import annotations

import copy
import logging
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.configs import positive
from benchmark.data.bagset import BagSet
from benchmark.threshold import best_f1_threshold
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import (
    BagBatch,
    Optimiser,
    TrainHistory,
    TrainSettings,
    check_finite,
    make_batch,
)

log = logging.getLogger(__name__)


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
        """Episodic training within one dataset."""
        return self.fit_sources([train], [val])

    def fit_sources(self, trains: list[BagSet], vals: list[BagSet]) -> MetaBagModel:
        """Episodic training on source datasets (see the module docstring). Returns self."""
        cfg, device, seed = self.config, self.context.device, self.context.seed
        episodic = [t for t in trains if all(len(c) for c in class_indices(t))]
        if not episodic:
            raise ValueError(f"{self.name}: no training dataset holds both normal and anomalous "
                             "bags; episodes need both classes")
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.net_ = self.build_network(trains[0], vals[0]).to(device)
        supports = [draw_per_class(t, cfg.shots, rng) for t in trains]
        optimiser = Optimiser(self.net_, cfg.lr, cfg.weight_decay, cfg.grad_clip, device)
        history, best_score, best_state, waited = TrainHistory(), -np.inf, None, 0
        for epoch in tqdm(range(1, cfg.epochs + 1), desc=f"{self.name} seed {seed}",
                          unit="epoch", leave=False):
            self.net_.train()
            total = 0.0
            for step in range(cfg.steps_per_epoch):
                episodes = [sample_episode(episodic, cfg.shots, cfg.queries, rng)
                            for _ in range(cfg.tasks_per_step)]
                loss = torch.stack([self.episode_loss(e) for e in episodes]).mean()
                check_finite(loss, self.name, seed, epoch, step + 1)
                optimiser.step(loss)
                total += float(loss.detach())
            history.losses.append(total / cfg.steps_per_epoch)
            self.net_.eval()
            self.after_epoch(trains)
            score = self._validation_score(trains, vals, supports)
            history.val_scores.append(score)
            if score > best_score:
                best_score, best_state, waited = score, copy.deepcopy(self.net_.state_dict()), 0
                history.best_epoch = epoch
            else:
                waited += 1
                if waited >= cfg.patience:
                    history.stopped_early = True
                    break
        self.net_.load_state_dict(best_state)
        self.net_.eval()
        self.history_ = history
        log.info("%s seed %d: best epoch %d of %d (val %.4f)", self.name, seed,
                 history.best_epoch, len(history.losses), best_score)
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
