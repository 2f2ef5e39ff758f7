"""BagSet contracts: index-range bags, deletion for `drop`, read-only views."""

import numpy as np
import pytest

from benchmark.data.bagset import NO_DROP, BagSet, EvalSplit, TemplateTable, reinsert_dropped


def _bags() -> tuple[BagSet, np.ndarray]:
    templates = TemplateTable(tuple(f"t{i}" for i in range(10)), np.zeros((10, 4), np.float32))
    lines = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=np.int32)
    line_labels = np.array([0, 0, 1, 0, 0, 0, 0, 1, 1], dtype=np.int8)
    bags = BagSet(lines, [0, 3, 5], [3, 5, 9], [1, 0, 1], templates)
    return bags, line_labels


def test_padded_pads_right_and_masks():
    bags, _ = _bags()
    ids, mask = bags.padded(np.array([0, 1, 2]))
    assert ids.tolist() == [[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]]
    assert mask.sum(axis=1).tolist() == [3, 2, 4]


def test_padded_drop_deletes_the_line():
    bags, _ = _bags()
    ids, mask = bags.padded(np.array([0, 2]), drop=np.array([1, NO_DROP]))
    assert ids[0, :2].tolist() == [1, 3] and mask[0].sum() == 2
    assert ids[1].tolist() == [6, 7, 8, 9]


def test_reinsert_dropped_restores_positions():
    short = np.array([[0.1, 0.3, -np.inf], [0.5, 0.6, 0.7]], dtype=np.float32)
    out = reinsert_dropped(short, np.array([1, NO_DROP]))
    assert out[0].tolist() == pytest.approx([0.1, -np.inf, 0.3])
    assert out[1].tolist() == pytest.approx([0.5, 0.6, 0.7])


def test_views_are_read_only_and_subset_shares_lines():
    bags, _ = _bags()
    with pytest.raises(ValueError):
        bags.labels[0] = 0
    with pytest.raises(ValueError):
        bags.instances(0)[0] = 7
    sub = bags.subset(np.array([2]))
    assert len(sub) == 1 and sub.instances(0).tolist() == [6, 7, 8, 9]


def test_instance_labels_follow_bag_ranges():
    bags, line_labels = _bags()
    labels = EvalSplit(bags, line_labels).instance_labels()
    assert labels.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 1]]
    assert (labels.max(axis=1) == bags.labels).all()


def test_rejects_empty_or_out_of_range_bags():
    bags, _ = _bags()
    lines = np.arange(5, dtype=np.int32)
    with pytest.raises(ValueError, match="non-empty range"):
        BagSet(lines, [0, 2], [2, 2], [0, 0], bags.templates)
    with pytest.raises(ValueError, match="non-empty range"):
        BagSet(lines, [0], [6], [0], bags.templates)
