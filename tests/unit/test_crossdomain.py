"""Cross-domain: shared template table, K-shot support, ProtoNet / MAML, the --cross-domain grid."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset
from report_checks import run_report_only_light

from benchmark import cli
from benchmark.adaptation import draw_support
from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset, TemplateTable
from benchmark.data.shared_templates import RepresentationSpec, share_templates
from benchmark.model_api import ModelContext
from benchmark.registry import get_model, resolve_config
from benchmark.store import load_cross_domain_records, read_record
from benchmark.threshold import best_f1_threshold


def renamed(data: PreparedDataset, name: str, texts: tuple[str, ...]) -> PreparedDataset:
    """`data` under another name and other template texts (same bags, same labels)."""
    table = TemplateTable(texts, data.templates.vectors)
    splits = {k: EvalSplit(BagSet(*_arrays(s.bags), table), s.line_labels)
              for k, s in data.splits.items()}
    return PreparedDataset(name, table, splits, dict(data.summary))


def _arrays(bags: BagSet):
    lines = np.concatenate([bags.instances(b) for b in range(len(bags))])
    ends = np.cumsum(bags.lengths)
    return lines, ends - bags.lengths, ends, bags.labels


def two_systems() -> tuple[PreparedDataset, PreparedDataset]:
    """System a: "event i happened on <*>"; system b shares templates 0–9 and the two anomalous
    templates' texts, the rest are its own words."""
    a = make_tiny_dataset(seed=0, bags_per_split=24)
    b = make_tiny_dataset(seed=1, bags_per_split=24)
    n = a.templates.size
    b_texts = tuple(t if i < 10 or i >= n - 2 else f"zq widget {'k' * i} <*>"
                    for i, t in enumerate(b.templates.texts))
    return renamed(a, "sys-a", a.templates.texts), renamed(b, "sys-b", b_texts)


@pytest.mark.parametrize("kind", ["hashed", "word2vec"])
def test_shared_table_gives_one_id_and_one_vector_per_text(kind):
    a, b = two_systems()
    shared = share_templates([a, b], ["sys-a"], RepresentationSpec(kind, dim=16))
    sa, sb = shared["sys-a"], shared["sys-b"]
    assert sa.templates is sb.templates
    table = sa.templates
    assert len(set(table.texts)) == table.size == 2 * a.templates.size - 12
    for data, own in ((sa, a), (sb, b)):
        for split in ("train", "val", "test"):
            new, old = data.splits[split].bags, own.splits[split].bags
            np.testing.assert_array_equal(new.labels, old.labels)
            np.testing.assert_array_equal(new.lengths, old.lengths)
            for bag in range(len(new)):
                assert [table.texts[t] for t in new.instances(bag)] == [
                    own.templates.texts[t] for t in old.instances(bag)]
    same = table.texts.index(b.templates.texts[3])
    assert same == table.texts.index(a.templates.texts[3])
    vectors = table.vectors
    assert vectors.shape == (table.size, 16) and np.isfinite(vectors).all()
    only_b = table.texts.index(b.templates.texts[12])
    if kind == "word2vec":  # fitted on the source: words of b alone are skipped
        assert not vectors[only_b].any()
        assert np.abs(vectors[same]).sum() > 0
    else:
        again = share_templates([b, a], ["sys-b"], RepresentationSpec(kind, dim=16))
        other = again["sys-a"].templates
        np.testing.assert_array_equal(other.vectors[other.texts.index(table.texts[same])],
                                      vectors[same])


def test_support_is_seeded_per_class_and_from_the_training_split_only():
    data = make_tiny_dataset(seed=0, bags_per_split=48)
    train = data.splits["train"].bags
    first = draw_support(train, 5, seed=3)
    np.testing.assert_array_equal(first, draw_support(train, 5, seed=3))
    assert not np.array_equal(first, draw_support(train, 5, seed=4))
    assert first.max() < len(train) and len(np.unique(first)) == 10
    np.testing.assert_array_equal(train.labels[first], [0] * 5 + [1] * 5)
    bigger = draw_support(train, 10, seed=3)
    assert set(first) <= set(bigger)  # a larger K adds bags to a smaller K's support
    assert len(draw_support(train, 0, seed=3)) == 0


