"""Report statistics: AUPRC, the stratified test-bag bootstrap, paired tests with Holm's
correction, Friedman / Nemenyi ranks and the critical-difference figure, the oracle-τ table."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from records_factory import make_record
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmark.artifacts import load_scores, save_scores, scores_path
from benchmark.metrics import average_precision
from benchmark.protocol import TestScores
from benchmark.report.bootstrap import (
    bag_terms,
    bootstrap_metrics,
    percentile_interval,
    point_metrics,
    resample_weights,
)
from benchmark.report.build import build_report
from benchmark.report.ranks import cliques, rank_tests, write_rank_report
from benchmark.report.significance import bootstrap_p_value, holm, rank_test
from benchmark.store import write_record

REPO = Path(__file__).resolve().parents[2]
MODELS = ("deeplog", "loganomaly", "logbert", "logformer", "midlog", "logmilp", "logmilp_nocon")


def test_average_precision_by_hand():
    # thresholds .9 (P 1, R .5), .8 (P .5), .7 (P 2/3, R 1), .6: AP = .5·1 + .5·2/3
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    assert math.isnan(average_precision([0.2, 0.4], [0, 0]))
    # a perfect ranking whose sum of recall steps rounds above 1 stays a valid record metric
    rng = np.random.default_rng(0)
    for n in range(3, 60):
        y = rng.integers(0, 2, n)
        y[0] = 1
        assert 0.0 <= average_precision(np.where(y == 1, 0.9, 0.1) + rng.random(n) * 1e-3, y) <= 1


def _random_scores(rng: np.random.Generator, n: int = 120, positives: int = 30,
                   separation: float = 1.0) -> TestScores:
    """Scores of a fake run: bag probabilities (with ties), 1–6 instances per bag, the positive
    bags' anomalous lines and perturbed probabilities."""
    labels = np.zeros(n, np.int8)
    labels[rng.choice(n, positives, replace=False)] = 1
    logits = rng.normal(size=n) + separation * labels
    p = np.round(1 / (1 + np.exp(-logits)), 2).astype(np.float64)
    lengths = rng.integers(1, 7, size=n).astype(np.int64)
    inst = rng.random(int(lengths.sum())).astype(np.float32)
    line_labels = np.zeros(int(lengths.sum()), np.int8)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    positive = np.flatnonzero(labels).astype(np.int64)
    for b in positive:
        line_labels[offsets[b] + rng.integers(0, lengths[b])] = 1
    perturbed = np.clip(p[positive] - rng.random(len(positive)) * 0.3, 0, 1)
    return TestScores(p, labels, lengths, inst, line_labels, positive, perturbed.astype(np.float64),
                      threshold=0.6)


def test_weighted_metrics_equal_sklearn_with_sample_weights():
    rng = np.random.default_rng(1)
    terms = bag_terms(_random_scores(rng))
    weights = resample_weights(terms.labels, resamples=7, seed=3)
    values = bootstrap_metrics(terms, weights)
    for i, w in enumerate(weights):
        assert values["auc"][i] == pytest.approx(
            roc_auc_score(terms.labels, terms.probabilities, sample_weight=w), abs=1e-12)
        assert values["ap"][i] == pytest.approx(
            average_precision_score(terms.labels, terms.probabilities, sample_weight=w),
            abs=1e-12)
        pred = terms.probabilities >= terms.threshold
        tp, fp = w[pred & terms.labels].sum(), w[pred & ~terms.labels].sum()
        fn = w[~pred & terms.labels].sum()
        assert values["f1"][i] == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_resamples_are_stratified_and_seeded():
    labels = np.array([1] * 7 + [0] * 23)
    w = resample_weights(labels, resamples=50, seed=9)
    assert w.shape == (50, 30)
    np.testing.assert_array_equal(w[:, :7].sum(axis=1), 7)
    np.testing.assert_array_equal(w[:, 7:].sum(axis=1), 23)
    np.testing.assert_array_equal(w, resample_weights(labels, resamples=50, seed=9))
    assert not np.array_equal(w, resample_weights(labels, resamples=50, seed=10))


