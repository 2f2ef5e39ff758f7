"""Paper-scale cost: a BGL-sized synthetic log, each model's step / scoring cost, projected hours.

    python bench/paper_scale.py                    # 4.75 M lines (BGL's size), CPU
    python bench/paper_scale.py --device cuda      # the same on a GPU, mixed precision
    python bench/paper_scale.py --lines 1000000 --steps 10 --models deeplog logbert

Generates `--lines` lines with the synthetic generator (benchmark.data.synthetic, seed 0; cached
under `--work-dir`), prepares them with the synthetic card (parse, embed, bag, split), and per
model, in its own spawned process (so peak RSS is the model's own): fits its default config for
one epoch of `--steps` training steps on the full training split, validating on the first
`--val-bags` validation bags, and scores `--score-bags` test bags once. Timing comes from wrapping
the shared trainer: seconds per training step (the loop minus validation), the validation pass,
and the one-off setup before the loop (e.g. LogFormer's stage-1 pre-training, LogBERT's first
centre). Times are CPU seconds of the process (time.process_time; with one torch thread that is
the wall time on an idle core, and it does not depend on what else the machine runs); the fit's
wall seconds are printed beside them. With `--device cuda` the times are wall seconds between
`torch.cuda.synchronize()` calls (CPU seconds would miss the GPU's work); training runs under
mixed precision (torch.autocast + gradient scaling, the harness's trainer on CUDA) and scoring
in float32, as the harness does; the row adds the peak GPU memory
(`torch.cuda.max_memory_allocated`). Without CUDA, `--device cuda` prints that it needs CUDA and
exits 0 before generating anything. Prints peak RSS and the projected hours per seed of the
paper's protocol on this machine:

    hours = setup + E x (S x step + n_val / val_bags x validation) + (2 n_val + 2 n_test) / 1000
            x score_1000

with E the config's maximum epochs (no early stopping assumed: an upper bound), S the steps of
one epoch over the model's training bags (normal bags for normal-behaviour models), and the
evaluation counted as scoring val and test twice (the SR perturbation pass re-scores bags). The
last line projects the paper's grid: the sum over models x `--seeds` (3) x `--datasets` (3, the
paper's BGL, Thunderbird/Spirit and ZooKeeper-sized logs all counted at `--lines`). Default
models: the paper's seven (PAPER_MODELS).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

log = logging.getLogger("paper_scale")

NORMAL_TRAINED = {"deeplog", "loganomaly", "logbert"}
"""Models that learn from the normal training bags only (their epoch is over those)."""
PAPER_MODELS = ("deeplog", "loganomaly", "logbert", "logformer", "midlog", "logmilp",
                "logmilp_nocon")
"""The seven models of the paper's grid (3 datasets x 7 models x 3 seeds)."""
TRAINER_USERS = ("models.logmilp", "models.episodes", "baselines.next_key", "baselines.logbert",
                 "baselines.logformer", "baselines.midlog")
"""Modules that call benchmark.trainer.train_network (wrapped here to time its parts)."""


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(lines: int, seed: int, work: Path) -> Path:
    """The synthetic log of `lines` lines under work/ (reused when it exists)."""
    from benchmark.data.synthetic import write_synthetic_log

    path = work / f"synthetic-{lines}-seed{seed}.log"
    if not path.exists():
        start = time.perf_counter()
        write_synthetic_log(path, lines, seed)
        log.info("generated %s in %.1f s (peak RSS %.0f MB)", path, time.perf_counter() - start,
                 peak_rss_mb())
    return path


def prepare(path: Path, work: Path):
    from benchmark.data.pipeline import prepare_dataset

    return prepare_dataset("synthetic", data_file=path, data_dir=work)


def make_clock(cuda: bool):
    """Seconds for timing: process CPU time, or on CUDA wall time after synchronising (so the
    GPU's queued work is counted where it is issued)."""
    if not cuda:
        return time.process_time

    def clock() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return clock


