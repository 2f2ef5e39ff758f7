"""LogAnomaly baseline: next-log-key prediction from semantic and quantitative patterns.

Paper: W. Meng, Y. Liu, Y. Zhu, S. Zhang, D. Pei, Y. Liu, Y. Chen, R. Zhang, S. Tao, P. Sun,
R. Zhou, "LogAnomaly: Unsupervised Detection of Sequential and Quantitative Anomalies in
Unstructured Logs", IJCAI 2019.

Faithful: two LSTMs over the history window of h = 10 lines -- one over the semantic vectors of
the templates (template2vec), one over template count vectors (the quantitative pattern) --
whose last hidden states are concatenated into a softmax over all templates; trained on normal
data only; a line is anomalous when its template is not among the top g = 9 predictions.

Adapted to bags (weak supervision), beyond what DeepLog's module docstring lists
(normal bags only, histories within a bag starting from START, p = fraction of lines outside
the top-g, unseen templates always outside, `drop` deletes the line):
- template2vec = the pipeline's template vectors (`context.templates.vectors`: Word2Vec, TF-IDF
  weighted), frozen, scaled by one global factor to unit mean norm. The semantic
  input carries two extra flags (START, unknown). A template unseen in training keeps its own
  semantic vector (LogAnomaly's point: new templates are understood through their meaning).
- Quantitative pattern: step k of the count sequence is the count vector of the templates among
  the first k lines of the window (so the last step is the count vector of the whole h-window).
  Instead of materialising (N, h, T) count vectors it is multiplied by a learned linear map
  (T -> count_dim) before the LSTM -- a factorised LSTM input matrix, computed as a cumulative
  sum of embeddings. Templates unseen in training are counted in one shared UNK slot.
- Sizes: 2 LSTM layers of 128 units per branch (LogAnomaly's public reimplementations);
  count_dim = 64 is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.next_key import (
    N_SPECIAL,
    PAD,
    START,
    UNK,
    NextKeyDetector,
    NextKeySettings,
    remap_unseen,
    unknown_token_row,
)
from benchmark.configs import positive
from benchmark.layers import append_buffer_rows
from benchmark.registry import register_model


@dataclass(frozen=True)
class LogAnomalyConfig(NextKeySettings):
    """LogAnomaly: h = 10, g = 9, 2 LSTM layers of 128 units per branch; count_dim ours."""

    hidden: int = positive(128)
    layers: int = positive(2)
    count_dim: int = positive(64)


def semantic_table(vectors: np.ndarray) -> torch.Tensor:
    """(N_SPECIAL + T, d + 2) float32 rows: PAD = 0, START / UNK = flags, template t = vector."""
    t, d = vectors.shape
    scale = float(np.linalg.norm(vectors, axis=1).mean()) or 1.0
    table = torch.zeros(N_SPECIAL + t, d + 2)
    table[N_SPECIAL:, :d] = torch.from_numpy(vectors.astype(np.float32) / scale)
    table[START, d] = 1.0
    table[UNK, d + 1] = 1.0
    return table


class LogAnomalyNet(nn.Module):
    """Semantic LSTM ‖ count LSTM -> next-key logits. windows (N, h) int64 -> logits (N, T)."""

    def __init__(self, seen: np.ndarray, vectors: np.ndarray, config: LogAnomalyConfig) -> None:
        super().__init__()
        self.register_buffer("semantics", semantic_table(vectors))
        self.register_buffer("count_slot", remap_unseen(seen))
        self.count_embed = nn.Embedding(N_SPECIAL + len(seen), config.count_dim, padding_idx=PAD)
        with torch.no_grad():
            self.count_embed.weight[START].zero_()  # START is not a template: it counts nothing
        self.semantic_lstm = nn.LSTM(self.semantics.shape[1], config.hidden, config.layers,
                                     batch_first=True)
        self.count_lstm = nn.LSTM(config.count_dim, config.hidden, config.layers, batch_first=True)
        self.out = nn.Linear(2 * config.hidden, len(seen))

    def add_unknown_template(self) -> None:
        """One more template token: its semantic row is the UNK flag, it counts in the UNK
        slot."""
        append_buffer_rows(self, "semantics", self.semantics[UNK : UNK + 1].clone())
        append_buffer_rows(self, "count_slot", unknown_token_row(self.count_slot))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        semantic, _ = self.semantic_lstm(self.semantics[windows])
        slots = self.count_slot[windows]
        counted = self.count_embed(torch.where(slots == START, PAD, slots))
        quantitative, _ = self.count_lstm(counted.cumsum(dim=1))
        return self.out(torch.cat([semantic[:, -1], quantitative[:, -1]], dim=1))


@register_model("loganomaly")
class LogAnomaly(NextKeyDetector):
    """LogAnomaly (Meng et al., IJCAI 2019): semantic + count LSTMs, trained on normal bags."""

    config_class = LogAnomalyConfig
    quick_overrides = {"epochs": 3, "patience": 2, "hidden": 64}
    paper_row = "LogAnomaly"

    def key_network(self, seen: np.ndarray) -> nn.Module:
        return LogAnomalyNet(seen, self.context.templates.vectors, self.config)
