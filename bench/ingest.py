"""Cold-ingest speed and memory of the data pipeline vs plain drain3 streaming.

    python bench/ingest.py [--lines 5000000] [--drain-lines 200000] [--compare-masking CARD]
                           [--workdir DIR] [--keep]

1. Writes a BGL-format corpus of `--lines` lines into a temporary directory: templates from
   Loghub's BGL_templates.csv (../shared/data/loghub-2k), Zipf-like template frequencies (exponent
   1.1 over a seeded random ranking), ~7 % alert lines drawn from a fixed 15 % of the templates,
   each `<*>` filled with a random value of a kind fixed per template slot (integers, hex, IPs,
   BGL node names, `core.N`, paths, or a word from a 24-word vocabulary), epoch timestamps with
   exponential gaps (mean 3.7 s, as BGL's 4.7 M lines over 215 days).
2. COLD full ingest in a child process (`prepare_dataset("bgl", data_file=corpus)` with an empty
   cache directory: read → labels → templates → embeddings → bags → split): wall time, CPU time,
   lines/s and the child's peak RSS. The masking is the bgl card's; `--compare-masking CARD`
   repeats the cold ingest of the same corpus (fresh cache, own child) with CARD's [[masking]]
   rules and everything else from the bgl card, and prints both side by side (`synthetic` keeps
   the masking the bgl card had before its bare-hex rule was renamed NUM).
3. Plain drain3 in a child process: `TemplateMiner.add_log_message` on the content of each of the
   first `--drain-lines` lines, same masking and Drain settings (the loop also splits each line in
   Python, as a streaming user would), lines/s.
4. On BGL_2k: whether our templates equal plain drain3's with the same masking (and per line).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub-2k"
WORDS = ("alpha", "beta", "gamma", "delta", "node", "link", "card", "torus", "tree", "fan",
         "power", "clock", "service", "ido", "packet", "socket", "stream", "kernel", "cache",
         "memory", "dma", "timer", "bus", "port")
ALERT_LABELS = ("KERNDTLB", "KERNSTOR", "APPREAD", "KERNMNTF", "KERNTERM", "APPSEV", "KERNREC",
                "MASABNORM", "MONILL", "KERNPAN")
KINDS = ("int", "hex", "ip", "node", "core", "path", "word", "int", "hex", "word")


def write_corpus(path: Path, n_lines: int, seed: int = 0) -> None:
    """BGL-format corpus from BGL_templates.csv (see module docstring)."""
    rng = np.random.default_rng(seed)
    with open(LOGHUB / "BGL_templates.csv", newline="", encoding="utf-8") as handle:
        templates = [row["EventTemplate"] for row in csv.DictReader(handle)]
    pieces = [t.split("<*>") for t in templates]
    n_t = len(templates)
    alert = np.zeros(n_t, bool)
    alert[rng.choice(n_t, size=max(1, int(0.15 * n_t)), replace=False)] = True
    weights = 1.0 / np.arange(1, n_t + 1) ** 1.1
    weights = weights[rng.permutation(n_t)]
    is_alert = rng.random(n_lines) < 0.07
    ids = np.empty(n_lines, np.int64)
    for flag in (False, True):
        pool = np.flatnonzero(alert == flag)
        p = weights[pool] / weights[pool].sum()
        ids[is_alert == flag] = rng.choice(pool, size=int((is_alert == flag).sum()), p=p)
    slot_kind = [[KINDS[k] for k in rng.integers(0, len(KINDS), len(p) - 1)] for p in pieces]
    values = _value_pools(rng)
    times = 1117838570 + np.cumsum(rng.exponential(3.7, n_lines)).astype(np.int64)
    draws = rng.integers(0, 1 << 30, size=(n_lines, max(len(p) for p in pieces) - 1 or 1))
    labels = np.array(ALERT_LABELS)[rng.integers(0, len(ALERT_LABELS), n_t)]
    node = "R02-M1-N0-C:J12-U11"
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        batch = []
        for i in range(n_lines):
            t = ids[i]
            parts = pieces[t]
            text = parts[0]
            for k in range(1, len(parts)):
                pool = values[slot_kind[t][k - 1]]
                text += pool[draws[i, k - 1] % len(pool)] + parts[k]
            label, level = (labels[t], "FATAL") if is_alert[i] else ("-", "INFO")
            batch.append(f"{label} {times[i]} 2005.06.03 {node} 2005-06-03-15.42.50.675872 {node} "
                         f"RAS KERNEL {level} {text}\n")
            if len(batch) == 100_000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))


def _value_pools(rng: np.random.Generator) -> dict[str, list[str]]:
    n = 50_000
    ints = rng.integers(0, 1 << 31, n)
    return {
        "int": [str(v % 100_000) for v in ints],
        "hex": [f"0x{v:08x}" for v in ints],
        "ip": [f"10.{v % 256}.{(v >> 8) % 256}.{(v >> 16) % 256}" for v in ints],
        "node": [f"R{v % 64:02d}-M{v % 2}-N{v % 16:X}-C:J{v % 18:02d}-U{1 + 10 * (v % 2):02d}"
                 for v in ints],
        "core": [f"core.{v % 16384}" for v in ints],
        "path": [f"/p/gb{v % 9}/user{v % 400}/run{v % 100}" for v in ints],
        "word": list(WORDS),
    }


def child_ingest(corpus: Path, data_dir: Path, masking_card: str) -> dict:
    """Cold ingest with the bgl card, its masking replaced by `masking_card`'s."""
    from dataclasses import replace

    from benchmark.data.cards import load_card
    from benchmark.data.pipeline import prepare_dataset

    card = replace(load_card("bgl"), masking=load_card(masking_card).masking)
    wall, cpu = time.perf_counter(), time.process_time()
    data = prepare_dataset(card, data_file=corpus, data_dir=data_dir)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    s = data.summary
    return {"lines": s["lines"], "wall_s": wall, "cpu_s": cpu, "templates": s["templates"],
            "distinct_contents": s["distinct_contents"], "anomalous_lines": s["anomalous_lines"],
            "bags": sum(v["bags"] for v in s["splits"].values()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_drain(corpus: Path, n_lines: int) -> dict:
    from drain3 import TemplateMiner

    from benchmark.data.cards import load_card
    from benchmark.data.parsing import drain3_config

    card = load_card("bgl")
    logging.getLogger("drain3").setLevel(logging.WARNING)
    miner = TemplateMiner(config=drain3_config(card.drain, card.masking))
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    with open(corpus, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if done == n_lines:
                break
            fields = line.rstrip("\n").split(" ", 9)
            miner.add_log_message(fields[9] if len(fields) == 10 else line)
            done += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"lines": done, "wall_s": wall, "cpu_s": cpu, "clusters": len(miner.drain.clusters),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def compare_on_bgl_2k() -> dict:
    """Templates of our pipeline vs plain drain3 (same masking) on Loghub's BGL_2k."""
    from drain3 import TemplateMiner

    from benchmark.data.cards import load_card
    from benchmark.data.parsing import DistinctContents, drain3_config, parse_distinct
    from benchmark.data.readers import read_all

    card = load_card("bgl")
    contents = read_all(LOGHUB / "BGL_2k.log", "bgl")[0]
    distinct = DistinctContents(card.masking)
    ids = distinct.add(contents)
    content_template, texts = parse_distinct(distinct.contents, card.drain)
    ours = [texts[i] for i in content_template[ids]]
    logging.getLogger("drain3").setLevel(logging.WARNING)
    miner = TemplateMiner(config=drain3_config(card.drain, card.masking))
    clusters = [miner.add_log_message(c)["cluster_id"] for c in contents.to_pylist()]
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    plain = [final[c] for c in clusters]
    return {"ours": len(set(ours)), "plain": len(set(plain)),
            "only_ours": sorted(set(ours) - set(plain)),
            "only_plain": sorted(set(plain) - set(ours)),
            "lines_with_same_template": sum(a == b for a, b in zip(ours, plain, strict=True)),
            "lines": len(ours)}


def _ingest(corpus: Path, data_dir: Path, masking_card: str) -> dict:
    result = _run_child("--child", "ingest", str(corpus), str(data_dir), masking_card)
    print(f"pipeline (cold, read→labels→templates→embeddings→bags→split; masking of card "
          f"{masking_card}): {result['lines']:,} lines in {result['wall_s']:.1f} s wall "
          f"({result['cpu_s']:.1f} s CPU) = {result['lines'] / result['wall_s']:,.0f} lines/s "
          f"wall, {result['lines'] / result['cpu_s']:,.0f} lines/s CPU; peak RSS "
          f"{result['peak_rss_mb']:,.0f} MB; {result['distinct_contents']:,} distinct masked "
          f"contents, {result['templates']:,} templates, {result['bags']:,} bags")
    return result


def _run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--drain-lines", type=int, default=200_000,
                        help="lines of the corpus plain drain3 streams (prefix)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-masking", metavar="CARD",
                        help="also ingest with this card's masking (e.g. synthetic: the old bgl "
                             "masking) and print both")
    parser.add_argument("--workdir", type=Path, help="where to put corpus and cache (default: "
                        "a temporary directory, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = (child_ingest(Path(rest[0]), Path(rest[1]), rest[2]) if kind == "ingest"
                  else child_drain(Path(rest[0]), int(rest[1])))
        print(json.dumps(result))
        return 0
    if not (LOGHUB / "BGL_templates.csv").is_file():
        print(f"error: {LOGHUB / 'BGL_templates.csv'} not found", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-", dir=args.workdir))
    corpus = work / "bgl-corpus.log"
    started = time.perf_counter()
    write_corpus(corpus, args.lines, args.seed)
    print(f"corpus: {args.lines:,} lines, {corpus.stat().st_size / 2**20:,.0f} MiB, written in "
          f"{time.perf_counter() - started:.0f} s ({corpus})")
    ours = _ingest(corpus, work / "data", "bgl")
    if args.compare_masking:
        other = _ingest(corpus, work / f"data-{args.compare_masking}", args.compare_masking)
        print(f"bgl masking vs {args.compare_masking}'s: "
              f"{ours['lines'] / ours['wall_s'] / (other['lines'] / other['wall_s']):.2f}x "
              f"lines/s wall, {other['cpu_s'] / ours['cpu_s']:.2f}x lines/s CPU")
    n_drain = min(args.drain_lines, args.lines)
    plain = _run_child("--child", "drain", str(corpus), str(n_drain))
    print(f"plain drain3 (add_log_message per line, same masking): {plain['lines']:,} lines in "
          f"{plain['wall_s']:.1f} s wall ({plain['cpu_s']:.1f} s CPU) = "
          f"{plain['lines'] / plain['wall_s']:,.0f} lines/s wall, "
          f"{plain['lines'] / plain['cpu_s']:,.0f} lines/s CPU; {plain['clusters']:,} clusters"
          + ("" if plain["lines"] == args.lines else " (prefix; see --drain-lines)"))
    speedup = (ours["lines"] / ours["cpu_s"]) / (plain["lines"] / plain["cpu_s"])
    print(f"speed-up (CPU lines/s): {speedup:.1f}x")
    cmp = compare_on_bgl_2k()
    same = not cmp["only_ours"] and not cmp["only_plain"]
    print(f"BGL_2k templates, ours vs plain drain3 (same masking): {cmp['ours']} vs {cmp['plain']}"
          f" — {'same set' if same else 'DIFFERENT'}; same template on "
          f"{cmp['lines_with_same_template']}/{cmp['lines']} lines")
    for text in cmp["only_ours"]:
        print(f"  only ours:  {text}")
    for text in cmp["only_plain"]:
        print(f"  only plain: {text}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
