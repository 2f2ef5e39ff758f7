"""LogMILP: loss terms on hand-built tensors, the forward pass, and learning the planted task."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from conftest import ANOMALOUS_TEMPLATES, make_tiny_dataset
from sklearn.metrics import roc_auc_score

from benchmark.model_api import ModelContext
from benchmark.registry import get_model, resolve_config
from models.logmilp import LogMILPConfig, LogMILPNet, logmilp_objective, zero_instances
from models.logmilp_losses import (
    attention_entropy_loss,
    consistency_loss,
    focal_loss,
    key_instances,
    prototype_loss,
)


def test_focal_loss_matches_formula():
    logits = torch.tensor([[0.0, math.log(0.8 / 0.2)], [0.0, math.log(0.8 / 0.2)]])
    labels = torch.tensor([1.0, 0.0])  # p_t = 0.8, then 0.2
    expected = (-(0.2**2) * math.log(0.8) - (0.8**2) * math.log(0.2)) / 2
    assert focal_loss(logits, labels, gamma=2.0).item() == pytest.approx(expected, rel=1e-5)
    # γ = 0 is cross-entropy
    ce = torch.nn.functional.cross_entropy(logits, labels.long())
    assert focal_loss(logits, labels, gamma=0.0).item() == pytest.approx(ce.item(), rel=1e-6)


def test_prototype_loss_hinges_on_the_right_bags():
    m_bag = torch.tensor([0.3, 0.9, 0.1, 0.1])
    e_bag = torch.tensor([0.0, 0.0, 0.2, 0.7])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    # pos: mean(0.2, 0) = 0.1; neg: mean(0.3, 0) = 0.15, weighted by 2
    loss = prototype_loss(m_bag, e_bag, labels, 0.5, 0.5, entropy_weight=2.0)
    assert loss.item() == pytest.approx(0.1 + 2 * 0.15)
    only_neg = prototype_loss(m_bag[2:], e_bag[2:], labels[2:], 0.5, 0.5, 1.0)
    assert only_neg.item() == pytest.approx(0.15)  # empty positive subset contributes 0


def test_attention_entropy_is_normalised_by_real_length():
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    uniform4 = torch.full((4,), 0.25)
    uniform2 = torch.tensor([0.5, 0.5, 0.0, 0.0])
    single = torch.tensor([1.0, 0.0, 0.0, 0.0])
    attention = torch.stack([
        torch.stack([uniform4, torch.tensor([1.0, 0, 0, 0])]),  # entropies 1 and 0 after ÷ log 4
        torch.stack([uniform2, uniform2]),  # 1 and 1 after ÷ log 2 (not log 4)
        torch.stack([single, single]),  # W = 1: contributes 0
    ])
    loss = attention_entropy_loss(attention, mask, eps=1e-12)
    assert loss.item() == pytest.approx((1 + 0 + 1 + 1 + 0 + 0) / 6, abs=1e-6)


def test_consistency_loss_with_and_without_margin_hit():
    labels = torch.tensor([1.0, 1.0, 0.0])
    p_orig = torch.tensor([0.9, 0.9, 0.9])
    p_pert = torch.tensor([0.5, 0.85, 0.9])  # drops 0.4 (margin met), 0.05 (penalty 0.15)
    assert consistency_loss(p_orig, p_pert, labels, 0.2).item() == pytest.approx(0.15 / 2)
    assert consistency_loss(p_orig[:1], p_pert[:1], labels[:1], 0.2).item() == 0.0
    assert consistency_loss(p_orig, p_pert, torch.zeros(3), 0.2).item() == 0.0  # no positives


def test_key_instance_is_argmax_of_min_entropy_head():
    attention = torch.tensor([[
        [0.4, 0.3, 0.3, 0.0],  # high entropy, argmax 0
        [0.05, 0.05, 0.9, 0.0],  # lowest entropy, argmax 2
        [0.5, 0.5, 0.0, 0.0],
    ]])
    head, instance = key_instances(attention, eps=1e-8)
    assert head.tolist() == [1] and instance.tolist() == [2]


@pytest.fixture
def net_and_batch(tiny_dataset):
    torch.manual_seed(0)
    config = LogMILPConfig(hidden_dim=16, feedforward_dim=32, attention_dim=8)
    net = LogMILPNet(tiny_dataset.templates, config)
    bags = tiny_dataset.splits["train"].bags
    ids, mask = bags.padded(np.arange(12))
    x = net.embed(torch.from_numpy(ids))
    labels = torch.tensor(bags.labels[:12], dtype=torch.float32)
    return net, config, x, torch.from_numpy(mask), labels


def test_forward_ignores_padding(net_and_batch):
    net, _, x, mask, _ = net_and_batch
    net.eval()
    with torch.no_grad():
        out = net(x, mask)
        wide = net(torch.cat([x, torch.randn(x.shape[0], 5, x.shape[2])], 1),
                   torch.cat([mask, torch.zeros(mask.shape[0], 5, dtype=torch.bool)], 1))
    torch.testing.assert_close(wide.logits, out.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(wide.attention[..., : x.shape[1]], out.attention, atol=1e-5,
                               rtol=1e-5)
    assert torch.all(out.attention.masked_select(~mask[:, None, :]) == 0)
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(x.shape[0], 4))
    assert torch.all((out.assignment_entropy > 0) & (out.assignment_entropy <= 1 + 1e-6))
    assert torch.all(out.max_similarity >= out.mean_similarity)


def test_objective_sums_terms_and_runs_second_pass_only_when_needed(net_and_batch):
    net, config, x, mask, labels = net_and_batch
    assert labels.min() == 0 and labels.max() == 1
    calls = []  # batch size of every forward pass
    net.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    net.train()
    torch.manual_seed(1)
    terms = logmilp_objective(net, x, mask, labels, config)
    assert calls == [len(labels), int(labels.sum())]  # the perturbed pass sees positive bags
    expected = (terms.classification + config.lambda_proto * terms.prototype
                + config.lambda_attn * terms.attention + config.lambda_con * terms.consistency)
    assert terms.total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms.consistency.item() > 0  # untrained: zeroing one instance barely moves P
    calls.clear()
    terms = logmilp_objective(net, x, mask, labels, dataclasses.replace(config, lambda_con=0.0))
    assert calls == [len(labels)] and terms.consistency.item() == 0.0


def test_consistency_gradient_flows_through_both_passes(net_and_batch):
    net, config, x, mask, labels = net_and_batch
    net.eval()  # no dropout: the two passes differ only by the zeroed key instance

    def consistency_grad(detach_perturbed: bool) -> torch.Tensor:
        net.zero_grad()
        out = net(x, mask)
        _, key = key_instances(out.attention, config.eps)
        p_pert = net(zero_instances(x, key), mask).probability
        if detach_perturbed:
            p_pert = p_pert.detach()
        consistency_loss(out.probability, p_pert, labels, config.margin_con).backward()
        return net.projection.weight.grad.clone()

    net.zero_grad()
    logmilp_objective(net, x, mask, labels, config).consistency.backward()
    both = net.projection.weight.grad.clone()
    torch.testing.assert_close(both, consistency_grad(detach_perturbed=False))
    assert not torch.allclose(both, consistency_grad(detach_perturbed=True))


def test_learns_the_planted_task_and_attends_to_anomalous_lines():
    data = make_tiny_dataset(seed=1, bags_per_split=96)
    context = ModelContext(data.templates, seed=0, device=torch.device("cpu"))
    config = resolve_config("logmilp", overrides={"epochs": 8, "patience": 3, "batch_size": 32})
    model = get_model("logmilp", config, context).fit(data.splits["train"].bags,
                                                      data.splits["val"].bags)
    for name in ("val", "test"):
        split = data.splits[name]
        scores = model.score(split.bags)
        assert roc_auc_score(split.bags.labels, scores.probabilities) > 0.8, name
    test = data.splits["test"]
    scores = model.score(test.bags)
    positive = np.flatnonzero(test.bags.labels == 1)
    top = scores.instance_scores[positive].argmax(axis=1)
    top_templates = [test.bags.instances(b)[t] for b, t in zip(positive, top, strict=True)]
    hit_rate = np.isin(top_templates, ANOMALOUS_TEMPLATES).mean()
    assert hit_rate > 0.6, f"top-1 attention hits an anomalous line in {hit_rate:.0%} of bags"
