"""LogFormer baseline: a cascaded Transformer (token level → log sequence level) on bag labels.

Paper: F. Hang, W. Guo, H. Chen, L. Xie, C. Zhou, Y. Liu, "Logformer: Cascaded Transformer for
System Log Anomaly Detection", CMES 136(1):517–529, 2023 (doi 10.32604/cmes.2023.025774).
Not the AAAI 2024 pre-train/adapter "LogFormer" of Guo et al. No public code was reachable, and
only the paper's abstract was: the model is rebuilt from it.

Faithful (as the abstract states): two cascaded Transformer encoders — the first turns the words
of each log (template) into a log embedding and is pre-trained on the logs themselves ("pre-trained
embeddings based on logs"); the second reads the sequence of log embeddings and classifies it.

Reconstructed (our choices, the paper's details not being available here):
- Stage 1 pre-training = masked-token prediction (BERT-style, every chosen token replaced by
  [MASK], ratio `mlm_mask_ratio`, at least one per template) over the distinct templates that occur
  in training bags, for `mlm_epochs` epochs. Tokens come from `benchmark.data.tokens
  .tokenize_template`; the vocabulary is built from the training templates only, with [PAD],
  [UNK] (unseen tokens), [MASK] and [CLS]. Each template is encoded as [CLS] + its tokens.
- Log embedding = mean of the stage-1 outputs over [CLS] and the template's tokens
  (`pooling="mean"`, default; the [CLS] output with `pooling="cls"`). Including [CLS] in the mean
  keeps a template that has no token left (e.g. only `<*>`) well defined.
- Stage 1 is frozen after pre-training (the cheaper option): the (T, dim) log embeddings of the
  whole template table are computed once, standardised feature-wise with the mean and standard
  deviation over the training templates (without this, templates that share most words get
  near-identical embeddings, cosine ≈ 0.97, and stage 2 learns slowly), and stored; stage 2
  learns a linear projection of them.
- Resume after a kill: stage 1 is not checkpointed; a resumed run recomputes it (seeded, so the
  same on the same device; it costs `mlm_epochs` passes over the distinct training templates,
  small next to stage 2), and the stage-2 checkpoint carries the frozen embeddings as the
  `log_embeddings` buffer, which is what the resumed classifier uses.
- Stage 2 = [CLS] + projected log embeddings + sinusoidal positions (no length limit, so no bag is
  ever truncated) → post-LN Transformer encoder → linear head on the [CLS] output → sigmoid.
- Sizes (dim 128, 4 heads, 2 + 2 layers, feed-forward 256, dropout 0.1) are our choice.

Adapted to bags: the "sequence" is a bag (a window of log lines), trained with BCE on bag labels,
class-balanced sampling, early stopping on validation F1. Instance scores are the
LogMILP paper's Table II adaptation: attention from [CLS] to each instance in the last stage-2
layer, mean over heads. `drop` deletes the line from the sequence before re-scoring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.configs import bounded, fraction, non_negative, positive
from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.data.tokens import tokenize_template
from benchmark.layers import append_buffer_rows, sinusoidal_positions
from benchmark.length_batching import run_length_chunked
from benchmark.model_api import ModelContext
from benchmark.registry import register_model
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings, train_network

log = logging.getLogger(__name__)

PAD, UNK, MASK, CLS = 0, 1, 2, 3
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[MASK]", "[CLS]")
UNKNOWN_WORD = "<unknown>"
"""Never a token (tokens are lower-case alphanumerics): encodes as [UNK]."""


@dataclass(frozen=True)
class LogFormerConfig(TrainSettings):
    """LogFormer hyperparameters (all sizes our choice: the paper's were not available).

    dim: model width of both encoders; heads: attention heads; token_layers / sequence_layers:
    encoder depth of stage 1 / stage 2; ff_dim: feed-forward width; pooling: "mean" or "cls"
    log embedding; mlm_*: stage-1 masked-token pre-training (epochs over the training templates,
    masking ratio, learning rate, batch size in templates).
    """

    dim: int = positive(128)
    heads: int = positive(4)
    token_layers: int = positive(2)
    sequence_layers: int = positive(2)
    ff_dim: int = positive(256)
    dropout: float = fraction(0.1)
    pooling: Literal["mean", "cls"] = "mean"
    mlm_epochs: int = non_negative(30)
    mlm_mask_ratio: float = bounded(0.15, min=0, max=1)
    mlm_lr: float = positive(1e-3)
    mlm_batch_size: int = positive(64)
    length_chunk: int = non_negative(8)


class AttentionBlock(nn.Module):
    """Post-LN Transformer encoder layer that can also return its head-averaged attention."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, padding: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (n, S, dim), padding (n, S) bool True = ignore → (n, S, dim), weights (n, S, S)."""
        h, weights = self.attn(x, x, x, key_padding_mask=padding, need_weights=need_weights,
                               average_attn_weights=True)
        x = self.norm1(x + self.dropout(h))
        x = self.norm2(x + self.dropout(self.ff(x)))
        return x, weights


class Encoder(nn.Module):
    """A stack of AttentionBlocks; returns the output and the last layer's attention."""

    def __init__(self, dim: int, heads: int, ff_dim: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            AttentionBlock(dim, heads, ff_dim, dropout) for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (n, S, dim), padding (n, S) bool → (n, S, dim), last attention (n, S, S)."""
        weights = None
        for i, block in enumerate(self.blocks):
            x, weights = block(x, padding, need_weights=i == len(self.blocks) - 1)
        return x, weights


class TokenVocabulary:
    """Token → id map built from training templates; ids 0–3 are [PAD] [UNK] [MASK] [CLS]."""

    def __init__(self, token_lists: list[list[str]]) -> None:
        words = sorted({t for tokens in token_lists for t in tokens})
        self.tokens = SPECIAL_TOKENS + tuple(words)
        self._index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, token_lists: list[list[str]]) -> torch.Tensor:
        """(n, 1 + longest) int64 rows [CLS] t1 … tk [PAD]…; unseen tokens → [UNK]."""
        width = 1 + max((len(t) for t in token_lists), default=0)
        out = torch.full((len(token_lists), width), PAD, dtype=torch.int64)
        for row, tokens in enumerate(token_lists):
            out[row, 0] = CLS
            out[row, 1 : 1 + len(tokens)] = torch.tensor(
                [self._index.get(t, UNK) for t in tokens], dtype=torch.int64
            )
        return out


class TokenEncoder(nn.Module):
    """Stage 1: token-level Transformer over [CLS] + template tokens, with an MLM head."""

    def __init__(self, vocab_size: int, config: LogFormerConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.dim, padding_idx=PAD)
        self.encoder = Encoder(config.dim, config.heads, config.ff_dim, config.token_layers,
                               config.dropout)
        self.mlm_head = nn.Linear(config.dim, vocab_size)
        self.pooling = config.pooling

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (n, S) int64 → hidden states (n, S, dim)."""
        x = self.embed(tokens) + sinusoidal_positions(tokens.shape[1], self.embed.embedding_dim,
                                                      tokens.device)
        return self.encoder(x, tokens == PAD)[0]

    def log_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (n, S) → (n, dim) log embeddings (mean over non-pad positions, or [CLS])."""
        hidden = self(tokens)
        if self.pooling == "cls":
            return hidden[:, 0]
        keep = (tokens != PAD).unsqueeze(-1).float()
        return (hidden * keep).sum(1) / keep.sum(1)


def mask_tokens(
    tokens: torch.Tensor, ratio: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace a random `ratio` of real tokens (at least one per row that has any) by [MASK].

    tokens (n, S) int64 → (masked tokens (n, S), target (n, S) bool = positions to predict).
    """
    real = tokens > CLS
    draw = torch.rand(tokens.shape, generator=generator)
    target = real & (draw < ratio)
    # guarantee one target per row: the real token with the smallest draw
    forced = torch.where(real, draw, torch.full_like(draw, 2.0)).argmin(dim=1)
    rows = real.any(dim=1)
    target[rows.nonzero().squeeze(1), forced[rows]] = True
    return tokens.masked_fill(target, MASK), target


def masked_token_loss(
    encoder: TokenEncoder, tokens: torch.Tensor, ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """Mean cross-entropy of predicting the masked tokens of `tokens` (n, S)."""
    masked, target = mask_tokens(tokens, ratio, generator)
    logits = encoder.mlm_head(encoder(masked.to(tokens.device)))
    return F.cross_entropy(logits[target], tokens[target])


def pretrain_token_encoder(
    encoder: TokenEncoder, tokens: torch.Tensor, config: LogFormerConfig, seed: int,
    name: str = "token encoder",
) -> list[float]:
    """Masked-token pre-training of stage 1 on training templates `tokens` (n, S), in place.

    Every epoch visits the rows in a seeded order, in batches of `mlm_batch_size`; AdamW steps
    (`mlm_lr`, the config's weight decay and gradient clip, mixed precision on CUDA) of the
    shared loop (benchmark.trainer.train_network, the token batches as its step source, no
    validation, the last weights kept); a NaN/inf loss raises TrainingDiverged naming `name`.
    Rows without any real token are skipped. Returns the mean step loss of each epoch.
    """
    tokens = tokens[(tokens > CLS).any(dim=1)]
    if len(tokens) == 0 or config.mlm_epochs == 0:
        return []
    generator = torch.Generator().manual_seed(seed)  # the epoch orders, then the masks
    size = config.mlm_batch_size
    steps = -(-len(tokens) // size)
    drawn = {"step": 0, "order": torch.empty(0, dtype=torch.int64)}

    def next_batch() -> torch.Tensor:  # the step source: a seeded order per epoch
        step = drawn["step"] % steps
        if step == 0:
            drawn["order"] = torch.randperm(len(tokens), generator=generator)
        drawn["step"] += 1
        return tokens[drawn["order"][step * size : (step + 1) * size]]

    settings = TrainSettings(epochs=config.mlm_epochs, batch_size=size, lr=config.mlm_lr,
                             weight_decay=config.weight_decay, grad_clip=config.grad_clip,
                             steps_per_epoch=steps, early_stopping=False)
    context = ModelContext(templates=TemplateTable((), np.zeros((0, 1), np.float32)),
                           seed=seed, device=tokens.device)  # the loop reads seed and device
    history = train_network(
        encoder, None, lambda batch: masked_token_loss(encoder, batch, config.mlm_mask_ratio,
                                                       generator),
        lambda: 0.0, settings, context, name, step_source=next_batch)
    return history.losses


class SequenceClassifier(nn.Module):
    """Stage 2: [CLS] + frozen log embeddings → Transformer → bag logit and [CLS] attention."""

    def __init__(self, log_embeddings: torch.Tensor, config: LogFormerConfig) -> None:
        super().__init__()
        self.register_buffer("log_embeddings", log_embeddings)
        self.project = nn.Linear(log_embeddings.shape[1], config.dim)
        self.cls = nn.Parameter(torch.randn(1, 1, config.dim) * 0.02)
        self.encoder = Encoder(config.dim, config.heads, config.ff_dim, config.sequence_layers,
                               config.dropout)
        self.head = nn.Linear(config.dim, 1)
        self.length_chunk = config.length_chunk

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, mask (n, W) → logits (n,), [CLS]→instance attention (n, W), head mean. In
        training with length_chunk > 0, rows run in length-sorted sub-chunks (attention 0 past
        a sub-chunk's width)."""
        if self.training and 0 < self.length_chunk < len(ids):
            logits, weights = run_length_chunked(self._forward, (ids, mask), mask,
                                                 self.length_chunk, ((), (1,)))
            return logits, weights
        return self._forward(ids, mask)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.project(self.log_embeddings[ids])
        x = torch.cat([self.cls.expand(len(ids), -1, -1), x], dim=1)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
        padding = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)
        hidden, weights = self.encoder(x, padding)
        return self.head(hidden[:, 0]).squeeze(-1), weights[:, 0, 1:]


@register_model("logformer")
class LogFormer(TrainedBagModel):
    """LogFormer (Hang et al., CMES 2023): cascaded token/sequence Transformers, bag-supervised."""

    config_class = LogFormerConfig
    quick_overrides = {"epochs": 3, "patience": 2, "mlm_epochs": 3, "dim": 32, "ff_dim": 64}
    trains_on = "all"
    drop_mode = "delete"
    paper_row = "LogFormer"
    length_ordered_scoring = True
    config: LogFormerConfig

    def check_config(self) -> None:
        cfg = self.config
        if cfg.pooling not in ("mean", "cls"):
            raise ValueError(f"{self.name}: pooling must be 'mean' or 'cls', got {cfg.pooling!r}")
        if cfg.dim % cfg.heads:
            raise ValueError(f"{self.name}: dim {cfg.dim} is not divisible by heads {cfg.heads}")

    def build_network(self, train: BagSet, val: BagSet) -> SequenceClassifier:
        """Stage 1 pre-trained on the training templates and frozen; stage 2 untrained."""
        cfg, ctx = self.config, self.context
        train_ids = np.unique(np.concatenate([train.instances(b) for b in range(len(train))]))
        all_tokens = template_tokens(ctx.templates)
        self.vocabulary_ = TokenVocabulary([all_tokens[t] for t in train_ids])
        self.token_encoder_ = TokenEncoder(len(self.vocabulary_), cfg).to(ctx.device)
        self.mlm_losses_ = pretrain_token_encoder(
            self.token_encoder_,
            self.vocabulary_.encode([all_tokens[t] for t in train_ids]).to(ctx.device),
            cfg, ctx.seed, name=f"{self.name} stage 1",
        )
        log.info("%s: vocabulary %d tokens from %d training templates; MLM loss %s", self.name,
                 len(self.vocabulary_), len(train_ids),
                 f"{self.mlm_losses_[0]:.3f} → {self.mlm_losses_[-1]:.3f}"
                 if self.mlm_losses_ else "n/a")
        embeddings = torch.cat([self._frozen_log_embeddings(all_tokens),
                                self._frozen_log_embeddings([[UNKNOWN_WORD]])])
        embeddings = standardise(embeddings, torch.as_tensor(train_ids, device=ctx.device))
        self.unknown_embedding_ = embeddings[-1].clone()
        return SequenceClassifier(embeddings[:-1], cfg)

    def fitted_state(self) -> dict[str, torch.Tensor]:
        """The standardised log embedding of [CLS] [UNK] (the stage-1 embeddings of the known
        templates are the net's `log_embeddings` buffer)."""
        return {"unknown_embedding": self.unknown_embedding_.cpu()}

    def restore_fitted_state(self, state: dict[str, torch.Tensor]) -> None:
        self.unknown_embedding_ = state["unknown_embedding"].to(self.context.device)

    def network_from_state(self) -> SequenceClassifier:
        return SequenceClassifier(torch.zeros(self.context.templates.size, self.config.dim),
                                  self.config)

    def add_unknown_template(self) -> None:
        """The unknown template is a log of one unknown word: stage 1's [CLS] [UNK] embedding."""
        append_buffer_rows(self.net_, "log_embeddings", self.unknown_embedding_[None, :])

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        """BCE of the bag logits against the bag labels."""
        logits, _ = self.net_(batch.ids, batch.mask)
        return F.binary_cross_entropy_with_logits(logits, batch.labels)

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """sigmoid(bag logit) and the [CLS] attention of the last layer (mean over heads)."""
        logits, attention = self.net_(batch.ids, batch.mask)
        return torch.sigmoid(logits), attention

    def _frozen_log_embeddings(self, all_tokens: list[list[str]]) -> torch.Tensor:
        """(T, dim) stage-1 log embeddings of every template, computed once, no gradient."""
        tokens = self.vocabulary_.encode(all_tokens).to(self.context.device)
        self.token_encoder_.eval()
        with torch.no_grad():
            return torch.cat([
                self.token_encoder_.log_embeddings(tokens[i : i + 256])
                for i in range(0, len(tokens), 256)
            ])


def standardise(embeddings: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(T, dim) embeddings centred and scaled feature-wise by the rows `reference` (a feature
    constant over them keeps scale 1)."""
    rows = embeddings[reference]
    std = rows.std(0, unbiased=False)
    return (embeddings - rows.mean(0)) / torch.where(std > 1e-6, std, torch.ones_like(std))


def template_tokens(templates: TemplateTable) -> list[list[str]]:
    """Tokens of every template text (the embedder's tokenizer, `<*>` dropped)."""
    return [tokenize_template(text) for text in templates.texts]
