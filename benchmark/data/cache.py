"""On-disk stage cache `<data_dir>/cache/<dataset>/<stage>-<key>/`, and input content identity.

A stage's key hashes its inputs' identity and its own config (and, through them, the keys of the
stages it depends on), so changing one stage's config invalidates that stage and its dependants
only. An entry is a directory of `.npy` arrays (string lists stored as UTF-8 bytes + offsets) and
`meta.json`, which holds the entry's manifest: every array's file, shape, dtype and the SHA-256 of
its bytes. An entry is written into a temporary directory and renamed into place (atomic on
POSIX), so a crash never leaves a half-written entry behind.

Loading checks the manifest (every expected array present, readable, of the recorded shape, dtype
and checksum) and then the stage's own consistency check; an entry failing either is reported
with a warning naming it and treated as absent (the caller rebuilds it) — it is never loaded and
never raises. A cache path that exists but is not a directory is a `DataError`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from benchmark.data.errors import DataError

log = logging.getLogger(__name__)

EDGE_BYTES = 64 << 10
HASH_NAME = "sha256"
"""Digest of the input's content identity (SHA-256: the fastest full-content hash in hashlib on
CPUs with SHA extensions, measured ~950 MiB/s vs ~740 for BLAKE2b)."""
HASH_BLOCK = 8 << 20
CACHE_FORMAT = 2


class CacheInvalid(Exception):
    """Raised by a stage's consistency check: the entry is rebuilt (message says why)."""


# --------------------------------------------------------------------------------------------
# Input identity


_IDENTITIES: dict[tuple, dict[str, Any]] = {}


def _memo_key(path: Path, st: os.stat_result) -> tuple:
    # ctime changes on every write and on utime(), so an in-place edit that restores the mtime
    # still changes the key
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def content_identity(path: Path) -> dict[str, Any]:
    """`{"size": bytes, "sha256": hex digest of every byte}` of a regular file (an archive: of
    the archive's bytes). Memoised per (path, device, inode, size, mtime, ctime) in this process,
    so asking twice hashes once. Raises DataError for a missing or non-regular file."""
    path = Path(path)
    st = regular_file_stat(path)
    known = _IDENTITIES.get(_memo_key(path, st))
    if known is not None:
        return dict(known)
    tap = HashingTap()
    try:
        with open(path, "rb") as handle:
            tap.raw = handle
            identity = tap.finish()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    remember_identity(path, st, identity)
    return dict(identity)


def known_identity(path: Path) -> dict[str, Any] | None:
    """The memoised content identity of `path` if it was computed in this process for the file
    as it is now, else None (never hashes)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    known = _IDENTITIES.get(_memo_key(Path(path), st))
    return None if known is None else dict(known)


def remember_identity(path: Path, before: os.stat_result, identity: dict[str, Any]) -> None:
    """Memoise `identity` (hashed from a stream opened when `path` had stat `before`) unless the
    file changed meanwhile."""
    try:
        now = os.stat(path)
    except OSError:
        return
    if _memo_key(Path(path), now) == _memo_key(Path(path), before) and \
            identity["size"] == before.st_size:
        _IDENTITIES[_memo_key(Path(path), before)] = dict(identity)


class HashingTap:
    """Wraps a raw binary file (`raw`, set by whoever opens it) and hashes every byte read through
    it. `finish()` reads and hashes the rest of the file (what a reader stopping early left) and
    returns the content identity. Used by the log reader so that hashing the input costs no
    second read."""

    def __init__(self) -> None:
        self.raw: BinaryIO | None = None
        self.size = 0
        self.digest = hashlib.new(HASH_NAME)

    def readinto(self, buffer) -> int:
        got = self.raw.readinto(buffer)
        if got:
            self.digest.update(memoryview(buffer)[:got])
            self.size += got
        return got or 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def finish(self) -> dict[str, Any]:
        buffer = bytearray(HASH_BLOCK)
        while self.readinto(buffer):
            pass
        return {"size": self.size, HASH_NAME: self.digest.hexdigest()}


def regular_file_stat(path: Path) -> os.stat_result:
    """os.stat of `path`, which must be a regular file (checked before any open, so a FIFO
    never blocks). DataError naming the file otherwise."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot access: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file ({_kind(st.st_mode)}); pass a log file")
    return st


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def lookup_identity(path: Path) -> dict[str, Any]:
    """Cheap lookup key of a file: size and SHA-256 of its first and last 64 KiB. It only finds a
    candidate cache entry; the entry is used only if its recorded content identity equals the
    file's (`content_identity`)."""
    size = regular_file_stat(path).st_size
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            digest.update(handle.read(EDGE_BYTES))
            if size > EDGE_BYTES:
                handle.seek(max(size - EDGE_BYTES, EDGE_BYTES))
                digest.update(handle.read(EDGE_BYTES))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return {"size": size, "edges_sha256": digest.hexdigest()}


def config_hash(*parts: Any) -> str:
    """Stable hex digest of JSON-able parts (dict keys sorted)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


# --------------------------------------------------------------------------------------------
# Stage cache


@dataclass(frozen=True, eq=False)
class Entry:
    """A loaded cache entry: arrays by name, string lists by name, and the meta dict."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, list[str]]
    meta: dict[str, Any]


Check = Callable[[Entry], None]


