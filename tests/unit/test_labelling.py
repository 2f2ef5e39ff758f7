"""Labellers (oracle, noisy-oracle, keywords, replay, llm against a real local HTTP server) and the
ALPHA label-budget pipeline."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from records_factory import run_record_path

from benchmark.data.bagset import PreparedDataset
from benchmark.data.pipeline import prepare_dataset
from benchmark.labelling import LabellingError, get_labeller, list_labellers
from benchmark.labelling.alpha import AlphaSettings, propagate_labels
from benchmark.labelling.budget import (
    agreement,
    build_labeller,
    label_budget,
    relabel_dataset,
    split_lines,
)
from benchmark.labelling.llm import URL_ENV, parse_reply
from benchmark.labelling.replay import RecordingLabeller, text_key, write_replay

# ---------------------------------------------------------------- labellers


def test_registry_lists_every_labeller_and_rejects_unknown_names() -> None:
    assert list_labellers() == ["drift", "keywords", "llm", "noisy-oracle", "oracle", "replay"]
    with pytest.raises(KeyError, match="unknown labeller 'gpt'"):
        get_labeller("gpt")


def test_oracle_answers_the_truth_and_counts_queries() -> None:
    truth = np.array([0, 1, 1, 0, 1], dtype=np.int8)
    oracle = get_labeller("oracle", truth=truth)
    got = oracle.label(["a", "b", "c"], ids=[4, 0, 2])
    assert got.labels.tolist() == [1, 0, 1] and got.confidences.tolist() == [1.0, 1.0, 1.0]
    oracle.label(["d"], ids=[3])
    assert oracle.queries == 4
    with pytest.raises(LabellingError, match="needs ids"):
        oracle.label(["x"])


def test_noisy_oracle_flips_at_its_asymmetric_rates_and_is_consistent() -> None:
    truth = (np.arange(40_000) % 2).astype(np.int8)
    noisy = get_labeller("noisy-oracle", truth=truth, miss=0.3, false_alarm=0.05, seed=3)
    ids = np.arange(len(truth))
    got = noisy.label([""] * len(ids), ids).labels
    assert abs((got[truth == 1] == 0).mean() - 0.3) < 0.015
    assert abs((got[truth == 0] == 1).mean() - 0.05) < 0.01
    backwards = noisy.label([""] * len(ids), ids[::-1]).labels[::-1]
    assert np.array_equal(got, backwards)  # one fixed draw per id, whatever the order
    other_seed = get_labeller("noisy-oracle", truth=truth, flip=0.1, seed=4).label(
        [""] * len(ids), ids).labels
    assert not np.array_equal(got, other_seed)
    assert noisy.queries == 2 * len(ids)


def test_keywords_match_whole_words_from_a_configurable_vocabulary() -> None:
    rule = get_labeller("keywords")
    got = rule.label(["Connection FAILED to node", "terrorist warnings", "fatal: disk lost",
                      "job started", "could not open file"])
    assert got.labels.tolist() == [1, 0, 1, 0, 1]
    assert got.confidences.tolist() == [0.7, 0.6, 0.7, 0.6, 0.7]
    custom = get_labeller("keywords", words=["started"])
    assert custom.label(["job started", "job failed"]).labels.tolist() == [1, 0]


def test_replay_reads_recorded_answers_and_names_the_file_when_one_is_missing(tmp_path) -> None:
    path = tmp_path / "answers.jsonl"
    write_replay(path, ["disk failure", "all good"], [1, 0], [0.9, 0.8])
    replay = get_labeller("replay", path=path)
    got = replay.label(["all good", "disk failure"])
    assert got.labels.tolist() == [0, 1] and got.confidences.tolist() == [0.8, 0.9]
    with pytest.raises(LabellingError, match=r"answers\.jsonl: no recorded answer for 'new line'"):
        replay.label(["new line"])
    assert replay.queries == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"key": text_key("a"), "label": 1}) + "\n{not json\n")
    with pytest.raises(LabellingError, match=r"bad\.jsonl:2: bad replay record"):
        get_labeller("replay", path=bad)


def test_answers_recorded_from_one_labeller_replay_identically(tmp_path) -> None:
    texts = ["disk failure on node", "job started", "fatal kernel panic"]
    recorder = RecordingLabeller(get_labeller("keywords"), tmp_path / "rec.jsonl")
    first = recorder.label(texts)
    replayed = get_labeller("replay", path=tmp_path / "rec.jsonl").label(texts[::-1])
    assert first.labels.tolist() == [1, 0, 1] and recorder.inner.queries == 3
    assert replayed.labels.tolist() == first.labels.tolist()[::-1]
    assert replayed.confidences.tolist() == first.confidences.tolist()[::-1]


def test_parse_reply_reads_json_or_a_leading_word_and_rejects_the_rest() -> None:
    assert parse_reply('{"label": "anomalous", "confidence": 0.8}') == (1, 0.8)
    assert parse_reply('Sure: {"label": "normal", "confidence": 0.95} done') == (0, 0.95)
    assert parse_reply("Normal. The message is routine.") == (0, 1.0)
    for reply in ("I am not sure", '{"label": "maybe"}', '{"label": "normal", "confidence": 7}'):
        with pytest.raises(LabellingError, match="unparsable reply"):
            parse_reply(reply, "some line")


class _ChatStub(BaseHTTPRequestHandler):
    """OpenAI chat-completions stand-in: 'anomalous' when the query mentions 'fail'."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
        query = body["messages"][-1]["content"]
        if "gibberish" in query:
            content = "I would rather not say."
        else:
            label = "anomalous" if "fail" in query else "normal"
            content = json.dumps({"label": label, "confidence": 0.75})
        reply = json.dumps({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content},
             "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100 + len(query), "completion_tokens": 12}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_server():
    _ChatStub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_labeller_talks_to_an_openai_compatible_server(chat_server, monkeypatch) -> None:
    monkeypatch.setenv(URL_ENV, chat_server)
    llm = get_labeller("llm", model="stub-model", api_key="k")
    got = llm.label(["mount failed on node <NUM>", "job <NUM> started"])
    assert got.labels.tolist() == [1, 0] and got.confidences.tolist() == [0.75, 0.75]
    assert llm.queries == 2 and len(_ChatStub.requests) == 2
    assert llm.tokens == {"sent": 200 + len("Log message: mount failed on node <NUM>")
                          + len("Log message: job <NUM> started"), "received": 24}
    sent = _ChatStub.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k"
    assert sent["body"]["model"] == "stub-model" and sent["body"]["temperature"] == 0
    messages = sent["body"]["messages"]
    assert messages[0]["role"] == "system" and len(messages) == 2 + 2 * len(llm.examples)
    assert messages[-1]["content"] == "Log message: mount failed on node <NUM>"
    with pytest.raises(LabellingError, match="unparsable reply 'I would rather not say.'"):
        llm.label(["gibberish line"])


def test_llm_labeller_without_an_endpoint_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    with pytest.raises(LabellingError, match=URL_ENV):
        get_labeller("llm")
    with pytest.raises(LabellingError, match="request to http://127.0.0.1:9/chat/completions"):
        get_labeller("llm", url="http://127.0.0.1:9", timeout=2).label(["x"])


def test_llm_labeller_against_the_configured_real_endpoint() -> None:
    if not os.environ.get(URL_ENV):
        pytest.skip(f"no LLM endpoint configured ({URL_ENV} unset)")
    got = get_labeller("llm").label(["instruction cache parity error corrected",
                                     "rts: kernel terminated for reason <NUM>"])
    assert got.labels.shape == (2,) and ((got.confidences >= 0) & (got.confidences <= 1)).all()


# ---------------------------------------------------------------- the pipeline


def test_propagation_spreads_two_answers_over_two_blobs_of_groups() -> None:
    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal([5, 0], 0.3, (10, 2)), rng.normal([0, 5], 0.3, (10, 2))])
    group_of = np.repeat(np.arange(20), 3)
    truth = (group_of >= 10).astype(np.int8)
    for propagation in ("cluster", "spreading"):
        oracle = get_labeller("oracle", truth=truth)
        out = propagate_labels(features, group_of, ["t"] * len(truth), np.arange(len(truth)),
                               oracle, 2, seed=0,
                               settings=AlphaSettings(propagation=propagation, rounds=1))
        assert oracle.queries == 2 and out.queried.sum() == 2
        assert np.array_equal(out.labels, truth), propagation


