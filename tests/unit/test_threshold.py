"""Hand-computed cases for THE threshold rule, benchmark.threshold.best_f1_threshold."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.threshold import FALLBACK_THRESHOLD, best_f1_threshold, f1_at


def test_best_threshold_maximises_validation_f1():
    # cuts: 0.9 → F1 2/3; 0.8 → 1/2; 0.7 → 4/5; 0.1 → 2/3
    t = best_f1_threshold(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0]))
    assert (t.value, t.rule) == (0.7, "max-val-f1")
    assert t.f1 == pytest.approx(0.8)


def test_tied_scores_are_cut_together():
    # 0.5 appears twice (one positive, one negative): cutting inside the tie is impossible;
    # cuts: 0.5 → TP 1, FP 1 → 2/3; 0.2 → TP 1, FP 2 → 1/2
    t = best_f1_threshold(np.array([0.5, 0.5, 0.2]), np.array([0, 1, 0]))
    assert t.value == 0.5
    assert t.f1 == pytest.approx(2 / 3)


def test_tied_f1_goes_to_largest_threshold():
    # cuts: 0.9 → 2/3; 0.8 → 1/2; 0.7 → 2/5; 0.6 → TP 2, FP 2 → 2/3 (tie with 0.9)
    t = best_f1_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 0, 1]))
    assert t.value == 0.9
    assert t.f1 == pytest.approx(2 / 3)


def test_fallback_without_positive():
    t = best_f1_threshold(np.array([0.2, 0.7]), np.array([0, 0]))
    assert (t.value, t.f1, t.rule) == (FALLBACK_THRESHOLD, 0.0, "fallback-no-positive")


def test_fallback_without_negative():
    # τ = 0.5: predicted {0.7}, 2 positives → F1 = 2·1 / (1 + 2)
    t = best_f1_threshold(np.array([0.7, 0.3]), np.array([1, 1]))
    assert (t.value, t.rule) == (FALLBACK_THRESHOLD, "fallback-no-negative")
    assert t.f1 == pytest.approx(2 / 3)


def test_constant_scores_rule():
    t = best_f1_threshold(np.array([0.4, 0.4, 0.4]), np.array([0, 1, 0]))
    assert (t.value, t.rule) == (0.4, "constant-scores")
    assert t.f1 == pytest.approx(0.5)


def test_threshold_f1_matches_f1_at():
    rng = np.random.default_rng(3)
    p = rng.random(50).round(1)  # many ties
    y = (rng.random(50) < 0.3).astype(int)
    t = best_f1_threshold(p, y)
    assert t.f1 == pytest.approx(f1_at(p, y, t.value))
    assert all(f1_at(p, y, c) <= t.f1 + 1e-12 for c in np.unique(p))


def test_shape_mismatch_raises_and_f1_at_without_tp():
    with pytest.raises(ValueError):
        best_f1_threshold(np.array([0.1, 0.2]), np.array([1]))
    assert f1_at(np.array([0.1, 0.2]), np.array([1, 0]), 0.15) == 0.0
