"""prepare_dataset end to end on tiny files: arrays, summary, determinism, cache, subsets."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from data_samples import write_bgl_log
from loghub import loghub_file

from benchmark.data import pipeline
from benchmark.data.cards import load_card
from benchmark.data.errors import DataError
from benchmark.data.parsing import DistinctContents, parse_distinct
from benchmark.data.pipeline import prepare_dataset
from benchmark.data.readers import read_all
from benchmark.data.tokens import tokenize_template


def test_prepared_dataset_is_consistent(tmp_path):
    raw = write_bgl_log(tmp_path / "bgl.log")
    data = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d")
    s = data.summary
    _, _, labels, _, _ = read_all(raw, "bgl")
    assert s["lines"] == 600 and s["unparsed_lines"] == 0
    assert s["anomalous_lines"] == int(labels.sum()) > 0
    assert data.templates.vectors.shape == (s["templates"], 100)
    assert data.templates.vectors.dtype == np.float32
    assert np.abs(data.templates.vectors).sum(axis=1).min() > 0
    json.dumps(s)  # JSON-able
    covered = np.zeros(600, bool)
    for name in ("train", "val", "test"):
        split = data.splits[name]
        bags = split.bags
        assert s["splits"][name] == {"bags": len(bags), "positive_bags": int(bags.labels.sum())}
        for b in range(len(bags)):
            lo, hi = bags.starts[b], bags.ends[b]
            assert bags.labels[b] == split.line_labels[lo:hi].max()
            covered[lo:hi] = True
        assert bags.instances(0).dtype == np.int32
    assert covered.all()
    assert s["splits"]["train"]["bags"] > s["splits"]["val"]["bags"] > 0
    assert s["subset"] == {"max_lines": None, "max_lines_from": None, "truncated": False,
                           "file": str(raw), "member": None, "quick": False}


def test_same_input_gives_identical_arrays_in_a_fresh_cache(tmp_path):
    raw = write_bgl_log(tmp_path / "bgl.log", seed=3)
    a = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d1")
    b = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d2")
    assert a.templates.texts == b.templates.texts
    assert np.array_equal(a.templates.vectors, b.templates.vectors)
    assert np.array_equal(a.splits["test"].bags.starts, b.splits["test"].bags.starts)


def test_max_lines_override_is_recorded(tmp_path):
    raw = write_bgl_log(tmp_path / "bgl.log")
    data = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d", max_lines=300)
    sub = data.summary["subset"]
    assert data.summary["lines"] == 300
    assert sub["max_lines"] == 300 and sub["max_lines_from"] == "--max-lines" and sub["truncated"]


def test_changed_bagging_reuses_read_parse_and_embed(tmp_path, monkeypatch):
    raw = write_bgl_log(tmp_path / "bgl.log")
    first = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d")
    calls = {"parse": 0, "embed": 0}
    real_parse, real_embed = pipeline.parse_distinct, pipeline.embed_templates

    def parse(*a, **k):
        calls["parse"] += 1
        return real_parse(*a, **k)

    def embed(*a, **k):
        calls["embed"] += 1
        return real_embed(*a, **k)

    card = load_card("bgl")
    wider = dataclasses.replace(card, bagging=dataclasses.replace(card.bagging,
                                                                  window_seconds=300,
                                                                  stride_seconds=300))
    monkeypatch.setattr(pipeline, "parse_distinct", parse)
    monkeypatch.setattr(pipeline, "embed_templates", embed)
    monkeypatch.setattr(pipeline, "load_card", lambda name: wider)
    second = prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d")
    assert calls == {"parse": 0, "embed": 0}
    assert sum(len(s.bags) for s in second.splits.values()) < sum(
        len(s.bags) for s in first.splits.values())
    other_drain = dataclasses.replace(card, drain=dataclasses.replace(card.drain, sim_th=0.7))
    monkeypatch.setattr(pipeline, "load_card", lambda name: other_drain)
    prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d")
    assert calls == {"parse": 1, "embed": 1}  # drain change re-parses and re-embeds only


def test_changed_file_is_read_again(tmp_path):
    raw = write_bgl_log(tmp_path / "bgl.log", n_lines=400)
    assert prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d").summary["lines"] == 400
    write_bgl_log(raw, n_lines=500)
    assert prepare_dataset("bgl", data_file=raw, data_dir=tmp_path / "d").summary["lines"] == 500


def test_synthetic_is_generated_once_and_read_as_bgl(tmp_path, monkeypatch):
    card = load_card("synthetic")
    small = dataclasses.replace(card, generator=dataclasses.replace(card.generator,
                                                                    quick_lines=3000))
    monkeypatch.setattr(pipeline, "load_card", lambda name: small)
    data = prepare_dataset("synthetic", data_dir=tmp_path, quick=True)
    path = tmp_path / "raw" / "synthetic" / "synthetic-3000-seed0.log"
    assert path.is_file() and data.summary["lines"] == 3000
    assert data.summary["anomalous_lines"] > 0 and data.summary["unparsed_lines"] == 0
    assert data.summary["subset"]["quick"] is True


def test_missing_raw_file_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"python -m benchmark download bgl.*zenodo"):
        prepare_dataset("bgl", data_dir=tmp_path)


def test_unknown_dataset_lists_known_names(tmp_path):
    with pytest.raises(DataError, match=r"unknown dataset 'hdfs'; known datasets: bgl, spirit"):
        prepare_dataset("hdfs", data_dir=tmp_path)


def test_cards_expose_source_spec():
    bgl = load_card("bgl")
    assert (bgl.source.filename, bgl.source.member) == ("BGL.zip", "BGL.log")
    assert bgl.source.md5 == "4452953c470f2d95fcb32d5f6e733f7a"
    spirit = load_card("spirit")
    assert spirit.max_lines == 5_000_000 and spirit.source.member is None
    assert spirit.bagging.mode == "count" and spirit.bagging.window_lines == 100
    assert load_card("zookeeper").source.md5 is None
    assert load_card("synthetic").generator.lines == 200_000


def test_tokenize_template():
    assert tokenize_template("QuorumCnxManager$SendWorker@688 leaving <*> at <NUM>") == [
        "quorum", "cnx", "manager", "send", "worker", "688", "leaving", "at"]
    assert tokenize_template("<*> <HEX>") == []


@pytest.mark.parametrize("dataset,name", [("bgl", "BGL_2k"), ("zookeeper", "Zookeeper_2k")])
def test_templates_equal_plain_drain3_on_loghub_2k(dataset, name):
    path = loghub_file(f"{name}.log")
    from drain3 import TemplateMiner

    from benchmark.data.parsing import drain3_config

    card = load_card(dataset)
    contents = read_all(path, card.format, label_rule=card.label_rule)[0]
    distinct = DistinctContents(card.masking)
    ids = distinct.add(contents)
    content_template, texts = parse_distinct(distinct.contents, card.drain)
    miner = TemplateMiner(config=drain3_config(card.drain, card.masking))
    plain_ids = [miner.add_log_message(c)["cluster_id"] for c in contents.to_pylist()]
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    assert [texts[i] for i in content_template[ids]] == [final[c] for c in plain_ids]
