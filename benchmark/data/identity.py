"""What identifies a dataset's numbers, for run records: content, card, stage versions, subset.

`dataset_identity` is computed at planning time, before any data work; it never holds a path, so
the same data in another checkout (or another data directory) identify alike, and a replaced file
(same name, other bytes) does not. The synthetic dataset is identified by its generator's settings
and version (its file is a pure function of them), real data by `content_identity` of the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmark.data.cards import DatasetCard
from benchmark.data.errors import DataError

HASH_BLOCK = 8 << 20
_memo: dict[tuple, dict[str, Any]] = {}


def content_identity(path: Path) -> dict[str, Any]:
    """{"size", "sha256"} of the file's bytes (an archive: of the archive itself).

    Memoised within the process per (path, size, mtime_ns, ctime_ns, inode); every new process
    hashes the whole file again, so an edit that keeps size and mtime is still seen.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if key not in _memo:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(HASH_BLOCK):
                digest.update(block)
        _memo[key] = {"size": stat.st_size, "sha256": digest.hexdigest()}
    return dict(_memo[key])


def dataset_identity(card: DatasetCard, *, data_file: Path | None, data_dir: Path,
                     max_lines: int | None, quick: bool) -> dict[str, Any]:
    """JSON-able identity of the prepared dataset a run would train on (part of its hash).

    data_file: an explicit input (else the card's default file under `data_dir/raw/`). Raises
    DataError when the input is missing or not a regular file.
    """
    from benchmark.data.pipeline import STAGE_VERSIONS, input_path

    identity: dict[str, Any] = {"name": card.name, "card": card.as_dict(),
                                "stage_versions": dict(STAGE_VERSIONS),
                                "max_lines": max_lines, "quick": quick}
    if data_file is None and card.generator is not None:
        from benchmark.data.synthetic import DEFAULT_SPEC, GENERATOR_VERSION

        identity["generator"] = {"version": GENERATOR_VERSION, "spec": asdict(DEFAULT_SPEC),
                                 "lines": card.generator.quick_lines if quick
                                 else card.generator.lines, "seed": card.generator.seed}
        return identity
    path = input_path(card, data_file, data_dir, quick)
    if not os.path.isfile(path):
        raise DataError(f"{path}: not a regular file")
    identity["content"] = content_identity(path)
    return identity