def test_budget_one_with_the_oracle_returns_the_original_bag_labels(tiny_dataset) -> None:
    train = tiny_dataset.splits["train"]
    oracle = get_labeller("oracle", truth=train.line_labels)
    bags, summary = label_budget(train, 1.0, oracle, seed=0)
    assert np.array_equal(bags.labels, train.bags.labels)
    assert np.array_equal(bags.starts, train.bags.starts) and bags.templates is train.bags.templates
    assert summary["queries"] == summary["labels_used"] == summary["lines"] == oracle.queries
    assert summary["line"]["accuracy"] == summary["bag"]["accuracy"] == 1.0


def test_a_small_budget_spends_exactly_its_queries_and_covers_pure_templates(tiny_dataset):
    train = tiny_dataset.splits["train"]
    lines, _ = split_lines(train.bags)
    budget = 0.15  # more queries than the 24 templates: every template gets asked about
    for embedding in ("template", "tfidf"):
        oracle = get_labeller("oracle", truth=train.line_labels)
        bags, s = label_budget(train, budget, oracle, seed=1,
                               settings=AlphaSettings(embedding=embedding))
        assert oracle.queries == s["queries"] == s["labels_used"] == round(budget * len(lines))
        assert s["line"]["accuracy"] == 1.0, embedding  # templates 22/23 are the anomalies
        assert np.array_equal(bags.labels, train.bags.labels), embedding


