"""Prototypical Networks over bags: Snell, Swersky & Zemel, "Prototypical Networks for Few-shot
Learning", NeurIPS 2017.

The paper's method: an embedding f_φ; per class k a prototype c_k = the mean embedding of the
class's support examples; p(y = k | x) = softmax_k(−d(f_φ(x), c_k)) with d the squared Euclidean
distance; trained episodically (N-way K-shot episodes, loss = −log p of the query examples'
classes); a new task is solved by computing prototypes from its support set, without any
gradient step.

Adaptations to log bags (and to the meta-learning log paper, Sharma & Yelleti 2026):
- An example is a bag (a time window of log lines); f_φ is the attention-MIL encoder of
  models.mil_encoder over shared template vectors, so the instance scores are the attention
  weights. N = 2 ways (normal / anomalous bags); episodes are drawn from one source dataset
  each (models.episodes): `shots` support and `queries` query bags per class.
- Prototypes used for scoring are kept in the network (buffer `prototypes`, saved with it):
  after every epoch (and so for K = 0, no target labels) they are the class means over the
  source training bags (at most `prototype_bags` per class and dataset, drawn with the seed);
  `adapt(support)` replaces them by the class means of the target's support bags (a class
  absent from the support keeps its source prototype). adapt's fine-tune steps / lr are unused;
  with `adapt_steps` > 0 (not in the paper) the encoder is first trained that many steps on the
  prototypical loss of the support against its own prototypes.
- Bag probability = softmax(−d²)[anomalous], computed in float64 (distances saturate float32).
- Early stopping on the mean source validation F1 (best threshold) with the source prototypes.
- No SMOTE: episodes are class-balanced by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.configs import non_negative, positive
from benchmark.data.bagset import BagSet
from benchmark.registry import register_model
from benchmark.trainer import BagBatch, Optimiser
from models.episodes import Episode, EpisodeSettings, MetaBagModel, class_indices
from models.mil_encoder import MILEncoder


@dataclass(frozen=True)
class ProtoNetConfig(EpisodeSettings):
    """Episode settings plus prototype_bags: source bags per class and dataset averaged into
    the scoring prototypes; adapt_steps / adapt_lr: AdamW steps of the prototypical loss on the
    support set itself at adaptation (0 = the paper's rule: prototypes only)."""

    prototype_bags: int = positive(256)
    adapt_steps: int = non_negative(0)
    adapt_lr: float = positive(1e-3)


class ProtoNetNet(nn.Module):
    """The encoder and the two scoring prototypes (normal, anomalous), (2, h)."""

    def __init__(self, encoder: MILEncoder, hidden_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("prototypes", torch.zeros(2, hidden_dim))

    def probabilities(self, embedding: torch.Tensor) -> torch.Tensor:
        """(B,) p(anomalous) = softmax(−||e − c_k||²)[1], float64."""
        d = squared_distances(embedding.double(), self.prototypes.double())
        return torch.softmax(-d, dim=1)[:, 1]


def squared_distances(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(B, K) squared Euclidean distances of x (B, h) to centres (K, h)."""
    return (x[:, None, :] - centres[None, :, :]).pow(2).sum(dim=-1)


@register_model("protonet")
class ProtoNet(MetaBagModel):
    """Prototypical Networks (Snell et al. 2017) over attention-MIL bag embeddings."""

    config_class = ProtoNetConfig
    quick_overrides: dict[str, Any] = {"epochs": 6, "patience": 3, "steps_per_epoch": 20,
                                       "hidden_dim": 32, "prototype_bags": 64}
    paper_row = "ProtoNet"
    config: ProtoNetConfig

    def build_network(self, train: BagSet, val: BagSet) -> ProtoNetNet:
        cfg = self.config
        encoder = MILEncoder(self.context.templates, cfg.hidden_dim, cfg.attention_dim)
        return ProtoNetNet(encoder, encoder.output_dim)

    def episode_loss(self, episode: Episode) -> torch.Tensor:
        """Cross-entropy of the query bags under the support prototypes."""
        support = self.episode_batch(episode.bags, episode.support)
        query = self.episode_batch(episode.bags, episode.query)
        centres = self._class_means(support)
        logits = -squared_distances(self.net_.encoder(query.ids, query.mask)[0], centres)
        return F.cross_entropy(logits, query.labels.long())

    def after_epoch(self, trains: list[BagSet]) -> None:
        """Scoring prototypes = class means over (a seeded sample of) the source training bags."""
        rng = np.random.default_rng(self.context.seed)
        sums = torch.zeros_like(self.net_.prototypes)
        counts = torch.zeros(2, device=sums.device)
        with torch.no_grad():
            for bags in trains:
                for k, pool in enumerate(class_indices(bags)):
                    if len(pool) > self.config.prototype_bags:
                        pool = np.sort(rng.choice(pool, self.config.prototype_bags, replace=False))
                    for start in range(0, len(pool), self.config.batch_size):
                        batch = self.episode_batch(bags, pool[start:start + self.config.batch_size])
                        sums[k] += self.net_.encoder(batch.ids, batch.mask)[0].sum(dim=0)
                        counts[k] += len(batch.index)
        self.net_.prototypes.copy_(sums / counts.clamp(min=1)[:, None])

    def adapt(self, support: BagSet, steps: int, lr: float) -> ProtoNet:
        """Prototypes from the support bags (the paper's few-shot rule); steps and lr unused."""
        self._check_fitted()
        if len(support) == 0:
            return self
        batch = self.episode_batch(support, np.arange(len(support)))
        if self.config.adapt_steps and len(torch.unique(batch.labels)) == 2:
            self._fine_tune_on(batch)
        with torch.no_grad():
            embedding = self.net_.encoder(batch.ids, batch.mask)[0]
            for k in (0, 1):
                rows = batch.labels == k
                if bool(rows.any()):
                    self.net_.prototypes[k] = embedding[rows].mean(dim=0)
        return self

    def _fine_tune_on(self, batch: BagBatch) -> None:
        """`adapt_steps` steps of the prototypical loss with the support as its own query."""
        cfg = self.config
        torch.manual_seed(self.context.seed)
        optimiser = Optimiser(self.net_, cfg.adapt_lr, cfg.weight_decay, cfg.grad_clip,
                              self.context.device)
        self.net_.train()
        for _ in range(cfg.adapt_steps):
            centres = self._class_means(batch)
            logits = -squared_distances(self.net_.encoder(batch.ids, batch.mask)[0], centres)
            optimiser.step(F.cross_entropy(logits, batch.labels.long()))
        self.net_.eval()

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """p(anomalous) under the scoring prototypes; instance scores = attention weights."""
        embedding, attention = self.net_.encoder(batch.ids, batch.mask)
        return self.net_.probabilities(embedding), attention

    def _class_means(self, batch: BagBatch) -> torch.Tensor:
        """(2, h) mean support embedding per class (the episode holds both)."""
        embedding = self.net_.encoder(batch.ids, batch.mask)[0]
        labels = batch.labels.long()
        return torch.stack([embedding[labels == k].mean(dim=0) for k in (0, 1)])