def test_point_metrics_equal_the_committed_records():
    """On the shipped score files, all-ones weights give back each record's own numbers."""
    files = sorted((REPO / "results" / "models" / "synthetic").glob("*/seed0.scores.npz"))
    if not files:
        pytest.skip("no committed score files")
    for path in files:
        record = json.loads((REPO / "results" / "runs" / "synthetic" / path.parent.name /
                             "seed0.json").read_text())
        values = point_metrics(bag_terms(load_scores(path, record["config_hash"])))
        for metric in ("auc", "f1", "loc@3", "sr"):
            assert values[metric] == pytest.approx(record["metrics"][metric], abs=1e-12), \
                (path, metric)


def test_percentile_interval_and_p_values():
    values = np.arange(1001, dtype=float)
    assert percentile_interval(values) == pytest.approx((25.0, 975.0))
    assert bootstrap_p_value(np.full(999, 0.1)) == pytest.approx(2 / 1000)
    assert bootstrap_p_value(np.linspace(-1, 1, 1001)) == 1.0
    assert math.isnan(bootstrap_p_value(np.array([np.nan])))


def test_holm_step_down():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005, "e": math.nan})
    # sorted .005·4 = .02, .01·3 = .03, .03·2 = .06, .04·1 = .04 → monotone .06
    assert adjusted["d"] == pytest.approx(0.02)
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)
    assert math.isnan(adjusted["e"])


@pytest.mark.parametrize(("k", "q"), [(2, 1.960), (3, 2.343), (5, 2.728), (7, 2.949),
                                      (10, 3.164)])
def test_nemenyi_critical_difference_matches_demsar_table(k, q):
    """q_0.05 from Demšar (2006), Table 5(a); CD = q·sqrt(k(k+1)/(6N))."""
    means = {f"d{j}": {f"m{i}": float(i + (j % 2) * 0.1 * (i == 0)) for i in range(k)}
             for j in range(4)}
    if k < 3:
        assert rank_test("f1", means) is None
        return
    test = rank_test("f1", means)
    assert test.critical_difference == pytest.approx(q * math.sqrt(k * (k + 1) / 24), abs=2e-3)
    assert test.average_ranks[-1] == 1.0  # the highest mean ranks first


def test_friedman_needs_three_datasets_and_ties_give_p_one():
    two = {f"d{j}": {"a": 0.1, "b": 0.2, "c": 0.3} for j in range(2)}
    assert rank_test("f1", two) is None
    tied = {f"d{j}": {"a": 0.5, "b": 0.5, "c": 0.5} for j in range(3)}
    test = rank_test("f1", tied)
    assert test.friedman_p == 1.0 and test.average_ranks == (2.0, 2.0, 2.0)


def test_cliques_join_models_closer_than_cd():
    assert cliques([1.0, 1.5, 2.2, 4.0], cd=1.1) == [(0, 1), (1, 2)]
    assert cliques([1.0, 3.0, 5.0], cd=1.0) == []


def _fake_grid(datasets: tuple[str, ...]) -> list:
    rng = np.random.default_rng(0)
    return [make_record(d, m, s, f1=float(np.clip(0.4 + 0.07 * i + rng.normal(0, 0.02), 0, 1)),
                        auc=float(0.5 + 0.06 * i), ap=float(0.3 + 0.05 * i))
            for d in datasets for i, m in enumerate(MODELS) for s in range(3)]


