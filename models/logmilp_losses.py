"""The LogMILP training objective (paper Eq. 3–4 and Algorithm 1), as pure tensor functions.

Every function takes batch tensors and returns a scalar (or index) tensor; none touches a model.
A term averaged over an empty subset of the batch (no positive / no negative bag) is 0.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean focal loss −(1 − p_t)^γ · log p_t of a 2-way softmax (Lin et al. 2017, no α weight).

    logits: (B, 2); labels: (B,) in {0, 1} (any dtype).
    """
    log_p = F.log_softmax(logits.float(), dim=-1)
    log_pt = log_p.gather(1, labels.long().view(-1, 1)).squeeze(1)
    return (-(1.0 - log_pt.exp()).pow(gamma) * log_pt).mean()


def prototype_loss(
    max_similarity: torch.Tensor,
    assignment_entropy: torch.Tensor,
    labels: torch.Tensor,
    margin_positive: float,
    margin_entropy: float,
    entropy_weight: float,
) -> torch.Tensor:
    """L_proto = mean_pos max(0, Δ_p − M_bag) + w_ent · mean_neg max(0, Δ_e − E_bag).

    max_similarity (M_bag), assignment_entropy (E_bag, normalised), labels: (B,).
    """
    positive = labels > 0.5
    pos_term = _masked_mean(F.relu(margin_positive - max_similarity), positive)
    neg_term = _masked_mean(F.relu(margin_entropy - assignment_entropy), ~positive)
    return pos_term + entropy_weight * neg_term


def attention_entropy(attention: torch.Tensor, eps: float) -> torch.Tensor:
    """(B, K) entropy −Σ_t A log(A + ε) of each head's attention; padding (A = 0) adds 0."""
    return -(attention * torch.log(attention + eps)).sum(dim=-1)


def attention_entropy_loss(attention: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """L_attn = mean over bags and heads of the attention entropy ÷ log W_b.

    attention: (B, K, W) rows summing to 1 over real instances; mask: (B, W) bool.
    W_b is the bag's real length; a bag with W_b = 1 contributes 0 (its entropy is 0 and
    log 1 = 0).
    """
    log_w = torch.log(mask.sum(dim=1).to(attention.dtype))  # (B,)
    entropy = attention_entropy(attention, eps)  # (B, K)
    normalised = torch.where(
        log_w[:, None] > 0, entropy / log_w.clamp_min(1e-12)[:, None], torch.zeros_like(entropy)
    )
    return normalised.mean()


def key_instances(attention: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1 lines 9–10: k* = argmin_k entropy(A[b, k]), i* = argmax_t A[b, k*, t].

    attention: (B, K, W). Returns (k*, i*), each (B,) int64. Ties go to the lowest index.
    """
    head = attention_entropy(attention.detach(), eps).argmin(dim=1)
    rows = torch.arange(attention.shape[0], device=attention.device)
    instance = attention.detach()[rows, head].argmax(dim=1)
    return head, instance


def mean_head_key_instances(attention: torch.Tensor) -> torch.Tensor:
    """Study option `key_head="mean"`: i* = argmax_t of the head-averaged attention (B,) int64
    (detached; ties go to the lowest index)."""
    return attention.detach().mean(dim=1).argmax(dim=1)


def consistency_loss(
    p_orig: torch.Tensor, p_pert: torch.Tensor, labels: torch.Tensor, margin: float
) -> torch.Tensor:
    """Eq. (3): L_con = mean over positive bags of max(0, Δ_c − (P_orig − P_pert)).

    p_orig, p_pert: (B,) probability of "anomalous" before / after zeroing the key instance.
    """
    return _masked_mean(F.relu(margin - (p_orig - p_pert)), labels > 0.5)


def _masked_mean(values: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Mean of `values[select]`, 0 (keeping the graph) when nothing is selected."""
    count = select.sum()
    return (values * select).sum() / count.clamp_min(1)
