"""One template table shared by several datasets, so a model trained on some scores the others.

Template ids mean nothing across systems; template *texts* do. `share_templates` takes prepared
datasets and returns each of them over one `TemplateTable`: the union of their template texts
(first occurrence order: dataset after dataset, template after template), each text once, with
vectors from one representation that is the same for every dataset:

- "hashed" (benchmark.data.hashed_embedding): hashed word and character n-gram vectors, a pure
  function of the text; nothing is fitted, so the target plays no part in it;
- "word2vec" (benchmark.data.embedding): one Word2Vec + TF-IDF fitted on the SOURCE datasets'
  templates only (weighted by their line counts over every split of the sources); every template
  (the target's included) is embedded with that model, words the sources never use are skipped
  (a template made only of such words gets the zero vector).

Bags, bag labels and line labels are unchanged; only the line → template ids are remapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from benchmark.data.bagset import EvalSplit, PreparedDataset, TemplateTable
from benchmark.data.cards import EmbeddingSpec
from benchmark.data.hashed_embedding import DEFAULT_NGRAM_SIZES, hashed_template_vectors

REPRESENTATIONS = ("hashed", "word2vec")


@dataclass(frozen=True)
class RepresentationSpec:
    """kind: "hashed" or "word2vec"; dim: vector size; ngram_sizes: the hashed character
    n-grams; word2vec: the Word2Vec settings (its `dim` is replaced by `dim`)."""

    kind: str = "hashed"
    dim: int = 100
    ngram_sizes: tuple[int, ...] = DEFAULT_NGRAM_SIZES
    word2vec: EmbeddingSpec = field(default_factory=EmbeddingSpec)

    def __post_init__(self) -> None:
        if self.kind not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {self.kind!r}")
        if self.dim < 1:
            raise ValueError(f"representation dim must be ≥ 1, got {self.dim}")


def share_templates(datasets: Sequence[PreparedDataset], sources: Sequence[str],
                    spec: RepresentationSpec) -> dict[str, PreparedDataset]:
    """Each dataset (by name) over one shared TemplateTable (see the module docstring).

    sources: names of the datasets a Word2Vec representation is fitted on (ignored by
    "hashed"). Raises ValueError for a source not among `datasets` or a duplicate name.
    """
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"share_templates: duplicate dataset names in {names}")
    unknown = sorted(set(sources) - set(names))
    if unknown:
        raise ValueError(f"share_templates: sources {unknown} are not among {names}")
    ids: dict[str, int] = {}
    mappings = {}
    for data in datasets:
        mappings[data.name] = np.array([ids.setdefault(t, len(ids)) for t in data.templates.texts],
                                       np.int64)
    texts = tuple(ids)
    table = TemplateTable(texts, _vectors(texts, datasets, mappings, sources, spec))
    out = {}
    for data in datasets:
        splits = {name: EvalSplit(split.bags.retemplated(mappings[data.name], table),
                                  split.line_labels) for name, split in data.splits.items()}
        summary = dict(data.summary) | {"shared_templates": {
            "representation": spec.kind, "templates": table.size,
            "own_templates": data.templates.size}}
        out[data.name] = PreparedDataset(data.name, table, splits, summary)
    return out


def _vectors(texts: tuple[str, ...], datasets: Sequence[PreparedDataset],
             mappings: dict[str, np.ndarray], sources: Sequence[str],
             spec: RepresentationSpec) -> np.ndarray:
    if spec.kind == "hashed":
        return hashed_template_vectors(texts, spec.dim, spec.ngram_sizes)
    from benchmark.data.embedding import embed_with_fitted

    counts = np.zeros(len(texts), np.float64)
    for data in datasets:
        if data.name not in sources:
            continue
        for split in data.splits.values():
            bags = split.bags
            lines = np.concatenate([bags.instances(b) for b in range(len(bags))] or [[]])
            counts += np.bincount(mappings[data.name][lines.astype(np.int64)],
                                  minlength=len(texts))
    fitted = np.flatnonzero(counts > 0)
    w2v = replace(spec.word2vec, dim=spec.dim)
    vectors = embed_with_fitted([texts[i] for i in fitted], counts[fitted], texts, w2v)
    return vectors.astype(np.float32, copy=False)
