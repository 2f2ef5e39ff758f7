"""`drift`: label a target system's texts by their similarity to a source system's known templates.

The meta-learning paper (Sharma & Yelleti, arXiv 2601.14336) prepares its data with "a dynamic
drift-based labeling technique that uses semantic and fuzzy matching to move existing anomaly
knowledge from one source to another". The abstract gives no more detail; everything below is
this module's reading of it (the decisions are ours, each an option with the default named):

1. Knowledge. The source is a prepared dataset with line labels. A source template is
   *known-anomalous* when at least `anomalous_fraction` (0.5) of its lines are anomalous, else
   *known-normal* (templates whose anomalies are a matter of context, such as a normal template
   repeated in a burst, stay normal: a text alone cannot show them). A tiny `anomalous_fraction`
   (e.g. 1e-9) gives the "any anomalous line" rule instead. Templates are grouped by their
   normalised text (point 2) before the fraction is taken, so no text is both normal and
   anomalous. Every line covered by a bag of any split counts (the source is another system:
   all of its labelled history is knowledge, none of it is the target's test data).
2. Normalisation. Both sides are compared as `tokenize_template` words (placeholders `<*>`,
   `<NUM>`, … dropped) after removing decimal and hexadecimal numbers and digit runs, so a raw
   line and its template read alike.
3. Similarity. sim(t, k) = `semantic_weight` (0.5) × max(0, cos(t, k)) + (1 − semantic_weight) ×
   fuzzy(t, k) / 100, where cos is between the hashed n-gram vectors of
   `benchmark.data.hashed_embedding` (`dim` 100; no fitting, so it is the same function on every
   system) and fuzzy is the rapidfuzz scorer `fuzzy_scorer` ("ratio", the normalised Indel
   similarity; "token_set_ratio" scores a subset 100, so it cannot tell "parity error corrected"
   from "parity error could not be corrected"). sim lies in [0, 1]; it is 1 for equal
   normalised texts (also for texts without words, whose vectors are zero).
4. Decision. With s_n (s_a) the largest sim to a known-normal (known-anomalous) text — s_a = 0
   when the source has no anomalous template — a text is anomalous when it has *drifted*,
   s_n < `drift_threshold` (0.5), or when it is closer to a known anomaly than to any normal
   template, s_a − s_n > `anomaly_margin` (0.0); else normal. Ties go to normal.
5. Confidence: 0.5 + 0.5 × the decision's margin (clipped to [0, 1]), 0.5 on the boundary. With
   d = (drift_threshold − s_n) scaled by drift_threshold when positive and by 1 − drift_threshold
   when negative (so d is in [−1, 1]) and c = s_a − s_n − anomaly_margin, the margin of an
   anomalous answer is max(d, c), of a normal one min(−d, −c): a known-normal text with a
   known-anomalous twin nearby is answered normal with less confidence than one without.
6. "Dynamic" is read as: the knowledge is whatever the source passed in says, nothing is learned
   or tuned on the target; the answer to a text does not depend on the batch it comes in.

Options on the command line (`--labeller drift --labeller-option KEY=VALUE`): `source` (a dataset
card, required unless `normal` lists known-normal texts), `source_file` (the card's raw log;
default the card's file under `source_data_dir`), `source_data_dir`, `source_seed` and
`source_quick` (cards with a generator: the synthetic seed and size), plus the knobs above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.bagset import PreparedDataset
from benchmark.data.hashed_embedding import hashed_template_vectors
from benchmark.data.tokens import tokenize_template
from benchmark.labelling.base import Labeller, LabellingError, register_labeller

FUZZY_SCORERS = ("ratio", "token_sort_ratio", "token_set_ratio", "partial_ratio", "WRatio",
                 "QRatio")
_CHUNK = 2048
"""Target texts scored per block (bounds the (chunk, known) similarity matrices)."""
_NUMBER = re.compile(r"\b(?:0[xX])?[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b")
"""A raw parameter: a decimal or hexadecimal word holding a digit (`1001`, `0x00ab`, `3f2c9`)."""
_DIGITS = re.compile(r"[0-9]+")


def normalise(text: str) -> str:
    """The text compared: its template words without placeholders, numbers and digit runs."""
    words = tokenize_template(_NUMBER.sub(" ", text))
    return " ".join(w for w in words if not _DIGITS.fullmatch(w))


def known_templates(texts: Sequence[str], line_templates: np.ndarray, line_labels: np.ndarray,
                    anomalous_fraction: float = 0.5) -> tuple[list[str], list[str]]:
    """(known-normal, known-anomalous) normalised texts of a labelled source.

    texts: (T,) template texts; line_templates: (L,) template id of each line; line_labels: (L,)
    0/1. Templates with one normalised text are pooled; a pooled text is anomalous when at least
    `anomalous_fraction` of its lines are. Templates without lines are left out. Both lists sorted.
    """
    if not 0.0 < anomalous_fraction <= 1.0:
        raise ValueError(f"drift: anomalous_fraction must be in (0, 1], got {anomalous_fraction}")
    line_templates = np.asarray(line_templates, dtype=np.int64)
    line_labels = np.asarray(line_labels, dtype=np.float64)
    if line_templates.shape != line_labels.shape:
        raise ValueError(f"drift: {len(line_templates)} line templates but "
                         f"{len(line_labels)} line labels")
    lines = np.bincount(line_templates, minlength=len(texts))
    positive = np.bincount(line_templates, weights=line_labels, minlength=len(texts))
    pooled: dict[str, list[float]] = {}
    for t, text in enumerate(texts):
        if lines[t]:
            counts = pooled.setdefault(normalise(text), [0.0, 0.0])
            counts[0] += lines[t]
            counts[1] += positive[t]
    anomalous = {k for k, (n, pos) in pooled.items() if pos >= anomalous_fraction * n}
    return sorted(set(pooled) - anomalous), sorted(anomalous)


def dataset_knowledge(dataset: PreparedDataset,
                      anomalous_fraction: float = 0.5) -> tuple[list[str], list[str]]:
    """`known_templates` of a prepared dataset, over the lines its bags of every split cover."""
    from benchmark.labelling.budget import split_lines

    covered = [split_lines(split.bags) for split in dataset.splits.values() if len(split.bags)]
    if not covered:
        raise LabellingError(f"drift: source {dataset.name!r} holds no bag")
    lines = np.concatenate([c[0] for c in covered])
    tmpl = np.concatenate([c[1] for c in covered])
    lines, first = np.unique(lines, return_index=True)
    labels = next(iter(dataset.splits.values())).line_labels
    return known_templates(dataset.templates.texts, tmpl[first], labels[lines],
                           anomalous_fraction)


def prepare_source(source: str, source_file: str | Path | None = None,
                   source_data_dir: str | Path | None = None, source_seed: int | None = None,
                   source_quick: bool = False) -> PreparedDataset:
    """The source dataset through the project's pipeline (card `source`, cached like any run)."""
    from benchmark.data.cards import load_card
    from benchmark.data.errors import DataError
    from benchmark.data.pipeline import prepare_dataset

    try:
        card = load_card(source)
        if source_seed is not None:
            if card.generator is None:
                raise DataError(f"drift: source_seed needs a generated dataset; card "
                                f"{source!r} has no [generator]")
            card = replace(card, generator=replace(card.generator, seed=int(source_seed)))
        return prepare_dataset(card, data_file=None if source_file is None else Path(source_file),
                               data_dir=None if source_data_dir is None else Path(source_data_dir),
                               quick=bool(source_quick))
    except DataError as err:
        raise LabellingError(f"drift: cannot prepare source {source!r}: {err}") from err