def test_label_budget_is_deterministic_and_rejects_bad_budgets(tiny_dataset) -> None:
    train = tiny_dataset.splits["train"]

    def run(seed: int):
        noisy = get_labeller("noisy-oracle", truth=train.line_labels, flip=0.1, seed=seed)
        return label_budget(train, 0.05, noisy, seed=seed)

    (a, sa), (b, sb) = run(0), run(0)
    assert np.array_equal(a.labels, b.labels) and sa == sb
    oracle = get_labeller("oracle", truth=train.line_labels)
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="label budget"):
            label_budget(train, bad, oracle, seed=0)
    assert oracle.queries == 0


def test_bag_unit_asks_about_windows_and_budget_one_is_exact(tiny_dataset) -> None:
    train = tiny_dataset.splits["train"]
    oracle = build_labeller("oracle", train, seed=0, unit="bag")
    bags, s = label_budget(train, 1.0, oracle, seed=0, unit="bag")
    assert np.array_equal(bags.labels, train.bags.labels) and s["queries"] == len(train.bags)
    oracle = build_labeller("oracle", train, seed=0, unit="bag")
    bags, s = label_budget(train, 0.25, oracle, seed=0, unit="bag")
    assert s["queries"] == s["labels_used"] == round(0.25 * len(train.bags)) and "line" not in s
    assert s["bag"]["accuracy"] == (bags.labels == train.bags.labels).mean()
    with pytest.raises(ValueError, match="unit must be"):
        label_budget(train, 0.5, oracle, seed=0, unit="window")


def test_smoothing_replaces_noisy_answers_by_the_group_majority(tiny_dataset) -> None:
    train = tiny_dataset.splits["train"]

    def line_accuracy(smooth: bool) -> float:
        noisy = build_labeller("noisy-oracle", train, seed=0, flip=0.2)
        _, s = label_budget(train, 1.0, noisy, seed=0, settings=AlphaSettings(smooth=smooth))
        return s["line"]["accuracy"]

    assert line_accuracy(False) < 0.9  # 20 % flips kept as they were answered
    assert line_accuracy(True) == 1.0  # every template is pure, majorities are right


def test_relabel_dataset_replaces_only_the_training_labels(tiny_dataset) -> None:
    train = tiny_dataset.splits["train"]
    noisy = build_labeller("noisy-oracle", train, seed=0, flip=0.3)
    data, summary = relabel_dataset(tiny_dataset, 1.0, noisy, seed=0)
    assert not np.array_equal(data.splits["train"].bags.labels, train.bags.labels)
    assert data.splits["val"] is tiny_dataset.splits["val"]
    assert data.splits["test"] is tiny_dataset.splits["test"]
    assert data.summary == tiny_dataset.summary and summary["bags"] == len(train.bags)
    assert summary["bags_changed"] == int((data.splits["train"].bags.labels
                                           != train.bags.labels).sum()) > 0


