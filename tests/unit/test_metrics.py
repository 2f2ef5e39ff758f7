"""Hand-computed values for every metric in benchmark/metrics.py, including edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.metrics import (
    loc_at_k,
    pr_curve,
    precision_recall_f1,
    roc_auc,
    success_rate,
    unique_key_bags,
)

NEG = -np.inf


def test_roc_auc_hand_computed():
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 3 of 4 pairs ordered → 0.75
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)


def test_roc_auc_ties_count_half():
    # pos {0.5, 0.9} vs neg {0.5}: one tie (½) + one win → 1.5 / 2
    assert roc_auc(np.array([0.5, 0.5, 0.9]), np.array([0, 1, 1])) == pytest.approx(0.75)


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1], []])
def test_roc_auc_undefined_with_one_class(labels):
    p = np.linspace(0.1, 0.9, len(labels))
    assert math.isnan(roc_auc(p, np.array(labels, dtype=int)))


def test_precision_recall_f1_at_threshold():
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.6])
    y = np.array([1, 0, 1, 0, 1])
    # τ = 0.5 → predicted {0, 1, 4}: TP 2, FP 1, FN 1
    out = precision_recall_f1(p, y, 0.5)
    assert out == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 4 / 6})
    # p >= τ includes equality: τ = 0.8 → predicted {0, 1}: TP 1, FP 1, FN 2
    out = precision_recall_f1(p, y, 0.8)
    assert out == pytest.approx({"precision": 0.5, "recall": 1 / 3, "f1": 2 / 5})


def test_precision_recall_f1_no_alarm_and_no_positive():
    p = np.array([0.1, 0.2, 0.3])
    assert precision_recall_f1(p, np.array([0, 1, 1]), 0.9) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0}
    out = precision_recall_f1(p, np.array([0, 0, 0]), 0.2)
    assert out["precision"] == 0.0
    assert math.isnan(out["recall"]) and math.isnan(out["f1"])


def test_loc_at_k_eq5_hand_computed():
    scores = np.array([
        [0.9, 0.1, 0.8, 0.7, 0.2, NEG],   # A: top3 {0,2,3} ∩ {0,3} = 2, min(3, 2) = 2
        [0.5, 0.4, NEG, NEG, NEG, NEG],   # B: 2 instances ≤ k: both in top, hits 1, min = 1
        [9.0, 8.0, 7.0, NEG, NEG, NEG],   # C: no anomalous line → ignored
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],   # D: top3 {0,1,2} ∩ {0,1,3,4,5} = 2, min(3, 5) = 3
    ])
    labels = np.array([
        [1, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [1, 1, 0, 1, 1, 1],
    ])
    assert loc_at_k(scores, labels, k=3) == pytest.approx((2 + 1 + 2) / (2 + 1 + 3))
    # k = 1: A hit (0.9 anomalous), B miss (0.5 normal), D hit → 2 / 3
    assert loc_at_k(scores, labels, k=1) == pytest.approx(2 / 3)


def test_loc_at_k_k_larger_than_every_bag_is_perfect():
    scores = np.array([[0.1, 0.2, NEG], [0.3, 0.1, 0.2]])
    labels = np.array([[1, 0, 0], [0, 0, 1]])
    assert loc_at_k(scores, labels, k=10) == 1.0


def test_loc_at_k_all_equal_scores_count_in_expectation():
    # 4 tied instances, 1 anomalous, 3 places: expected hits 3/4; denominator min(3, 1) = 1
    scores = np.array([[1.0, 1.0, 1.0, 1.0]])
    assert loc_at_k(scores, np.array([[1, 0, 0, 0]]), k=3) == pytest.approx(0.75)


def test_loc_at_k_partial_tie_at_kth_place():
    # k = 2: 3.0 takes one place; 3 instances tie at 2.0 for the last place, 1 of them
    # anomalous → 1/3 expected hit; the anomalous 1.0 is out. denominator min(2, 2) = 2
    scores = np.array([[3.0, 2.0, 2.0, 2.0, 1.0]])
    labels = np.array([[0, 0, 1, 0, 1]])
    assert loc_at_k(scores, labels, k=2) == pytest.approx((1 / 3) / 2)


def test_loc_at_k_tie_result_does_not_depend_on_log_order():
    scores = np.array([[1.0, 1.0, 1.0, 1.0]])
    first = loc_at_k(scores, np.array([[1, 0, 0, 0]]), k=2)
    last = loc_at_k(scores, np.array([[0, 0, 0, 1]]), k=2)
    assert first == last == pytest.approx(0.5)


def test_loc_at_k_mask_and_padding_labels():
    # the explicit mask makes the -inf score a real (worst) instance; label 1 in padding ignored
    scores = np.array([[0.2, NEG, 0.9, 0.0]])
    labels = np.array([[0, 1, 0, 1]])
    mask = np.array([[True, True, True, False]])
    # real: {0: 0.2, 1: -inf (anomalous), 2: 0.9}; k = 2 → top {2, 0}: 0 hits / min(2, 1)
    assert loc_at_k(scores, labels, k=2, mask=mask) == 0.0
    assert loc_at_k(scores, labels, k=3, mask=mask) == 1.0


def test_loc_at_k_no_positive_bag_is_nan():
    scores = np.array([[0.3, 0.2], [0.1, NEG]])
    assert math.isnan(loc_at_k(scores, np.zeros((2, 2), dtype=int)))


def test_loc_at_k_rejects_nan_and_bad_k():
    with pytest.raises(ValueError):
        loc_at_k(np.array([[np.nan, 1.0]]), np.array([[1, 0]]))
    with pytest.raises(ValueError):
        loc_at_k(np.array([[0.5, 1.0]]), np.array([[1, 0]]), k=0)


def test_success_rate_eq6_strict_inequality():
    p_orig = np.array([1.0, 0.75, 0.5, 0.25])
    p_pert = np.array([0.5, 0.625, 0.5, 0.0])  # drops 0.5, 0.125, 0, 0.25 (exact in binary)
    assert success_rate(p_orig, p_pert, 0.1) == 0.75
    assert success_rate(p_orig, p_pert, 0.2) == 0.5
    assert success_rate(p_orig, p_pert, 0.125) == 0.5  # 0.125 is not > 0.125
    assert success_rate(p_orig, p_pert, 0.5) == 0.0


def test_success_rate_rise_is_not_success_and_empty_is_nan():
    assert success_rate(np.array([0.2]), np.array([0.9]), 0.1) == 0.0
    assert math.isnan(success_rate(np.array([]), np.array([]), 0.1))


def test_pr_curve_downsampled_keeps_ends():
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)
    curve = pr_curve(p, y, max_points=200)
    assert 2 <= len(curve["precision"]) <= 200
    assert len(curve["precision"]) == len(curve["recall"]) == len(curve["thresholds"])
    assert curve["recall"][0] == 1.0 and curve["recall"][-1] == 0.0
    assert curve["thresholds"][-1] is None
    assert pr_curve(p, np.zeros(2000, dtype=int)) is None


def test_unique_key_bags_need_two_lines_and_a_key_template_seen_once():
    templates = np.array([[4, 5, 6], [4, 4, 6], [7, 0, 0], [4, 5, 4]])
    real = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=bool)
    key = np.array([1, 0, 0, 0])
    # bag 0: 5 once; bag 1: 4 twice; bag 2: one line; bag 3: the second 4 is padding
    np.testing.assert_array_equal(unique_key_bags(templates, key, real),
                                  [True, False, False, True])
