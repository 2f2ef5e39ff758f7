"""ALPHA propagation quality along a label-budget curve, printed as one table (no training).

    python bench/alpha_budget.py                                  # quick synthetic, seeds 0 1 2
    python bench/alpha_budget.py --budgets 0.01 0.1 --labellers oracle keywords
    python bench/alpha_budget.py --propagation cluster --embedding tfidf --json out.json

For each (labeller, budget, seed) the training split's lines are labelled through the pipeline
(k-means representatives, one uncertainty round, propagation) and compared with the ground truth:
line accuracy / precision / recall, and the same for the bag labels (max over lines) that a MIL
model would train on. Columns are means over seeds (± std for bag F1). `noisy-oracle` flips
`--flip` of the answers in both directions. `--unit bag` asks about whole windows instead (the
budget is then a fraction of the training bags).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark.data.pipeline import prepare_dataset
from benchmark.labelling.alpha import AlphaSettings
from benchmark.labelling.budget import build_labeller, label_budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--full", action="store_true", help="not the quick synthetic variant")
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.001, 0.01, 0.05, 0.1, 1.0])
    parser.add_argument("--labellers", nargs="+", default=["oracle", "noisy-oracle"])
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--propagation", default="spreading", choices=["spreading", "cluster"])
    parser.add_argument("--embedding", default="template", choices=["template", "tfidf"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--unit", default="line", choices=["line", "bag"],
                        help="what is labelled; the budget is a fraction of it")
    parser.add_argument("--smooth", action="store_true",
                        help="labelled lines also take their group's majority")
    parser.add_argument("--json", type=Path, help="also write every summary here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    data = prepare_dataset(args.dataset, quick=not args.full)
    train = data.splits["train"]
    settings = AlphaSettings(embedding=args.embedding, propagation=args.propagation,
                             rounds=args.rounds, smooth=args.smooth)
    rows, summaries = [], []
    for name in args.labellers:
        for budget in args.budgets:
            runs = []
            start = time.perf_counter()
            for seed in args.seeds:
                options = {"flip": args.flip} if name == "noisy-oracle" else {}
                labeller = build_labeller(name, train, seed, unit=args.unit, **options)
                _, summary = label_budget(train, budget, labeller, seed, unit=args.unit,
                                          settings=settings)
                runs.append(summary)
            seconds = (time.perf_counter() - start) / len(args.seeds)
            summaries += runs

            def mean(part: str, key: str, runs: list = runs) -> float:
                return float(np.mean([r[part][key] for r in runs]))

            bag_f1 = [r["bag"]["f1"] for r in runs]
            line = (["-"] * 3 if args.unit == "bag" else
                    [mean("line", "accuracy"), mean("line", "precision"), mean("line", "recall")])
            rows.append([name, budget, runs[0]["queries"], runs[0]["units"], *line,
                         mean("bag", "accuracy"),
                         mean("bag", "precision"), mean("bag", "recall"),
                         f"{np.mean(bag_f1):.3f} ± {np.std(bag_f1):.3f}", seconds])
    print(f"{data.name} ({'full' if args.full else 'quick'}): {len(train.bags)} training bags, "
          f"{int(train.bags.labels.sum())} positive; embedding={args.embedding}, "
          f"propagation={args.propagation}, rounds={args.rounds}, smooth={args.smooth}, "
          f"unit={args.unit}, "
          f"seeds={args.seeds}")
    headers = ["labeller", "budget", "queries", f"{args.unit}s", "line acc", "line P", "line R",
               "bag acc", "bag P", "bag R", "bag F1", "s/run"]
    print(tabulate(rows, headers=headers, floatfmt=".4g"))
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=1))


if __name__ == "__main__":
    main()