class StageCache:
    """Entries of one dataset under `root` (DataError if `root` or an ancestor is a file)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise DataError(f"{probe}: cache path exists but is not a directory; remove it or "
                            "choose another --data-dir")

    def path(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key}"

    def load(self, stage: str, key: str, arrays: Sequence[str] = (),
             strings: Sequence[str] = (), check: Check | None = None) -> Entry | None:
        """The entry, or None when absent or invalid (then the caller rebuilds it). `arrays` and
        `strings` name what the entry must hold; `check` raises CacheInvalid on inconsistent
        contents. An invalid entry is logged as a warning naming it."""
        where = self.path(stage, key)
        if not os.path.lexists(where):
            return None
        try:
            entry = _read_entry(where, arrays, strings)
            if check is not None:
                check(entry)
        except CacheInvalid as exc:
            log.warning("cache entry %s is invalid (%s); rebuilding it", where, exc)
            return None
        log.debug("cache hit: %s", where)
        return entry

    def save(self, stage: str, key: str, arrays: dict[str, np.ndarray],
             strings: dict[str, Sequence[str]] | None = None,
             meta: dict[str, Any] | None = None) -> Entry:
        """Write the entry (replacing any old one) and return it as it would load."""
        strings = strings or {}
        final = self.path(stage, key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.root))
        except OSError as exc:
            raise DataError(f"{self.root}: cannot write the cache: {exc.strerror or exc}") from None
        try:
            stored = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
            for name, values in strings.items():
                stored.update(_encode_strings(name, values))
            manifest = {}
            for name, array in stored.items():
                np.save(tmp / f"{name}.npy", array, allow_pickle=False)
                manifest[name] = {"file": f"{name}.npy", "shape": list(array.shape),
                                  "dtype": array.dtype.str, "sha256": _array_sha256(array)}
            record = {"format": CACHE_FORMAT, "manifest": manifest, "strings": sorted(strings),
                      "meta": meta or {}}
            (tmp / "meta.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
            if os.path.lexists(final):  # an older, invalid or concurrent entry: replace it
                _remove(final)
            os.replace(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"{final}: cannot write the cache entry: {exc.strerror or exc}"
                            ) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        decoded = {name: list(values) for name, values in strings.items()}
        return Entry(dict(arrays), decoded, dict(meta or {}))


def _remove(where: Path) -> None:
    if where.is_dir() and not where.is_symlink():
        shutil.rmtree(where, ignore_errors=True)
    else:
        where.unlink(missing_ok=True)


def _read_entry(where: Path, arrays: Sequence[str], strings: Sequence[str]) -> Entry:
    """Load and verify an entry against its manifest; CacheInvalid on any problem."""
    if not where.is_dir():
        raise CacheInvalid("not a directory")
    try:
        record = json.loads((where / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CacheInvalid("no meta.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheInvalid(f"meta.json unreadable: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT or not isinstance(
            record.get("manifest"), dict) or not isinstance(record.get("meta"), dict):
        raise CacheInvalid("meta.json has no manifest of this cache format")
    manifest = record["manifest"]
    needed = list(arrays) + [f"{s}.{part}" for s in strings for part in ("offsets", "utf8")]
    loaded = {name: _load_array(where, name, manifest) for name in needed}
    decoded = {name: _decode_strings(name, loaded.pop(f"{name}.offsets"),
                                     loaded.pop(f"{name}.utf8")) for name in strings}
    return Entry(loaded, decoded, record["meta"])


def _load_array(where: Path, name: str, manifest: dict[str, Any]) -> np.ndarray:
    spec = manifest.get(name)
    if not isinstance(spec, dict):
        raise CacheInvalid(f"array {name!r} missing from the manifest")
    try:
        array = np.load(where / f"{name}.npy", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 — any unreadable file (EOF, bad header, ...) → rebuild
        raise CacheInvalid(f"{name}.npy unreadable: {type(exc).__name__}: {exc}") from None
    if list(array.shape) != spec.get("shape") or array.dtype.str != spec.get("dtype"):
        raise CacheInvalid(f"{name}.npy is {array.dtype.str}{list(array.shape)}, manifest says "
                           f"{spec.get('dtype')}{spec.get('shape')}")
    if _array_sha256(array) != spec.get("sha256"):
        raise CacheInvalid(f"{name}.npy checksum differs from the manifest (file edited?)")
    return array


def _array_sha256(array: np.ndarray) -> str:
    flat = np.ascontiguousarray(array).reshape(-1)
    return hashlib.sha256(flat.view(np.uint8) if flat.size else b"").hexdigest()


def _encode_strings(name: str, values: Sequence[str]) -> dict[str, np.ndarray]:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {f"{name}.offsets": offsets,
            f"{name}.utf8": np.frombuffer(b"".join(encoded), np.uint8)}


def _decode_strings(name: str, offsets: np.ndarray, data: np.ndarray) -> list[str]:
    if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or \
            offsets[-1] != len(data) or np.any(np.diff(offsets) < 0):
        raise CacheInvalid(f"string list {name!r} has inconsistent offsets")
    raw = data.tobytes()
    bounds = offsets.tolist()
    try:
        return [raw[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    except UnicodeDecodeError as exc:
        raise CacheInvalid(f"string list {name!r} is not UTF-8: {exc}") from None
