"""Next-log-key prediction inside bags: the machinery DeepLog and LogAnomaly share.

Both learn P(template of line i | the h lines before it in the same bag) on normal training bags
and call a line anomalous when its template is not among the g most likely predictions
(DeepLog's rule). Subclasses only supply the network (`key_network`).

Tokens fed to the networks: PAD = 0, START = 1 (the beginning of a bag), UNK = 2 (a template
never seen in training), template t = N_SPECIAL + t. The history of line i is the last h tokens
of [START, x_0, ..., x_{i-1}], left-padded with PAD, so every line -- including the first of a
bag, predicted from the START history alone -- is scored and nothing is dropped.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.configs import non_negative, positive
from benchmark.data.bagset import BagSet
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings

PAD, START, UNK = 0, 1, 2
N_SPECIAL = 3

MAX_SURPRISE = -math.log(np.finfo(np.float32).tiny)
"""≈ 87.3 nats: −log p of a template the model cannot predict (unseen in training); surprises
of seen templates are capped at the same value so every real instance has a finite score."""


@dataclass(frozen=True)
class NextKeySettings(TrainSettings):
    """Shared next-key settings: history = h lines, top_g = g candidates (DeepLog's h = 10, g = 9).

    Optimisation follows the papers (Adam without weight decay); epochs/patience/batch size are
    the harness defaults, counted in bags.
    """

    history: int = positive(10)
    top_g: int = positive(9)
    weight_decay: float = non_negative(0.0)


def seen_templates(bags: BagSet, n_templates: int) -> np.ndarray:
    """(T,) bool: templates occurring in `bags`."""
    seen = np.zeros(n_templates, dtype=bool)
    for b in range(len(bags)):
        seen[bags.instances(b)] = True
    return seen


def remap_unseen(seen: np.ndarray) -> torch.Tensor:
    """(N_SPECIAL + T,) int64 token map sending tokens of unseen templates to UNK."""
    table = torch.arange(N_SPECIAL + len(seen))
    table[N_SPECIAL:][torch.from_numpy(~seen)] = UNK
    return table


def unknown_token_row(token_map: torch.Tensor) -> torch.Tensor:
    """(1,) the UNK token, appended to a token map for a template unseen in training."""
    return token_map.new_full((1,), UNK)


def history_windows(batch: BagBatch, history: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Histories and targets of every real instance of the batch, in row-major order.

    Returns windows (N, h) int64 tokens (left-padded with PAD; the oldest entry of a line's
    first-h history is START) and targets (N,) int64 template ids, N = batch.mask.sum().
    """
    tokens = torch.where(batch.mask, batch.ids + N_SPECIAL, PAD)
    start = torch.full_like(tokens[:, :1], START)
    preceding = torch.cat([start, tokens[:, :-1]], dim=1)  # preceding[:, i] = token before line i
    padded = F.pad(preceding, (history - 1, 0), value=PAD)
    windows = padded.unfold(1, history, 1)  # (n, W, h): windows[:, i] = history of line i
    return windows[batch.mask], batch.ids[batch.mask]


def outside_top_g(
    logits: torch.Tensor, targets: torch.Tensor, seen: torch.Tensor, top_g: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-g test and surprise of each target under logits restricted to seen templates.

    logits: (N, T); targets: (N,) template ids; seen: (T,) bool.
    Returns outside (N,) bool -- target not among the g most likely templates (always True for
    an unseen target; a target tied with the g-th logit counts as inside) -- and surprise (N,)
    float32 = −log p(target), capped at MAX_SURPRISE. A `seen` longer than the logits (a loaded
    model that admitted an unknown template) counts the extra templates as unseen.
    """
    if logits.shape[1] < len(seen):
        logits = F.pad(logits, (0, len(seen) - logits.shape[1]), value=-torch.inf)
    logits = logits.float().masked_fill(~seen, -torch.inf)
    target_logit = logits.gather(1, targets[:, None])
    rank = (logits > target_logit).sum(dim=1)
    outside = (rank >= top_g) | ~seen[targets]
    log_p = logits.log_softmax(dim=1).gather(1, targets[:, None]).squeeze(1)
    return outside, (-log_p).clamp(max=MAX_SURPRISE)


def per_bag(values: torch.Tensor, mask: torch.Tensor, fill: float) -> torch.Tensor:
    """Scatter (N,) per-instance values back to (n, W) rows; `fill` elsewhere."""
    out = torch.full(mask.shape, fill, dtype=values.dtype, device=values.device)
    out[mask] = values
    return out


class NextKeyDetector(TrainedBagModel):
    """Base for next-template LSTM detectors trained on normal bags (not registered itself)."""

    trains_on = "normal"
    drop_mode = "delete"
    config: NextKeySettings

    def check_config(self) -> None:
        if self.config.history < 1 or self.config.top_g < 1:
            raise ValueError(f"{self.name}: history and top_g must be >= 1, got "
                             f"{self.config.history}, {self.config.top_g}")

    @abstractmethod
    def key_network(self, seen: np.ndarray) -> nn.Module:
        """The network: windows (N, h) int64 tokens -> logits (N, T) over templates."""

    def build_network(self, train: BagSet, val: BagSet) -> nn.Module:
        seen = seen_templates(train, self.context.templates.size)
        self.seen_ = torch.from_numpy(seen).to(self.context.device)
        return self.key_network(seen)

    def fitted_state(self) -> dict[str, torch.Tensor]:
        return {"seen": self.seen_.cpu()}

    def restore_fitted_state(self, state: dict[str, torch.Tensor]) -> None:
        self.seen_ = state["seen"].to(torch.bool).to(self.context.device)

    def network_from_state(self) -> nn.Module:
        return self.key_network(self.seen_.cpu().numpy())

    def add_unknown_template(self) -> None:
        """The unknown template enters as UNK and is always outside the top-g (never seen)."""
        self.seen_ = torch.cat([self.seen_, self.seen_.new_zeros(1)])
        self.net_.add_unknown_template()

    def extend_to(self, bags: BagSet) -> None:
        """Templates of the bags fine-tuned on count as seen (cross-domain adaptation): they
        may be predicted inside the top-g; as input they stay UNK (the token map is kept)."""
        seen = seen_templates(bags, len(self.seen_))
        self.seen_ = self.seen_ | torch.from_numpy(seen).to(self.seen_.device)

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        """Cross-entropy of every line's template given its history."""
        windows, targets = history_windows(batch, self.config.history)
        return F.cross_entropy(self.net_(windows), targets)

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """p = fraction of a bag's lines outside the top-g; instance score = −log p(template)."""
        n_real = batch.mask.sum(dim=1)
        if int(n_real.sum()) == 0:
            return torch.zeros(len(n_real)), torch.full(batch.mask.shape, -torch.inf)
        windows, targets = history_windows(batch, self.config.history)
        outside, surprise = outside_top_g(self.net_(windows), targets, self.seen_,
                                          self.config.top_g)
        p = per_bag(outside.float(), batch.mask, 0.0).sum(dim=1) / n_real.clamp(min=1)
        return p, per_bag(surprise, batch.mask, -torch.inf)
