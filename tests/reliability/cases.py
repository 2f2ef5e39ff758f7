"""Catalogue of bad inputs and cache corruptions, and how to run one (tests and bench/reliability).

Each input case builds a file (or a directory, FIFO, archive) in a work directory and names the
`describe` arguments and the expected outcome: "error" (exit 2, the message names the file) or
"warning" (exit 0, a warning containing `needle`). Each cache case corrupts a copy of a finished
cache of BGL_2k; the expected outcome is a rebuild: a warning naming the entry and data equal to an
uncorrupted run ("error" for a cache path that is not a directory).

`run_describe` and `run_cache_case` never raise: any exception other than the expected DataError
exit is caught and reported as a traceback, and each call runs under a SIGALRM timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import random
import shutil
import signal
import traceback
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from loghub import locate

BGL_2K = locate("BGL_2k.log") or Path("BGL_2k.log")
"""Loghub's BGL_2k (tests/loghub.py); a bare name that does not exist when it is missing."""
TIMEOUT_SECONDS = 60

LINUX_LINES = [
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 "
    "tty=NODEVssh ruser= rhost=218.188.2.4",
    "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown",
    "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 "
    "tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
    "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
    "Jun 15 04:06:19 combo logrotate: ALERT exited abnormally with [1]",
]
HPC_LINE = ("{n} node-{k} unix.hw state_change.unavailable 1077804742 1 Component State Change: "
            "Component \\042alt0\\042 is in the unavailable state (HWID=3180)")


# ------------------------------------------------------------------------------------------
# Running


