"""The fitting-free hashed embedding: deterministic, unit norm, related words close."""

import numpy as np
import pytest

from benchmark.data.hashed_embedding import hashed_template_vectors, template_features


def test_same_text_same_vector_and_unit_norm():
    texts = ["Connection refused from <IP>", "<*>", "Connection refused from <IP>"]
    vectors = hashed_template_vectors(texts, dim=64)
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-6)
    assert not vectors[1].any()  # no tokens → zero vector


def test_shared_ngrams_bring_templates_closer():
    a, b, c = hashed_template_vectors(
        ["failed to open connection", "connection open failure", "kernel panic instruction cache"])
    assert a @ b > a @ c + 0.2


def test_salt_changes_vectors_and_features_mark_word_ends():
    v0 = hashed_template_vectors(["disk error"], salt=0)
    v1 = hashed_template_vectors(["disk error"], salt=1)
    assert not np.allclose(v0, v1)
    assert "<di" in template_features("disk") and "w:disk" in template_features("disk")
    with pytest.raises(ValueError, match="dim"):
        hashed_template_vectors(["x"], dim=0)
