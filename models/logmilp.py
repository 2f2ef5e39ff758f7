"""LogMILP: prototype-guided multi-head attention MIL with key-instance perturbation consistency.

Implements §III and Algorithm 1 of Wong, Wu, Yeung, Lin, "Seeing the Needle in the Haystack" (2026):
linear projection d → d_h and a 2-layer Transformer encoder (§III-C); N learnable prototypes,
similarities s_ij = 1 / (1 + ||ẑ_i − p̂_j||₂), candidate bias b_i = 1 − max_j s_ij and bag
statistics F_p = (M_bag, E_bag, V_bag) (§III-D); K-head attention pooling and a classifier on
[Z_cat; F_p]; the loss of Eq. (4) = focal loss + λ_p L_proto + λ_a L_attn + λ_c L_con with the
perturbation-consistency term of Eq. (3) (§III-E); localisation by the attention head of minimum
entropy (§III-F). Defaults are the paper's where it gives them.

Decisions beyond the paper:
- Attention pooling is Ilse et al.'s gated attention, one (V_k, U_k, w_k) per head k:
  logit_ki = w_kᵀ(tanh(V_k z_i) ⊙ sigmoid(U_k z_i)) + β_k b_i, masked softmax over the bag's
  real instances. Attention width d_a = 64; β_k is learnable and starts at 1; prototypes start
  as standard-normal vectors.
- Z_cat concatenates the K pooled vectors Σ_i A_ki z_i of the (un-normalised) encoder outputs.
- Transformer encoder: PyTorch post-LN layers, 4 heads, feed-forward width 2·d_h = 256, ReLU,
  dropout 0.1, key-padding mask; no positional encoding (the paper names none; a bag is a set).
  The width is not in the paper; 256 rather than 4·d_h cuts CPU time per step by about 15 %.
- A batch is encoded in length-sorted groups of 16 bags, each cut to its longest bag (the
  key-padding mask makes this equal to one padded call up to float rounding; it saves the
  quadratic attention cost of padding when bag lengths are skewed).
- E_bag: per real instance a softmax over its N similarities s_ij (temperature 1 by default,
  `assignment_temperature`), averaged over the bag's real instances, entropy ÷ log N.
  Note: s_ij ∈ [1/3, 1], so at temperature 1 this softmax is close to uniform and E_bag stays
  near 1 (≥ 0.9999 on the tests' planted task); the negative-bag hinge max(0, Δ_e − E_bag)
  with Δ_e = 0.5 is then inactive. Kept as specified; `assignment_temperature` can sharpen it.
- F_p statistics (max, entropy, mean) and all softmaxes ignore padding.
- Classifier: Linear(K·d_h + 3 → d_h) → ReLU → Dropout → Linear(d_h → 2); P = softmax[:, 1].
- Focal loss without an α class weight (the WeightedRandomSampler balances classes), γ = 2.
- L_attn divides each head's entropy by log W_b with W_b the bag's real length; bags of one
  instance contribute 0. ε = 1e-8 inside the log.
- The key instance is chosen on the current (training-mode) forward pass with gradients
  detached from the choice; the perturbed bag zeroes that instance's *input* template vector and
  keeps the padding mask, so the instance stays in the bag as a zero vector. P_pert comes from a
  second training-mode forward pass (its own dropout mask); gradients flow through both passes.
  That pass runs on the batch's positive bags only (L_con ignores negative bags), halving its cost
  under the class-balanced sampler without changing the loss.
- The total loss of Eq. (4) is back-propagated (Algorithm 1 line 16's "∇L_cls" read as a typo).
- A term averaged over an empty subset of the mini-batch (no positive / negative bag) is 0.
- `score(drop=)` removes an instance the same way (zeroed input vector, mask unchanged) and
  reports -inf as its instance score; a one-line bag whose line is dropped is scored as a bag
  of one zero vector, so its probability is the model's, not a fixed 0.
- Instance scores = attention weights of the minimum-entropy head, computed per bag.
- Early stopping on validation F1 at the best validation threshold (shared trainer);
  weight decay 0.01 (AdamW default), gradient-norm clip 1.0 (shared trainer settings).
- Learned weights are created in `fit` after `torch.manual_seed(context.seed)`, so the same seed
  on the same device gives the same scores.
- Every record carries per-epoch diagnostics (`history.diagnostics`, issue 26): the epoch mean
  of each term of Eq. (4) and of E_bag, and Loc@3 / key hit / SR on a fixed sample of
  training bags with an anomalous line (their line labels serve this record only).

Study options (issue 26, `docs/logmilp_study.md`; the defaults are the behaviour above and are
left out of records and config hashes): `removal` "zero" (today) / "delete" (mask the instance
out; a bag left empty scores P = 0) / "mean" (its input vector replaced by the mean input
vector of the bag's other instances; a one-line bag falls back to zero), used both by the
perturbation of L_con and by `score(drop=)`; `key_head` "min_entropy" (paper) / "mean" (the
head-averaged attention picks the key and gives the instance scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from benchmark.configs import at_least, fraction, non_negative, option, positive
from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.layers import append_buffer_rows
from benchmark.length_batching import run_length_chunked
from benchmark.registry import register_model
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings
from models.logmilp_losses import (
    attention_entropy,
    attention_entropy_loss,
    consistency_loss,
    focal_loss,
    key_instances,
    mean_head_key_instances,
    prototype_loss,
)

ENCODER_CHUNK = 16
"""Bags per Transformer call: a batch is encoded in length-sorted groups of this many bags."""


@dataclass(frozen=True)
class LogMILPConfig(TrainSettings):
    """LogMILP hyperparameters; optimisation fields come from TrainSettings
    (epochs 30, patience 5, batch 64, AdamW lr 1e-3).

    hidden_dim d_h; encoder_heads / encoder_layers / feedforward_dim of the Transformer;
    pooling_heads K; attention_dim d_a of each gated-attention head; prototypes N;
    lambda_proto/attn/con = λ_p, λ_a, λ_c; margin_proto Δ_p; margin_entropy Δ_e;
    entropy_weight w_ent; margin_con Δ_c; focal_gamma γ; eps ε of the entropy logs;
    assignment_temperature divides s_ij before the prototype-assignment softmax of E_bag;
    eval_batch_size: bags per forward pass when scoring; removal, key_head: study options
    (module docstring).
    """

    hidden_dim: int = positive(128)
    encoder_layers: int = positive(2)
    encoder_heads: int = positive(4)
    feedforward_dim: int = positive(256)
    pooling_heads: int = positive(4)
    attention_dim: int = positive(64)
    prototypes: int = at_least(16, 2)  # E_bag divides by log N
    dropout: float = fraction(0.1)
    lambda_proto: float = non_negative(0.1)
    lambda_attn: float = non_negative(0.01)
    lambda_con: float = non_negative(1.0)
    margin_proto: float = non_negative(0.5)
    margin_entropy: float = non_negative(0.5)
    entropy_weight: float = non_negative(1.0)
    margin_con: float = non_negative(0.2)
    focal_gamma: float = non_negative(2.0)
    eps: float = positive(1e-8)
    assignment_temperature: float = positive(1.0)
    eval_batch_size: int = positive(256)
    removal: Literal["zero", "delete", "mean"] = option("zero")
    key_head: Literal["min_entropy", "mean"] = option("min_entropy")


@dataclass(frozen=True)
class LogMILPNoConsistencyConfig(LogMILPConfig):
    """LogMILP without the consistency loss (Table III ablation): λ_c = 0."""

    lambda_con: float = non_negative(0.0)


class LogMILPOutput(NamedTuple):
    """One forward pass.

    logits: (B, 2); attention: (B, K, W), 0 at padding; max_similarity M_bag,
    assignment_entropy E_bag (÷ log N), mean_similarity V_bag: (B,) each.
    """

    logits: torch.Tensor
    attention: torch.Tensor
    max_similarity: torch.Tensor
    assignment_entropy: torch.Tensor
    mean_similarity: torch.Tensor

    @property
    def probability(self) -> torch.Tensor:
        """(B,) probability of "anomalous"."""
        return F.softmax(self.logits.float(), dim=-1)[:, 1]


class LogMILPNet(nn.Module):
    """The network of §III-C/D: encoder, prototypes, K-head gated attention, classifier."""

    def __init__(self, templates: TemplateTable, config: LogMILPConfig) -> None:
        super().__init__()
        h, k, a = config.hidden_dim, config.pooling_heads, config.attention_dim
        self.register_buffer("template_vectors", torch.from_numpy(templates.vectors.copy()).float(),
                             persistent=False)
        self.projection = nn.Linear(templates.dim, h)
        layer = nn.TransformerEncoderLayer(h, config.encoder_heads, config.feedforward_dim,
                                           config.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.encoder_layers,
                                             enable_nested_tensor=False)
        self.prototypes = nn.Parameter(torch.randn(config.prototypes, h))
        self.attention_v = nn.Linear(h, k * a)
        self.attention_u = nn.Linear(h, k * a)
        self.attention_w = nn.Parameter(torch.randn(k, a) / math.sqrt(a))
        self.beta = nn.Parameter(torch.ones(k))
        self.classifier = nn.Sequential(
            nn.Linear(k * h + 3, h), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, 2)
        )
        self.pooling_heads, self.attention_dim = k, a
        self.temperature, self.eps = config.assignment_temperature, config.eps

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, W) template ids → (B, W, d) input template vectors X."""
        return self.template_vectors[ids]

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Z = Ψ(XW + b): (B, W, d) → (B, W, h), 0 at padding.

        Bags are encoded in groups of ENCODER_CHUNK of similar length, each group cut to its own
        longest bag, so short bags do not pay for the batch's longest one (same result: the
        key-padding mask already hides padding from every real instance).
        """
        h = self.projection(x)

        def encode_group(h_group: torch.Tensor, mask_group: torch.Tensor) -> torch.Tensor:
            return self.encoder(h_group, src_key_padding_mask=~mask_group)

        return run_length_chunked(encode_group, (h, mask), mask, ENCODER_CHUNK)[0]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> LogMILPOutput:
        """x: (B, W, d) input embeddings; mask: (B, W) bool, True = real instance (≥ 1 per bag)."""
        z = self.encode(x, mask)  # (B, W, h)

        # prototype similarities (§III-D)
        z_hat = F.normalize(z.float(), dim=-1)
        p_hat = F.normalize(self.prototypes.float(), dim=-1)
        squared = (2.0 - 2.0 * z_hat @ p_hat.T).clamp_min(1e-12)  # ||ẑ − p̂||² of unit vectors
        similarity = 1.0 / (1.0 + squared.sqrt())  # (B, W, N)
        m = similarity.max(dim=-1).values  # (B, W)
        maskf = mask.float()
        count = maskf.sum(dim=1)
        max_similarity = m.masked_fill(~mask, -math.inf).max(dim=1).values
        mean_similarity = (m * maskf).sum(dim=1) / count
        assignment = F.softmax(similarity / self.temperature, dim=-1)
        mean_assignment = (assignment * maskf[..., None]).sum(dim=1) / count[:, None]  # (B, N)
        n_protos = similarity.shape[-1]
        entropy = -(mean_assignment * torch.log(mean_assignment + self.eps)).sum(dim=-1)
        assignment_entropy = entropy / math.log(n_protos)

        # K-head gated attention with candidate bias (B, K, W)
        b, w = mask.shape
        k, a = self.pooling_heads, self.attention_dim
        gate = torch.tanh(self.attention_v(z)) * torch.sigmoid(self.attention_u(z))
        logits = torch.einsum("bwka,ka->bkw", gate.view(b, w, k, a), self.attention_w)
        logits = logits + self.beta[None, :, None] * (1.0 - m)[:, None, :]
        logits = logits.float().masked_fill(~mask[:, None, :], -math.inf)
        attention = F.softmax(logits, dim=-1)
        pooled = torch.einsum("bkw,bwh->bkh", attention.to(z.dtype), z).reshape(b, -1)

        stats = torch.stack([max_similarity, assignment_entropy, mean_similarity], dim=1)
        out = self.classifier(torch.cat([pooled, stats.to(pooled.dtype)], dim=1))
        return LogMILPOutput(out, attention, max_similarity, assignment_entropy, mean_similarity)


class LossTerms(NamedTuple):
    """The terms of Eq. (4) for one mini-batch (scalars); consistency is 0 when λ_c = 0;
    assignment_entropy: the batch mean of E_bag (a diagnostic, not a loss term)."""

    total: torch.Tensor
    classification: torch.Tensor
    prototype: torch.Tensor
    attention: torch.Tensor
    consistency: torch.Tensor
    assignment_entropy: torch.Tensor | None = None


def logmilp_objective(
    net: LogMILPNet, x: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
    config: LogMILPConfig,
) -> LossTerms:
    """Algorithm 1, lines 2–15, on input embeddings x (B, W, d), mask (B, W), labels (B,).

    The perturbed second forward pass runs only when λ_c ≠ 0, and only on the positive bags:
    L_con averages over positive bags alone, so P_pert of a negative bag would be unused.
    """
    out = net(x, mask)
    cls = focal_loss(out.logits, labels, config.focal_gamma)
    proto = prototype_loss(out.max_similarity, out.assignment_entropy, labels,
                           config.margin_proto, config.margin_entropy, config.entropy_weight)
    attn = attention_entropy_loss(out.attention, mask, config.eps)
    total = cls + config.lambda_proto * proto + config.lambda_attn * attn
    con = torch.zeros((), device=x.device)
    positive = labels > 0.5
    if config.lambda_con != 0 and bool(positive.any()):
        key = select_keys(out.attention[positive], config)
        p_pert = removed_probability(net, x[positive], mask[positive], key, config.removal)
        con = consistency_loss(out.probability[positive], p_pert, labels[positive],
                               config.margin_con)
        total = total + config.lambda_con * con
    return LossTerms(total, cls, proto, attn, con, out.assignment_entropy.detach().mean())


def select_keys(attention: torch.Tensor, config: LogMILPConfig) -> torch.Tensor:
    """(B,) key instance per bag of attention (B, K, W): Algorithm 1 (minimum-entropy head) or
    the head-averaged attention (`key_head="mean"`); detached."""
    if config.key_head == "mean":
        return mean_head_key_instances(attention)
    return key_instances(attention, config.eps)[1]


def removed_probability(net: LogMILPNet, x: torch.Tensor, mask: torch.Tensor,
                        index: torch.Tensor, removal: str) -> torch.Tensor:
    """(B,) P(anomalous) of the bags x (B, W, d), mask (B, W) with instance index[b] removed by
    the rule `removal` (index < 0: nothing removed); a bag that "delete" leaves empty gets 0."""
    x, mask, emptied = remove_instances(x, mask, index, removal)
    return _emptied_to_zero(net(x, mask).probability, emptied)


def _emptied_to_zero(probability: torch.Tensor, emptied: torch.Tensor | None) -> torch.Tensor:
    """P = 0 for the bags a deletion left empty (None: no such bag)."""
    return probability if emptied is None else probability.masked_fill(emptied, 0.0)


def remove_instances(x: torch.Tensor, mask: torch.Tensor, index: torch.Tensor, removal: str
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(x', mask', emptied) with instance index[b] of each bag removed (index < 0: none).

    "zero": x'[b, i] = 0, mask kept; "mean": x'[b, i] = mean input vector of the bag's other
    real instances (0 for a one-line bag), mask kept; "delete": mask'[b, i] = False, except in
    a bag it would leave empty, which keeps a zeroed instance and is flagged in `emptied` (B,)
    bool (its probability is 0 by contract). emptied is None for "zero" and "mean".
    """
    if removal == "zero":
        return zero_instances(x, index), mask, None
    rows = torch.nonzero(index >= 0).squeeze(1)
    hit = torch.zeros(mask.shape, dtype=torch.bool, device=mask.device)
    hit[rows, index[rows]] = True
    if removal == "mean":
        others = (mask & ~hit).to(x.dtype)
        mean = (x * others[..., None]).sum(dim=1) / others.sum(dim=1).clamp_min(1)[:, None]
        return torch.where(hit[..., None], mean[:, None, :], x), mask, None
    if removal == "delete":
        emptied = (mask & ~hit).sum(dim=1) == 0
        new_mask = mask & ~(hit & ~emptied[:, None])
        return zero_instances(x, torch.where(emptied, index, -1)), new_mask, emptied
    raise ValueError(f"unknown removal rule {removal!r}; use 'zero', 'delete' or 'mean'")