def test_agreement_counts() -> None:
    got = agreement(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    assert got["accuracy"] == 0.5 and got["precision"] == 0.5 and got["recall"] == 0.5
    assert agreement(np.zeros(3), np.zeros(3))["f1"] == 1.0


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> PreparedDataset:
    return prepare_dataset("synthetic", quick=True, data_dir=tmp_path_factory.mktemp("data"))


def test_synthetic_budget_curve_with_the_oracle(synthetic) -> None:
    train = synthetic.splits["train"]
    accuracy = {}
    for budget in (0.001, 0.1, 1.0):
        oracle = get_labeller("oracle", truth=train.line_labels)
        bags, s = label_budget(train, budget, oracle, seed=0)
        assert s["queries"] == max(1, round(budget * s["lines"]))
        accuracy[budget] = s["bag"]["accuracy"]
    assert accuracy[1.0] == 1.0
    assert accuracy[0.1] > accuracy[0.001]


# ---------------------------------------------------------------- the grid (run_all)


def _tiny_source():
    from conftest import make_tiny_dataset

    from benchmark import grid

    return grid.DataSource(prepare=lambda name, **kw: make_tiny_dataset(bags_per_split=24),
                           identity=lambda name, **kw: {"card": "tiny"})


@pytest.fixture
def tiny_model():
    import tiny_template_model

    tiny_template_model.register()
    yield tiny_template_model.NAME
    tiny_template_model.unregister()


@pytest.mark.slow
def test_run_all_label_budget_records_beside_the_ground_truth_ones(tmp_path, tiny_model):
    from benchmark.cli import run_all_main
    from benchmark.report.budget import budget_records
    from benchmark.store import load_records

    base = ["--datasets", "tiny", "--models", tiny_model, "--seeds", "0", "--device", "cpu",
            "--results-dir", str(tmp_path), "--set", f"{tiny_model}.epochs=4"]
    assert run_all_main(base, _tiny_source()) == 0
    assert run_all_main(base + ["--label-budget", "0.05", "1.0", "--labeller", "noisy-oracle",
                                "--labeller-option", "flip=0.2"], _tiny_source()) == 0
    assert run_all_main(base + ["--label-budget", "1.0"], _tiny_source()) == 0
    def record(dataset: str) -> dict:
        return json.loads(run_record_path(tmp_path, dataset, tiny_model, 0).read_text())

    truth, oracle = record("tiny"), record("tiny@budget1-oracle")
    noisy = record("tiny@budget0.05-noisy-oracle-flip0.2")
    noisy_full = record("tiny@budget1-noisy-oracle-flip0.2")
    variant = truth["extras"].pop("variant")  # --set: every run in one cfg-<h> folder
    assert {r["extras"]["variant"] for r in (oracle, noisy, noisy_full)} == {variant}
    assert oracle["metrics"] == truth["metrics"]  # budget 1.0 with the oracle: today's numbers
    assert oracle["pr_curve"] == truth["pr_curve"] and oracle["history"] == truth["history"]
    assert noisy_full["history"] != truth["history"]  # the labels do reach training
    assert oracle["config_hash"] != truth["config_hash"] and truth["extras"] == {}
    plan = oracle["extras"]["label_budget"]
    assert plan["base_dataset"] == "tiny" and plan["curve"] == "oracle"
    assert plan["summary"]["bag"]["accuracy"] == 1.0
    summary = noisy["extras"]["label_budget"]["summary"]
    assert summary["queries"] == round(0.05 * summary["lines"])
    # the store verifies every record where it lies; the report tells the two kinds apart
    assert load_records(tmp_path) == []  # the default-config report has none of them
    records = load_records(tmp_path, variant)
    assert len(records) == 4
    assert [r.dataset for r in records if not budget_records([r])] == ["tiny"]
    tables = (tmp_path / "tables" / variant / "table1.csv").read_text()
    assert "@" not in tables and "tiny" in tables
    assert (tmp_path / "figures" / variant / "label_budget_tiny.png").stat().st_size > 0
    assert (tmp_path / "tables" / variant / "annotation_saved.md").exists()
    assert run_all_main(base + ["--labeller", "keywords"], _tiny_source()) == 2
    assert run_all_main(base + ["--label-budget", "0"], _tiny_source()) == 2
