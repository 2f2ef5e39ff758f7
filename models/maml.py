"""Model-Agnostic Meta-Learning over bags: Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning
for Fast Adaptation of Deep Networks", ICML 2017.

The paper's method: meta-learn an initialisation θ such that a few gradient steps on a new
task's support set give good parameters θ' for that task. Per task, the inner loop takes
θ' = θ − α ∇_θ L_support(θ) (one or more steps); the outer loop updates θ with the gradient of
Σ_tasks L_query(θ') through the inner steps (second-order terms included). First-order MAML
(the paper's §5.2 approximation) drops the second-order terms: the inner gradients are treated
as constants.

Implementation and adaptations to log bags (and to the meta-learning log paper, Sharma &
Yelleti 2026):
- Network: the attention-MIL encoder of models.mil_encoder + a linear head → one logit per bag;
  loss = binary cross-entropy; instance scores = attention weights.
- The inner loop is functional: `torch.func.functional_call(net, θ', batch)` on the support,
  `torch.autograd.grad(L_support, θ', create_graph=not first_order)`, θ' ← θ' − α·grad, for
  `inner_steps` steps, every parameter adapted. `first_order` picks first-order MAML (grads
  detached) or full MAML (gradients through the inner steps, second order).
- Tasks = 2-way (normal / anomalous bag) episodes from one source dataset each
  (models.episodes), `tasks_per_step` tasks per outer AdamW step (lr, weight decay and gradient
  clipping from the shared trainer settings).
- Adaptation to a target (`adapt(support)`): `adapt_steps` plain SGD steps of size α = inner_lr
  on the target's support bags, written into the network (adapt's fine-tune steps / lr are
  unused: the step size α is the meta-learned one). K = 0: the meta-learned θ scores the target.
- Early stopping on the mean source validation F1 (best threshold) after adapting to each
  source's fixed validation support (drawn once from its training split), as the model is
  used; the adaptation is undone after validation. Trained within one dataset (the plain
  grid), the kept θ is then adapted on that dataset's fixed support once more and scored so,
  i.e. the model that was validated is the one tested (before issue 22's real-BGL check the
  unadapted θ was scored: seed 1 ranked BGL 100k's test bags upside down, AUC 0.05).
- No SMOTE: episodes are class-balanced by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from benchmark.configs import positive
from benchmark.data.bagset import BagSet
from benchmark.registry import register_model
from benchmark.threshold import best_f1_threshold
from benchmark.trainer import BagBatch
from models.episodes import Episode, EpisodeSettings, MetaBagModel
from models.mil_encoder import MILEncoder

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class MAMLConfig(EpisodeSettings):
    """Episode settings plus inner_lr α, inner_steps (meta-training), adapt_steps (at
    adaptation), first_order (True: first-order MAML; False: full second-order MAML) and
    tasks_per_step (tasks per outer update). The outer AdamW lr is 1e-2: at the harness's 1e-3
    the planted test task was not learned in 60 outer steps (bag probabilities stayed 0.5 ± 0.02,
    AUC 0.53), at 1e-2 it was (AUC 1.0), full and first-order alike."""

    lr: float = positive(1e-2)
    inner_lr: float = positive(0.1)
    inner_steps: int = positive(3)
    adapt_steps: int = positive(5)
    first_order: bool = False
    tasks_per_step: int = positive(4)
    steps_per_epoch: int | None = positive(20)


class MAMLNet(nn.Module):
    """Encoder + linear head: (ids, mask) → ((B,) logits, (B, W) attention)."""

    def __init__(self, encoder: MILEncoder, hidden_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden_dim, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding, attention = self.encoder(ids, mask)
        return self.head(embedding).squeeze(-1), attention


def inner_loop(net: nn.Module, params: Params, batch: BagBatch, steps: int, lr: float,
               create_graph: bool) -> Params:
    """θ' after `steps` gradient steps of size `lr` on the batch's BCE loss, from `params`.
    create_graph: keep the graph of the steps (full MAML) or treat the gradients as constants
    (first order)."""
    for _ in range(steps):
        logits, _ = functional_call(net, params, (batch.ids, batch.mask))
        loss = F.binary_cross_entropy_with_logits(logits.float(), batch.labels)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
    return params


@register_model("maml")
class MAML(MetaBagModel):
    """MAML (Finn et al. 2017; full or first-order) over an attention-MIL bag encoder."""

    config_class = MAMLConfig
    quick_overrides: dict[str, Any] = {"epochs": 6, "patience": 3, "steps_per_epoch": 10,
                                       "hidden_dim": 32}
    paper_row = "MAML"
    config: MAMLConfig

    def build_network(self, train: BagSet, val: BagSet) -> MAMLNet:
        cfg = self.config
        encoder = MILEncoder(self.context.templates, cfg.hidden_dim, cfg.attention_dim)
        return MAMLNet(encoder, encoder.output_dim)

    def episode_loss(self, episode: Episode) -> torch.Tensor:
        """Query BCE under the parameters adapted on the support (inner loop)."""
        cfg = self.config
        support = self.episode_batch(episode.bags, episode.support)
        query = self.episode_batch(episode.bags, episode.query)
        params = dict(self.net_.named_parameters())
        adapted = inner_loop(self.net_, params, support, cfg.inner_steps, cfg.inner_lr,
                             create_graph=not cfg.first_order)
        logits, _ = functional_call(self.net_, adapted, (query.ids, query.mask))
        return F.binary_cross_entropy_with_logits(logits.float(), query.labels)

    def adapt(self, support: BagSet, steps: int, lr: float) -> MAML:
        """`adapt_steps` inner-loop steps (α = inner_lr) on the support bags, written into the
        network; steps and lr (the generic fine-tune's) are unused."""
        self._check_fitted()
        if len(support) == 0:
            return self
        batch = self.episode_batch(support, np.arange(len(support)))
        params = {name: p.detach().requires_grad_() for name, p in self.net_.named_parameters()}
        with torch.enable_grad():
            adapted = inner_loop(self.net_, params, batch, self.config.adapt_steps,
                                 self.config.inner_lr, create_graph=False)
        with torch.no_grad():
            for name, p in self.net_.named_parameters():
                p.copy_(adapted[name])
        return self

    def settle(self, support: BagSet) -> None:
        """Within one dataset (the plain grid) the model is validated after adapting on the
        dataset's fixed support; it is scored the same way (issue 22: the unadapted θ ranked real
        BGL's test bags upside down on seed 1, validation AUC 0.22, while the adapted one
        validated at F1 0.97)."""
        self.adapt(support, 0, 0.0)

    def domain_score(self, train: BagSet, val: BagSet, support: np.ndarray) -> float:
        """Validation F1 (best threshold) after adapting on the dataset's fixed support."""
        saved = {k: v.clone() for k, v in self.net_.state_dict().items()}
        self.adapt(train.subset(support), 0, 0.0)
        score = best_f1_threshold(self.bag_probabilities(val), val.labels).f1
        self.net_.load_state_dict(saved)
        return score

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Bag probability sigmoid(logit); instance scores = attention weights."""
        logits, attention = self.net_(batch.ids, batch.mask)
        return torch.sigmoid(logits.float()), attention