def test_cross_domain_support_comes_from_the_target_training_bags(tmp_path):
    from benchmark import crossdomain
    from benchmark.run import RunContext, run_one

    a, b = two_systems()
    shared = share_templates([a, b], ["sys-a"], RepresentationSpec("hashed", dim=16))
    spec = crossdomain.CrossDomainSpec(("sys-a",), "sys-b", (3,),
                                       RepresentationSpec("hashed", dim=16), 2, 1e-4)
    config = resolve_config("protonet", quick=True, overrides=TINY)
    runs = crossdomain.plan_cross_domain(spec, ["protonet"], {"protonet": config}, {}, (7,),
                                         {"sys-a": {}, "sys-b": {}}, tmp_path)
    context = RunContext(device="cpu", libraries={}, git_commit=None, python="3", threads=1,
                         results_dir=tmp_path)
    [path] = run_one(runs[0], shared, context)  # the one executor runs a cross-domain spec
    assert path == runs[0].outputs[0].path
    support = read_record(path).extras["cross_domain"]["support"]
    train = shared["sys-b"].splits["train"].bags
    np.testing.assert_array_equal(support["bags"], draw_support(train, 3, seed=7))
    assert support == {"bags": support["bags"], "positive": 3, "negative": 3}


TINY = {"epochs": 3, "patience": 3, "steps_per_epoch": 8, "hidden_dim": 16,
        "attention_dim": 8}


def fit(name: str, data: PreparedDataset, **overrides) -> object:
    config = resolve_config(name, quick=True, overrides={**TINY, **overrides})
    model = get_model(name, config, ModelContext(data.templates, 0, torch.device("cpu")))
    return model.fit(data.splits["train"].bags, data.splits["val"].bags)


def test_maml_full_and_first_order_differ_and_both_learn_the_planted_task():
    data = make_tiny_dataset(seed=0, bags_per_split=48)
    test = data.splits["test"].bags
    scores = {}
    for first_order in (False, True):
        model = fit("maml", data, first_order=first_order, epochs=6, patience=6,
                    inner_steps=2, steps_per_epoch=10)
        p = model.score(test).probabilities
        scores[first_order] = p
        assert best_f1_threshold(p, test.labels).f1 > 0.75, f"first_order={first_order}"
    assert not np.allclose(scores[False], scores[True])


@pytest.mark.parametrize("name", ["maml", "protonet"])
def test_within_one_dataset_the_scored_model_is_the_validated_one(name):
    """Issue 22: MAML was validated after adapting on its fixed support but scored unadapted
    (real BGL seed 1: validation F1 0.97 while scoring, AUC 0.05); the kept epoch's validation
    score must be what the fitted model scores on the validation split."""
    data = make_tiny_dataset(seed=1, bags_per_split=48)
    model = fit(name, data, epochs=2, patience=2, steps_per_epoch=2)  # not yet perfect
    val = data.splits["val"].bags
    history = model.history_
    kept = history.val_scores[history.best_epoch - 1]
    assert best_f1_threshold(model.score(val).probabilities, val.labels).f1 == pytest.approx(kept)


def test_protonet_learns_the_planted_task_and_adapts_its_prototypes():
    data = make_tiny_dataset(seed=0, bags_per_split=48)
    model = fit("protonet", data, epochs=5)
    test = data.splits["test"].bags
    assert best_f1_threshold(model.score(test).probabilities, test.labels).f1 > 0.75
    before = model.net_.prototypes.clone()
    train = data.splits["train"].bags
    model.adapt(train.subset(draw_support(train, 2, seed=0)), 0, 0.0)
    assert not torch.equal(before, model.net_.prototypes)


