"""Run every bad input and cache corruption of tests/reliability/cases.py and count the outcomes.

    python bench/reliability.py [--fuzz N] [--workdir DIR]

Bad inputs go through `python -m benchmark describe` (in this process, each call under a
timeout); each must end in a clear error (exit 2, the file named) or the expected warning. Each
cache corruption is applied to a copy of a finished BGL_2k cache; it must be reported with a
warning naming the entry and rebuilt into data equal to an uncorrupted run. `--fuzz N` adds N
seeded random inputs (random bytes, line shuffles and truncations of BGL_2k), which must end in
a result or a clear error. Then the cases of the third audit (tests/reliability/audit_cases.py:
results layout, names and paths, FIFOs and symlinks, saved-model integrity, checkpoint fields,
outputs and OS errors, Ctrl-C, run locks, a misbehaving LLM endpoint), each in a fresh process
under a time limit. Prints one line per case, then the counts; exit 1 if any case gave a
traceback, a hang, a silent wrong result or lost data.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases import (  # noqa: E402
    BGL_2K,
    CACHE_CASES,
    INPUT_CASES,
    cache_path_is_a_file,
    fingerprint,
    judge_input,
    prepare,
    run_cache_case,
    run_describe,
)


def fuzz_inputs(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    lines = BGL_2K.read_bytes().splitlines(keepends=True)
    whole = b"".join(lines)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(("random bytes", rng.randbytes(rng.randrange(0, 4096))))
        elif kind == 1:
            part = lines[: rng.randrange(1, len(lines) + 1)]
            rng.shuffle(part)
            out.append(("shuffled lines", b"".join(part)))
        else:
            out.append(("truncation", whole[: rng.randrange(0, len(whole) + 1)]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=30, help="seeded random inputs (default 30)")
    parser.add_argument("--workdir", type=Path, help="parent of the temporary work directory")
    parser.add_argument("--audit-only", action="store_true",
                        help="only the third audit's cases (no bad inputs, fuzz, caches)")
    args = parser.parse_args(argv)
    if not BGL_2K.is_file():
        print(f"error: {BGL_2K} not found", file=sys.stderr)
        return 2
    shown = logging.StreamHandler(sys.stderr)
    shown.setLevel(logging.ERROR)  # warnings are collected and judged, not printed
    logging.getLogger().addHandler(shown)
    work = Path(tempfile.mkdtemp(prefix="reliability-", dir=args.workdir))
    counts: Counter[str] = Counter()
    try:
        if not args.audit_only:
            print("bad inputs (python -m benchmark describe):")
            for i, case in enumerate(INPUT_CASES):
                where = work / f"input{i}"
                where.mkdir()
                verdict = judge_input(case, run_describe(case.build(where)))
                counts[verdict] += 1
                print(f"  {verdict:<12} {case.name}")
            for i, (kind, data) in enumerate(fuzz_inputs(args.fuzz)):
                path = work / f"fuzz{i}.log"
                path.write_bytes(data)
                outcome = run_describe(["bgl", "--data-file", str(path), "--data-dir",
                                        str(work / f"fuzz{i}")], timeout=60)
                if outcome.traceback is not None:
                    verdict = "traceback"
                elif outcome.code == 0:
                    verdict = "ok"
                elif outcome.code == 2 and str(path) in outcome.stderr:
                    verdict = "clear error"
                else:
                    verdict = "silent wrong"
                counts[verdict] += 1
                counts["fuzz"] += 1
                if verdict in ("traceback", "silent wrong"):
                    print(f"  {verdict:<12} fuzz {kind} ({len(data)} bytes): {outcome}")
            print(f"  fuzz: {args.fuzz} random inputs (bytes, shuffles, truncations of BGL_2k)")

            print("cache corruptions (BGL_2k, prepare_dataset):")
            base = work / "baseline"
            base.mkdir()
            raw = base / BGL_2K.name
            raw.write_bytes(BGL_2K.read_bytes())
            data, _ = prepare(raw, base / "data")
            expected = fingerprint(data)
            for i, case in enumerate(CACHE_CASES):
                where = work / f"cache{i}"
                where.mkdir()
                cache_dir = base / "data" / "cache" / "bgl"
                verdict = run_cache_case(case, where, cache_dir, raw, expected)
                counts[verdict] += 1
                counts["cache cases"] += 1
                print(f"  {verdict:<12} {case.name}")
            where = work / "cache-file"
            where.mkdir()
            verdict = cache_path_is_a_file(where, BGL_2K)
            counts[verdict] += 1
            counts["cache cases"] += 1
            print(f"  {verdict:<12} cache path is a file")
        print("third audit (results layout, artifacts, edges, locks, LLM endpoint):")
        from audit_cases import AUDIT_CASES, judge_in_subprocess

        for i, case in enumerate(AUDIT_CASES):
            where = work / f"audit{i}"
            where.mkdir()
            verdict = judge_in_subprocess(case, where)
            counts[verdict] += 1
            counts["audit cases"] += 1
            print(f"  {verdict:<12} {case.name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    inputs = (0 if args.audit_only else len(INPUT_CASES)) + counts["fuzz"]
    listed = 0 if args.audit_only else len(INPUT_CASES)
    print(f"bad inputs tried: {inputs} ({listed} listed + {counts['fuzz']} fuzzed); "
          f"cache corruptions tried: {counts['cache cases']}; third-audit cases tried: "
          f"{counts['audit cases']}")
    print(f"clear errors: {counts['clear error']}, warnings: {counts['warning']}, "
          f"ran fine: {counts['ok'] + counts['correct']}, rebuilds: {counts['rebuild']}, "
          f"tracebacks: {counts['traceback']}, hangs: {counts['hang']}, "
          f"silent wrong: {counts['silent wrong']}, data lost: {counts['data lost']}")
    bad = ("traceback", "hang", "silent wrong", "data lost")
    return 1 if any(counts[b] for b in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
