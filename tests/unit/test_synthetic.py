"""The synthetic BGL log: deterministic, well-formed, and carrying all three planted ingredients."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import synthetic
from benchmark.data.synthetic import (
    ANOMALOUS_TEMPLATES,
    DISTRACTOR_TEMPLATES,
    NORMAL_LABEL,
    NORMAL_TEMPLATES,
    PLACEHOLDER,
    write_synthetic_log,
)

N_LINES = 20_000
BGL_LINE = re.compile(
    r"(?P<label>\S+) (?P<epoch>\d{10}) (?P<date>\d{4}\.\d{2}\.\d{2}) (?P<node>\S+) "
    r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d{6}) (?P=node) RAS "
    r"(?P<component>[A-Z_]+) (?P<level>INFO|WARNING|ERROR|SEVERE|FATAL|FAILURE) (?P<content>.+)")


@functools.cache
def _content_regex(text: str) -> re.Pattern[str]:
    parts = PLACEHOLDER.split(text)  # literals at even positions, slot kinds at odd ones
    return re.compile("".join(re.escape(p) if i % 2 == 0 else r"\S+" for i, p in enumerate(parts)))


def _matches(templates, content: str) -> bool:
    return any(_content_regex(t.text).fullmatch(content) for t in templates)


def _normal_rank(content: str) -> int | None:
    """Index in NORMAL_TEMPLATES of the template that produced `content` (None: not normal)."""
    return next((i for i, t in enumerate(NORMAL_TEMPLATES)
                 if _content_regex(t.text).fullmatch(content)), None)


@pytest.fixture(scope="module")
def log_lines(tmp_path_factory) -> list[re.Match[str]]:
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.log"
    write_synthetic_log(path, N_LINES, seed=0)
    lines = path.read_text(encoding="utf-8").splitlines()
    matches = [BGL_LINE.fullmatch(line) for line in lines]
    bad = [i + 1 for i, m in enumerate(matches) if m is None]
    assert not bad, f"malformed lines {bad[:5]}: {lines[bad[0] - 1]!r}"
    return matches


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.log"
    write_synthetic_log(a, 3000, seed=7)
    write_synthetic_log(b, 3000, seed=7)
    write_synthetic_log(c, 3000, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_line_count_time_order_and_consistent_fields(log_lines) -> None:
    assert len(log_lines) == N_LINES
    epochs = np.array([int(m["epoch"]) for m in log_lines])
    assert np.all(np.diff(epochs) >= 0)
    for m in log_lines[:: 997]:
        stamp = m["stamp"]
        assert m["date"] == stamp[:10].replace("-", ".")
        seconds = np.datetime64(stamp[:10] + "T" + stamp[11:19].replace(".", ":"), "s")
        assert int(seconds.astype(np.int64)) == int(m["epoch"])
    assert not any("{" in m["content"] for m in log_lines)


def test_windows_and_label_mix(log_lines) -> None:
    minute = np.array([int(m["epoch"]) // 60 for m in log_lines])
    anomalous = np.array([m["label"] != NORMAL_LABEL for m in log_lines])
    _, window, per_window = np.unique(minute, return_inverse=True, return_counts=True)
    window_anomalous = np.bincount(window, weights=anomalous) > 0
    assert 200 <= per_window.size <= 1000  # a few hundred 60 s bags for 20 k lines
    assert 15 <= np.median(per_window) <= 80
    assert 0.07 <= window_anomalous.mean() <= 0.25
    assert 0.005 <= anomalous.mean() <= 0.10
    # Normal lines include ERROR/FATAL levels too: the level alone does not give labels away.
    assert any(m["level"] in ("ERROR", "FATAL") and m["label"] == NORMAL_LABEL for m in log_lines)


def test_many_templates_with_skewed_frequencies(log_lines) -> None:
    normal = [m["content"] for m in log_lines if m["label"] == NORMAL_LABEL]
    ranks = [_normal_rank(c) for c in normal]
    assert all(_matches(DISTRACTOR_TEMPLATES, c) for c, r in zip(normal, ranks, strict=True)
               if r is None)
    found = [r for r in ranks if r is not None]
    counts = sorted(np.bincount(found, minlength=len(NORMAL_TEMPLATES)), reverse=True)
    assert sum(c > 0 for c in counts) >= 40
    assert counts[0] >= 10 * max(counts[40], 1)  # Zipf-like head vs tail
    assert len(set(normal)) >= 0.3 * len(normal)  # random parameters: contents rarely repeat


def test_rare_anomalous_templates_are_few_lines_per_episode(log_lines) -> None:
    rare = [m for m in log_lines
            if m["label"] != NORMAL_LABEL and _matches(ANOMALOUS_TEMPLATES, m["content"])]
    assert len(rare) >= 30
    assert len({m["label"] for m in rare}) >= 8
    per_episode = defaultdict(int)  # (node, minute) ≈ one episode
    for m in rare:
        per_episode[m["node"], int(m["epoch"]) // 60] += 1
    assert max(per_episode.values()) <= 10
    assert np.median(list(per_episode.values())) <= 3


def test_some_anomalous_templates_are_textual_twins_of_normal_ones() -> None:
    def tokens(text: str) -> set[str]:
        return set(PLACEHOLDER.sub(" ", text).split())

    twins = 0
    for anomalous in ANOMALOUS_TEMPLATES:
        for normal in NORMAL_TEMPLATES:
            shared = tokens(anomalous.text) & tokens(normal.text)
            if len(shared) >= 0.6 * len(tokens(normal.text)) and len(shared) >= 3:
                twins += 1
                # Different token counts keep them in different Drain clusters.
                assert len(anomalous.text.split()) != len(normal.text.split())
    assert twins >= 3


def test_bursts_are_normal_templates_repeated_within_seconds(log_lines) -> None:
    burst = [m for m in log_lines
             if m["label"].endswith(synthetic.BURST_LABEL_SUFFIX)]
    assert burst and all(_matches(NORMAL_TEMPLATES, m["content"]) for m in burst)
    runs = defaultdict(list)
    for m in burst:
        runs[m["node"], m["label"]].append(int(m["epoch"]))
    sizes = []
    for epochs in runs.values():  # split each node's burst lines into runs at gaps > 60 s
        epochs = np.array(epochs)
        for run in np.split(epochs, np.flatnonzero(np.diff(epochs) > 60) + 1):
            assert run[-1] - run[0] <= 30
            sizes.append(run.size)
    assert len(sizes) >= 10 and min(sizes) >= 5 and np.median(sizes) >= 10


def test_distractors_cluster_around_episodes_and_also_appear_alone(log_lines) -> None:
    minute = np.array([int(m["epoch"]) // 60 for m in log_lines])
    is_distractor = np.array([_matches(DISTRACTOR_TEMPLATES, m["content"]) for m in log_lines])
    anomalous = np.array([m["label"] != NORMAL_LABEL for m in log_lines])
    assert not np.any(is_distractor & anomalous)  # distractors are always benign
    _, window = np.unique(minute, return_inverse=True)
    has_anomaly = np.bincount(window, weights=anomalous) > 0
    has_distractor = np.bincount(window, weights=is_distractor) > 0
    # Neighbouring windows too: a cluster may straddle a window edge.
    near = has_distractor | np.r_[has_distractor[1:], False] | np.r_[False, has_distractor[:-1]]
    assert near[has_anomaly].mean() >= 0.6
    alone = has_distractor[~has_anomaly].mean()
    assert 0.02 <= alone <= 0.2
    assert has_distractor[has_anomaly].mean() > 3 * alone  # they correlate with anomalies
    # In an anomalous window, distractors usually outnumber the rare anomalous lines.
    assert is_distractor.sum() > (anomalous & np.array(
        [not m["label"].endswith(synthetic.BURST_LABEL_SUFFIX) for m in log_lines])).sum()


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out" / "synthetic.log"
    write_synthetic_log(target, 500, seed=1)
    before = target.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["synthetic.log"]

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(synthetic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_synthetic_log(target, 800, seed=2)
    assert target.read_bytes() == before  # old file untouched
    assert [p.name for p in target.parent.iterdir()] == ["synthetic.log"]  # no temp left behind