def test_generic_fine_tune_changes_the_weights_on_the_support_only():
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    config = resolve_config("logmilp", quick=True, overrides={"epochs": 1, "hidden_dim": 16,
                                                              "steps_per_epoch": 2})
    model = get_model("logmilp", config, ModelContext(data.templates, 0, torch.device("cpu")))
    model.fit(data.splits["train"].bags, data.splits["val"].bags)
    before = {k: v.clone() for k, v in model.net_.state_dict().items()}
    train = data.splits["train"].bags
    model.adapt(train.subset(draw_support(train, 2, seed=0)), 3, 1e-3)
    after = model.net_.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def cross_argv(results: Path, data_dir: Path, *extra: str) -> list[str]:
    return ["--cross-domain", "--sources", "synthetic", "--target", "synthetic-b",
            "--shots", "0", "2", "--models", "protonet", "maml", "--seeds", "0", "--quick",
            "--max-lines", "6000", "--device", "cpu", "--threads", "1",
            "--data-dir", str(data_dir), "--results-dir", str(results),
            *[f"--set={m}.{k}={json.dumps(v)}" for m in ("protonet", "maml")
              for k, v in TINY.items()], *extra]


@pytest.mark.slow
def test_cross_domain_grid_end_to_end_then_resume_then_report_only(tmp_path, capsys):
    results, data_dir = tmp_path / "results", tmp_path / "data"
    assert cli.run_all_main(cross_argv(results, data_dir)) == 0
    assert "4 finished, 0 already recorded, 0 failed" in capsys.readouterr().out
    pair = results / "runs" / "crossdomain" / "synthetic→synthetic-b"
    for model in ("protonet", "maml"):
        for k in (0, 2):  # --quick: the quick variant folder, beside any full-data record
            record = read_record(pair / model / "quick" / f"shots{k}" / "seed0.json")
            assert record is not None and record.extras["cross_domain"]["shots"] == k
    assert load_cross_domain_records(results) == []
    assert len(load_cross_domain_records(results, "quick")) == 4
    tables, figures = results / "tables" / "quick", results / "figures" / "quick"
    table = (tables / "crossdomain.md").read_text()
    assert "synthetic→synthetic-b K=2" in table and "ProtoNet" in table and "MAML" in table
    outputs = {p: p.read_bytes() for p in [tables / "crossdomain.md", tables / "crossdomain.csv",
                                           figures / "crossdomain_shots.pdf",
                                           figures / "crossdomain_shots.png"]}
    assert cli.run_all_main(cross_argv(results, data_dir)) == 0
    assert "0 finished, 4 already recorded" in capsys.readouterr().out
    for path in outputs:
        path.unlink()
    run_report_only_light(results, "--variant", "quick")
    for path, content in outputs.items():
        if path.suffix != ".png":  # PNG bytes may differ by renderer metadata; checked exists
            assert path.read_bytes() == content, path
        assert path.is_file()


@pytest.mark.parametrize("extra, message", [
    (["--cross-domain", "--sources", "synthetic"], "needs --sources and --target"),
    (["--sources", "synthetic", "--target", "synthetic-b"], "need --cross-domain"),
    (["--cross-domain", "--sources", "synthetic", "--target", "synthetic"], "also a source"),
    (["--cross-domain", "--sources", "synthetic", "--target", "synthetic-b", "--datasets",
      "bgl"], "no --datasets"),
])
def test_cross_domain_usage_errors_exit_2(tmp_path, capsys, extra, message):
    assert cli.run_all_main([*extra, "--results-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_profile_b_is_another_vocabulary_with_the_same_roles():
    from benchmark.data import synthetic

    a, b = synthetic.PROFILES["a"].templates, synthetic.PROFILES["b"].templates
    assert len(a) == len(b)
    assert sum(x.text == y.text for x, y in zip(a, b, strict=True)) < len(a) // 5
    for x, y in zip(a, b, strict=True):
        assert len(x.text.split(" ")) == len(y.text.split(" "))  # Drain groups by length
        assert (x.label == synthetic.NORMAL_LABEL) == (y.label == synthetic.NORMAL_LABEL)
    assert dataclasses.asdict(synthetic.PROFILES["b"].spec) != dataclasses.asdict(
        synthetic.DEFAULT_SPEC)
