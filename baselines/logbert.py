"""LogBERT baseline: masked log-key prediction with a Transformer encoder and a hypersphere.

Paper: H. Guo, S. Yuan, X. Wu, "LogBERT: Log Anomaly Detection via BERT", IJCNN 2021
(arXiv:2103.04475). Defaults from the paper and its public code (BGL options): hidden 256,
4 layers, 4 heads, mask ratio 0.5, top g = 15 candidates, Adam lr 1e-3 without weight decay,
batch 32, up to 200 epochs with early stopping after 10.

Faithful: template ids as log keys; a [DIST] token prepended to every sequence; a BERT-style
pre-LayerNorm Transformer encoder with sinusoidal positions; masked log-key prediction (MLKP:
each key replaced by [MASK] with probability 0.5, cross-entropy on the masked keys) plus the
volume-of-hypersphere loss (VHM: squared distance of the [DIST] output to a centre, weight 0.1);
trained on normal data only; a masked key is anomalous when its true key is not among the top
g = 15 predictions.

Adapted to bags (weak supervision):
- "Normal data" = training bags with bag label 0; epoch selection on validation F1, never test.
- One bag = one sequence, whatever its length: positions are sinusoidal (no maximum length),
  so nothing is truncated (the public code's `seq_len`/`max_len` cap, logbert issue #24).
- Centre = mean [DIST] output over the normal training bags (unmasked, eval mode), computed
  before training and again after every epoch, i.e. at the start of the next one (the public
  code also averages over its validation split, which here holds anomalous bags).
- Scoring masks every position exactly once over R = ceil(1 / mask_ratio) rounds; the round of
  position i is fixed by the seed and i alone (seeded permutations of blocks of positions), so
  scores are reproducible and identical bags score identically. Bag p = fraction of the bag's
  keys outside the top-g when masked (the paper flags a sequence when that count exceeds a
  threshold; the fraction keeps p in [0, 1], thresholded on validation). Keys never seen in
  normal training bags are always outside and enter the input as one shared UNK token.
- Instance scores (the LogMILP paper's Table II "offline attention adaptation"): attention from
  [DIST] to each line in the last layer, mean over heads, on the unmasked bag
  (`instance_score = "attention"`, default); or the masked-prediction surprise −log p(true key)
  (`"surprise"`).
- `drop` deletes the line from the sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.next_key import outside_top_g, seen_templates
from benchmark.configs import fraction, non_negative, positive, ratio
from benchmark.data.bagset import BagSet
from benchmark.layers import append_buffer_rows, sinusoidal_positions
from benchmark.length_batching import iter_length_batches, run_length_chunked
from benchmark.registry import register_model
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings, iter_batches, make_batch

PAD, MASK, DIST, UNK = 0, 1, 2, 3
N_SPECIAL = 4
ROUND_BLOCK = 512
"""Positions are assigned to masking rounds by a seeded permutation of each block this long."""
DIST_ROWS_MIN = 32
"""`LogBERTNet.dist_output` runs the last layer on the [DIST] rows alone from this many bags
on, where a matrix product over those rows gives each row the bits it gets inside the whole
batch's product (measured on CPU, MKL, torch 2.13, one thread: equal from 16 rows on at the
default config and from 11 at the quick one, not below), so the centre is bitwise the one of
the full forward pass; smaller batches run the whole last layer."""


@dataclass(frozen=True)
class LogBERTConfig(TrainSettings):
    """LogBERT (paper / public-code BGL defaults).

    hidden: model width; layers / heads: encoder depth and attention heads (feed-forward 4 x
    hidden); mask_ratio: MLKP masking probability; vhm_weight: weight of the hypersphere loss;
    top_g: candidates for the "normal key" test; instance_score: "attention" | "surprise";
    length_chunk: in training, encode each batch in length-sorted sub-chunks of this many bags,
    each cut to its longest bag (0 = the whole batch at its longest bag; ≈ 1.85x faster steps;
    not bitwise equal to the unchunked step: gradient sums and dropout masks change, see
    benchmark.length_batching); length_order: score, validate and compute the centre over bags
    in length order (≈ 2x faster scoring; some bags' outputs differ in the last bit from batch
    order). Both are execution choices (issue 24): the numbers change by float rounding only.
    """

    hidden: int = positive(256)
    layers: int = positive(4)
    heads: int = positive(4)
    dropout: float = fraction(0.1)
    mask_ratio: float = ratio(0.5)
    vhm_weight: float = non_negative(0.1)
    top_g: int = positive(15)
    instance_score: Literal["attention", "surprise"] = "attention"
    epochs: int = positive(200)
    patience: int = positive(10)
    batch_size: int = positive(32)
    weight_decay: float = non_negative(0.0)
    length_chunk: int = non_negative(8)
    length_order: bool = True


def key_tokens(seen: np.ndarray) -> torch.Tensor:
    """(T,) int64 input token of each template: N_SPECIAL + t, or UNK if unseen in training."""
    table = torch.arange(len(seen)) + N_SPECIAL
    table[torch.from_numpy(~seen)] = UNK
    return table


class EncoderLayer(nn.Module):
    """Pre-LN Transformer layer (as BERT-pytorch, LogBERT's code base) returning its attention."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(4 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (n, L, dim), real (n, L) bool -> (n, L, dim) and attention (n, heads, L, L)."""
        mixed, attention = self.attend(x, real)
        return self.finish(x, mixed), attention

    def attend(self, x: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention of x (n, L, dim): the attended values of every position (n, L, dim),
        before the output projection, and the attention (n, heads, L, L)."""
        n, length, dim = x.shape
        q, k, v = (self.qkv(self.norm1(x)).view(n, length, 3, self.heads, dim // self.heads)
                   .permute(2, 0, 3, 1, 4))
        logits = q @ k.transpose(-1, -2) / math.sqrt(dim // self.heads)
        attention = logits.masked_fill(~real[:, None, None, :], -torch.inf).softmax(dim=-1)
        return (self.drop(attention) @ v).transpose(1, 2).reshape(n, length, dim), attention

    def finish(self, x: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
        """The residual output projection and feed-forward of positions x (..., dim) given
        their attended values `mixed` (same shape); each position is computed on its own."""
        x = x + self.drop(self.proj(mixed))
        return x + self.drop(self.ff(self.norm2(x)))


class LogBERTNet(nn.Module):
    """[DIST] + keys -> encoder -> per-position key logits; centre buffer for the VHM loss."""

    def __init__(self, seen: np.ndarray, config: LogBERTConfig) -> None:
        super().__init__()
        self.register_buffer("token_map", key_tokens(seen))
        self.register_buffer("center", torch.zeros(config.hidden))
        self.embed = nn.Embedding(N_SPECIAL + len(seen), config.hidden, padding_idx=PAD)
        self.embed_drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(EncoderLayer(config.hidden, config.heads, config.dropout)
                                    for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.hidden)
        self.key_head = nn.Linear(config.hidden, len(seen))
        self.length_chunk = config.length_chunk

    def add_unknown_template(self) -> None:
        """One more template, entering as the UNK token."""
        append_buffer_rows(self, "token_map", self.token_map.new_full((1,), UNK))

    def tokens(self, batch: BagBatch) -> torch.Tensor:
        """(n, W) int64 input tokens: template keys (unseen -> UNK), PAD at padding."""
        return torch.where(batch.mask, self.token_map[batch.ids], PAD)

    def forward(
        self, tokens: torch.Tensor, real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens, real (n, W) -> hidden (n, 1 + W, hidden) with [DIST] first, last attention
        (n, heads, 1 + W, 1 + W). In training with length_chunk > 0, rows are encoded in
        length-sorted sub-chunks (zeros past a sub-chunk's width)."""
        if self.training and 0 < self.length_chunk < len(tokens):
            hidden, attention = run_length_chunked(self._encode, (tokens, real), real,
                                                   self.length_chunk, ((1,), (2, 3)), offset=1)
            return hidden, attention
        return self._encode(tokens, real)

    def dist_output(self, tokens: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """tokens, real (n, W) -> (n, hidden) the final [DIST] output, = forward(...)[0][:, 0]:
        the last layer's projection, feed-forward and the final norm run for the [DIST] row
        only (what the centre needs; ≈ 1.18x faster at the default config). Below
        DIST_ROWS_MIN bags the whole last layer runs (see there)."""
        if len(tokens) < DIST_ROWS_MIN:
            return self._encode(tokens, real)[0][:, 0]
        x, real = self._embedded(tokens, real)
        for layer in self.layers[:-1]:
            x, _ = layer(x, real)
        last = self.layers[-1]
        mixed, _ = last.attend(x, real)
        return self.norm(last.finish(x[:, 0], mixed[:, 0]))

    def _embedded(
        self, tokens: torch.Tensor, real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[DIST] prepended: input vectors (n, 1 + W, hidden) and real (n, 1 + W)."""
        width = tokens.shape[1]
        tokens = torch.cat([torch.full_like(tokens[:, :1], DIST), tokens], dim=1)
        real = torch.cat([torch.ones_like(real[:, :1]), real], dim=1)
        x = self.embed(tokens) + sinusoidal_positions(width + 1, self.center.shape[0],
                                                      tokens.device)
        return self.embed_drop(x), real

    def _encode(
        self, tokens: torch.Tensor, real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, real = self._embedded(tokens, real)
        attention = None
        for layer in self.layers:
            x, attention = layer(x, real)
        return self.norm(x), attention


def masking_rounds(width: int, rounds: int, seed: int) -> np.ndarray:
    """(width,) int64 round in which each position is masked at scoring; depends on seed and
    position only (never on the batch), balanced within every block of ROUND_BLOCK positions."""
    blocks = [np.random.default_rng([seed, b]).permutation(ROUND_BLOCK) % rounds
              for b in range(-(-width // ROUND_BLOCK))]
    return np.concatenate(blocks)[:width] if blocks else np.zeros(0, dtype=np.int64)


@register_model("logbert")
class LogBERT(TrainedBagModel):
    """LogBERT (Guo et al., 2021): masked key prediction + hypersphere, trained on normal bags."""

    config_class = LogBERTConfig
    quick_overrides = {"hidden": 64, "layers": 2, "heads": 2, "epochs": 3, "patience": 2}
    trains_on = "normal"
    drop_mode = "delete"
    paper_row = "LogBERT"
    config: LogBERTConfig

    def check_config(self) -> None:
        if not 0.0 < self.config.mask_ratio <= 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1], got {self.config.mask_ratio}")
        if self.config.instance_score not in ("attention", "surprise"):
            raise ValueError(f"instance_score must be 'attention' or 'surprise', "
                             f"got {self.config.instance_score!r}")

    def build_network(self, train: BagSet, val: BagSet) -> LogBERTNet:
        """The encoder over the normal training bags' templates, its centre already set."""
        seen = seen_templates(train, self.context.templates.size)
        self.seen_ = torch.from_numpy(seen).to(self.context.device)
        net = LogBERTNet(seen, self.config).to(self.context.device)
        self.mask_generator_ = torch.Generator().manual_seed(self.context.seed)
        self._update_center(net, train)
        return net

    def fitted_state(self) -> dict[str, torch.Tensor]:
        """The templates seen in the normal training bags (the centre is a buffer of net_)."""
        return {"seen": self.seen_.cpu()}

    def restore_fitted_state(self, state: dict[str, torch.Tensor]) -> None:
        self.seen_ = state["seen"].to(torch.bool).to(self.context.device)
        self.mask_generator_ = torch.Generator().manual_seed(self.context.seed)

    def network_from_state(self) -> LogBERTNet:
        return LogBERTNet(self.seen_.cpu().numpy(), self.config)

    def add_unknown_template(self) -> None:
        """The unknown template enters as UNK and is always outside the top-g (never seen)."""
        self.seen_ = torch.cat([self.seen_, self.seen_.new_zeros(1)])
        self.net_.add_unknown_template()

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        """MLKP cross-entropy on randomly masked keys + vhm_weight x squared [DIST] distance."""
        draw = torch.rand(batch.mask.shape, generator=self.mask_generator_)
        masked = (draw < self.config.mask_ratio).to(batch.mask.device) & batch.mask
        tokens = self.net_.tokens(batch)
        hidden, _ = self.net_(torch.where(masked, MASK, tokens), batch.mask)
        vhm = ((hidden[:, 0] - self.net_.center) ** 2).sum(dim=1).mean()
        if not masked.any():
            return self.config.vhm_weight * vhm
        mlkp = F.cross_entropy(self.net_.key_head(hidden[:, 1:][masked]), batch.ids[masked])
        return mlkp + self.config.vhm_weight * vhm

    def validate(self, train: BagSet, val: BagSet) -> float:
        """Validation F1; then the centre for the next epoch (saved with these weights)."""
        f1 = super().validate(train, val)
        self._update_center(self.net_, train)
        return f1

    @property
    def length_ordered_scoring(self) -> bool:  # type: ignore[override]
        return self.config.length_order

    def training_state(self) -> dict[str, torch.Generator]:
        """The masking RNG draws each epoch's masks: a resumed run continues its stream."""
        return {"mask_rng": self.mask_generator_}

    def batch_probabilities(self, batch: BagBatch) -> torch.Tensor:
        return self._masked_predictions(batch)[0]

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """p = fraction of keys outside the top-g when masked; instance scores per config."""
        p, surprise = self._masked_predictions(batch)
        if self.config.instance_score == "surprise":
            return p, surprise
        _, attention = self.net_(self.net_.tokens(batch), batch.mask)
        return p, attention[:, :, 0, 1:].mean(dim=1)

    def _masked_predictions(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Every position masked once over the rounds: p (n,) = fraction outside the top-g,
        surprise (n, W) = −log p(true key), -inf at padding."""
        mask = batch.mask
        tokens = self.net_.tokens(batch)
        rounds = math.ceil(1.0 / self.config.mask_ratio)
        round_of = torch.from_numpy(masking_rounds(mask.shape[1], rounds, self.context.seed))
        round_of = round_of.to(mask.device)
        outside = torch.zeros(mask.shape, dtype=torch.bool, device=mask.device)
        surprise = torch.full(mask.shape, -torch.inf, device=mask.device)
        for r in range(rounds):
            masked = mask & (round_of == r)[None, :]
            if not masked.any():
                continue
            hidden, _ = self.net_(torch.where(masked, MASK, tokens), mask)
            out, surp = outside_top_g(self.net_.key_head(hidden[:, 1:][masked]),
                                      batch.ids[masked], self.seen_, self.config.top_g)
            outside[masked], surprise[masked] = out, surp
        return outside.sum(dim=1) / mask.sum(dim=1).clamp(min=1), surprise

    def _update_center(self, net: LogBERTNet, normal: BagSet) -> None:
        """centre = mean [DIST] output over the (unmasked) normal training bags, eval mode.

        With length_order the bags are encoded in length order; the sum always runs over
        blocks in BagSet order."""
        was_training = net.training
        net.eval()
        total = torch.zeros_like(net.center)
        with torch.no_grad():
            if not self.config.length_order:
                for index in iter_batches(normal, self.config.batch_size):
                    batch = make_batch(normal, index, self.context.device)
                    total += net.dist_output(net.tokens(batch), batch.mask).float().sum(dim=0)
            else:
                dist = torch.zeros(len(normal), total.shape[0], device=total.device)
                for index in iter_length_batches(normal, self.config.batch_size):
                    batch = make_batch(normal, index, self.context.device)
                    rows = torch.from_numpy(index).to(dist.device)
                    dist[rows] = net.dist_output(net.tokens(batch), batch.mask).float()
                for index in iter_batches(normal, self.config.batch_size):  # BagSet order
                    total += dist[index[0] : index[-1] + 1].sum(dim=0)
        net.center.copy_(total / len(normal))
        net.train(was_training)
