"""DeepLog baseline: an LSTM that predicts the next log key from the previous h keys.

Paper: M. Du, F. Li, G. Zheng, V. Srikumar, "DeepLog: Anomaly Detection and Diagnosis from System
Logs through Deep Learning", ACM CCS 2017.

Faithful: log keys (template ids) as the input sequence; a 2-layer LSTM with 64 hidden units
over a history of h = 10 keys; a softmax over all keys; training with cross-entropy on every
next-key prediction of normal data only; a key is anomalous when it is not among the top g = 9
predictions.

Adapted to bags (weak supervision):
- "Normal data" = training bags with bag label 0; nothing else is used for training. The epoch
  is selected by best-threshold F1 on the validation bags (never test).
- Histories never cross a bag boundary. The first line of a bag is predicted from a START token
  (the history of line i is the last h of [START, x_0, ..., x_{i-1}], left-padded), so every
  line is scored.
- Bag probability = fraction of the bag's lines outside the top-g (DeepLog flags a session on
  the first miss; the fraction keeps p in [0, 1] and rankable for ROC-AUC and the validation
  threshold). Instance score = −log p(actual key | history).
- Keys never seen in normal training bags are always "outside the top-g" and enter the input as
  one shared UNK token.
- The paper feeds one-hot keys; a learned embedding (dim 64) is the same linear map, factorised.
- `drop` deletes the line, so the following lines are predicted from histories without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.next_key import (
    N_SPECIAL,
    PAD,
    NextKeyDetector,
    NextKeySettings,
    remap_unseen,
    unknown_token_row,
)
from benchmark.configs import positive
from benchmark.layers import append_buffer_rows
from benchmark.registry import register_model


@dataclass(frozen=True)
class DeepLogConfig(NextKeySettings):
    """DeepLog (paper defaults): h = 10, g = 9, 2 LSTM layers of 64 units; embedding_dim ours."""

    hidden: int = positive(64)
    layers: int = positive(2)
    embedding_dim: int = positive(64)


class DeepLogNet(nn.Module):
    """Key embedding -> LSTM -> next-key logits. windows (N, h) int64 -> logits (N, T)."""

    def __init__(self, seen: np.ndarray, config: DeepLogConfig) -> None:
        super().__init__()
        self.register_buffer("token_map", remap_unseen(seen))
        self.embed = nn.Embedding(N_SPECIAL + len(seen), config.embedding_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(config.embedding_dim, config.hidden, config.layers, batch_first=True)
        self.out = nn.Linear(config.hidden, len(seen))

    def add_unknown_template(self) -> None:
        """One more template token, mapped to UNK."""
        append_buffer_rows(self, "token_map", unknown_token_row(self.token_map))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.embed(self.token_map[windows]))
        return self.out(states[:, -1])


@register_model("deeplog")
class DeepLog(NextKeyDetector):
    """DeepLog (Du et al., CCS 2017): LSTM next-log-key prediction trained on normal bags."""

    config_class = DeepLogConfig
    quick_overrides = {"epochs": 3, "patience": 2}
    paper_row = "DeepLog"

    def key_network(self, seen: np.ndarray) -> nn.Module:
        return DeepLogNet(seen, self.config)
