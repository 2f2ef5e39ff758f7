"""Template vectors of one kind: `word2vec` (the card's), `hashed`, `wordllama`.

- word2vec: benchmark.data.embedding (TF-IDF-weighted Word2Vec trained on the dataset's
  templates; the card's `[embedding]` settings).
- hashed: benchmark.data.hashed_embedding (hashed word and character n-gram vectors, nothing
  learned), the card's `embedding.dim`, salt = `embedding.seed`.
- wordllama: the pretrained WordLlama "l2_supercat" static embedding (256-d, token embeddings
  distilled from LLaMA-2's, mean-pooled) whose weights and tokenizer ship inside the
  `wordllama` wheel; loaded from the installed package's files, never downloaded (the
  package's own `WordLlama.load()` looks for the tokenizer in a folder the wheel does not
  have and would try Hugging Face). Input: the template's word tokens
  (benchmark.data.tokens) joined by spaces; output L2-normalised; a template without tokens
  gets the zero vector. Needs `pip install wordllama` (the `encoders` extra).

Every kind gives (T, dim) float32 and is a pure function of the texts (and counts, for
word2vec). No torch import.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.cards import EmbeddingSpec
from benchmark.data.errors import DataError
from benchmark.data.tokens import tokenize_template

WORDLLAMA_DIM = 256
WORDLLAMA_FILES = ("weights/l2_supercat_256.safetensors",
                   "tokenizers/l2_supercat_tokenizer_config.json")


def vector_dim(kind: str, spec: EmbeddingSpec) -> int:
    """The width of `kind`'s vectors."""
    return WORDLLAMA_DIM if kind == "wordllama" else spec.dim


def template_vectors(kind: str, texts: Sequence[str], counts: np.ndarray,
                     spec: EmbeddingSpec) -> np.ndarray:
    """(T, vector_dim(kind, spec)) float32 vectors of `texts` (counts: (T,) lines each)."""
    if kind == "word2vec":
        from benchmark.data.embedding import embed_templates

        return embed_templates(texts, counts, spec).astype(np.float32, copy=False)
    if kind == "hashed":
        from benchmark.data.hashed_embedding import hashed_template_vectors

        return hashed_template_vectors(texts, dim=spec.dim, salt=spec.seed)
    if kind == "wordllama":
        return wordllama_vectors(texts)
    raise DataError(f"unknown template vectors {kind!r}")


def wordllama_vectors(texts: Sequence[str]) -> np.ndarray:
    """(T, 256) float32 unit-norm WordLlama vectors (zero rows for templates without words)."""
    model = _wordllama()
    out = np.zeros((len(texts), WORDLLAMA_DIM), np.float32)
    sentences = [" ".join(tokenize_template(t)) for t in texts]
    rows = [i for i, s in enumerate(sentences) if s]
    if rows:
        vectors = np.asarray(model.embed([sentences[i] for i in rows], norm=True), np.float32)
        out[rows] = vectors
    return out


@lru_cache(maxsize=1)
def _wordllama() -> Any:
    try:
        import wordllama
        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference
    except ImportError:
        raise DataError("--vectors wordllama needs the wordllama package: pip install "
                        "wordllama (or the project's `encoders` extra)") from None
    root = Path(wordllama.__file__).parent
    weights, tokenizer = (root / name for name in WORDLLAMA_FILES)
    for path in (weights, tokenizer):
        if not path.is_file():
            raise DataError(f"{path}: not in the installed wordllama package (expected it in "
                            f"the wheel; version {getattr(wordllama, '__version__', '?')})")
    with safe_open(str(weights), framework="np", device="cpu") as handle:
        embedding = handle.get_tensor("embedding.weight")
    return WordLlamaInference(embedding, Tokenizer.from_file(str(tokenizer)))
