"""K-shot adaptation to a new dataset: the support set and the generic fine-tune.

`draw_support(train, k, seed)`: the K-shot support of a target, K bags per class (normal,
anomalous; N = 2 ways) drawn without replacement from the target's TRAINING split with a
Generator seeded by the run seed (a class with fewer than K bags gives all of them); K = 0
gives no bag. The same (bags, K, seed) always gives the same support, and the support for K is
drawn from the same permutation as for every other K (the first K of each class's seeded order),
so a larger K adds bags to a smaller K's support.

`fine_tune(model, support, steps, lr)`: what `TrainedBagModel.adapt` does unless a model has its
own adaptation rule: `steps` AdamW steps of the model's own training loss (`batch_loss`) on the
support bags (only the normal ones for models trained on normal bags; nothing happens when none
is left), in blocks of at most `batch_size` bags cycled in order, weight decay and gradient
clipping from the model's config, seeded with the run seed, run by the shared loop
(benchmark.trainer.train_network: one epoch, the support's blocks as its step source, the last
weights kept, no checkpoint); first `model.extend_to(support)` lets state outside the network
cover the support (e.g. a vocabulary of seen templates).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from benchmark.data.bagset import BagSet

if TYPE_CHECKING:
    from benchmark.trained_model import TrainedBagModel

log = logging.getLogger(__name__)


def draw_support(train: BagSet, k: int, seed: int) -> np.ndarray:
    """(≤ 2k,) int64 indices into `train`: k normal then k anomalous bags (see the module)."""
    if k < 0:
        raise ValueError(f"shots must be ≥ 0, got {k}")
    rng = np.random.default_rng(seed)
    picked = []
    for label in (0, 1):
        pool = np.flatnonzero(train.labels == label)
        picked.append(rng.permutation(pool)[:k])
    return np.concatenate(picked).astype(np.int64)


def fine_tune(model: TrainedBagModel, support: BagSet, steps: int, lr: float) -> None:
    """Fine-tune `model.net_` in place on `support` (see the module docstring): one epoch of
    `steps` steps of the shared loop (benchmark.trainer.train_network), its step source the
    support's blocks in order, no early stopping, no checkpoint."""
    import dataclasses

    import torch

    from benchmark.trainer import make_batch, train_network

    if model.trains_on == "normal":
        support = support.subset(np.flatnonzero(support.labels == 0))
    if len(support) == 0 or steps == 0:
        log.info("%s: no support bag to fine-tune on; not adapted", model.name)
        return
    model.extend_to(support)
    config, context = model.config, model.context
    torch.manual_seed(context.seed)
    blocks = [np.arange(s, min(s + config.batch_size, len(support)))
              for s in range(0, len(support), config.batch_size)]
    cycle = iter(range(steps))

    def next_block():  # the step source: the support's blocks, cycled in order
        return make_batch(support, blocks[next(cycle) % len(blocks)], context.device)

    settings = dataclasses.replace(config, epochs=1, steps_per_epoch=steps, lr=lr,
                                   early_stopping=False, min_epochs=0)
    train_network(model.net_, support, model.batch_loss, lambda: 0.0, settings,
                  dataclasses.replace(context, checkpoint_path=None),
                  f"{model.name} fine-tune", step_source=next_block)
