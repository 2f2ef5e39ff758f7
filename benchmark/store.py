"""Run records: one JSON file per (dataset, model, seed), hashed and written atomically (SPEC §5).

Layout: `<results_dir>/runs/<dataset>/<model>/seed<k>.json`. A record holds the full resolved
config and `config_hash` = sha256 of the canonical JSON of (model, config, dataset identity, seed,
protocol version); a run whose record carries the same hash is finished and is skipped.
NaN metrics are stored as JSON null and read back as NaN.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LIBRARIES = {"torch": "torch", "numpy": "numpy", "sklearn": "scikit-learn",
             "drain3": "drain3", "gensim": "gensim"}
_REPO_ROOT = Path(__file__).resolve().parents[1]


def record_path(results_dir: Path, dataset: str, model: str, seed: int) -> Path:
    """Where the record of one run lives."""
    return Path(results_dir) / "runs" / dataset / model / f"seed{seed}.json"


def canonical_json(obj: Any) -> str:
    """Key-sorted, whitespace-free JSON (dataclasses and paths converted), for hashing."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(
    model: str, config: Any, dataset_identity: dict, seed: int, protocol_version: int
) -> str:
    """sha256 hex of everything that decides a run's numbers (device excluded: it is recorded)."""
    payload = {"model": model, "config": config, "dataset": dataset_identity, "seed": seed,
               "protocol_version": protocol_version}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def is_finished(path: Path, expected_hash: str) -> bool:
    """True when `path` holds a readable record with `config_hash == expected_hash`."""
    record = read_record(path)
    return record is not None and record.get("config_hash") == expected_hash


def write_record(path: Path, record: dict) -> None:
    """Write `record` as JSON atomically: a temp file in the same directory, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(record), indent=2, sort_keys=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict | None:
    """The record at `path` (nulls in metrics → NaN), or None if missing or unreadable."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        log.warning("ignoring unreadable run record %s: %s", path, err)
        return None
    if not isinstance(record, dict):
        log.warning("ignoring run record %s: not a JSON object", path)
        return None
    metrics = record.get("metrics")
    if isinstance(metrics, dict):
        record["metrics"] = {k: math.nan if v is None else v for k, v in metrics.items()}
    return record


def load_records(results_dir: Path) -> list[dict]:
    """Every readable record under `<results_dir>/runs`, sorted by (dataset, model, seed)."""
    records = []
    for path in sorted((Path(results_dir) / "runs").glob("*/*/seed*.json")):
        record = read_record(path)
        if record is not None and {"dataset", "model", "seed", "metrics"} <= record.keys():
            records.append(record)
        elif record is not None:
            log.warning("ignoring run record %s: missing dataset/model/seed/metrics", path)
    return sorted(records, key=lambda r: (r["dataset"], r["model"], r["seed"]))


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


def _plain(obj: Any) -> Any:
    """JSON-able copy: dataclasses → dicts, tuples → lists, paths → str, NaN/inf → None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _plain(obj.item())
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a run record")
