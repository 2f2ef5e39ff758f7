"""Run records on disk: one verified JSON file per (dataset, model, seed), written atomically.

Layout (benchmark.layout): `<results_dir>/runs/<dataset>/<model>/seed<k>.json` (a `RunRecord`) for
the default config, `<results_dir>/runs/<dataset>/<model>/<variant>/seed<k>.json` for a quick or
`--set` run (the record's `extras["variant"]`); a cross-domain run
(benchmark.crossdomain; its record carries `extras["cross_domain"]`, its dataset is the pair
`<sources>→<target>`) lives at `<results_dir>/runs/crossdomain/<pair>/<model>/shots<K>/seed<k>.json`
and is read by `load_cross_domain_records`, never by `load_records`. `config_hash` =
sha256 of the canonical JSON of (model, config, dataset identity, seed, protocol version); a run
whose record verifies and carries the same hash is finished and is skipped. A record that fails
verification (unreadable, other schema, checksum, types, or not the run its path names) is logged,
renamed `*.bad` (quarantined) and treated as missing, so its run is redone and the report never
shows it. Temp files left by a killed write are removed by `clean_stale_temp`. Records are read
only from regular files reached through real directories (benchmark.layout.scan_files and
read_regular): a symlink, FIFO or device is skipped with a warning, never opened or quarantined.
No torch import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_bytes
from benchmark.layout import (
    CROSS_DOMAIN_DIR,
    VARIANT_PATTERN,
    NotRegularFile,
    check_variant,
    read_regular,
    record_variant,
    scan_files,
)
from benchmark.layout import cross_domain_record_path as cross_domain_record_path  # re-exported
from benchmark.layout import record_path as record_path  # re-exported: callers use store's
from benchmark.records import BadRecord, RunRecord, plain

log = logging.getLogger(__name__)

LIBRARIES = {"torch": "torch", "numpy": "numpy", "sklearn": "scikit-learn",
             "drain3": "drain3", "gensim": "gensim", "tipping": "tipping",
             "wordllama": "wordllama"}
_REPO_ROOT = Path(__file__).resolve().parents[1]
_TEMP_GLOB = ".seed*.json.*.tmp"
_RECORD_NAME = re.compile(r"seed[0-9]+\.json")


CROSS_DOMAIN_KEY = "cross_domain"
"""The `extras` key of a cross-domain record (benchmark.crossdomain)."""


def canonical_json(obj: Any) -> str:
    """Key-sorted, whitespace-free JSON (dataclasses and paths converted), for hashing."""
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(
    model: str, config: Any, dataset_identity: dict, seed: int, protocol_version: int
) -> str:
    """sha256 hex of everything that decides a run's numbers (device excluded: it is recorded)."""
    payload = {"model": model, "config": config, "dataset": dataset_identity, "seed": seed,
               "protocol_version": protocol_version}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def is_finished(path: Path, expected_hash: str) -> bool:
    """True when `path` holds a verified record with `config_hash == expected_hash`."""
    record = read_record(path)
    return record is not None and record.config_hash == expected_hash


def write_record(path: Path, record: RunRecord) -> None:
    """Write `record` atomically: a temp file in the same directory, fsync, then os.replace."""
    atomic_write_bytes(Path(path), record.to_json().encode("utf-8"))


def read_record(path: Path) -> RunRecord | None:
    """The verified record at `path`, or None when missing; a bad record is quarantined."""
    path = Path(path)
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return None
    except NotRegularFile as err:
        log.warning("skipping run record %s", err)
        return None
    except OSError as err:
        log.warning("cannot read run record %s: %s", path, err)
        return None
    try:
        record = RunRecord.from_json(data.decode("utf-8"))
        _check_location(record, path)
    except (UnicodeDecodeError, BadRecord) as err:
        reason = f"not UTF-8 ({err.reason})" if isinstance(err, UnicodeDecodeError) else str(err)
        quarantine(path, reason)
        return None
    return record