@dataclass
class Outcome:
    """What a call did: exit code (None if it raised), stdout, stderr, warnings logged, and the
    traceback of an unexpected exception (None if none)."""

    code: int | None
    stdout: str = ""
    stderr: str = ""
    warnings: list[str] = field(default_factory=list)
    traceback: str | None = None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def time_limit(seconds: int, error: type[BaseException] = TimeoutError) -> Iterator[None]:
    """`error` (default TimeoutError) if the block runs longer than `seconds` (SIGALRM; main
    thread, POSIX)."""
    def expire(signum, frame):
        raise error(f"no answer within {seconds} s (hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(min(old_level, logging.WARNING) or logging.WARNING)
    try:
        yield handler.messages
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_describe(args: list[str], timeout: int = TIMEOUT_SECONDS) -> Outcome:
    """`python -m benchmark describe ARGS` in this process; never raises."""
    from benchmark.cli import benchmark_main

    out, err = io.StringIO(), io.StringIO()
    with collect_warnings() as warnings:
        try:
            with time_limit(timeout), contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                code = benchmark_main(["describe", *args])
        except BaseException:  # noqa: BLE001 — the point is to report it
            return Outcome(None, out.getvalue(), err.getvalue(), list(warnings),
                           traceback.format_exc())
    return Outcome(code, out.getvalue(), err.getvalue(), list(warnings))


# ------------------------------------------------------------------------------------------
# Input cases


@dataclass(frozen=True)
class InputCase:
    name: str
    build: Callable[[Path], list[str]]
    """work dir → describe arguments (after building the input there)."""
    expect: str
    """"error": exit 2 and stderr names the input; "warning": exit 0 and a warning with needle."""
    needle: str = ""


def _bgl_lines() -> list[str]:
    """BGL_2k's 2,000 lines, each ending in a newline (the file's last has none)."""
    return [line + "\n" for line in BGL_2K.read_text(encoding="utf-8").splitlines()]


def _file(work: Path, name: str, text: str | bytes) -> Path:
    path = work / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def _args(path: Path, work: Path, *more: str, dataset: str = "bgl") -> list[str]:
    return [dataset, "--data-file", str(path), "--data-dir", str(work / "data"), *more]


def _linux(work: Path) -> list[str]:
    lines = [LINUX_LINES[i % len(LINUX_LINES)] + "\n" for i in range(400)]
    return _args(_file(work, "Linux_2k.log", "".join(lines)), work)


def _hpc_mostly(work: Path) -> list[str]:
    head = _bgl_lines()[:21]
    rest = [HPC_LINE.format(n=134681 + i, k=i % 300) + "\n" for i in range(1979)]
    return _args(_file(work, "HPC_2k.log", "".join(head + rest)), work)


def _tenth_unparsed(work: Path, *more: str) -> list[str]:
    lines = _bgl_lines()
    for i in range(5, len(lines), 10):
        lines[i] = HPC_LINE.format(n=i, k=i) + "\n"
    return _args(_file(work, "bgl_10pct_bad.log", "".join(lines)), work, *more)


def _reversed(work: Path, *more: str) -> list[str]:
    return _args(_file(work, "bgl_reversed.log", "".join(_bgl_lines()[::-1])), work, *more)


def _shuffled(work: Path) -> list[str]:
    lines = _bgl_lines()
    random.Random(0).shuffle(lines)
    return _args(_file(work, "bgl_shuffled.log", "".join(lines)), work)


def _twice(work: Path) -> list[str]:
    return _args(_file(work, "bgl_twice.log", "".join(_bgl_lines() * 2)), work)


def _one_line(work: Path) -> list[str]:
    return _args(_file(work, "bgl_one_line.log", _bgl_lines()[0]), work)


def _huge_line(work: Path) -> list[str]:
    head = _bgl_lines()[0].rstrip("\n").encode()
    words = (b" parity error 0x1f core.7 node" * ((50 << 20) // 30 + 1))[: 50 << 20]
    return _args(_file(work, "bgl_50mb_line.log", head + words + b"\n"), work)


def _few_bags(work: Path) -> list[str]:
    return _args(_file(work, "bgl_3_lines.log", "".join(_bgl_lines()[:3])), work)


def _directory(work: Path) -> list[str]:
    path = work / "a_directory.log"
    path.mkdir()
    return _args(path, work)


def _fifo(work: Path) -> list[str]:
    path = work / "a_fifo.log"
    os.mkfifo(path)
    return _args(path, work)


def _device(work: Path) -> list[str]:
    return _args(Path("/dev/null"), work)


def _missing(work: Path) -> list[str]:
    return _args(work / "no_such_file.log", work)


def _empty(work: Path) -> list[str]:
    return _args(_file(work, "empty.log", b""), work)


def _binary(work: Path) -> list[str]:
    return _args(_file(work, "random.bin", np.random.default_rng(0).bytes(4096)), work)


def _truncated_gzip(work: Path) -> list[str]:
    import gzip

    data = gzip.compress(BGL_2K.read_bytes())
    return _args(_file(work, "bgl.log.gz", data[: len(data) // 2]), work)


def _zip_of_bgl_2k(work: Path) -> None:
    raw = work / "data" / "raw" / "bgl"
    raw.mkdir(parents=True)
    with zipfile.ZipFile(raw / "BGL.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(BGL_2K, "BGL.log")


def _wrong_md5(work: Path, *more: str) -> list[str]:
    _zip_of_bgl_2k(work)
    return ["bgl", "--data-dir", str(work / "data"), *more]


def _raw_is_directory(work: Path) -> list[str]:
    (work / "data" / "raw" / "bgl" / "BGL.zip").mkdir(parents=True)
    return ["bgl", "--data-dir", str(work / "data")]


INPUT_CASES: tuple[InputCase, ...] = (
    InputCase("Linux_2k-format lines on the bgl card", _linux, "error", "Linux_2k.log"),
    InputCase("HPC-style file, 1979/2000 lines unparsed", _hpc_mostly, "error", "HPC_2k.log"),
    InputCase("10 % of lines unparsed (> 5 %)", _tenth_unparsed, "error", "bgl_10pct_bad.log"),
    InputCase("10 % unparsed with --max-unparsed 0.2", lambda w: _tenth_unparsed(
        w, "--max-unparsed", "0.2"), "warning", "do not match the bgl format"),
    InputCase("reversed line order", _reversed, "warning", "time goes backwards"),
    InputCase("reversed line order, --strict", lambda w: _reversed(w, "--strict"), "error",
              "bgl_reversed.log"),
    InputCase("shuffled lines", _shuffled, "warning", "time goes backwards"),
    InputCase("file concatenated twice", _twice, "warning", "time goes backwards by more than "
              "60 s at 1 of 4,000 lines"),
    InputCase("one line", _one_line, "error", "bgl_one_line.log"),
    InputCase("one 50 MB line", _huge_line, "error", "bgl_50mb_line.log"),
    InputCase("three lines (one bag)", _few_bags, "error", "bgl_3_lines.log"),
    InputCase("a directory as --data-file", _directory, "error", "a_directory.log"),
    InputCase("a FIFO as --data-file", _fifo, "error", "a_fifo.log"),
    InputCase("a character device as --data-file", _device, "error", "/dev/null"),
    InputCase("missing file", _missing, "error", "no_such_file.log"),
    InputCase("empty file", _empty, "error", "empty.log"),
    InputCase("random bytes", _binary, "error", "random.bin"),
    InputCase("truncated gzip", _truncated_gzip, "error", "bgl.log.gz"),
    InputCase("default raw file with a wrong MD5", _wrong_md5, "error", "BGL.zip"),
    InputCase("wrong MD5 with --no-verify", lambda w: _wrong_md5(w, "--no-verify"), "ok"),
    InputCase("default raw path is a directory", _raw_is_directory, "error", "BGL.zip"),
)


def judge_input(case: InputCase, outcome: Outcome) -> str:
    """"clear error", "warning", "ok", "traceback" or "silent wrong" (not what was expected)."""
    if outcome.traceback is not None:
        return "traceback"
    if case.expect == "error":
        clear = outcome.code == 2 and case.needle in outcome.stderr and \
            "Traceback" not in outcome.stderr
        return "clear error" if clear else "silent wrong"
    if outcome.code != 0:
        return "silent wrong"
    if case.expect == "warning":
        return "warning" if any(case.needle in w for w in outcome.warnings) else "silent wrong"
    return "ok"


# ------------------------------------------------------------------------------------------
# Cache cases


def entry_dir(cache_root: Path, stage: str) -> Path:
    (found,) = [p for p in cache_root.iterdir() if p.is_dir() and p.name.startswith(stage + "-")]
    return found


def tamper(entry: Path, name: str, change: Callable[[np.ndarray], np.ndarray],
           update_manifest: bool) -> None:
    """Rewrite `<entry>/<name>.npy` as change(array); with update_manifest, the manifest is made
    to agree (shape, dtype, checksum), so only the stage's consistency check can catch it."""
    array = change(np.load(entry / f"{name}.npy"))
    np.save(entry / f"{name}.npy", array)
    if update_manifest:
        meta_file = entry / "meta.json"
        record = json.loads(meta_file.read_text(encoding="utf-8"))
        flat = np.ascontiguousarray(array).reshape(-1)
        record["manifest"][name].update(shape=list(array.shape), dtype=array.dtype.str,
                                        sha256=hashlib.sha256(flat.view(np.uint8)).hexdigest())
        meta_file.write_text(json.dumps(record), encoding="utf-8")


def _zero_bytes(root: Path, raw: Path) -> None:
    (entry_dir(root, "read") / "labels.npy").write_bytes(b"")


def _drop_from_manifest(root: Path, raw: Path) -> None:
    meta = entry_dir(root, "read") / "meta.json"
    record = json.loads(meta.read_text(encoding="utf-8"))
    del record["manifest"]["content_ids"]
    meta.write_text(json.dumps(record), encoding="utf-8")


def _missing_array(root: Path, raw: Path) -> None:
    (entry_dir(root, "embed") / "vectors.npy").unlink()


def _meta_garbage(root: Path, raw: Path) -> None:
    (entry_dir(root, "parse") / "meta.json").write_bytes(b"\xff\xfe not json")


def _bag_ends_out_of_range(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "bags"), "test_ends", lambda a: a + 10_000, update_manifest=True)


def _bag_ends_edited(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "bags"), "val_ends", lambda a: a - 1, update_manifest=False)


def _fewer_embedding_rows(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "embed"), "vectors", lambda a: a[:-5], update_manifest=True)


def _vectors_50_dims(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "embed"), "vectors", lambda a: a[:, :50].copy(), update_manifest=True)


def _labels_zeroed(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "read"), "labels", np.zeros_like, update_manifest=False)


def _content_template_shifted(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "parse"), "content_template", lambda a: np.roll(a, 1),
           update_manifest=False)


def _content_ids_out_of_range(root: Path, raw: Path) -> None:
    tamper(entry_dir(root, "read"), "content_ids", lambda a: a + 10**6, update_manifest=True)


def _entry_is_a_file(root: Path, raw: Path) -> None:
    where = entry_dir(root, "bags")
    shutil.rmtree(where)
    where.write_text("not an entry")


def _source_edited_same_size_and_mtime(root: Path, raw: Path) -> None:
    st = raw.stat()
    data = bytearray(raw.read_bytes())
    middle = data.index(b"\n- ", len(data) // 2) + 1  # a normal line in the middle → anomalous
    data[middle] = ord("X")
    raw.write_bytes(bytes(data))
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))


