"""Training throughput and peak memory of every registered model, printed as one table.

    python bench/train_speed.py                      # synthetic default via the data pipeline
    python bench/train_speed.py --fake --quick       # generated bags, quick configs
    python bench/train_speed.py --models deeplog logbert --epochs 1
    python bench/train_speed.py --quick --quick-data  # the synthetic dataset's quick variant
    python bench/train_speed.py --compare b1896be    # this tree against a git revision

Each model runs in its own spawned process so that its peak RSS (resource.getrusage ru_maxrss)
is its own. Columns: fit seconds for `--epochs` epochs (each epoch includes the model's
validation pass), train bags/s = bags of the train split x epochs run / fit seconds (models that
learn normal behaviour train on the normal bags only, yet the rate is counted over the whole split
so that rows compare the same work), score bags/s on the test split, peak RSS of the process and
its growth during fit + score (MB). Torch threads follow benchmark.threads (`--threads N`).

`--compare REF` (a git revision): exports REF with `git archive` into a temporary directory and,
per model, fits on the full synthetic data for one epoch of `--steps` steps at REF and at this
tree, alternating (REF, tree, REF, tree, ... `--repeats` times), each in its own process with
PYTHONPATH at that side's code (bench/compare_driver.py). Prints per model the median fit seconds
of each side (wall and CPU), the test scoring seconds, and whether the epoch losses, the test
outputs (probabilities and instance scores, bitwise; max |Δp|) and the evaluated metrics are
identical (`--no-metrics`: not evaluated). A model's ratio (issue 24) = REF / tree of the CPU
seconds of the fit (`--steps` steps, with the epoch's validation pass) plus one scoring pass of
the test split (the medians over `--repeats`). The last line is `speedup min X median Y grid Z`:
min and median of the ratios, and Z = Σ w / Σ (w / ratio), the grid's speed-up when each
model's share w of the default grid's run time (the fit seconds of REF's committed synthetic
records, `results/runs/synthetic/*/seed*.json`) shrinks by its ratio. Without `--models`,
`--compare` measures every registered model with committed records at REF.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from benchmark.cli import group_overrides, override_arg, threads_arg
from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset, TemplateTable
from benchmark.model_api import ModelContext
from benchmark.registry import get_model, list_models, model_class, resolve_config
from benchmark.seeding import resolve_device, seed_everything
from benchmark.threads import apply_thread_policy, apply_worker_threads

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
    apply_worker_threads()
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

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "compare_driver.py"


def export_revision(ref: str, into: Path) -> Path:
    """`git archive REF` of this repository unpacked under `into`; returns its root."""
    root = into / "ref"
    root.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"train_speed: git archive {ref} failed: "
                         f"{archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def run_side(code_root: Path, model: str, overrides: dict, data_dir: Path, threads: int,
             out: Path, metrics: bool = True) -> dict:
    """Fit + evaluate `model` in a fresh process importing the harness from `code_root`."""
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, str(DRIVER), "--model", model, "--data-dir", str(data_dir),
               "--out", str(out), "--threads", str(threads), "--overrides", json.dumps(overrides),
               *([] if metrics else ["--no-metrics"])]
    run = subprocess.run(command, cwd=code_root, env=env, capture_output=True, text=True,
                         check=False)
    if run.returncode:
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{model} at {code_root}: exit {run.returncode}: {tail}")
    result = json.loads(out.read_text())
    with np.load(out.with_suffix(".npz")) as arrays:
        result["arrays"] = {k: arrays[k] for k in arrays.files}
    return result


def same(a: dict, b: dict) -> dict[str, bool]:
    """Which results of two sides are identical: losses, test outputs (bitwise), metrics."""
    outputs = all(np.array_equal(a["arrays"][k], b["arrays"][k]) for k in a["arrays"])
    return {"losses": a["losses"] == b["losses"], "outputs": outputs,
            "metrics": json.dumps(a["metrics"], sort_keys=True)
            == json.dumps(b["metrics"], sort_keys=True)}


def grid_weights(ref: str) -> dict[str, float]:
    """Model → summed `timings.fit_seconds` of REF's committed synthetic records (empty when
    REF has none)."""
    from benchmark.equivalence import RecordSetError, read_records

    try:
        records = read_records(ref, "synthetic", repo=ROOT)
    except RecordSetError as error:
        log.warning("no grid weights: %s", error)
        return {}
    weights: dict[str, float] = {}
    for record in records:
        weights[record.model] = (weights.get(record.model, 0.0)
                                 + float(record.timings.get("fit_seconds", 0.0)))
    return weights


def grid_speedup(ratios: dict[str, float], weights: dict[str, float]) -> float:
    """Σ w / Σ (w / ratio) over the weighted models (NaN when one has no ratio or none has
    weight): the run time of the grid before / after."""
    weighted = {m: w for m, w in weights.items() if w > 0}
    if not weighted or any(m not in ratios or not ratios[m] > 0 for m in weighted):
        return float("nan")
    return sum(weighted.values()) / sum(w / ratios[m] for m, w in weighted.items())


def side_cpu(results: list[dict]) -> float:
    """Median over runs of fit CPU seconds + test scoring CPU seconds."""
    return statistics.median(x.get("fit_cpu_seconds", np.nan)
                             + x.get("score_cpu_seconds", x["score_seconds"]) for x in results)


def compare(ref: str, names: list[str], steps: int, repeats: int, threads: int,
            data_dir: Path, both: dict[str, dict], tree_only: dict[str, dict],
            metrics: bool = True) -> int:
    """Alternate REF and tree fits per model; print the table and the speedup line."""
    rows, ratios = [], {}
    weights = grid_weights(ref)
    total = sum(weights.values()) or 1.0
    with tempfile.TemporaryDirectory(prefix="train_speed_compare_") as tmp:
        ref_root = export_revision(ref, Path(tmp))
        for name in names:
            base = {"epochs": 1, "steps_per_epoch": steps, **both.get(name, {})}
            sides: dict[str, list[dict]] = {"ref": [], "tree": []}
            try:
                for r in range(repeats):
                    for side, root, extra in (("ref", ref_root, {}),
                                              ("tree", ROOT, tree_only.get(name, {}))):
                        out = Path(tmp) / f"{name}-{side}-{r}.json"
                        sides[side].append(run_side(root, name, {**base, **extra}, data_dir,
                                                    threads, out, metrics))
                        log.info("%s %s run %d: fit %.1f s", name, side, r + 1,
                                 sides[side][-1]["fit_seconds"])
            except RuntimeError as error:
                log.error("%s", error)
                rows.append({"model": name, "REF fit s": "error"})
                continue
            ref_s = statistics.median(x["fit_seconds"] for x in sides["ref"])
            tree_s = statistics.median(x["fit_seconds"] for x in sides["tree"])
            identical = same(sides["ref"][0], sides["tree"][0])
            p_ref = sides["ref"][0]["arrays"]["probabilities"]
            p_tree = sides["tree"][0]["arrays"]["probabilities"]
            ref_cpu, tree_cpu = side_cpu(sides["ref"]), side_cpu(sides["tree"])
            ratios[name] = ref_cpu / tree_cpu
            rows.append({
                "model": name, "grid share": round(weights.get(name, 0.0) / total, 3),
                "REF fit s": round(ref_s, 2), "tree fit s": round(tree_s, 2),
                "REF score s": round(statistics.median(x["score_seconds"]
                                                       for x in sides["ref"]), 2),
                "tree score s": round(statistics.median(x["score_seconds"]
                                                        for x in sides["tree"]), 2),
                "REF CPU s (fit+score)": round(ref_cpu, 2),
                "tree CPU s (fit+score)": round(tree_cpu, 2),
                "ratio": round(ratios[name], 2),
                "losses identical": identical["losses"],
                "test outputs identical": identical["outputs"],
                "max |Δp|": float(np.max(np.abs(p_ref - p_tree))) if len(p_ref) else 0.0,
                "metrics identical": identical["metrics"] if metrics else "–",
            })
    print(f"Compare {ref} vs working tree (synthetic, 1 epoch of {steps} steps per model + one "
          f"scoring pass of the test split, {repeats} run(s) per side, torch threads {threads}, "
          f"alternating REF/tree; ratio = REF / tree CPU seconds)")
    if tree_only:
        print(f"tree-only overrides: {json.dumps(tree_only, sort_keys=True)}")
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if not ratios:
        print("speedup min nan median nan grid nan")
        return 1
    values = list(ratios.values())
    print(f"speedup min {min(values):.2f} median {statistics.median(values):.2f} "
          f"grid {grid_speedup(ratios, weights):.2f}")
    return 0 if len(ratios) == len(names) else 1


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
    parser.add_argument("--threads", type=threads_arg, default=None,
                        help="torch threads (default: benchmark.threads policy; 1 with --compare)")
    parser.add_argument("--compare", metavar="REF", default=None,
                        help="compare fit time and results with git revision REF")
    parser.add_argument("--steps", type=int, default=20,
                        help="--compare: training steps (one epoch) per fit (default 20)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="--compare: fits per side per model (median; default 1)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "datasets",
                        help="--compare: data directory of the synthetic cache (default datasets/)")
    parser.add_argument("--no-metrics", action="store_true",
                        help="--compare: do not evaluate (no metrics column; faster)")
    parser.add_argument("--set", action="append", default=[], type=override_arg,
                        dest="overrides", metavar="MODEL.FIELD=VALUE",
                        help="--compare: config override for both sides (repeatable)")
    parser.add_argument("--tree-set", action="append", default=[], type=override_arg,
                        dest="tree_overrides", metavar="MODEL.FIELD=VALUE",
                        help="--compare: config override for the working tree only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.compare else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    known = list_models()
    names = args.models or known
    if args.compare is not None and not args.models:
        names = [m for m in known if m in grid_weights(args.compare)] or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}; registered: {', '.join(known)}")
    if args.epochs < 1 or args.bags < 10:
        parser.error("--epochs must be >= 1 and --bags >= 10")
    if args.compare is not None:
        if args.steps < 1 or args.repeats < 1:
            parser.error("--steps and --repeats must be >= 1")
        return compare(args.compare, names, args.steps, args.repeats, args.threads or 1,
                       args.data_dir, group_overrides(args.overrides),
                       group_overrides(args.tree_overrides), not args.no_metrics)
    apply_thread_policy(args.threads, jobs=1)

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
