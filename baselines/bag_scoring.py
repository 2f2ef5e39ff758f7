"""Batched scoring shared by the bag-supervised baselines (LogFormer, MIDLog).

Turns a per-batch forward pass into `BagScores` over a whole BagSet: eval mode, no_grad,
deletion of `drop` lines, mapping scores back to original positions, and the empty-bag rule
(a bag with no instance left scores probability 0 and -inf everywhere).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from benchmark.data.bagset import BagSet, reinsert_dropped
from benchmark.length_batching import iter_length_batches
from benchmark.model_api import BagScores
from benchmark.trainer import BagBatch, iter_batches, make_batch

BatchForward = Callable[[BagBatch], tuple[torch.Tensor, torch.Tensor]]
"""batch -> (probabilities (n,) in [0, 1], instance scores (n, w)); w = batch.mask width."""


def score_bags(
    net: nn.Module,
    forward: BatchForward,
    bags: BagSet,
    drop: np.ndarray | None,
    batch_size: int,
    device: torch.device,
    length_ordered: bool = False,
) -> BagScores:
    """Score every bag of `bags` in consecutive batches with `net` in eval mode.

    drop: optional (B,) instance index deleted from each bag before scoring (-1 = none).
    Returns probabilities (B,) float64 and instance scores (B, bags.max_length) float32 with
    -inf at padding and at the deleted position. length_ordered: visit bags in length order
    (each batch cut to near its own bags' lengths; outputs still in the BagSet's order) -- for
    networks whose per-bag outputs do not depend on the batch's padding.
    """
    if drop is not None:
        drop = np.asarray(drop, dtype=np.int64)
        if drop.shape != (len(bags),):
            raise ValueError(f"drop has shape {drop.shape}, expected ({len(bags)},)")
    width = bags.max_length
    probabilities = np.zeros(len(bags), dtype=np.float64)
    instance_scores = np.full((len(bags), width), -np.inf, dtype=np.float32)
    net.eval()
    with torch.no_grad():
        batches = (iter_length_batches(bags, batch_size) if length_ordered
                   else iter_batches(bags, batch_size))
        for index in batches:
            batch = make_batch(bags, index, device, drop=None if drop is None else drop[index])
            prob, inst = forward(batch)
            mask = batch.mask.cpu().numpy()
            empty = ~mask.any(axis=1)
            prob = prob.float().cpu().numpy().astype(np.float64)
            prob[empty] = 0.0
            inst = np.where(mask, inst.float().cpu().numpy(), -np.inf).astype(np.float32)
            probabilities[index] = np.clip(prob, 0.0, 1.0)
            instance_scores[index, : inst.shape[1]] = inst[:, :width]
    return BagScores(probabilities, reinsert_dropped(instance_scores, drop))