def zero_instances(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Copy of x (B, W, d) with x[b, index[b]] = 0 for every b where index[b] ≥ 0."""
    keep = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    rows = torch.nonzero(index >= 0).squeeze(1)
    keep[rows, index[rows]] = 0
    return x * keep[..., None]


@register_model("logmilp")
class LogMILP(TrainedBagModel):
    """LogMILP (paper §III): prototype-guided multi-head attention MIL, perturbation consistency."""

    config_class = LogMILPConfig
    quick_overrides: dict[str, Any] = {"epochs": 8, "patience": 3}
    trains_on = "all"
    drop_mode = "zero"  # the model removes `batch.zeroed` itself, by `config.removal`
    paper_row = "LogMILP"
    diagnostic_bags = 256
    config: LogMILPConfig
    _term_sums: dict[str, float] | None = None
    _term_steps: int = 0

    def build_network(self, train: BagSet, val: BagSet) -> LogMILPNet:
        return LogMILPNet(self.context.templates, self.config)

    def add_unknown_template(self) -> None:
        """The unknown template's input vector is zero: what removing an instance does here."""
        vectors = self.net_.template_vectors
        append_buffer_rows(self.net_, "template_vectors", vectors.new_zeros(1, vectors.shape[1]))

    def batch_loss(self, batch: BagBatch) -> torch.Tensor:
        """The total loss of Eq. (4); in training, each term is added to the epoch's sums
        (`epoch_loss_terms`)."""
        x = self.net_.embed(batch.ids)
        terms = logmilp_objective(self.net_, x, batch.mask, batch.labels, self.config)
        if self.net_.training:
            sums = self._term_sums if self._term_sums is not None else {}
            for name in ("total", "classification", "prototype", "attention", "consistency",
                         "assignment_entropy"):
                sums[name] = sums.get(name, 0.0) + float(getattr(terms, name).detach())
            self._term_sums, self._term_steps = sums, self._term_steps + 1
        return terms.total

    def epoch_loss_terms(self) -> dict[str, float]:
        """Mean per training step of each term of Eq. (4) (unweighted) and of E_bag since
        the last call; resets the sums."""
        sums, steps = self._term_sums or {}, max(self._term_steps, 1)
        self._term_sums, self._term_steps = None, 0
        return {name: value / steps for name, value in sums.items()}

    def batch_probabilities(self, batch: BagBatch) -> torch.Tensor:
        out, emptied = self._forward(batch)
        return _emptied_to_zero(out.probability, emptied)

    def batch_scores(self, batch: BagBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Bag probability and the attention of the minimum-entropy head (or the head mean,
        `key_head="mean"`)."""
        out, emptied = self._forward(batch)
        probability = _emptied_to_zero(out.probability, emptied)
        if self.config.key_head == "mean":
            return probability, out.attention.mean(dim=1)
        head = attention_entropy(out.attention, self.config.eps).argmin(dim=1)
        rows = torch.arange(len(head), device=head.device)
        return probability, out.attention[rows, head]

    def scoring_batch_size(self) -> int:
        return self.config.eval_batch_size

    def _forward(self, batch: BagBatch) -> tuple[LogMILPOutput, torch.Tensor | None]:
        """Eval pass; `batch.zeroed` (drop=) removes that instance by `config.removal`.
        Also returns the bags that removal left empty (None when none can be)."""
        x, mask, emptied = self.net_.embed(batch.ids), batch.mask, None
        if batch.zeroed is not None:
            x, mask, emptied = remove_instances(x, mask, batch.zeroed, self.config.removal)
        return self.net_(x, mask), emptied


@register_model("logmilp_nocon")
class LogMILPNoConsistency(LogMILP):
    """LogMILP without the perturbation-consistency loss (λ_c = 0; Table III ablation)."""

    config_class = LogMILPNoConsistencyConfig
    paper_row = "LogMILP w/o consistency"
