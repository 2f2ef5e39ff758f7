"""Training throughput and peak memory of every registered model, printed as one table.

    python bench/train_speed.py                      # synthetic default via the data pipeline
    python bench/train_speed.py --fake --quick       # generated bags, quick configs
    python bench/train_speed.py --models deeplog logbert --epochs 1
    python bench/train_speed.py --quick --quick-data  # the synthetic dataset's quick variant

Each model runs in its own spawned process so that its peak RSS (resource.getrusage ru_maxrss)
is its own. Columns: fit seconds for `--epochs` epochs (each epoch includes the model's
validation pass), train bags/s = bags of the train split x epochs run / fit seconds (models that
learn normal behaviour train on the normal bags only, yet the rate is counted over the whole split
so that rows compare the same work), score bags/s on the test split, peak RSS of the process and
its growth during fit + score (MB).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tabulate import tabulate

from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset, TemplateTable
from benchmark.model_api import ModelContext
from benchmark.registry import get_model, list_models, model_class, resolve_config
from benchmark.seeding import resolve_device, seed_everything

log = logging.getLogger("train_speed")

FAKE_TEMPLATES = 110
FAKE_DIM = 100
FAKE_ANOMALOUS = 12
"""Fake data like the synthetic default: ~110 templates (the last 12 anomalous), 100-d vectors."""


def fake_dataset(n_bags: int, seed: int = 0) -> PreparedDataset:
    """Bags shaped like the synthetic default's 60 s windows: 10-128 lines (log-normal, median
    ~35), Zipf template frequencies, ~14 % of bags with 1-5 anomalous lines; 60/20/20 split."""
    rng = np.random.default_rng(seed)
    normal = FAKE_TEMPLATES - FAKE_ANOMALOUS
    zipf = 1.0 / np.arange(1, normal + 1) ** 1.1
    lengths = np.clip(rng.lognormal(np.log(35), 0.6, size=n_bags), 10, 128).astype(np.int64)
    lines = rng.choice(normal, size=int(lengths.sum()), p=zipf / zipf.sum()).astype(np.int32)
    line_labels = np.zeros(len(lines), dtype=np.int8)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    for b in np.flatnonzero(rng.random(n_bags) < 0.14):
        pos = starts[b] + rng.choice(lengths[b], size=int(rng.integers(1, 6)), replace=False)
        lines[pos] = rng.integers(normal, FAKE_TEMPLATES, size=len(pos))
        line_labels[pos] = 1
    bag_labels = np.maximum.reduceat(line_labels, starts)
    texts = tuple(f"fake event {i} <*>" for i in range(FAKE_TEMPLATES))
    templates = TemplateTable(texts, rng.normal(size=(FAKE_TEMPLATES, FAKE_DIM)).astype(np.float32))
    cut = [0, int(0.6 * n_bags), int(0.8 * n_bags), n_bags]
    splits = {}
    for k, name in enumerate(("train", "val", "test")):
        part = slice(cut[k], cut[k + 1])
        bags = BagSet(lines, starts[part], ends[part], bag_labels[part], templates)
        splits[name] = EvalSplit(bags, line_labels)
    summary = {"lines": len(lines), "bags": n_bags, "fake": True}
    return PreparedDataset("fake", templates, splits, summary)


def load_dataset(fake: bool, n_bags: int, quick_data: bool) -> PreparedDataset:
    """The fake bags, or the synthetic default (quick: its ~20 k-line variant) via the pipeline."""
    if fake:
        return fake_dataset(n_bags)
    try:
        from benchmark.data.pipeline import prepare_dataset
    except ImportError:
        raise SystemExit(
            "train_speed: benchmark.data.pipeline is not available; use --fake"
        ) from None
    return prepare_dataset("synthetic", quick=quick_data)


def measure(name: str, data_args: tuple[bool, int, bool], epochs: int, quick: bool,
            device: str) -> dict:
    """Fit and score one model in this process; returns one table row.

    data_args: (fake, n_bags, quick_data) for `load_dataset`.
    """
    data = load_dataset(*data_args)
    train, val, test = (data.splits[k].bags for k in ("train", "val", "test"))
    seed_everything(0)
    fields = {f.name for f in dataclasses.fields(model_class(name).config_class)}
    config = resolve_config(name, quick=quick,
                            overrides={"epochs": epochs} if "epochs" in fields else {})
    context = ModelContext(templates=data.templates, seed=0, device=resolve_device(device))
    model = get_model(name, config, context)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    model.fit(train, val)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.score(test)
    score_s = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    history = getattr(model, "history_", None)
    epochs_run = len(history.losses) if hasattr(history, "losses") else epochs
    return {
        "model": name, "epochs": epochs_run, "train bags": len(train),
        "fit s": round(fit_s, 2), "train bags/s": round(len(train) * epochs_run / fit_s, 1),
        "score bags/s": round(len(test) / score_s, 1),
        "peak RSS MB": round(rss_after / 1024, 1),
        "fit+score RSS growth MB": round((rss_after - rss_before) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None,
                        help="model names (default: every registered model)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per fit (default 1)")
    parser.add_argument("--quick", action="store_true", help="use each model's quick config")
    parser.add_argument("--fake", action="store_true",
                        help="generated bags instead of the synthetic dataset pipeline")
    parser.add_argument("--bags", type=int, default=5000, help="bags generated with --fake")
    parser.add_argument("--quick-data", action="store_true",
                        help="the synthetic dataset's ~20 k-line quick variant")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    known = list_models()
    names = args.models or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}; registered: {', '.join(known)}")
    if args.epochs < 1 or args.bags < 10:
        parser.error("--epochs must be >= 1 and --bags >= 10")

    rows = []
    spawn = multiprocessing.get_context("spawn")
    for name in names:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            job = pool.submit(measure, name, (args.fake, args.bags, args.quick_data),
                              args.epochs, args.quick, args.device)
            try:
                rows.append(job.result())
            except Exception as error:  # one failing model must not hide the others' rows
                log.error("%s failed: %s", name, error)
                rows.append({"model": name, "fit s": f"error: {type(error).__name__}"})
    source = (f"fake, {args.bags} bags" if args.fake
              else "synthetic, quick variant" if args.quick_data else "synthetic")
    print(f"Training speed ({source}; {'quick' if args.quick else 'default'} configs; "
          f"torch threads {torch.get_num_threads()}; device {args.device})")
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
