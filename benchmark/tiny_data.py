"""The tiny planted-anomaly dataset, built in memory with NumPy only (no torch, no files), so a
subprocess can build it with torch blocked (tests/models/test_count_models.py). The conformance kit
(benchmark.conformance) fits every model on it; the tests import it through tests/tiny_data.py."""

from __future__ import annotations

import numpy as np

from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset, TemplateTable

N_TEMPLATES = 24
ANOMALOUS_TEMPLATES = (22, 23)


def make_tiny_dataset(seed: int = 0, bags_per_split: int = 48, dim: int = 16) -> PreparedDataset:
    """Bags of 4–12 lines over 22 normal templates; about a third of the bags carry one or two
    lines of the anomalous templates 22/23 (line label 1). Deterministic by seed."""
    rng = np.random.default_rng(seed)
    texts = tuple(f"event {i} happened on <*>" for i in range(N_TEMPLATES))
    vectors = rng.normal(size=(N_TEMPLATES, dim)).astype(np.float32)
    templates = TemplateTable(texts, vectors)
    line_templates, line_labels, starts, ends = [], [], [], []
    for _ in range(3 * bags_per_split):
        n = int(rng.integers(4, 13))
        seq = list(rng.integers(0, N_TEMPLATES - 2, size=n))
        labels = [0] * n
        if rng.random() < 0.35:
            for pos in rng.choice(n, size=int(rng.integers(1, 3)), replace=False):
                seq[pos] = int(rng.choice(ANOMALOUS_TEMPLATES))
                labels[pos] = 1
        starts.append(len(line_templates))
        line_templates += seq
        line_labels += labels
        ends.append(len(line_templates))
    line_templates = np.asarray(line_templates, dtype=np.int32)
    line_labels = np.asarray(line_labels, dtype=np.int8)
    starts, ends = np.asarray(starts), np.asarray(ends)
    bag_labels = np.array(
        [line_labels[s:e].max() for s, e in zip(starts, ends, strict=True)], dtype=np.int8
    )
    splits = {}
    for k, name in enumerate(("train", "val", "test")):
        sl = slice(k * bags_per_split, (k + 1) * bags_per_split)
        bags = BagSet(line_templates, starts[sl], ends[sl], bag_labels[sl], templates)
        splits[name] = EvalSplit(bags, line_labels)
    summary = {"lines": len(line_templates), "unparsed_lines": 0,
               "anomalous_lines": int(line_labels.sum()), "templates": N_TEMPLATES}
    return PreparedDataset("tiny", templates, splits, summary)
