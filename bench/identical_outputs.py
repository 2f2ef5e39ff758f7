"""Check that a code change leaves every model's numbers bitwise identical.

    python bench/identical_outputs.py --save DIR      # before the change: write DIR/<model>.npz
    python bench/identical_outputs.py --check DIR     # after: compare, exit 1 on any difference
    python bench/identical_outputs.py --check DIR --models logmilp midlog

For every registered model (or `--models`): fit with its quick config on the quick synthetic
dataset (`prepare_dataset("synthetic", quick=True)`), seed 0, CPU, one torch thread, exactly as
`benchmark.run.run_one` does (seed_everything, then fit), then record the validation and test
probabilities and instance scores, the test positive bags re-scored with their key instance
dropped (the SR pass), the training history (per-epoch losses and validation scores), the metrics
of `benchmark.protocol.evaluate` and the record hash of the default and quick configs (so that
finished runs are still recognised). VARIANTS add fits with a non-default option of a selected
model. `--check` compares each array with `np.array_equal` (NaN equal to NaN) and prints one line
per fit. Numbers depend on the torch build and thread count: save and check on one machine.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.capabilities import HasHistory
from benchmark.data.bagset import PreparedDataset
from benchmark.data.pipeline import prepare_dataset
from benchmark.model_api import ModelContext
from benchmark.protocol import PROTOCOL_VERSION, evaluate
from benchmark.registry import get_model, list_models, resolve_config
from benchmark.seeding import seed_everything
from benchmark.store import config_hash

SEED = 0
VARIANTS = {
    "logbert@surprise": ("logbert", {"instance_score": "surprise"}),
    "logformer@cls": ("logformer", {"pooling": "cls"}),
}
"""Extra fits: file name -> (model, config overrides on top of its quick config)."""


def model_outputs(
    name: str, data: PreparedDataset, overrides: dict | None = None
) -> dict[str, np.ndarray]:
    """Every number one quick fit of `name` (with `overrides`) produces, as named arrays."""
    seed_everything(SEED)
    context = ModelContext(templates=data.templates, seed=SEED, device=torch.device("cpu"),
                           diagnostic_line_labels=data.splits["train"].line_labels)
    model = get_model(name, resolve_config(name, quick=True, overrides=overrides), context)
    model.fit(data.splits["train"].bags, data.splits["val"].bags)
    out: dict[str, np.ndarray] = {}
    for split in ("val", "test"):
        scores = model.score(data.splits[split].bags)
        out[f"{split}_probabilities"] = scores.probabilities
        out[f"{split}_instance_scores"] = scores.instance_scores
    test = data.splits["test"].bags
    positive = np.flatnonzero(test.labels == 1)
    inst = out["test_instance_scores"][positive]
    key = inst.argmax(axis=1).astype(np.int64)
    dropped = model.score(test.subset(positive), drop=key)
    out["drop_probabilities"] = dropped.probabilities
    out["drop_instance_scores"] = dropped.instance_scores
    history = model.history_ if isinstance(model, HasHistory) else None
    if history is not None:
        out["history_losses"] = np.asarray(history.losses, dtype=np.float64)
        out["history_val_scores"] = np.asarray(history.val_scores, dtype=np.float64)
        out["history_best_epoch"] = np.asarray(history.best_epoch)
    result = evaluate(model, {"val": data.splits["val"], "test": data.splits["test"]})
    for quick in (False, True):  # a renamed or retyped config field would change record hashes
        config = resolve_config(name, quick=quick)
        out[f"config_hash_{'quick' if quick else 'default'}"] = np.asarray(
            config_hash(name, config, {"name": "synthetic"}, SEED, PROTOCOL_VERSION))
    for metric, value in sorted(result["metrics"].items()):
        out[f"metric_{metric}"] = np.asarray(value, dtype=np.float64)
    curve = result["pr_curve"] or {}
    for key_name, values in sorted(curve.items()):
        out[f"pr_curve_{key_name}"] = np.asarray(values, dtype=np.float64)
    return out


def compare(saved: dict[str, np.ndarray], now: dict[str, np.ndarray]) -> list[str]:
    """Names of the arrays that differ (missing on one side counts as different)."""
    differ = sorted(set(saved) ^ set(now))
    for key in sorted(set(saved) & set(now)):
        a, b = saved[key], now[key]
        equal_nan = a.dtype.kind == "f" and b.dtype.kind == "f"
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=equal_nan):
            differ.append(key)
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--save", type=Path, metavar="DIR", help="write reference outputs")
    mode.add_argument("--check", type=Path, metavar="DIR", help="compare with saved outputs")
    parser.add_argument("--models", nargs="+", default=None,
                        help="default: every registered model (and its VARIANTS)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)

    names = args.models or list_models()
    fits = {name: (name, {}) for name in names}
    fits.update({key: spec for key, spec in VARIANTS.items() if spec[0] in names})
    data = prepare_dataset("synthetic", quick=True)
    directory = args.save or args.check
    directory.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name, (model, overrides) in fits.items():
        start = time.perf_counter()
        now = model_outputs(model, data, overrides)
        seconds = time.perf_counter() - start
        path = directory / f"{name}.npz"
        if args.save:
            np.savez(path, **now)
            print(f"{name:15s} saved {len(now)} arrays to {path} ({seconds:.0f} s)")
            continue
        if not path.is_file():
            print(f"{name:15s} MISSING reference {path}")
            failures += 1
            continue
        with np.load(path) as saved_file:
            saved = {k: saved_file[k] for k in saved_file.files}
        differ = compare(saved, now)
        failures += bool(differ)
        status = "identical" if not differ else "DIFFERENT: " + ", ".join(differ)
        print(f"{name:15s} {status} ({len(now)} arrays, {seconds:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
