"""Test F1 of models trained on ALPHA-propagated training labels, along a label-budget curve.

    python bench/alpha_train.py                                   # logmilp midlog deeplog, quick
    python bench/alpha_train.py --models logmilp --budgets 0.01 1.0 --labellers oracle --seeds 0 1

The quick synthetic dataset; each model with its quick config. For each (labeller, budget, seed):
the training bag labels come from `relabel_dataset` (validation and test keep the ground truth, τ
is chosen on validation as in every run), the model is fitted and evaluated by the protocol. This
is a figure script, not the grid: no record is written (see `--json`).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

import baselines  # noqa: F401  (registers models)
import models  # noqa: F401
from benchmark.data.pipeline import prepare_dataset
from benchmark.labelling.budget import build_labeller, relabel_dataset
from benchmark.model_api import ModelContext
from benchmark.protocol import evaluate
from benchmark.registry import get_model, resolve_config
from benchmark.seeding import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["logmilp", "midlog", "deeplog"])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.001, 0.01, 0.05, 0.1, 1.0])
    parser.add_argument("--labellers", nargs="+", default=["oracle", "noisy-oracle"])
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)

    data = prepare_dataset("synthetic", quick=True)
    train = data.splits["train"]
    results = []
    for name in args.labellers:
        options = {"flip": args.flip} if name == "noisy-oracle" else {}
        for budget in args.budgets:
            for seed in args.seeds:
                labeller = build_labeller(name, train, seed, **options)
                relabelled, summary = relabel_dataset(data, budget, labeller, seed)
                for model_name in args.models:
                    seed_everything(seed)
                    context = ModelContext(templates=data.templates, seed=seed,
                                           device=torch.device("cpu"))
                    model = get_model(model_name, resolve_config(model_name, quick=True), context)
                    start = time.perf_counter()
                    model.fit(relabelled.splits["train"].bags, relabelled.splits["val"].bags)
                    metrics = evaluate(model, {"val": data.splits["val"],
                                               "test": data.splits["test"]})["metrics"]
                    results.append({"labeller": name, "budget": budget, "seed": seed,
                                    "model": model_name, "queries": summary["queries"],
                                    "bag_label_accuracy": summary["bag"]["accuracy"],
                                    "fit_seconds": time.perf_counter() - start,
                                    **{k: metrics[k] for k in ("auc", "f1", "loc@3", "sr")}})
    rows = []
    keys = sorted({(r["model"], r["labeller"], r["budget"]) for r in results},
                  key=lambda k: (k[0], args.labellers.index(k[1]), k[2]))
    for model_name, name, budget in keys:
        group = [r for r in results if (r["model"], r["labeller"], r["budget"]) ==
                 (model_name, name, budget)]

        def stat(key: str, group: list = group) -> str:
            values = [r[key] for r in group]
            return f"{np.mean(values):.3f} ± {np.std(values):.3f}"

        rows.append([model_name, name, budget, group[0]["queries"],
                     stat("bag_label_accuracy"), stat("auc"), stat("f1"), stat("loc@3")])
    print(f"synthetic (quick), seeds {args.seeds}, quick model configs, test split")
    print(tabulate(rows, headers=["model", "labeller", "budget", "queries", "train bag-label acc",
                                  "AUC", "F1", "Loc@3"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
