"""LogFormer baseline: stage-1 MLM pre-training, [CLS] attention, score contract, learning."""

import dataclasses

import numpy as np
import pytest
import torch
from baseline_checks import bag_auc, check_empty_bag, fit_on_tiny

from baselines.logformer import (
    CLS,
    PAD,
    UNK,
    LogFormerConfig,
    SequenceClassifier,
    TokenEncoder,
    TokenVocabulary,
    masked_token_loss,
    pretrain_token_encoder,
)
from benchmark.registry import resolve_config
from benchmark.trainer import TrainingDiverged

SMALL = {"dim": 32, "heads": 2, "ff_dim": 64, "epochs": 25, "patience": 25, "batch_size": 16,
         "mlm_epochs": 20, "dropout": 0.0}


@pytest.fixture(scope="module")
def fitted():
    from conftest import make_tiny_dataset

    data = make_tiny_dataset()
    return data, fit_on_tiny("logformer", resolve_config("logformer", overrides=SMALL), data)


def test_vocabulary_marks_unseen_tokens_unknown():
    vocab = TokenVocabulary([["disk", "error"], ["disk", "ok"]])
    rows = vocab.encode([["disk", "fan"], []])
    assert rows.shape == (2, 3)
    assert rows[0, 0] == CLS and rows[0, 2] == UNK and rows[0, 1] > CLS
    assert rows[1].tolist() == [CLS, PAD, PAD]


def test_mlm_pretraining_reduces_masked_token_loss():
    vocab_lists = [[f"w{i % 7}", "node", f"v{i % 5}", "state", f"w{(i * 3) % 7}"]
                   for i in range(35)]
    vocab = TokenVocabulary(vocab_lists)
    tokens = vocab.encode(vocab_lists)
    config = LogFormerConfig(dim=32, heads=2, ff_dim=64, mlm_epochs=40, dropout=0.0,
                             mlm_mask_ratio=0.3)
    torch.manual_seed(0)
    encoder = TokenEncoder(len(vocab), config)

    def held_out_loss():
        encoder.eval()
        with torch.no_grad():
            return float(masked_token_loss(encoder, tokens, 0.3, torch.Generator().manual_seed(9)))

    before = held_out_loss()
    losses = pretrain_token_encoder(encoder, tokens, config, seed=0)
    after = held_out_loss()
    assert len(losses) == 40
    assert losses[-1] < losses[0]
    assert after < 0.75 * before


def test_cls_attention_covers_real_instances_only():
    torch.manual_seed(0)
    config = LogFormerConfig(dim=16, heads=2, ff_dim=32, dropout=0.0)
    net = SequenceClassifier(torch.randn(10, 16), config).eval()
    ids = torch.tensor([[1, 2, 3, 0], [4, 0, 0, 0]])
    mask = ids > 0
    with torch.no_grad():
        logits, attention = net(ids, mask)
    assert logits.shape == (2,) and attention.shape == (2, 4)
    assert torch.all(attention[~mask] == 0)
    assert torch.all(attention[mask] > 0)
    assert torch.all(attention.sum(1) < 1)  # the rest goes to [CLS] itself


def test_empty_bag_scores_zero(fitted):
    data, model = fitted
    check_empty_bag(model, data.splits["test"].bags)


def test_learns_planted_task(fitted):
    data, model = fitted
    assert model.mlm_losses_[-1] < model.mlm_losses_[0]
    assert bag_auc(model, data.splits["test"].bags) > 0.75


def test_same_seed_same_scores(fitted):
    data, model = fitted
    config = dataclasses.replace(model.config, epochs=2, mlm_epochs=2)
    runs = [fit_on_tiny("logformer", config, data) for _ in range(2)]
    a, b = (m.score(data.splits["test"].bags) for m in runs)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.instance_scores, b.instance_scores)


def test_stage1_nan_loss_stops_with_an_error_naming_the_stage():
    vocab_lists = [["disk", "error", "node"], ["fan", "ok"]]
    vocab = TokenVocabulary(vocab_lists)
    config = LogFormerConfig(dim=16, heads=2, ff_dim=32, mlm_epochs=2)
    torch.manual_seed(0)
    encoder = TokenEncoder(len(vocab), config)
    with torch.no_grad():
        encoder.mlm_head.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"logformer stage 1: loss became nan at seed 3, "
                                               r"epoch 1, step 1"):
        pretrain_token_encoder(encoder, vocab.encode(vocab_lists), config, seed=3,
                               name="logformer stage 1")
