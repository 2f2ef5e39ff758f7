"""Sensitivity axes: data variants (window, stride, max_instances, parser, vectors), their
identity and records, the parsers and vectors behind them, and the sensitivity report."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
from data_samples import write_bgl_log
from loghub import loghub_file

from benchmark.cli import benchmark_main, run_all_main
from benchmark.data.bagging import make_bags
from benchmark.data.cards import SplitSpec, load_card
from benchmark.data.errors import DataError
from benchmark.data.grouping import grouping_accuracy, read_event_ids
from benchmark.data.parsers import tipping_parse, truth_parse
from benchmark.data.pipeline import parse_log, prepare_dataset
from benchmark.data.request import DataRequest
from benchmark.data.splitting import split_bags
from benchmark.data.variants import (
    PrepVariant,
    Span,
    expand_variants,
    parse_parser,
    parse_span,
)
from benchmark.data.vectors import template_vectors
from benchmark.grid import GridOptions, pipeline_source, plan_dataset


@pytest.mark.parametrize(("text", "span"), [("60s", Span(60, "s")), ("10m", Span(600, "s")),
                                            ("1h", Span(3600, "s")), ("6h", Span(21600, "s")),
                                            ("0.5m", Span(30, "s")), ("100l", Span(100, "l"))])
def test_spans_parse_and_print_canonically(text, span):
    assert parse_span(text) == span
    assert parse_span(str(span)) == span


@pytest.mark.parametrize("bad", ["60", "s", "-1s", "0s", "1.5l", "0l", "10x", "1 h"])
def test_bad_spans_are_refused(bad):
    with pytest.raises(ValueError, match="span|window"):
        parse_span(bad)


def test_parser_choices_parse_with_checked_options():
    assert str(parse_parser("drain:sim=0.4:depth=5")) == "drain:depth=5:sim=0.4"
    assert parse_parser("tipping:threshold=0.6").option("threshold") == 0.6
    assert parse_parser("ground-truth").options == ()
    for bad, why in [("spell", "unknown parser"), ("drain:depth=2", "depth"),
                     ("drain:sim=1.5", "sim"), ("drain:foo=1", "bad option"),
                     ("tipping:threshold=x", "not a number"), ("ground-truth:x=1", "bad option")]:
        with pytest.raises(ValueError, match=why):
            parse_parser(bad)


def test_variant_equal_to_the_card_is_the_default_and_keys_name_what_differs():
    card = load_card("synthetic")  # 60 s tumbling windows, Drain 4 / 0.5, word2vec
    assert PrepVariant(window=parse_span("1m")).is_default(card)
    assert PrepVariant(window=parse_span("60s")).key(card) is None
    assert PrepVariant(window=parse_span("60s")).apply(card) == card
    assert PrepVariant(window=parse_span("30s")).key(card) == "window-30s"
    assert PrepVariant(window=parse_span("10m"), stride=parse_span("5m")).key(card) == \
        "window-10m_stride-5m"
    assert PrepVariant(window=parse_span("100l")).key(card) == "window-100l"
    # the stride is named whenever it is not the one the key implies
    assert PrepVariant(window=parse_span("5m"), stride=parse_span("1m")).key(card) == \
        "window-5m_stride-1m"
    assert PrepVariant(stride=parse_span("30s")).key(card) == "stride-30s"
    sliding_card = dataclasses.replace(card, bagging=dataclasses.replace(
        card.bagging, stride_seconds=30))
    assert PrepVariant(window=parse_span("60s")).key(sliding_card) == "stride-1m"
    assert PrepVariant(vectors="hashed").key(sliding_card) == "vectors-hashed"
    assert PrepVariant(window=parse_span("5m"), stride=parse_span("30s")).key(
        sliding_card) == "window-5m_stride-30s"
    assert PrepVariant(parser=parse_parser("drain:sim=0.7"), vectors="hashed").key(card) == \
        "parser-drain-depth=4-sim=0.7_vectors-hashed"
    assert PrepVariant(parser=parse_parser("ground-truth")).key(card) == "parser-gt"
    # a setting numerically equal to the card's keeps the card's identity
    same = PrepVariant(window=parse_span("60s"), vectors="hashed")
    assert same.apply(card).as_dict() == card.as_dict()
    assert same.identity(card, None) == {"vectors": "hashed"}
    sliding = PrepVariant(window=parse_span("1h"), stride=parse_span("10m")).apply(card)
    assert (sliding.bagging.window_seconds, sliding.bagging.stride_seconds) == (3600, 600)


def test_variant_errors_name_the_problem(tmp_path):
    card = load_card("synthetic")
    with pytest.raises(DataError, match="must both be times or both line counts"):
        PrepVariant(window=parse_span("100l"), stride=parse_span("10s")).apply(card)
    with pytest.raises(DataError, match="longer than --window"):
        PrepVariant(window=parse_span("30s"), stride=parse_span("1m")).apply(card)
    with pytest.raises(DataError, match="needs --templates"):
        PrepVariant(parser=parse_parser("ground-truth")).identity(card, None)
    with pytest.raises(ValueError, match="unknown --vectors"):
        expand_variants(vectors=["bert"])


def test_axes_combine_as_a_product():
    variants = expand_variants([parse_span("30s"), parse_span("60s")], None, [],
                               [parse_parser("drain"), parse_parser("tipping")], ["hashed"])
    assert len(variants) == 4
    assert expand_variants() == ()


@pytest.mark.parametrize(("window", "stride"), [(300.0, 60.0), (100.0, 30.0)])
def test_sliding_windows_never_cross_a_split(window, stride):
    rng = np.random.default_rng(0)
    timestamps = np.cumsum(rng.exponential(2.0, 3000))
    mode = "time" if window == 300.0 else "count"
    bagging = dataclasses.replace(load_card("synthetic").bagging, mode=mode,
                                  window_seconds=window, stride_seconds=stride,
                                  window_lines=int(window), stride_lines=int(stride))
    starts, ends = make_bags(timestamps, bagging)
    splits = split_bags(starts, ends, len(timestamps), SplitSpec())
    spans = {name: (int(s.min()), int(e.max())) for name, (s, e) in splits.items()}
    assert spans["train"][1] <= spans["val"][0] and spans["val"][1] <= spans["test"][0]
    # overlapping windows inside a split: sliding, not tumbling
    s, e = splits["train"]
    assert np.any(s[1:] < e[:-1])


def test_truth_parse_groups_by_event_id(tmp_path):
    truth = tmp_path / "x_structured.csv"
    truth.write_text("LineId,EventId,EventTemplate\n1,E2,b <*>\n2,E1,a\n3,E2,b <*>\n",
                     encoding="utf-8")
    ids, texts = truth_parse(truth, 3)
    assert ids.tolist() == [0, 1, 0] and texts == ("b <*>", "a")
    with pytest.raises(DataError, match="ground truth has 3 lines"):
        truth_parse(truth, 4)


def test_tipping_parses_every_line_and_scores_against_a_truth():
    contents = ["open file <PATH> ok", "open file <PATH> failed", "user <NUM> logged in",
                "connection reset by peer"]
    lines = np.array([0, 2, 0, 2, 1, 3, 0, 2, 2, 0], np.int32)
    ids, texts = tipping_parse(contents, lines, 0.5)
    assert ids.shape == (10,) and ids.dtype == np.int32 and ids.max() < len(texts)
    # one content, one template
    for c in range(len(contents)):
        assert len(set(ids[lines == c].tolist())) == 1
    assert grouping_accuracy(ids.tolist(), lines.tolist()) > 0


def test_vector_kinds_have_their_shapes():
    texts = ("instruction cache parity error corrected", "generating core <*>", "<*>")
    counts = np.array([5, 3, 1])
    spec = load_card("synthetic").embedding
    hashed = template_vectors("hashed", texts, counts, spec)
    assert hashed.shape == (3, spec.dim) and not hashed[2].any()
    assert np.allclose(np.linalg.norm(hashed[:2], axis=1), 1.0)
    with pytest.raises(DataError, match="unknown template vectors"):
        template_vectors("bert", texts, counts, spec)


def test_wordllama_vectors_load_from_the_wheel_without_network():
    pytest.importorskip("wordllama", reason="the `encoders` extra (pip install wordllama)")
    texts = ("instruction cache parity error corrected", "instruction cache parity error",
             "generating core <*>", "<*>")
    vectors = template_vectors("wordllama", texts, np.ones(4), load_card("synthetic").embedding)
    assert vectors.shape == (4, 256) and vectors.dtype == np.float32 and not vectors[3].any()
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_variants_prepare_their_own_data_and_record_ga(tmp_path):
    raw = write_bgl_log(tmp_path / "bgl.log")
    data_dir = tmp_path / "d"
    default = prepare_dataset("bgl", data_file=raw, data_dir=data_dir)
    assert default.summary["parse"]["ga"] is None
    assert 0 < default.summary["bag_stats"]["positive_share"] < 1
    wide = prepare_dataset("bgl", data_file=raw, data_dir=data_dir,
                           variant=PrepVariant(window=parse_span("10m"), vectors="hashed"))
    assert wide.summary["bag_stats"]["mean_length"] > default.summary["bag_stats"][
        "mean_length"]
    assert wide.summary["bagging"]["window_seconds"] == 600
    keys = default.summary["cache_keys"], wide.summary["cache_keys"]
    assert keys[0]["parse"] == keys[1]["parse"]  # same parse, other bags and vectors
    assert keys[0]["bags"] != keys[1]["bags"] and keys[0]["embed"] != keys[1]["embed"]
    again = prepare_dataset("bgl", data_file=raw, data_dir=data_dir)
    assert again.summary["cache_keys"] == keys[0]
    np.testing.assert_array_equal(again.templates.vectors, default.templates.vectors)


def test_ground_truth_parser_on_loghub_bgl_2k_has_ga_one(tmp_path):
    log_file, truth = loghub_file("BGL_2k.log"), loghub_file("BGL_2k.log_structured.csv")
    data = prepare_dataset("bgl", data_file=log_file, data_dir=tmp_path,
                           variant=PrepVariant(parser=parse_parser("ground-truth")),
                           templates=truth)
    parse = data.summary["parse"]
    assert parse["ga"] == 1.0 and parse["templates"] == parse["truth_templates"] == 120
    tipping = prepare_dataset("bgl", data_file=log_file, data_dir=tmp_path,
                              variant=PrepVariant(parser=parse_parser("tipping")),
                              templates=truth)
    assert 0.5 < tipping.summary["parse"]["ga"] < 1.0
    drain = prepare_dataset("bgl", data_file=log_file, data_dir=tmp_path, templates=truth)
    line_templates, _ = parse_log("bgl", data_file=log_file, data_dir=tmp_path)
    expected = grouping_accuracy(line_templates.tolist(), read_event_ids(truth, 2000))
    assert drain.summary["parse"]["ga"] == round(expected, 6) > tipping.summary["parse"]["ga"]


def test_plan_gives_each_variant_its_own_records_and_identity(tmp_path):
    variants = expand_variants([parse_span("30s"), parse_span("60s")], None, [], [],
                               ["word2vec", "hashed"])
    options = GridOptions(datasets=("synthetic",), seeds=(0,), data=DataRequest(quick=True),
                          results_dir=tmp_path, prep_variants=variants)
    runs = plan_dataset("synthetic", ["counts_lr"], options, pipeline_source())
    names = [r.dataset for r in runs]
    assert names == ["synthetic~window-30s", "synthetic~window-30s_vectors-hashed",
                     "synthetic", "synthetic~vectors-hashed"]
    assert len({r.config_hash for r in runs}) == 4
    default = runs[2]
    plain = plan_dataset("synthetic", ["counts_lr"], dataclasses.replace(
        options, prep_variants=()), pipeline_source())[0]
    assert (default.config_hash, default.path, default.prep) == (plain.config_hash,
                                                                  plain.path, None)
    assert runs[0].path == tmp_path / "runs/synthetic~window-30s/counts_lr/quick/seed0.json"
    assert runs[1].identity["data_variant"] == {"vectors": "hashed"}
    assert runs[0].data_variant["axes"]["window"] == "30s"


@pytest.mark.slow
def test_sweep_writes_the_sensitivity_report_and_reruns_nothing(tmp_path, capsys):
    argv = ["--datasets", "synthetic", "--models", "counts_lr", "--seeds", "0", "1", "--quick",
            "--window", "30s", "60s", "300s", "--threads", "1", "--results-dir",
            str(tmp_path / "r"), "--data-dir", str(tmp_path / "d")]
    assert run_all_main(argv) == 0
    assert "6 finished, 0 already recorded" in capsys.readouterr().out
    tables = tmp_path / "r" / "tables" / "quick"
    md = (tables / "sensitivity_synthetic.md").read_text(encoding="utf-8")
    for label in ("window=30s", "window=1m (card)", "window=5m", "positive share"):
        assert label in md
    with (tables / "sensitivity_synthetic.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["window"] for r in rows} == {"30s", "1m", "5m"}
    assert all(r["n_seeds"] == "2" for r in rows)
    share = {r["window"]: float(r["positive_share"]) for r in rows}
    assert share["30s"] < share["1m"] < share["5m"]
    assert (tmp_path / "r" / "figures" / "quick" / "sensitivity_synthetic_window.png").is_file()
    table1 = (tables / "table1.md").read_text(encoding="utf-8")
    assert "~" not in table1  # the variants stay out of the main tables
    record = json.loads(next((tmp_path / "r" / "runs").glob(
        "synthetic~window-30s/counts_lr/quick/seed0.json")).read_text(encoding="utf-8"))
    assert record["extras"]["data_variant"]["key"] == "window-30s"
    assert run_all_main(argv) == 0
    assert "0 finished, 6 already recorded" in capsys.readouterr().out


def test_parse_command_scores_every_parser(tmp_path, capsys):
    log_file, truth = loghub_file("BGL_2k.log"), loghub_file("BGL_2k.log_structured.csv")
    results = {}
    for parser in ("ground-truth", "tipping", "drain:sim=0.7"):
        assert benchmark_main(["parse", "bgl", "--data-file", str(log_file), "--truth",
                               str(truth), "--parser", parser, "--json", "--data-dir",
                               str(tmp_path)]) == 0
        results[parser] = json.loads(capsys.readouterr().out)
    assert results["ground-truth"]["ga"] == 1.0
    assert results["ground-truth"]["templates"] == 120
    assert results["tipping"]["ga"] < results["drain:sim=0.7"]["ga"] < 1.0


@pytest.mark.parametrize(("axes", "message"), [
    (["--window", "100l", "--stride", "10s"], "must both be times or both line counts"),
    (["--window", "30s", "--stride", "1m"], "longer than --window"),
    (["--parser", "ground-truth"], "needs --templates synthetic=PATH"),
    (["--window", "60"], "expected a span"),
    (["--parser", "spell"], "unknown parser"),
])
def test_bad_axes_exit_2_before_any_work(tmp_path, capsys, axes, message):
    argv = ["--models", "counts_lr", "--quick", "--plan", "--results-dir", str(tmp_path), *axes]
    try:
        code = run_all_main(argv)
    except SystemExit as stop:  # argparse's own refusal of a bad value
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_ground_truth_sweep_on_bgl_2k_reports_ga_one(tmp_path, capsys):
    log_file, truth = loghub_file("BGL_2k.log"), loghub_file("BGL_2k.log_structured.csv")
    argv = ["--datasets", "bgl", "--data-file", f"bgl={log_file}", "--templates",
            f"bgl={truth}", "--parser", "drain", "ground-truth", "--models", "counts_lr",
            "--seeds", "0", "--quick", "--results-dir", str(tmp_path / "r"), "--data-dir",
            str(tmp_path / "d")]
    assert run_all_main(argv) == 0
    with (tmp_path / "r" / "tables" / "quick" / "sensitivity_bgl.csv").open(
            encoding="utf-8") as handle:
        ga = {r["parser"]: float(r["ga"]) for r in csv.DictReader(handle)}
    assert ga["ground-truth"] == 1.0 and ga["drain:depth=4:sim=0.5"] == 0.9685


@pytest.mark.slow
def test_variants_run_alike_on_dask_and_local_workers(tmp_path):
    common = ["--datasets", "synthetic", "--models", "counts_lr", "--seeds", "0", "--quick",
              "--window", "30s", "300s", "--vectors", "hashed", "--data-dir",
              str(tmp_path / "d")]
    assert run_all_main([*common, "--jobs", "2", "--results-dir", str(tmp_path / "a")]) == 0
    assert run_all_main([*common, "--backend", "dask", "--jobs", "2", "--results-dir",
                         str(tmp_path / "b")]) == 0
    found = sorted((tmp_path / "a" / "runs").glob("synthetic~*/counts_lr/quick/seed0.json"))
    assert [p.parent.parent.parent.name for p in found] == [
        "synthetic~window-30s_vectors-hashed", "synthetic~window-5m_vectors-hashed"]
    for path in found:
        other = tmp_path / "b" / path.relative_to(tmp_path / "a")
        a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (path, other))
        assert a["config_hash"] == b["config_hash"] and a["metrics"] == b["metrics"]


def test_describe_shows_one_variant_and_refuses_several(tmp_path, capsys):
    raw = write_bgl_log(tmp_path / "bgl.log")
    common = ["describe", "bgl", "--data-file", str(raw), "--data-dir", str(tmp_path / "d")]
    assert benchmark_main([*common, "--window", "10m", "--stride", "2m", "--vectors",
                           "hashed"]) == 0
    out = capsys.readouterr().out
    assert "600 s windows every 120 s" in out and "positive bags" in out
    assert benchmark_main([*common, "--window", "1m", "10m"]) == 2
    assert "one data variant" in capsys.readouterr().err


def test_data_columns_come_from_a_record_with_bag_statistics():
    """A variant's bags / mean bag length come from one of its records; a record written before
    the bag statistics existed (here the first model by name) must not blank the column."""
    from records_factory import make_record

    from benchmark.report import sensitivity

    def record(model: str, summary: dict):
        return dataclasses.replace(make_record("synthetic", model, 0), data_summary=summary,
                                   extras={sensitivity.VARIANT_EXTRAS: {"axes": {"window": "1m"}}})

    splits = {"train": {"bags": 8, "positive_bags": 2}, "test": {"bags": 2, "positive_bags": 0}}
    ((_, [variant]),) = sensitivity._sections([
        record("counts_iforest", {"splits": splits}),
        record("logmilp", {"splits": splits, "bag_stats": {"mean_length": 44.5}})])
    row = sensitivity._data_row(variant)
    assert (row["bags"], row["positive_share"], row["mean_bag_length"]) == (10, 0.2, 44.5)
