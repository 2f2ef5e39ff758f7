"""The `drift` labeller (benchmark.labelling.drift): similarity to a source's known templates."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmark.data.bagset import PreparedDataset
from benchmark.data.pipeline import prepare_dataset
from benchmark.data.synthetic import write_synthetic_log
from benchmark.labelling import LabellingError, get_labeller
from benchmark.labelling.budget import agreement, split_lines
from benchmark.labelling.drift import DriftLabeller, known_templates

NORMAL = ["instruction cache parity error corrected", "generating <CORE>",
          "ciod: LOGIN chdir(<PATH>) succeeded", "CE sym <NUM>, at <HEX>, mask <HEX>"]
ANOMALOUS = ["instruction cache parity error could not be corrected",
             "data storage interrupt at <HEX>", "rts panic! - stopping execution"]


@pytest.fixture
def labeller() -> DriftLabeller:
    return get_labeller("drift", normal=NORMAL, anomalous=ANOMALOUS)


def test_a_known_normal_template_is_normal_and_a_known_anomaly_anomalous(labeller) -> None:
    got = labeller.label(NORMAL + ANOMALOUS)
    assert got.labels.tolist() == [0] * len(NORMAL) + [1] * len(ANOMALOUS)
    assert labeller.queries == len(NORMAL) + len(ANOMALOUS)


def test_a_raw_line_near_a_known_anomaly_is_anomalous_and_its_normal_twin_normal(labeller):
    got = labeller.label(["data storage interrupt at 0x0012ab3c",
                          "rts panic! - stopping execution now",
                          "CE sym 12, at 0x0b85eee0, mask 0x10"])
    assert got.labels.tolist() == [1, 1, 0]


def test_an_unrelated_text_has_drifted_and_is_flagged(labeller) -> None:
    text = "QuorumCnxManager: Received connection request from follower"
    s_n, s_a = labeller.similarities([text])
    assert s_n[0] < labeller.drift_threshold and s_a[0] < labeller.drift_threshold
    assert labeller.label([text]).labels.tolist() == [1]
    assert get_labeller("drift", normal=NORMAL).label([text]).labels.tolist() == [1]  # no anomaly
    relaxed = get_labeller("drift", normal=NORMAL, drift_threshold=0.0)  # known: drift flags it
    assert relaxed.label([text]).labels.tolist() == [0]


def test_answers_are_deterministic_batch_independent_and_confidences_in_range(labeller):
    texts = NORMAL + ANOMALOUS + ["kernel panic", "Lustre mount FAILED : bglio11 : block_id",
                                  "", "<*> <*>", "fan module 3 speed 4200 rpm within limits"]
    first = labeller.label(texts)
    again = get_labeller("drift", normal=list(reversed(NORMAL)), anomalous=ANOMALOUS).label(texts)
    one_by_one = [labeller.label([t]) for t in texts]
    assert np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.confidences, again.confidences)
    assert [g.labels[0] for g in one_by_one] == first.labels.tolist()
    assert np.allclose([g.confidences[0] for g in one_by_one], first.confidences)
    assert ((first.confidences >= 0.5) & (first.confidences <= 1.0)).all()
    # both known-normal; the first has a known-anomalous twin, the second nothing near it
    assert first.confidences[0] < first.confidences[1] - 0.2


def test_the_source_rule_pools_lines_by_text_and_reads_the_anomalous_fraction() -> None:
    texts = ["job <NUM> started", "job <*> started", "disk failure on <PATH>", "burst line"]
    line_templates = np.array([0, 1, 2, 2, 3, 3, 3, 3])
    line_labels = np.array([0, 1, 1, 1, 1, 0, 0, 0])
    normal, anomalous = known_templates(texts, line_templates, line_labels)
    assert normal == ["burst line"] and anomalous == ["disk failure on", "job started"]
    normal, anomalous = known_templates(texts, line_templates, line_labels, 0.6)
    assert normal == ["burst line", "job started"] and anomalous == ["disk failure on"]
    assert known_templates(texts, line_templates, line_labels, 1e-9)[0] == []


def test_without_a_source_the_error_says_which_option_to_pass() -> None:
    from benchmark.cli import label_plans
    from benchmark.grid import UsageError
    from benchmark.labelling.grid import LabelPlan

    with pytest.raises(ValueError, match="source=<dataset card>"):
        get_labeller("drift")
    with pytest.raises(ValueError, match="source=<dataset card>"):
        LabelPlan(0.1, "drift")
    with pytest.raises(ValueError, match="unknown option.*sorce"):
        LabelPlan(0.1, "drift", options={"sorce": "bgl"})
    args = argparse.Namespace(label_budget=[0.1], labeller="drift", labeller_options=[],
                              label_unit="line")
    with pytest.raises(UsageError, match="--label-budget: drift: no known templates"):
        label_plans(args)
    with pytest.raises(LabellingError, match="'bgl' has no \\[generator\\]"):
        get_labeller("drift", source="bgl", source_seed=1)
    with pytest.raises(LabellingError, match="unknown dataset 'nosuch'"):
        get_labeller("drift", source="nosuch")


# ---------------------------------------------------------------- synthetic A → B

LINES = 6000


@pytest.fixture(scope="module")
def systems(tmp_path_factory) -> dict:
    """Two synthetic 'systems' (the one generator profile at seeds 0 and 1) and their files."""
    folder = tmp_path_factory.mktemp("drift")
    out = {"dir": folder}
    for name, seed in (("A", 0), ("B", 1)):
        path = folder / f"synthetic-{name}.log"
        write_synthetic_log(path, LINES, seed)
        out[name] = prepare_dataset("synthetic", data_file=path, data_dir=folder / "data")
        out[f"{name}_file"] = path
    return out


def _lines(dataset: PreparedDataset) -> tuple[list[str], np.ndarray]:
    train = dataset.splits["train"]
    lines, tmpl = split_lines(train.bags)
    return [dataset.templates.texts[t] for t in tmpl], train.line_labels[lines]


def test_on_synthetic_a_to_b_drift_labels_beat_chance(systems) -> None:
    texts, truth = _lines(systems["B"])
    got = DriftLabeller.from_dataset(systems["A"]).label(texts).labels
    line = agreement(truth, got)
    rate = truth.mean()
    chance = 2 * rate / (1 + rate)  # the best F1 of any labelling blind to the text (all 1)
    assert line["f1"] > chance + 0.05
    assert line["precision"] > 5 * rate
    templates = sorted(set(texts))
    pos = {t: truth[[x == t for x in texts]].mean() for t in templates}
    tmpl_truth = np.array([pos[t] >= 0.5 for t in templates])
    tmpl = agreement(tmpl_truth, DriftLabeller.from_dataset(systems["A"]).label(templates).labels)
    assert tmpl["f1"] > 2 * tmpl_truth.mean() / (1 + tmpl_truth.mean()) + 0.2


def test_the_cli_options_build_it_from_a_card_and_refuse_the_target_as_source(systems) -> None:
    from benchmark.labelling.grid import LabelPlan

    options = {"source": "synthetic", "source_file": str(systems["A_file"]),
               "source_data_dir": str(systems["dir"] / "data")}
    plan = LabelPlan(0.05, "drift", options=options)
    relabelled, summary = plan.apply(systems["B"], seed=0)
    train_lines = summary["lines"]
    assert summary["queries"] == round(0.05 * train_lines)
    assert summary["line"]["f1"] > 0
    assert relabelled.splits["test"] is systems["B"].splits["test"]
    with pytest.raises(LabellingError, match="its source is the same log"):
        plan.apply(systems["A"], seed=0)