def test_cd_figure_from_three_fake_datasets(tmp_path):
    records = _fake_grid(("bgl", "spirit", "zookeeper"))
    tests = rank_tests(records)
    assert [t.metric for t in tests] == ["auc", "ap", "f1"]
    f1 = tests[-1]
    assert dict(zip(f1.models, f1.average_ranks, strict=True))["logmilp_nocon"] == 1.0
    assert f1.friedman_p < 0.01
    paths = write_rank_report(records, tmp_path / "tables", tmp_path / "figures")
    names = sorted(p.name for p in paths)
    assert names == ["cd_ap.pdf", "cd_ap.png", "cd_auc.pdf", "cd_auc.png", "cd_f1.pdf",
                     "cd_f1.png", "ranks.md"]
    first = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    again = write_rank_report(records, tmp_path / "tables", tmp_path / "figures")
    assert first == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in again}
    text = (tmp_path / "tables" / "ranks.md").read_text()
    assert "Friedman χ²" in text and "LogMILP w/o consistency | 1.000" in text


def test_one_dataset_gives_a_note_and_no_figure(tmp_path):
    paths = write_rank_report(_fake_grid(("synthetic",)), tmp_path / "t", tmp_path / "f")
    assert [p.name for p in paths] == ["ranks.md"]
    assert "at least 3 datasets" in paths[0].read_text()


def _write_run(results: Path, model: str, seed: int, scores: TestScores) -> None:
    values = point_metrics(bag_terms(scores))
    record = make_record("synthetic", model, seed, auc=values["auc"], f1=values["f1"],
                         **{"loc@3": values["loc@3"], "sr": values["sr"]})
    write_record(results / "runs" / "synthetic" / model / f"seed{seed}.json", record)
    save_scores(scores_path(results, "synthetic", model, seed), scores, record.config_hash)


@pytest.fixture
def scored_results(tmp_path) -> Path:
    """Three models on the same 300 test bags: logformer separates them well, logmilp
    moderately, deeplog not at all."""
    base = _random_scores(np.random.default_rng(5), n=300, positives=60)
    for model, separation in (("logformer", 4.0), ("logmilp", 1.2), ("deeplog", 0.0)):
        for seed in range(2):
            rng = np.random.default_rng(100 * seed + int(separation * 10))
            logits = rng.normal(size=300) + separation * base.labels
            p = np.round(1 / (1 + np.exp(-logits)), 3).astype(np.float64)
            scores = TestScores(p, base.labels, base.lengths, base.instance_scores,
                                base.line_labels, base.positive,
                                np.clip(p[base.positive] - 0.2, 0, 1), threshold=0.5)
            _write_run(tmp_path, model, seed, scores)
    return tmp_path


def test_tables_carry_intervals_marks_ap_and_oracle(scored_results):
    build_report(scored_results)
    tables = scored_results / "tables"
    table1 = tables / "table1.md"
    row = {line.split("|")[1].strip(): line for line in table1.read_text().splitlines()
           if line.startswith("| ")}
    assert "AUPRC" in row["Model"]
    assert "↑" in row["LogFormer"] and "↓" in row["DeepLog"]
    assert "[" in row["LogMILP (OURS)"] and "↑" not in row["LogMILP (OURS)"]
    rows = list(__import__("csv").DictReader((tables / "table1.csv").open()))
    ap = [r for r in rows if r["metric"] == "ap" and r["model"] == "logformer"
          and r["dataset"] == "synthetic"][0]
    assert float(ap["ci_low"]) <= float(ap["ours_mean"]) <= float(ap["ci_high"])
    assert float(ap["p_holm_vs_logmilp"]) < 0.05
    oracle = (tables / "oracle_tau.md").read_text()
    assert "oracle τ, not a result" in oracle
    before = {p.name: p.read_bytes() for p in tables.iterdir()}
    build_report(scored_results)
    assert before == {p.name: p.read_bytes() for p in tables.iterdir()}


def test_oracle_f1_is_at_least_f1_at_validation_tau(scored_results):
    build_report(scored_results)
    rows = list(__import__("csv").DictReader(
        (scored_results / "tables" / "oracle_tau.csv").open()))
    by = {(r["model"], r["metric"]): float(r["ours_mean"]) for r in rows if r["ours_mean"]}
    for model in ("logformer", "logmilp", "deeplog"):
        assert by[model, "f1_oracle"] >= by[model, "f1"] - 1e-12
