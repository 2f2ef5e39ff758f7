"""One side of `train_speed.py --compare`: fit and evaluate one model with the code on PYTHONPATH.

    PYTHONPATH=<tree> python bench/compare_driver.py --model logbert --data-dir D --out R.json \
        --threads 1 --overrides '{"epochs": 1, "steps_per_epoch": 20}'

Runs in a fresh process so that each side imports its own `benchmark`, `models` and `baselines`.
It uses only what every revision of the harness offers (get_model, resolve_config, ModelContext,
fit, score, benchmark.protocol.evaluate), and tolerates a ModelContext with extra defaulted fields
and frozen configs. Writes R.json (fit wall and CPU seconds, score seconds, metrics, losses) and
R.npz (test bag probabilities and instance scores) for the parent to compare. `--no-metrics`
skips the evaluation (its validation and test passes are not timed, only slow the comparison).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def build_context(templates, seed: int, device: torch.device):
    """ModelContext(templates, seed, device), passing only the fields this revision has."""
    from benchmark.model_api import ModelContext

    wanted = {"templates": templates, "seed": seed, "device": device}
    names = {f.name for f in dataclasses.fields(ModelContext)}
    return ModelContext(**{k: v for k, v in wanted.items() if k in names})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overrides", default="{}", help="JSON config overrides")
    parser.add_argument("--no-metrics", action="store_true", help="skip the evaluation")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from benchmark.data.pipeline import prepare_dataset
    from benchmark.protocol import evaluate
    from benchmark.registry import get_model, model_class, resolve_config
    from benchmark.seeding import seed_everything

    data = prepare_dataset("synthetic", data_dir=args.data_dir)
    splits = data.splits
    fields = {f.name for f in dataclasses.fields(model_class(args.model).config_class)}
    overrides = {k: v for k, v in json.loads(args.overrides).items() if k in fields}
    config = resolve_config(args.model, quick=False, overrides=overrides)
    seed_everything(args.seed)
    model = get_model(args.model, config, build_context(data.templates, args.seed,
                                                        torch.device("cpu")))
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(splits["train"].bags, splits["val"].bags)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    scores = model.score(splits["test"].bags)
    score_s, score_cpu = time.perf_counter() - start, time.process_time() - cpu
    evaluation = ({"metrics": {}} if args.no_metrics
                  else evaluate(model, {"val": splits["val"], "test": splits["test"]}))
    history = getattr(model, "history_", None)
    result = {
        "model": args.model, "fit_seconds": fit_s, "fit_cpu_seconds": fit_cpu,
        "score_seconds": score_s, "score_cpu_seconds": score_cpu,
        "train_bags": len(splits["train"].bags), "test_bags": len(splits["test"].bags),
        "overrides": overrides, "threads": torch.get_num_threads(),
        "metrics": evaluation["metrics"],
        "losses": list(getattr(history, "losses", []) or []),
        "val_scores": list(getattr(history, "val_scores", []) or []),
    }
    np.savez(args.out.with_suffix(".npz"), probabilities=scores.probabilities,
             instance_scores=scores.instance_scores)
    args.out.write_text(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
