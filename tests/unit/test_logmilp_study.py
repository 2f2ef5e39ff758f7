"""Issue 26: LogMILP's per-epoch diagnostics, its study options and the "needle" profile."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset

from benchmark.layout import RunKey
from benchmark.model_api import ModelContext
from benchmark.records import plain
from benchmark.registry import get_model, resolve_config
from benchmark.run import RunContext, run_one, single_run
from benchmark.store import read_record
from models.logmilp import LogMILP, LogMILPConfig, LogMILPNet, remove_instances

SMALL = {"epochs": 3, "patience": 3, "batch_size": 16, "hidden_dim": 16, "feedforward_dim": 32,
         "attention_dim": 8}


def _fit(data, overrides=None, labels=True, model="logmilp"):
    torch.manual_seed(0)
    context = ModelContext(data.templates, seed=0, device=torch.device("cpu"),
                           diagnostic_line_labels=data.splits["train"].line_labels
                           if labels else None)
    config = resolve_config(model, overrides={**SMALL, **(overrides or {})})
    return get_model(model, config, context).fit(data.splits["train"].bags,
                                                 data.splits["val"].bags)


@pytest.mark.slow
def test_record_carries_per_term_losses_and_training_sr_loc_per_epoch(tmp_path):
    data = make_tiny_dataset(seed=1)
    config = resolve_config("logmilp", overrides=SMALL)
    path = tmp_path / "tiny" / "logmilp" / "seed0.json"
    spec = single_run(RunKey("tiny", "logmilp", 0), config, "0" * 64, path, {})
    context = RunContext(device="cpu", libraries={}, git_commit=None, python="3", threads=1,
                         results_dir=tmp_path)
    run_one(spec, data, context)
    history = read_record(path).history
    assert len(history["diagnostics"]) == len(history["losses"]) == 3
    for epoch, row in enumerate(history["diagnostics"]):
        for term in ("total", "classification", "prototype", "attention", "consistency",
                     "assignment_entropy"):
            assert math.isfinite(row[f"loss_{term}"]), (epoch, term)
        for name in ("train_loc@3", "train_sr", "train_key_hit", "train_sr_unique_key"):
            assert 0.0 <= row[name] <= 1.0, (epoch, name)
        # the recorded terms add up to the recorded epoch loss (Eq. 4 weights)
        c = config
        total = (row["loss_classification"] + c.lambda_proto * row["loss_prototype"]
                 + c.lambda_attn * row["loss_attention"] + c.lambda_con * row["loss_consistency"])
        assert total == pytest.approx(row["loss_total"], rel=1e-5)
        assert row["loss_total"] == pytest.approx(history["losses"][epoch], rel=1e-6)
    assert history["diagnostics"][0]["loss_consistency"] > 0


def test_diagnostics_change_no_training_number():
    data = make_tiny_dataset(seed=1)
    with_diag = _fit(data)
    plain_fit = _fit(data, labels=False)
    original = LogMILP.diagnostic_bags
    try:
        LogMILP.diagnostic_bags = 0
        without = _fit(data)
    finally:
        LogMILP.diagnostic_bags = original
    assert without.history_.diagnostics == []
    assert "train_sr" in with_diag.history_.diagnostics[0]
    assert "train_sr" not in plain_fit.history_.diagnostics[0]
    for other in (plain_fit, without):
        assert with_diag.history_.losses == other.history_.losses
        assert with_diag.history_.val_scores == other.history_.val_scores
        for key, tensor in with_diag.net_.state_dict().items():
            assert torch.equal(tensor, other.net_.state_dict()[key]), key


def test_study_options_are_left_out_of_records_at_their_default():
    default = plain(LogMILPConfig())
    for name in ("removal", "key_head", "early_stopping", "val_score"):
        assert name not in default
    assert default["min_epochs"] == 8  # the decided default: in every record and hash
    changed = plain(dataclasses.replace(LogMILPConfig(), removal="delete", min_epochs=4))
    assert changed["removal"] == "delete" and changed["min_epochs"] == 4


def test_history_without_diagnostics_is_recorded_as_before():
    from benchmark.trainer import TrainHistory

    recorded = plain(TrainHistory(losses=[1.0]))
    assert "diagnostics" not in recorded and recorded["losses"] == [1.0]
    assert "diagnostics" in plain(TrainHistory(diagnostics=[{"train_sr": 0.5}]))


def test_removal_rules():
    x = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2) + 1
    mask = torch.tensor([[True, True, True], [True, False, False]])
    index = torch.tensor([1, 0])
    zeroed, m, emptied = remove_instances(x, mask, index, "zero")
    assert torch.equal(zeroed[0, 1], torch.zeros(2)) and torch.equal(m, mask) and emptied is None
    mean, _, _ = remove_instances(x, mask, index, "mean")
    assert torch.allclose(mean[0, 1], (x[0, 0] + x[0, 2]) / 2)
    assert torch.equal(mean[1, 0], torch.zeros(2))  # one-line bag: nothing else to average
    assert torch.equal(mean[0, 0], x[0, 0])
    _, deleted_mask, emptied = remove_instances(x, mask, index, "delete")
    assert deleted_mask.tolist() == [[True, False, True], [True, False, False]]
    assert emptied.tolist() == [False, True]


def test_delete_equals_physically_removing_the_line():
    data = make_tiny_dataset()
    torch.manual_seed(0)
    config = LogMILPConfig(hidden_dim=16, feedforward_dim=32, attention_dim=8)
    net = LogMILPNet(data.templates, config).eval()
    bags = data.splits["train"].bags
    ids, mask = bags.padded(np.arange(6))
    drop = np.full(6, 2)
    short_ids, short_mask = bags.padded(np.arange(6), drop=drop)
    with torch.no_grad():
        x, m, _ = remove_instances(net.embed(torch.from_numpy(ids)), torch.from_numpy(mask),
                                   torch.from_numpy(drop), "delete")
        masked = net(x, m).probability
        removed = net(net.embed(torch.from_numpy(short_ids)), torch.from_numpy(short_mask))
    torch.testing.assert_close(masked, removed.probability, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("overrides", [{"removal": "delete"}, {"removal": "mean"},
                                       {"key_head": "mean"}, {"val_score": "loss"}])
def test_options_fit_and_score(overrides):
    data = make_tiny_dataset(seed=2)
    model = _fit(data, overrides)
    test = data.splits["test"].bags
    positive = np.flatnonzero(test.labels == 1)
    scores = model.score(test.subset(positive))
    key = np.where(np.isfinite(scores.instance_scores), scores.instance_scores,
                   -np.inf).argmax(axis=1)
    dropped = model.score(test.subset(positive), drop=key)
    assert np.all((dropped.probabilities >= 0) & (dropped.probabilities <= 1))
    assert np.all(np.isneginf(dropped.instance_scores[np.arange(len(key)), key]))


def test_fixed_budget_keeps_the_last_epoch_and_min_epochs_delays_selection():
    data = make_tiny_dataset(seed=1)
    fixed = _fit(data, {"early_stopping": False, "epochs": 4, "patience": 1})
    assert fixed.history_.best_epoch == 4 and len(fixed.history_.losses) == 4
    late = _fit(data, {"min_epochs": 3, "epochs": 4, "patience": 1})
    assert late.history_.best_epoch >= 3
    capped = _fit(data, {"min_epochs": 8, "epochs": 3, "patience": 1})  # min capped at epochs
    assert capped.history_.best_epoch == 3 and len(capped.history_.losses) == 3


def test_needle_profile_has_single_line_episodes_and_no_bursts(tmp_path: Path):
    from benchmark.data.synthetic import BURST_LABEL_SUFFIX, write_synthetic_log

    path = tmp_path / "needle.log"
    write_synthetic_log(path, 20000, seed=0, profile="needle")
    labels = [line.split(" ", 1)[0] for line in path.read_text().splitlines()]
    anomalous = [label for label in labels if label != "-"]
    assert anomalous and not any(label.endswith(BURST_LABEL_SUFFIX) for label in anomalous)
    minutes = {}
    for line in path.read_text().splitlines():
        label, epoch = line.split(" ", 2)[:2]
        if label != "-":
            minutes[int(epoch) // 60] = minutes.get(int(epoch) // 60, 0) + 1
    assert np.median(list(minutes.values())) == 1
