"""`python -m benchmark localize` end to end: a model trained on the quick synthetic data finds
the planted anomalous lines of a freshly generated log (another seed), and the HTML page renders
in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmark import cli
from benchmark.data.synthetic import DEFAULT_SPEC, NORMAL_LABEL, write_synthetic_log
from benchmark.registry import list_models
from benchmark.report.localize_html import to_html

MODEL = "deeplog"
"""The cheapest registered model that localizes after one quick epoch (on the test log below:
Loc@3 1.0 at 3 epochs, chance 0.14; LogMILP at 4 quick epochs 0.25); every model is run through
localize by test_every_model_localizes (slow)."""
TOP = 3
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def train(results: Path, data: Path, model: str, epochs: int = 1) -> None:
    """A quick seed-0 run of `model` (`epochs` epochs where the model trains in epochs)."""
    from benchmark.registry import resolve_config

    epoch_set = (["--set", f"{model}.epochs={epochs}"]
                 if hasattr(resolve_config(model), "epochs") else [])
    rc = cli.run_all_main(["--quick", "--models", model, "--seeds", "0", "--device", "cpu",
                           "--threads", "1", *epoch_set,
                           "--results-dir", str(results), "--data-dir", str(data)])
    assert rc == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("localize")
    train(root / "results", root / "data", MODEL)
    return root / "results"


@pytest.fixture(scope="module")
def user_log(tmp_path_factory) -> Path:
    """A fresh log (the quick training data use seed 0) whose planted episodes are all of the
    rare-template kind: a burst's lines are anomalous only by their number, which no score of
    a single line can single out, and would make chance high (about 0.3 with the default mix)."""
    path = tmp_path_factory.mktemp("user") / "my.log"
    write_synthetic_log(path, 4000, seed=11, spec=replace(DEFAULT_SPEC,
                                                          episode_mix=(1.0, 0.0, 0.0)))
    return path


def localize(results: Path, log: Path, output: Path, *extra: str, model: str = MODEL) -> int:
    """`localize` on the run `train` saved (a --quick --set run: its own variant folder)."""
    saved = [p.parent.name for p in (results / "models" / "synthetic" / model).glob("*/seed0.pt")]
    return cli.benchmark_main(["localize", "--model", model, "--trained-on", "synthetic",
                               *(["--variant", *saved] if saved else []),
                               "--log", str(log), "--top", str(TOP), "--output", str(output),
                               "--results-dir", str(results), *extra])


def line_labels(log: Path) -> np.ndarray:
    """(L,) ground truth of a synthetic log: its first field is not `-`."""
    return np.array([line.split(" ", 1)[0] != NORMAL_LABEL
                     for line in log.read_text().splitlines()], dtype=bool)


def test_localize_finds_planted_anomalous_lines_well_above_chance(trained, user_log, tmp_path):
    out = tmp_path / "report.json"
    assert localize(trained, user_log, out) == 0
    result = json.loads(out.read_text())
    truth = line_labels(user_log)
    assert result["lines"] == len(truth) and result["flagged"] == len(result["windows"]) > 0
    hits = wanted = chance = 0.0
    for w in result["windows"]:
        assert w["probability"] >= result["threshold"]
        scores = [t["score"] for t in w["top"]]
        assert scores == sorted(scores, reverse=True) and len(w["top"]) == min(TOP, w["lines"])
        bag = truth[w["first_line"] - 1 : w["last_line"]]
        if not bag.any():
            continue
        hits += sum(truth[t["line"] - 1] for t in w["top"])
        wanted += min(TOP, int(bag.sum()))
        chance += min(TOP, len(bag)) * bag.mean()  # expected hits of k random lines
    assert wanted > 0, "no flagged window holds a planted anomaly"
    loc, base = hits / wanted, chance / wanted
    assert loc >= max(2 * base, base + 0.2), (loc, base)
    probabilities = [w["probability"] for w in result["windows"]]
    assert probabilities == sorted(probabilities, reverse=True)


def test_markdown_has_one_section_per_flagged_window(trained, user_log, tmp_path):
    out = tmp_path / "report.md"
    assert localize(trained, user_log, out) == 0
    data = tmp_path / "report.json"
    assert localize(trained, user_log, data) == 0
    flagged = json.loads(data.read_text())["flagged"]
    assert len(re.findall(r"^## Window \d+: p = ", out.read_text(), flags=re.M)) == flagged


def test_unseen_templates_are_counted_and_reported(trained, user_log, tmp_path):
    log = tmp_path / "odd.log"
    odd = ("- 1117838570 2005.06.03 R07-M0-NF-C:J14-U01 2005-06-03-22.42.50.692344 "
           "R07-M0-NF-C:J14-U01 RAS KERNEL INFO zebra quokka wombat never logged before\n")
    lines = user_log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:100]) + odd + "".join(lines[100:400]))
    out = tmp_path / "odd.json"
    assert localize(trained, log, out) == 0
    unknown = json.loads(out.read_text())["unknown"]
    assert unknown["lines"] >= 1
    assert any("zebra quokka wombat" in e for e in unknown["examples"])


@pytest.mark.parametrize("case", ["empty", "zookeeper-lines", "format-flag", "no-model"])
def test_bad_input_exits_2_naming_the_file(trained, user_log, tmp_path, capsys, case):
    log, extra, model = tmp_path / "in.log", [], MODEL
    if case == "empty":
        log.write_text("")
    elif case == "zookeeper-lines":
        log.write_text("2015-07-29 17:41:44,747 - INFO  [main:QuorumPeer@913] - tickTime set\n"
                       * 20)
    elif case == "format-flag":
        log = user_log
        extra = ["--format", "zookeeper"]
    else:
        log, model = user_log, "logbert"
    rc = localize(trained, log, tmp_path / "out.json", *extra, model=model)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    named = "seed0.pt" if case == "no-model" else str(log)
    assert named in err, err


def test_html_escapes_log_text():
    result = {"log_file": "x<y>.log", "format": "bgl", "model": "m", "trained_on": "d",
              "seed": 0, "threshold": 0.5, "top": 1, "lines": 1, "unparsed_lines": 0,
              "bags": 1, "flagged": 1, "unknown": {"lines": 0, "distinct_contents": 0,
                                                   "examples": []},
              "windows": [{"rank": 1, "probability": 0.9, "first_line": 1, "last_line": 1,
                           "lines": 1, "start_time": "t0", "end_time": "t1",
                           "top": [{"line": 1, "score": 1.0, "text": "<script>x</script>"}],
                           "context": [{"line": 1, "score": 1.0,
                                        "text": "<script>alert('&')</script>"}]}]}
    page = to_html(result)
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;&amp;&#x27;)" in page
    assert "x&lt;y&gt;.log" in page


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install "
                                              "chromium); the page is not rendered")
def test_html_page_renders_in_headless_chromium(trained, user_log, tmp_path):
    from PIL import Image

    page = tmp_path / "report.html"
    assert localize(trained, user_log, page) == 0
    data = tmp_path / "report.json"
    assert localize(trained, user_log, data) == 0
    result = json.loads(data.read_text())
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000"]
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2000, 1200)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.001, "the screenshot is blank"
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    sections = re.findall(r'<section class="window" id="window-(\d+)">', dom)
    assert [int(s) for s in sections] == list(range(1, result["flagged"] + 1))
    assert dom.count('<tr class="suspect">') == sum(len(w["top"]) for w in result["windows"])
    assert f'<b id="flagged-count">{result["flagged"]}</b>' in dom


@pytest.mark.slow
@pytest.mark.parametrize("model", list_models())
def test_every_model_localizes(model, user_log, tmp_path):
    train(tmp_path / "results", tmp_path / "data", model)
    out = tmp_path / "report.json"
    assert localize(tmp_path / "results", user_log, out, model=model) == 0
    result = json.loads(out.read_text())
    assert result["model"] == model and result["bags"] > 0
    for w in result["windows"]:
        assert w["probability"] >= result["threshold"] and len(w["top"]) >= 1
