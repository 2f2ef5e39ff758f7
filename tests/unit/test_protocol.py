"""benchmark.protocol.evaluate on hand-built bags with a fixed-weight model (values by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.data.bagset import NO_DROP, BagSet, EvalSplit, TemplateTable, reinsert_dropped
from benchmark.model_api import BagModel, BagScores
from benchmark.protocol import evaluate

WEIGHTS = np.array([0.1, 0.2, 0.9, 0.3])
"""Template t's instance score; a bag's probability is the max over its instances."""


class FixedWeights(BagModel):
    """Scores without learning; logs every score() call."""

    name = "fixed"

    def __init__(self) -> None:
        self.calls: list[tuple[int, np.ndarray | None]] = []

    def fit(self, train, val):
        return self

    def score(self, bags: BagSet, drop=None) -> BagScores:
        self.calls.append((len(bags), None if drop is None else np.array(drop)))
        ids, mask = bags.padded(np.arange(len(bags)), drop=drop, width=bags.max_length)
        inst = np.where(mask, WEIGHTS[ids], -np.inf).astype(np.float32)
        probs = np.where(mask.any(1), inst.max(1, initial=-np.inf), 0.0).astype(np.float64)
        return BagScores(probs, reinsert_dropped(inst, drop))


def make_split(bags: list[list[int]], line_labels: list[list[int]]) -> EvalSplit:
    lengths = [len(b) for b in bags]
    ends = np.cumsum(lengths)
    labels = np.array([max(lab) for lab in line_labels])
    templates = TemplateTable(tuple(f"t{i}" for i in range(4)), np.zeros((4, 2), np.float32))
    bag_set = BagSet(np.concatenate(bags).astype(np.int32), ends - lengths, ends, labels,
                     templates)
    return EvalSplit(bag_set, np.concatenate(line_labels).astype(np.int8))


@pytest.fixture
def splits() -> dict[str, EvalSplit]:
    val = make_split([[0, 1], [2, 0], [3], [2]], [[0, 0], [1, 0], [0], [1]])
    test = make_split(
        [[0, 2, 1, 3, 0], [3, 1], [2, 3, 2], [3, 0, 1, 3]],
        [[0, 1, 0, 0, 0], [0, 0], [1, 0, 1], [0, 1, 0, 0]],
    )
    return {"val": val, "test": test}


def test_evaluate_hand_computed(splits):
    model = FixedWeights()
    out = evaluate(model, splits)
    m = out["metrics"]
    # validation p = [.2, .9, .3, .9], y = [0, 1, 0, 1] → τ = 0.9 with F1 1
    assert out["threshold"]["rule"] == "max-val-f1"
    assert m["threshold"] == pytest.approx(0.9) and m["val_f1"] == 1.0
    # test p = [.9, .3, .9, .3], y = [1, 0, 1, 1]: predicted {0, 2} → P 1, R 2/3, F1 0.8
    assert m["precision"] == 1.0
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(0.8)
    # AUC: positives {.9, .9, .3} vs negative {.3}: 2 wins + 1 tie → 2.5 / 3
    assert m["auc"] == pytest.approx(2.5 / 3)
    # AUPRC: at .9 P 1, R 2/3; at .3 P 3/4, R 1 → 2/3 · 1 + 1/3 · 3/4
    assert m["ap"] == pytest.approx(11 / 12)
    # Loc@3: bag 0 top3 {1, 3, 2} hits 1/1; bag 2 hits 2/2; bag 3 top3 {0, 3, 2} misses 0/1
    assert m["loc@3"] == pytest.approx(3 / 4)
    # SR: keys = argmax = [1, 0, 0]; drops: bag 0 .9→.3 yes; bag 2 .9→.9 no; bag 3 .3→.3 no
    assert m["sr"] == pytest.approx(1 / 3)
    assert m["sr@0.05"] == pytest.approx(1 / 3) and m["sr@0.2"] == pytest.approx(1 / 3)
    # unique keys: bag 0's key (template 2) is its only 2; bags 2 and 3 hold their key's template
    # twice → SR over bag 0 alone
    assert m["sr_unique_key"] == 1.0 and out["counts"]["test_unique_key_bags"] == 1
    assert out["counts"]["test_ground_truth_positive_bags"] == 3
    assert out["notes"] == []


def test_test_set_scored_once_and_perturbation_uses_top1_key(splits):
    model = FixedWeights()
    evaluate(model, splits)
    sizes = [(n, d is None) for n, d in model.calls]
    assert sizes == [(4, True), (4, True), (3, False)]  # val, test once, positive bags dropped
    np.testing.assert_array_equal(model.calls[2][1], [1, 0, 0])
    assert NO_DROP not in model.calls[2][1]


def test_no_positive_test_bag_gives_nan_with_notes(splits):
    test = make_split([[0, 1], [3]], [[0, 0], [0]])
    out = evaluate(FixedWeights(), {"val": splits["val"], "test": test})
    m = out["metrics"]
    for key in ("auc", "ap", "recall", "f1", "loc@3", "sr", "sr@0.05", "sr@0.2", "sr_unique_key"):
        assert math.isnan(m[key]), key
    assert out["counts"]["test_unique_key_bags"] == 0
    assert out["pr_curve"] is None
    assert any(n.startswith("auc undefined") for n in out["notes"])
    assert any(n.startswith("loc@3, sr undefined") for n in out["notes"])


def test_threshold_fallback_is_recorded(splits):
    val = make_split([[0, 1], [3]], [[0, 0], [0]])
    out = evaluate(FixedWeights(), {"val": val, "test": splits["test"]})
    assert out["threshold"]["rule"] == "fallback-no-positive"
    assert out["metrics"]["threshold"] == 0.5
    assert any("no positive bag" in n for n in out["notes"])


def test_bad_scores_are_rejected(splits):
    class Broken(FixedWeights):
        def score(self, bags, drop=None):
            good = super().score(bags, drop)
            return BagScores(good.probabilities * 2, good.instance_scores)

    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        evaluate(Broken(), splits)
