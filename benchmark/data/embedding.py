"""Template embeddings: Word2Vec + TF-IDF-weighted mean of token vectors.

Word2Vec (CBOW, gensim, one worker thread so the result is a pure function of the seed) is trained
on the templates' token sequences weighted by how many lines each template covers: template t is
repeated max(1, round(corpus_sentences · count_t / L)) times. A template's vector is the mean of its
token vectors weighted by TF-IDF, with each template a document (tf = token count / template
length, idf = ln((1 + T) / (1 + df)) + 1, as scikit-learn's smooth idf). A template without
tokens (e.g. only `<*>`) gets the zero vector.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
from gensim.models import Word2Vec

from benchmark.data.cards import EmbeddingSpec
from benchmark.data.tokens import tokenize_template

log = logging.getLogger(__name__)


def embed_templates(texts: Sequence[str], counts: np.ndarray, spec: EmbeddingSpec) -> np.ndarray:
    """(T, spec.dim) float32 template vectors. counts: (T,) lines per template."""
    return embed_with_fitted(texts, counts, texts, spec)


def embed_with_fitted(fit_texts: Sequence[str], counts: np.ndarray, texts: Sequence[str],
                      spec: EmbeddingSpec) -> np.ndarray:
    """(len(texts), spec.dim) float32 vectors of `texts` from the Word2Vec and TF-IDF fitted on
    `fit_texts` (counts: (len(fit_texts),) lines per template). A word that does not occur in
    `fit_texts` is skipped; a template with no such word gets the zero vector."""
    fit_tokens = [tokenize_template(t) for t in fit_texts]
    out = np.zeros((len(texts), spec.dim), np.float32)
    if not any(fit_tokens):
        return out
    model = _train_word2vec(fit_tokens, np.asarray(counts, np.float64), spec)
    document_frequency = Counter(tok for toks in fit_tokens for tok in set(toks))
    n_docs = len(fit_texts)
    for row, text in enumerate(texts):
        toks = [tok for tok in tokenize_template(text) if tok in document_frequency]
        if not toks:
            continue
        tf = Counter(toks)
        words = list(tf)
        weights = np.array([tf[w] / len(toks) * (math.log((1 + n_docs) /
                            (1 + document_frequency[w])) + 1) for w in words])
        vectors = model.wv[words]
        out[row] = weights @ vectors / weights.sum()
    return out


def _train_word2vec(tokens: list[list[str]], counts: np.ndarray, spec: EmbeddingSpec) -> Word2Vec:
    total = max(counts.sum(), 1.0)
    repeats = np.maximum(1, np.round(spec.corpus_sentences * counts / total)).astype(int)
    corpus = [toks for toks, r in zip(tokens, repeats, strict=True) if toks for _ in range(r)]
    log.info("word2vec: %d templates, %d training sentences, dim %d", len(tokens), len(corpus),
             spec.dim)
    with _quiet("gensim"):
        return Word2Vec(corpus, vector_size=spec.dim, window=spec.window, min_count=1,
                        workers=1, seed=spec.seed, epochs=spec.epochs, sg=0)


@contextmanager
def _quiet(logger_name: str):
    """Raise a chatty library logger to WARNING for the duration, then restore its level."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