def load_records(results_dir: Path, variant: str | None = None) -> list[RunRecord]:
    """Every verified record of the default config under `<results_dir>/runs` (with `variant`:
    of that variant instead), sorted by (dataset, model, seed)."""
    runs = Path(results_dir) / "runs"
    if variant is None:
        paths = scan_files(runs, 2, _RECORD_NAME)
    else:
        check_variant(variant)
        paths = (p for p in scan_files(runs, 3, _RECORD_NAME) if p.parent.name == variant)
    records = [r for p in paths if (r := read_record(p)) is not None]
    return sorted(records, key=lambda r: (r.dataset, r.model, r.seed))


def list_variants(results_dir: Path) -> list[str]:
    """The variant folders present under `<results_dir>/runs/<dataset>/<model>/`."""
    found = {p.parent.name for p in scan_files(Path(results_dir) / "runs", 3, _RECORD_NAME)
             if VARIANT_PATTERN.fullmatch(p.parent.name)}
    return sorted(found)


def load_cross_domain_records(results_dir: Path, variant: str | None = None
                              ) -> list[RunRecord]:
    """Every verified cross-domain record under `<results_dir>/runs/crossdomain` (of `variant`
    when given, else of the default layout), sorted by (pair, model, shots, seed)."""
    root = Path(results_dir) / "runs" / CROSS_DOMAIN_DIR
    paths = (scan_files(root, 3, _RECORD_NAME) if variant is None else
             (p for p in scan_files(root, 4, _RECORD_NAME) if p.parent.parent.name == variant))
    records = [r for p in paths
               if p.parent.name.startswith("shots") and (r := read_record(p)) is not None]
    return sorted(records, key=lambda r: (r.dataset, r.model,
                                          r.extras[CROSS_DOMAIN_KEY]["shots"], r.seed))


def quarantine(path: Path, reason: str) -> Path:
    """Rename a bad record to `<name>.bad` (numbered if taken), log why; returns the new path."""
    target = path.with_name(path.name + ".bad")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.bad{n}")
    try:
        path.rename(target)
    except OSError as err:
        log.warning("bad run record %s (%s); could not quarantine it: %s", path, reason, err)
        return path
    log.warning("bad run record %s: %s; moved to %s, the run will be redone", path, reason,
                target.name)
    return target


def clean_stale_temp(results_dir: Path) -> int:
    """Remove temp files left by record writes that were killed; returns how many."""
    runs = Path(results_dir) / "runs"
    stale = list(runs.glob(f"*/*/{_TEMP_GLOB}")) + list(runs.glob(f"*/*/*/{_TEMP_GLOB}")) + list(
        runs.glob(f"{CROSS_DOMAIN_DIR}/*/*/shots*/{_TEMP_GLOB}")) + list(
        runs.glob(f"{CROSS_DOMAIN_DIR}/*/*/*/shots*/{_TEMP_GLOB}"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        log.info("removed %d stale temp file(s) of interrupted record writes", len(stale))
    return len(stale)


def check_writable(results_dir: Path) -> None:
    """Raise OSError (with the reason) unless `results_dir` can be created and written."""
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise NotADirectoryError(f"{results_dir} is not a directory")
    results_dir.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=results_dir)
    os.close(fd)
    os.unlink(probe)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide the numbers (None = not installed)."""
    versions = {}
    for key, dist in LIBRARIES.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = None
    return versions


def git_commit() -> str | None:
    """The repository's HEAD commit (suffixed `-dirty` with uncommitted changes), or None."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "--no-optional-locks", *args], cwd=_REPO_ROOT,
                                  capture_output=True, text=True, check=True,
                                  timeout=10).stdout.strip()

        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def _check_location(record: RunRecord, path: Path) -> None:
    variant = record_variant(record.extras)
    actual: tuple[str, ...] = (record.dataset, record.model, *([variant] if variant else []),
                               f"seed{record.seed}.json")
    cross = record.extras.get(CROSS_DOMAIN_KEY)
    if isinstance(cross, dict):
        actual = (CROSS_DOMAIN_DIR, record.dataset, record.model,
                  *([variant] if variant else []), f"shots{cross.get('shots')}",
                  f"seed{record.seed}.json")
    expected = tuple(path.parts[-len(actual):])
    if expected != actual:
        raise BadRecord(f"holds {'/'.join(actual)}, not the run its path names")
