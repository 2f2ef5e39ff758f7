"""A template embedding that needs no fitting: hashed word and character n-gram features.

Each template is tokenized like every other embedder (`tokenize_template`); every token w yields
the features "w:<w>" and the character n-grams (lengths `ngram_sizes`) of "<w>", angle brackets
marking the word's ends (fastText's scheme). A feature's vector is a fixed pseudo-random
Gaussian vector drawn from a generator seeded by the feature's BLAKE2b hash (and `salt`), so the
same text gives the same vector on every machine, for every dataset, with nothing learned.
A template's vector is the sum of its features' vectors, scaled to unit L2 norm; a template with
no tokens gets the zero vector. Words sharing n-grams ("connection", "connect") get nearby
vectors, which is what lets a model trained on one system read another system's templates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from benchmark.data.tokens import tokenize_template

DEFAULT_NGRAM_SIZES = (3, 4, 5)


def template_features(text: str, ngram_sizes: Sequence[int] = DEFAULT_NGRAM_SIZES) -> list[str]:
    """The hashed features of one template: its words and their character n-grams."""
    features: list[str] = []
    for word in tokenize_template(text):
        features.append(f"w:{word}")
        marked = f"<{word}>"
        for n in ngram_sizes:
            features.extend(marked[i:i + n] for i in range(len(marked) - n + 1))
    return features


@lru_cache(maxsize=200_000)
def _feature_vector(feature: str, dim: int, salt: int) -> np.ndarray:
    digest = hashlib.blake2b(f"{salt}:{feature}".encode(), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "little"))
    vector = rng.standard_normal(dim).astype(np.float32)
    vector.setflags(write=False)
    return vector


def hashed_template_vectors(texts: Sequence[str], dim: int = 100,
                            ngram_sizes: Sequence[int] = DEFAULT_NGRAM_SIZES,
                            salt: int = 0) -> np.ndarray:
    """(T, dim) float32 unit-norm vectors of `texts` (zero rows for templates without tokens)."""
    if dim < 1:
        raise ValueError(f"hashed embedding: dim must be ≥ 1, got {dim}")
    sizes = tuple(int(n) for n in ngram_sizes)
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for feature in template_features(text, sizes):
            out[row] += _feature_vector(feature, dim, salt)
        norm = float(np.linalg.norm(out[row]))
        if norm > 0:
            out[row] /= norm
    return out
