"""Bagging and splitting: property tests (hypothesis) and worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.data.bagging import bag_labels, count_windows, cut_windows, make_bags
from benchmark.data.cards import BaggingSpec, SplitSpec
from benchmark.data.errors import DataError
from benchmark.data.splitting import SPLITS, split_bags


@st.composite
def logs(draw):
    n = draw(st.integers(1, 300))
    gaps = draw(st.lists(st.floats(-5, 90, allow_nan=False), min_size=n, max_size=n))
    times = 1e9 + np.cumsum(gaps)  # negative gaps: out-of-order lines, as in real logs
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int8)
    return times, labels


@st.composite
def bagging_specs(draw):
    max_instances = draw(st.integers(1, 40))
    if draw(st.booleans()):
        stride = draw(st.floats(1, 120))
        window = stride * draw(st.floats(1, 4))
        return BaggingSpec("time", window_seconds=window, stride_seconds=stride,
                           max_instances=max_instances)
    stride = draw(st.integers(1, 50))
    window = stride + draw(st.integers(0, 100))
    return BaggingSpec("count", window_lines=window, stride_lines=stride,
                       max_instances=max_instances)


def coverage(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    hits = np.zeros(n, np.int64)
    for s, e in zip(starts, ends, strict=True):
        hits[s:e] += 1
    return hits


@settings(max_examples=150, deadline=None)
@given(logs(), bagging_specs())
def test_bags_cover_every_line_respect_max_instances_and_label_by_max(log, spec):
    times, labels = log
    starts, ends = make_bags(times, spec)
    assert np.all(ends > starts) and np.all(ends - starts <= spec.max_instances)
    assert coverage(len(times), starts, ends).min() >= 1
    y = bag_labels(labels, starts, ends)
    assert y.tolist() == [int(labels[s:e].max()) for s, e in zip(starts, ends, strict=True)]


@settings(max_examples=150, deadline=None)
@given(logs(), bagging_specs())
def test_chronological_split_never_crosses_and_keeps_every_line(log, spec):
    times, _ = log
    starts, ends = make_bags(times, spec)
    if len(np.unique(starts)) < 3:
        with pytest.raises(DataError):
            split_bags(starts, ends, len(times), SplitSpec())
        return
    try:
        parts = split_bags(starts, ends, len(times), SplitSpec())
    except DataError:
        return  # too few distinct start lines for a 60/20/20 cut: reported, not mis-split
    owner = np.full(len(times), -1)
    for k, name in enumerate(SPLITS):
        s, e = parts[name]
        assert len(s) > 0 and np.all(e > s)
        lo, hi = s.min(), e.max()
        assert np.all(owner[lo:hi] == -1)  # the split's line range overlaps no other split's
        owner[lo:hi] = k
    assert owner.min() == 0  # every line is in a bag of exactly one split
    all_s = np.concatenate([parts[n][0] for n in SPLITS])
    all_e = np.concatenate([parts[n][1] for n in SPLITS])
    assert coverage(len(times), all_s, all_e).min() >= 1
    assert parts["train"][1].max() <= parts["val"][0].min()
    assert parts["val"][1].max() <= parts["test"][0].min()


@settings(max_examples=80, deadline=None)
@given(logs(), bagging_specs(), st.integers(0, 5))
def test_random_split_shares_no_line_across_splits(log, spec, seed):
    times, _ = log
    starts, ends = make_bags(times, spec)
    if len(starts) < 3:
        return
    parts = split_bags(starts, ends, len(times), SplitSpec(method="random", seed=seed))
    cover = [coverage(len(times), *parts[n]) > 0 for n in SPLITS]
    assert not (cover[0] & cover[1]).any() and not (cover[0] & cover[2]).any()
    assert not (cover[1] & cover[2]).any()
    again = split_bags(starts, ends, len(times), SplitSpec(method="random", seed=seed))
    assert all(np.array_equal(parts[n][0], again[n][0]) for n in SPLITS)


def test_time_windows_worked_example():
    times = np.array([0, 10, 59.9, 60, 61, 200, 250], dtype=float)
    spec = BaggingSpec("time", window_seconds=60, stride_seconds=60, max_instances=128)
    starts, ends = make_bags(times, spec)
    ranges = list(zip(starts.tolist(), ends.tolist(), strict=True))
    assert ranges == [(0, 3), (3, 5), (5, 6), (6, 7)]


def test_count_windows_and_cutting():
    assert count_windows(250, 100, 100)[0].tolist() == [0, 100, 200]
    assert count_windows(250, 100, 100)[1].tolist() == [100, 200, 250]
    s, e = cut_windows(np.array([0, 300]), np.array([300, 301]), 128)
    assert s.tolist() == [0, 128, 256, 300] and e.tolist() == [128, 256, 300, 301]


def test_overlapping_bag_is_cut_at_the_split_boundary():
    starts, ends = np.arange(0, 100, 10), np.minimum(np.arange(0, 100, 10) + 20, 100)
    parts = split_bags(starts, ends, 100, SplitSpec())
    assert parts["train"][1].max() == 60 and parts["val"][0].min() == 60
    assert (50, 60) in set(zip(*map(np.ndarray.tolist, parts["train"]), strict=True))
