"""`keywords`: a rule labeller — a line is anomalous when it holds a word of an error vocabulary."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from benchmark.labelling.base import Labeller, register_labeller

DEFAULT_WORDS: tuple[str, ...] = (
    "error", "errors", "fail", "failed", "failure", "failures", "fatal", "exception",
    "exceptions", "panic", "critical", "crash", "crashed", "abort", "aborted", "timeout",
    "timed out", "refused", "denied", "corrupt", "corrupted", "segfault", "segmentation fault",
    "unreachable", "lost", "could not", "cannot", "unable", "killed", "severe",
)
"""Matched case-insensitively as whole words (phrases as whole word sequences)."""


@register_labeller("keywords")
class KeywordLabeller(Labeller):
    """1 when a text holds any of `words` (default DEFAULT_WORDS, plus `extra_words`).

    Confidence: `hit_confidence` for a match, `miss_confidence` otherwise. Ignores ids.
    """

    def __init__(self, words: Sequence[str] | None = None, extra_words: Sequence[str] = (),
                 hit_confidence: float = 0.7, miss_confidence: float = 0.6) -> None:
        super().__init__()
        self.words = tuple(words if words is not None else DEFAULT_WORDS) + tuple(extra_words)
        if not self.words:
            raise ValueError("keywords: the vocabulary is empty")
        alternatives = "|".join(sorted((re.escape(w.lower()) for w in self.words), key=len,
                                       reverse=True))
        self._pattern = re.compile(rf"(?<![a-z0-9_])(?:{alternatives})(?![a-z0-9_])")
        self.hit_confidence = hit_confidence
        self.miss_confidence = miss_confidence

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        hits = np.array([self._pattern.search(t.lower()) is not None for t in texts])
        return hits.astype(np.int8), np.where(hits, self.hit_confidence, self.miss_confidence)