@dataclass(frozen=True)
class CacheCase:
    name: str
    corrupt: Callable[[Path, Path], None]
    """(cache root of the dataset, the raw file) → corrupts the cache (or the file)."""
    needle: str
    """In the expected warning."""


CACHE_CASES: tuple[CacheCase, ...] = (
    CacheCase("0-byte .npy", _zero_bytes, "labels.npy unreadable"),
    CacheCase("manifest lists fewer arrays", _drop_from_manifest, "missing from the manifest"),
    CacheCase("array file missing", _missing_array, "vectors.npy unreadable"),
    CacheCase("meta.json not UTF-8/JSON", _meta_garbage, "meta.json unreadable"),
    CacheCase("bag ends out of range (manifest agrees)", _bag_ends_out_of_range,
              "outside [0, 2000]"),
    CacheCase("bag ends edited", _bag_ends_edited, "checksum differs"),
    CacheCase("embedding with fewer rows (manifest agrees)", _fewer_embedding_rows,
              "expected float32("),
    CacheCase("vectors cut to 50 dims (manifest agrees)", _vectors_50_dims, ", 100)"),
    CacheCase("labels zeroed in a valid .npy", _labels_zeroed, "labels.npy checksum differs"),
    CacheCase("content_template shifted", _content_template_shifted,
              "content_template.npy checksum differs"),
    CacheCase("content ids out of range (manifest agrees)", _content_ids_out_of_range,
              "content ids outside"),
    CacheCase("entry path is a file", _entry_is_a_file, "not a directory"),
    CacheCase("source edited in the middle, same size and mtime",
              _source_edited_same_size_and_mtime, "content differs"),
)


