"""`replay`: answers recorded once (e.g. from a real LLM elsewhere) and read back from JSONL.

One JSON object per line: {"key": sha256 of the UTF-8 text, "label": 0|1, "confidence": float,
"text": optional, for reading}. `text_key` gives the key; `write_replay` records answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.labelling.base import Labeller, LabellingError, register_labeller


def text_key(text: str) -> str:
    """The replay key of one text: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_replay(path: Path, texts: Sequence[str], labels: Sequence[int],
                 confidences: Sequence[float]) -> None:
    """Append one JSONL record per text to `path` (created with its parent if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for text, label, conf in zip(texts, labels, confidences, strict=True):
            out.write(json.dumps({"key": text_key(text), "label": int(label),
                                  "confidence": float(conf), "text": text}) + "\n")


def load_replay(path: Path) -> dict[str, tuple[int, float]]:
    """key → (label, confidence); a malformed line is an error naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise LabellingError(f"{path}: replay file not found")
    answers: dict[str, tuple[int, float]] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = rec["key"] if "key" in rec else text_key(rec["text"])
                label, conf = int(rec["label"]), float(rec.get("confidence", 1.0))
            except (ValueError, KeyError, TypeError) as err:
                raise LabellingError(f"{path}:{number}: bad replay record ({err})") from err
            if label not in (0, 1) or not 0.0 <= conf <= 1.0:
                raise LabellingError(f"{path}:{number}: label must be 0/1 and confidence in "
                                     f"[0, 1], got {label}, {conf}")
            answers[key] = (label, conf)
    return answers


@register_labeller("replay")
class ReplayLabeller(Labeller):
    """Answers from the JSONL file `path`; a text without a recorded answer is an error."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._answers = load_replay(self.path)

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        labels = np.zeros(len(texts), np.int8)
        conf = np.zeros(len(texts))
        for i, text in enumerate(texts):
            key = text_key(text)
            if key not in self._answers:
                missing = sum(text_key(t) not in self._answers for t in texts)
                raise LabellingError(f"{self.path}: no recorded answer for {text[:80]!r} "
                                     f"(key {key[:12]}…; {missing} of {len(texts)} texts in "
                                     "this batch are missing)")
            labels[i], conf[i] = self._answers[key]
        return labels, conf


class RecordingLabeller(Labeller):
    """Wraps another labeller and appends each of its answers to the JSONL file `path`, in the
    format `replay` reads (e.g. record a real LLM once, replay it in every later run)."""

    def __init__(self, inner: Labeller, path: str | Path) -> None:
        super().__init__()
        self.inner = inner
        self.path = Path(path)
        self.name = f"recording-{inner.name}"

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        got = self.inner.label(texts, ids)
        write_replay(self.path, texts, got.labels, got.confidences)
        return got.labels, got.confidences
