"""MIDLog baseline: patch encoder and PatchMixer padding invariance, top-k MIL pooling, score
contract, learning."""

import dataclasses

import numpy as np
import pytest
import torch
from baseline_checks import bag_auc, check_empty_bag, fit_on_tiny

from baselines.midlog import MIDLogConfig, PatchEncoder, PatchMixer, top_k_mean
from benchmark.data.bagset import BagSet
from benchmark.registry import get_model, resolve_config

SMALL = {"hidden": 32, "token_hidden": 64, "channel_hidden": 64, "attention_heads": 4,
         "epochs": 25, "patience": 25, "batch_size": 16, "dropout": 0.0}


@pytest.fixture(scope="module")
def fitted():
    from conftest import make_tiny_dataset

    data = make_tiny_dataset()
    return data, fit_on_tiny("midlog", resolve_config("midlog", overrides=SMALL), data)


def test_patchmixer_keeps_shape_and_ignores_padding():
    torch.manual_seed(0)
    mixer = PatchMixer(8, MIDLogConfig(hidden=6, token_hidden=10, channel_hidden=10)).eval()
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    out = mixer(x, mask)
    assert out.shape == (2, 5, 6)
    assert torch.all(out[~mask] == 0)
    noisy = x.clone()
    noisy[1, 3:] = 100.0 * torch.randn(2, 6)
    torch.testing.assert_close(mixer(noisy, mask), out)
    # token mixing really mixes: changing a real instance moves the others
    moved = x.clone()
    moved[1, 0] = torch.randn(6)
    assert not torch.allclose(mixer(moved, mask)[1, 1], out[1, 1])


def test_patchmixer_refuses_bags_longer_than_its_length():
    mixer = PatchMixer(4, MIDLogConfig(hidden=6, token_hidden=10, channel_hidden=10))
    with pytest.raises(ValueError, match="exceeds the token-mixing length 4"):
        mixer(torch.zeros(1, 5, 6), torch.ones(1, 5, dtype=torch.bool))


def test_patch_encoder_attends_over_real_entries_only():
    torch.manual_seed(0)
    encoder = PatchEncoder(5, MIDLogConfig(hidden=8, attention_heads=2, channel_hidden=16)).eval()
    x = torch.randn(3, 4, 5)
    mask = torch.tensor([[True] * 4, [True, True, False, False], [False] * 4])
    out, received = encoder(x, mask)
    assert out.shape == (3, 4, 8) and torch.isfinite(out).all()
    assert torch.all(out[~mask] == 0)  # padding and the empty bag: zero, no NaN
    assert torch.all(received[~mask] == 0)
    torch.testing.assert_close(received.sum(dim=1), torch.tensor([1.0, 1.0, 0.0]))
    noisy = x.clone()
    noisy[1, 2:] = 100.0 * torch.randn(2, 5)
    torch.testing.assert_close(encoder(noisy, mask), (out, received))
    moved = x.clone()
    moved[1, 0] = torch.randn(5)  # self-attention: an entry sees the others
    assert not torch.allclose(encoder(moved, mask)[0][1, 1], out[1, 1])


def test_top_k_mean_averages_the_k_largest_real_logits():
    logits = torch.tensor([[1.0, 5.0, 3.0, 9.0], [2.0, 7.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False],
                         [False] * 4])
    out = top_k_mean(logits, mask, 2)
    torch.testing.assert_close(out[:2], torch.tensor([4.0, 4.5]))  # 9.0 is padding
    assert out[2] == -1e4  # no real instance: probability 0
    torch.testing.assert_close(top_k_mean(logits, mask, 3)[1], torch.tensor(4.5))  # k > length


def test_token_mixing_length_covers_longest_bag(tiny_dataset, cpu_context):
    train = tiny_dataset.splits["train"].bags
    config = resolve_config("midlog", quick=True, overrides={"max_len": 4, "epochs": 1})
    model = get_model("midlog", config, cpu_context).fit(train, tiny_dataset.splits["val"].bags)
    assert model.length_ == max(train.max_length, tiny_dataset.splits["val"].bags.max_length) > 4
    long_bag = BagSet(np.zeros(model.length_ + 1, dtype=np.int32), np.array([0]),
                      np.array([model.length_ + 1]), np.array([0], dtype=np.int8),
                      tiny_dataset.templates)
    with pytest.raises(ValueError, match="token-mixing length"):
        model.score(long_bag)


def test_empty_bag_scores_zero(fitted):
    data, model = fitted
    check_empty_bag(model, data.splits["test"].bags)


def test_learns_planted_task(fitted):
    data, model = fitted
    assert bag_auc(model, data.splits["test"].bags) > 0.75


def test_instance_scores_favour_planted_lines(fitted):
    data, model = fitted
    test = data.splits["test"]
    scores = model.score(test.bags).instance_scores
    labels = test.instance_labels()
    positive = labels.max(1) == 1
    top = scores[positive].argmax(1)
    hit = labels[positive][np.arange(positive.sum()), top].mean()
    assert hit > 0.5


def test_same_seed_same_scores(fitted):
    data, model = fitted
    config = dataclasses.replace(model.config, epochs=2)
    runs = [fit_on_tiny("midlog", config, data) for _ in range(2)]
    a, b = (m.score(data.splits["test"].bags) for m in runs)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.instance_scores, b.instance_scores)