@register_labeller("drift")
class DriftLabeller(Labeller):
    """Anomalous when a text drifted from every known-normal template or is nearest a known
    anomaly (module docstring: the rule, its defaults and which decisions are ours).

    Known texts come from `normal`/`anomalous` (lists of texts), or from the dataset card
    `source` (see `prepare_source`), or from a prepared dataset via `from_dataset`. Ignores ids.
    `source_input` is the source's raw-log identity (None without a source dataset), so a caller
    can refuse a source that is the target itself.
    """

    def __init__(self, normal: Sequence[str] | None = None, anomalous: Sequence[str] = (), *,
                 source: str | None = None, source_file: str | Path | None = None,
                 source_data_dir: str | Path | None = None, source_seed: int | None = None,
                 source_quick: bool = False, anomalous_fraction: float = 0.5,
                 semantic_weight: float = 0.5, fuzzy_scorer: str = "ratio",
                 drift_threshold: float = 0.5, anomaly_margin: float = 0.0,
                 dim: int = 100) -> None:
        super().__init__()
        type(self).check_options({"normal": normal, "source": source})
        if not 0.0 <= semantic_weight <= 1.0:
            raise ValueError(f"drift: semantic_weight must be in [0, 1], got {semantic_weight}")
        if fuzzy_scorer not in FUZZY_SCORERS:
            raise ValueError(f"drift: fuzzy_scorer must be one of {FUZZY_SCORERS}, got "
                             f"{fuzzy_scorer!r}")
        self.source_input: dict | None = None
        if source is not None:
            dataset = prepare_source(source, source_file, source_data_dir, source_seed,
                                     source_quick)
            self.source_input = dataset.summary.get("input")
            normal, anomalous = dataset_knowledge(dataset, anomalous_fraction)
        self.normal = sorted({normalise(t) for t in normal or ()})
        self.anomalous = sorted({normalise(t) for t in anomalous} - set(self.normal))
        if not self.normal:
            raise LabellingError("drift: the source has no known-normal template")
        self.semantic_weight = float(semantic_weight)
        self.fuzzy_scorer = fuzzy_scorer
        self.drift_threshold = float(drift_threshold)
        self.anomaly_margin = float(anomaly_margin)
        self.dim = int(dim)
        self._normal_vectors = hashed_template_vectors(self.normal, self.dim)
        self._anomalous_vectors = hashed_template_vectors(self.anomalous, self.dim)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Raise ValueError (naming the option) for unknown options or no source of knowledge."""
        super().check_options(options)
        if options.get("source") is None and not options.get("normal"):
            raise ValueError("drift: no known templates; pass the source system as "
                             "--labeller-option source=<dataset card> (optionally "
                             "source_file=<raw log>), or normal=[...] known-normal texts")

    @classmethod
    def from_dataset(cls, dataset: PreparedDataset, **options: Any) -> DriftLabeller:
        """Built from a prepared source dataset's templates and line labels (see the module)."""
        fraction = options.pop("anomalous_fraction", 0.5)
        normal, anomalous = dataset_knowledge(dataset, fraction)
        labeller = cls(normal, anomalous, **options)
        labeller.source_input = dataset.summary.get("input")
        return labeller

    def similarities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n,) s_n and (n,) s_a in [0, 1]: the largest sim to a known-normal / -anomalous text."""
        distinct, inverse = np.unique([normalise(t) for t in texts], return_inverse=True)
        s_n = np.zeros(len(distinct))
        s_a = np.zeros(len(distinct))
        for lo in range(0, len(distinct), _CHUNK):
            block = [str(t) for t in distinct[lo:lo + _CHUNK]]
            vectors = hashed_template_vectors(block, self.dim)
            s_n[lo:lo + len(block)] = self._best(block, vectors, self.normal, self._normal_vectors)
            if self.anomalous:
                s_a[lo:lo + len(block)] = self._best(block, vectors, self.anomalous,
                                                     self._anomalous_vectors)
        return s_n[inverse.ravel()], s_a[inverse.ravel()]

    def _best(self, block: list[str], vectors: np.ndarray, known: list[str],
              known_vectors: np.ndarray) -> np.ndarray:
        from rapidfuzz import fuzz, process

        cosine = np.clip(vectors @ known_vectors.T, 0.0, 1.0).astype(np.float64)
        fuzzy = process.cdist(block, known, scorer=getattr(fuzz, self.fuzzy_scorer),
                              dtype=np.float32, workers=1).astype(np.float64) / 100.0
        sim = self.semantic_weight * cosine + (1.0 - self.semantic_weight) * fuzzy
        best = np.clip(sim.max(axis=1), 0.0, 1.0)
        best[np.isin(block, known)] = 1.0  # an equal text is a match (float32 cosines fall short)
        return best

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        s_n, s_a = self.similarities(texts)
        tau = self.drift_threshold
        drift = np.where(s_n < tau, (tau - s_n) / max(tau, 1e-12),
                         (tau - s_n) / max(1.0 - tau, 1e-12))  # scaled to [-1, 1]
        closer = (s_a - s_n) - self.anomaly_margin
        anomalous = (drift > 0) | (closer > 0)
        margin = np.where(anomalous, np.maximum(drift, closer), np.minimum(-drift, -closer))
        return anomalous.astype(np.int8), 0.5 + 0.5 * np.clip(margin, 0.0, 1.0)
