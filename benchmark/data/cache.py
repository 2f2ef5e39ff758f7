"""On-disk stage cache: `<data_dir>/cache/<dataset>/<stage>-<key>/` (SPEC §2).

A stage's key hashes its inputs' identity and its own config (and, through them, the keys of the
stages it depends on), so changing one stage's config invalidates that stage and its dependants
only. An entry is a directory of `.npy` arrays, string lists stored as UTF-8 bytes + offsets
(`.npy` too), and `meta.json`. It is written into a temporary directory and renamed into place
(atomic on POSIX), so a crash never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EDGE_BYTES = 64 << 10


def file_identity(path: Path) -> dict[str, Any]:
    """Size, mtime (ns) and SHA-256 of the first and last 64 KiB of a file."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(EDGE_BYTES))
        if stat.st_size > EDGE_BYTES:
            handle.seek(max(stat.st_size - EDGE_BYTES, EDGE_BYTES))
            digest.update(handle.read(EDGE_BYTES))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "edges_sha256": digest.hexdigest()}


def config_hash(*parts: Any) -> str:
    """Stable hex digest of JSON-able parts (dict keys sorted)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True, eq=False)
class Entry:
    """A loaded cache entry: arrays by name, string lists by name, and the meta dict."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, list[str]]
    meta: dict[str, Any]


class StageCache:
    """Entries of one dataset under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key}"

    def load(self, stage: str, key: str) -> Entry | None:
        """The entry, or None when absent or unreadable (then it is rebuilt)."""
        where = self.path(stage, key)
        meta_file = where / "meta.json"
        if not meta_file.is_file():
            return None
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            arrays = {name: np.load(where / f"{name}.npy", allow_pickle=False)
                      for name in meta["_arrays"]}
            strings = {name: _load_strings(where, name) for name in meta["_strings"]}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cache entry %s unreadable (%s); rebuilding it", where, exc)
            return None
        log.debug("cache hit: %s", where)
        return Entry(arrays, strings, meta)

    def save(self, stage: str, key: str, arrays: dict[str, np.ndarray],
             strings: dict[str, Sequence[str]] | None = None,
             meta: dict[str, Any] | None = None) -> None:
        strings = strings or {}
        final = self.path(stage, key)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.root))
        try:
            for name, array in arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
            for name, values in strings.items():
                _save_strings(tmp, name, values)
            record = dict(meta or {}, _arrays=sorted(arrays), _strings=sorted(strings))
            (tmp / "meta.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
            if final.exists():  # an older or concurrent writer: replace it
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _save_strings(where: Path, name: str, values: Sequence[str]) -> None:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    np.save(where / f"{name}.offsets.npy", offsets, allow_pickle=False)
    np.save(where / f"{name}.utf8.npy", np.frombuffer(b"".join(encoded), np.uint8),
            allow_pickle=False)


def _load_strings(where: Path, name: str) -> list[str]:
    offsets = np.load(where / f"{name}.offsets.npy", allow_pickle=False).tolist()
    data = np.load(where / f"{name}.utf8.npy", allow_pickle=False).tobytes()
    return [data[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
