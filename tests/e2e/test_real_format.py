"""Models on real-format BGL data, beyond the in-memory tiny dataset.

1. A log with real BGL's burst structure (`write_bursty_bgl_log`: few templates, one line
   repeated hundreds of times so that 128-line bags hold one template, anomalies filling whole
   bags in training but short in test, a positive-rate shift between validation and test). On a
   real 100k-line BGL sample LogFormer and MIDLog scored test AUC 0.10 / 0.27 at `--quick` sizes.
   Here MIDLog scored 0.49 before its fix: its zero-padded token mixing grows with the line
   count, the first epochs score every 128-line bag 0.94–0.99 whatever its template, validation
   F1 stays flat and the 3 quick epochs kept epoch 1. (LogFormer's inversion did not reproduce on
   this log nor on BGL_2k; the test guards it all the same.)
2. Every registered model, fitted through the whole pipeline on BGL-format lines
   (`write_bgl_log`: real BGL texts, ~12 lines per 60 s bag), scores normal test bags with a
   planted anomalous line above the normal test bags' median. (Not on Loghub's BGL_2k: a
   1-in-2374 sample of BGL whose test period is full of templates unseen in training, and
   whose bags are mostly one line; DeepLog failed this check there.)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from baseline_checks import bag_auc, fit_on_tiny
from data_samples import write_bgl_log, write_bursty_bgl_log

from benchmark.data.bagset import BagSet, PreparedDataset
from benchmark.data.pipeline import prepare_dataset
from benchmark.registry import list_models, resolve_config

PLANTED_TEMPLATE = "data TLB error interrupt"  # KERNDTLB in `write_bgl_log`, as in real BGL


@pytest.fixture(scope="module")
def bursty(tmp_path_factory) -> PreparedDataset:
    folder = tmp_path_factory.mktemp("bursty")
    raw = write_bursty_bgl_log(folder / "bgl.log")
    return prepare_dataset("bgl", data_file=raw, data_dir=folder / "data")


def test_bursty_log_has_the_real_bgl_traits(bursty):
    s = bursty.summary
    assert s["templates"] <= 12
    lengths = np.concatenate([bursty.splits[n].bags.lengths for n in ("train", "val", "test")])
    assert (lengths == 128).mean() > 0.2  # bags cut out of long bursts
    rate = {n: s["splits"][n]["positive_bags"] / s["splits"][n]["bags"] for n in s["splits"]}
    assert rate["val"] > 2 * rate["test"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logformer", "midlog"])
def test_bag_supervised_baselines_rank_bursty_bgl_above_chance(bursty, name):
    """What the model can learn here, with the quick config's whole epoch budget: on this log the
    validation F1 is flat for the first epochs, so early stopping (patience 3) decides by the seed
    whether MIDLog trains past epoch 4 (MIDLog, early stopping, seeds 0 1 2: AUC 0.51 / 0.83 /
    0.48 with length_chunk 8 and 0.75 / 0.58 / 0.48 without; fixed budget, length_chunk 8: 0.82 /
    0.77 / 0.71, seeds 3 4: 0.75 / 0.86; LogFormer fixed budget 0.98 / 0.89 / 0.93). Which epoch
    to keep is issue 26's model-selection question, not this test's."""
    config = replace(resolve_config(name, quick=True), early_stopping=False)
    model = fit_on_tiny(name, config, bursty)
    assert bag_auc(model, bursty.splits["test"].bags) > 0.6


@pytest.fixture(scope="module")
def bgl_lines(tmp_path_factory) -> PreparedDataset:
    folder = tmp_path_factory.mktemp("bgl_lines")
    raw = write_bgl_log(folder / "bgl.log", n_lines=2400)
    return prepare_dataset("bgl", data_file=raw, data_dir=folder / "data")


def planted_bags(bags: BagSet, template: int) -> tuple[BagSet, BagSet]:
    """(normal bags of `bags`, the same bags with their first line replaced by `template`)."""
    normal = bags.subset(np.flatnonzero(bags.labels == 0))
    lines = np.concatenate([normal.instances(b) for b in range(len(normal))]).astype(np.int32)
    ends = np.cumsum(normal.lengths)
    starts = ends - normal.lengths
    planted = lines.copy()
    planted[starts] = template
    clean = BagSet(lines, starts, ends, np.zeros(len(normal), np.int8), bags.templates)
    return clean, BagSet(planted, starts, ends, np.ones(len(normal), np.int8), bags.templates)


EPOCHS_ON_BGL_LINES = {"logmilp": 15, "logmilp_nocon": 15}
"""Epoch budgets above the quick ones for this log. LogMILP's validation F1 here stays at the
all-positive level (0.69) for 7 epochs and rises from epoch 9 (0.76-0.82, seed 0); under
`min_epochs = 8` (issue 26) the quick budget of 8 keeps epoch 8, before it has learned (planted
median 0.363 vs clean 0.371); the earlier rule kept epoch 2 and passed by 0.003 (0.414 vs 0.411).
With 15 epochs: 0.473 vs 0.389, 73 % of planted bags above the clean median."""


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_model_ranks_a_planted_anomaly_on_bgl_lines(bgl_lines, name):
    template = bgl_lines.templates.texts.index(PLANTED_TEMPLATE)
    config = resolve_config(name, quick=True)
    if name in EPOCHS_ON_BGL_LINES:
        config = replace(config, epochs=EPOCHS_ON_BGL_LINES[name])
    model = fit_on_tiny(name, config, bgl_lines)
    clean, planted = planted_bags(bgl_lines.splits["test"].bags, template)
    p_clean = model.score(clean).probabilities
    p_planted = model.score(planted).probabilities
    assert np.median(p_planted) > np.median(p_clean)
    assert np.mean(p_planted > np.median(p_clean)) > 0.5
