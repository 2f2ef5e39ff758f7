"""bench/train_speed.py: the fake bags look like the synthetic default; the CLI prints one table."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from bench_scripts import BENCH, load_bench_script

SCRIPT = BENCH / "train_speed.py"


def load_script():
    return load_bench_script("train_speed")


def test_fake_dataset_shape():
    data = load_script().fake_dataset(500, seed=0)
    train, val, test = (data.splits[k].bags for k in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (300, 100, 100)
    lengths = np.concatenate([s.bags.lengths for s in data.splits.values()])
    assert lengths.min() >= 10 and lengths.max() <= 128
    positive = np.mean(np.concatenate([s.bags.labels for s in data.splits.values()]))
    assert 0.08 < positive < 0.2
    # bag label = max of its line labels
    split = data.splits["test"]
    assert np.array_equal(split.instance_labels().max(axis=1), split.bags.labels)


@pytest.mark.slow
def test_cli_prints_one_row_per_model():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--fake", "--quick", "--bags", "40",
         "--models", "deeplog", "logbert"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["deeplog", "logbert"]
    assert "train bags/s" in rows[0] and "peak RSS MB" in rows[0]


def test_cli_rejects_unknown_model():
    run = subprocess.run([sys.executable, str(SCRIPT), "--fake", "--models", "nosuchmodel"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "unknown model(s): nosuchmodel" in run.stderr