def fingerprint(data) -> str:
    """SHA-256 over everything a model or the protocol sees of a PreparedDataset (templates,
    vectors, bags with their template ids, bag and line labels) and its summary (but the file
    path, which differs between copies of one file)."""
    digest = hashlib.sha256()
    digest.update("\n".join(data.templates.texts).encode())
    digest.update(np.ascontiguousarray(data.templates.vectors).tobytes())
    for name in ("train", "val", "test"):
        bags, split = data.splits[name].bags, data.splits[name]
        ids, _ = bags.padded(np.arange(len(bags)))
        for array in (bags.starts, bags.ends, bags.labels, split.line_labels, ids):
            digest.update(np.ascontiguousarray(array).tobytes())
    summary = json.loads(json.dumps(data.summary, default=str))
    summary["subset"].pop("file")
    digest.update(json.dumps(summary, sort_keys=True).encode())
    return digest.hexdigest()


def prepare(raw: Path, data_dir: Path, timeout: int = TIMEOUT_SECONDS):
    """(PreparedDataset or None, Outcome) of prepare_dataset("bgl") on `raw`; never raises."""
    from benchmark.data.errors import DataError
    from benchmark.data.pipeline import prepare_dataset

    with collect_warnings() as warnings:
        try:
            with time_limit(timeout):
                data = prepare_dataset("bgl", data_file=raw, data_dir=data_dir)
        except DataError as exc:
            return None, Outcome(2, stderr=f"error: {exc}", warnings=list(warnings))
        except BaseException:  # noqa: BLE001
            return None, Outcome(None, warnings=list(warnings), traceback=traceback.format_exc())
    return data, Outcome(0, warnings=list(warnings))


def run_cache_case(case: CacheCase, work: Path, baseline_cache: Path, raw_source: Path,
                   expected: str) -> str:
    """Copy the raw file and a finished cache into `work`, corrupt, prepare again: "rebuild"
    (warning naming the entry, data fingerprint == `expected`), "traceback" or "silent wrong"."""
    raw = work / raw_source.name
    raw.write_bytes(raw_source.read_bytes())
    data_dir = work / "data"
    shutil.copytree(baseline_cache, data_dir / "cache" / "bgl")
    case.corrupt(data_dir / "cache" / "bgl", raw)
    if case.corrupt is _source_edited_same_size_and_mtime:  # the edited file, from scratch
        fresh, _ = prepare(raw, work / "fresh")
        if fresh is None:
            return "silent wrong"
        expected = fingerprint(fresh)
    data, outcome = prepare(raw, data_dir)
    if outcome.traceback is not None:
        return "traceback"
    warned = any(case.needle in w and str(data_dir) in w for w in outcome.warnings)
    if data is None or not warned or fingerprint(data) != expected:
        return "silent wrong"
    return "rebuild"


def cache_path_is_a_file(work: Path, raw_source: Path) -> str:
    """The dataset's cache path is a file: "clear error" naming it, else "silent wrong"."""
    (work / "data" / "cache").mkdir(parents=True)
    (work / "data" / "cache" / "bgl").write_text("a file")
    _, outcome = prepare(raw_source, work / "data")
    if outcome.traceback is not None:
        return "traceback"
    return "clear error" if outcome.code == 2 and "cache" in outcome.stderr and \
        "not a directory" in outcome.stderr else "silent wrong"


def bgl_zip_with_pinned_card(where: Path) -> tuple[Path, object]:
    """`<where>/data/raw/bgl/BGL.zip` holding BGL_2k, and the bgl card with that file's MD5
    pinned (patch it in as `pipeline.load_card`)."""
    from benchmark.data import download
    from benchmark.data.cards import load_card

    raw = where / "data" / "raw" / "bgl"
    raw.mkdir(parents=True)
    with zipfile.ZipFile(raw / "BGL.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(BGL_2K, "BGL.log")
    good = download._md5(raw / "BGL.zip")
    card = load_card("bgl")
    pinned = card.__class__(**{**card.__dict__, "source": card.source.__class__(
        **{**card.source.__dict__, "md5": good})})
    return raw / "BGL.zip", pinned