def needs_cuda(device: str) -> str | None:
    """Why `--device` cannot run here (CUDA asked for, none available), else None."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        return (f"paper_scale: --device {device} needs CUDA, and torch "
                f"{torch.__version__} sees no CUDA device on this machine; nothing measured")
    return None


class TrainerTimer:
    """Wraps train_network in the model modules: records loop and validation seconds."""

    def __init__(self, clock=time.process_time) -> None:
        self.clock = clock
        self.loop_s = 0.0
        self.validate_s = 0.0
        self.validations = 0
        self.found = False

    def install(self) -> None:
        import importlib

        for name in TRAINER_USERS:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            original = getattr(module, "train_network", None)
            if original is not None:
                module.train_network = self._wrap(original)

    def _wrap(self, original):
        def timed(net, train, loss_fn, validate, *args, **kwargs):
            self.found = True

            def timed_validate():
                start = self.clock()
                try:
                    return validate()
                finally:
                    self.validate_s += self.clock() - start
                    self.validations += 1

            start = self.clock()
            try:
                return original(net, train, loss_fn, timed_validate, *args, **kwargs)
            finally:
                self.loop_s += self.clock() - start

        return timed


def measure(name: str, path: Path, work: Path, steps: int, val_bags: int, score_bags: int,
            threads: int, device: str) -> dict:
    """One model in this (spawned) process: timings, peak memory and projected hours."""
    torch.set_num_threads(threads)
    from benchmark.model_api import ModelContext
    from benchmark.registry import get_model, model_class, resolve_config
    from benchmark.seeding import resolve_device, seed_everything

    data = prepare(path, work)
    train, val, test = (data.splits[k].bags for k in ("train", "val", "test"))
    cuda = resolve_device(device).type == "cuda"
    clock = make_clock(cuda)
    timer = TrainerTimer(clock)
    timer.install()
    fields = {f.name for f in dataclasses.fields(model_class(name).config_class)}
    defaults = resolve_config(name)
    overrides = {k: v for k, v in {"epochs": 1, "steps_per_epoch": steps}.items() if k in fields}
    config = resolve_config(name, overrides=overrides)
    context_fields = {f.name for f in dataclasses.fields(ModelContext)}
    wanted = {"templates": data.templates, "seed": 0, "device": resolve_device(device)}
    context = ModelContext(**{k: v for k, v in wanted.items() if k in context_fields})
    seed_everything(0)
    model = get_model(name, config, context)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    val_part = val.subset(np.arange(min(val_bags, len(val))))
    start, wall = clock(), time.perf_counter()
    model.fit(train, val_part)
    fit_s, fit_wall = clock() - start, time.perf_counter() - wall
    test_part = test.subset(np.arange(min(score_bags, len(test))))
    start = clock()
    model.score(test_part)
    score_s = (clock() - start) * 1000 / max(len(test_part), 1)

    n_train = int((train.labels == 0).sum()) if name in NORMAL_TRAINED else len(train)
    batch = getattr(config, "batch_size", 64)
    epochs = getattr(defaults, "epochs", 1)
    fixed_steps = getattr(defaults, "steps_per_epoch", None)  # episodic models: steps per epoch
    steps_full = fixed_steps or -(-n_train // batch)
    if timer.found and timer.validations:
        step_s = (timer.loop_s - timer.validate_s) / steps
        validate_s = timer.validate_s / timer.validations
        setup_s = fit_s - timer.loop_s
    else:  # no shared trainer: the whole fit counts as steps (an upper bound)
        step_s, validate_s, setup_s = fit_s / steps, 0.0, 0.0
    per_epoch = steps_full * step_s + validate_s * len(val) / max(len(val_part), 1)
    evaluation = 2 * (len(val) + len(test)) / 1000 * score_s
    hours = (setup_s + epochs * per_epoch + evaluation) / 3600
    row = {
        "model": name, "train bags": n_train, "batch": batch, "max epochs": epochs,
        "fit wall s": round(fit_wall, 1), "s/step": round(step_s, 3),
        "setup s": round(setup_s, 1),
        f"validate s/{len(val_part)} bags": round(validate_s, 2),
        "score s/1000 bags": round(score_s, 2), "peak RSS MB": round(peak_rss_mb()),
        "h/epoch": round(per_epoch / 3600, 3), "projected h/seed": round(hours, 4),
    }
    if cuda:
        row["peak CUDA MB"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=4_750_000, help="log lines (BGL: 4.75 M)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--models", nargs="+", default=None, help="default: every model")
    parser.add_argument("--steps", type=int, default=10, help="training steps timed per model")
    parser.add_argument("--val-bags", type=int, default=1000,
                        help="validation bags used during the timed fit")
    parser.add_argument("--score-bags", type=int, default=1000, help="test bags scored")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per model in the grid")
    parser.add_argument("--datasets", type=int, default=3,
                        help="datasets of this size in the projected grid (paper: 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per model")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the log and its cache go (default: a temporary directory)")
    parser.add_argument("--save-costs", type=Path, default=None, metavar="JSON",
                        help="merge the measured rows into this cost model (e.g. "
                             "benchmark/cost_model.json, read by run_all.py --plan)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.lines < 1000 or args.steps < 1:
        parser.error("--lines must be >= 1000 and --steps >= 1")
    problem = needs_cuda(args.device)
    if problem is not None:
        print(problem)
        return 0
    from benchmark.registry import list_models

    names = args.models or [m for m in PAPER_MODELS if m in list_models()]
    with tempfile.TemporaryDirectory(prefix="paper_scale_") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        path = generate(args.lines, args.seed, work)
        gen_s = time.perf_counter() - start
        spawn = multiprocessing.get_context("spawn")
        cuda = args.device.startswith("cuda") or (args.device == "auto"
                                                  and torch.cuda.is_available())
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:  # own peak RSS
            start = time.perf_counter()
            summary, prep_rss = pool.submit(prepare_summary, path, work).result()
            prep_s = time.perf_counter() - start
        unit = ("wall seconds (CUDA synchronised; training in mixed precision)" if cuda
                else "CPU seconds")
        print(f"Paper-scale cost: {args.lines:,} synthetic lines (seed {args.seed}); generate "
              f"{gen_s:.0f} s (peak RSS {peak_rss_mb():.0f} MB); prepare {prep_s:.0f} s (peak "
              f"RSS {prep_rss:.0f} MB); bags {summary}; torch threads {args.threads}; device "
              f"{args.device}; times below in {unit}")
        rows = []
        for name in names:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                job = pool.submit(measure, name, path, work, args.steps, args.val_bags,
                                  args.score_bags, args.threads, args.device)
                try:
                    rows.append(job.result())
                except Exception as error:  # one failing model must not hide the others
                    log.error("%s failed: %s", name, error)
                    rows.append({"model": name, "s/step": f"error: {type(error).__name__}"})
            log.info("%s: %s", name, rows[-1])
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if args.save_costs is not None:
        from benchmark.cost_model import save_measurements

        save_measurements(args.save_costs, rows, lines=args.lines, device=args.device,
                          threads=args.threads, command=" ".join(sys.argv))
    total = sum(r.get("projected h/seed", 0.0) for r in rows)
    print(f"projected grid on this machine: {total:.1f} h per seed over {len(rows)} models, "
          f"{total * args.seeds:.1f} h for {args.seeds} seeds (one dataset of this size, "
          f"upper bound: every epoch run)")
    peak = max((r.get("peak CUDA MB", 0) for r in rows), default=0)
    print(f"paper grid ({args.datasets} datasets x {len(rows)} models x {args.seeds} seeds at "
          f"{args.lines:,} lines, device {args.device}): "
          f"{total * args.seeds * args.datasets:.1f} h"
          + (f"; peak GPU memory {peak:,} MB" if cuda else ""))
    return 0


def prepare_summary(path: Path, work: Path) -> tuple[dict, float]:
    """Prepare (or load the cache) in this process; bags per split and the peak RSS, MB."""
    data = prepare(path, work)
    return {k: len(s.bags) for k, s in data.splits.items()}, peak_rss_mb()


if __name__ == "__main__":
    sys.exit(main())
