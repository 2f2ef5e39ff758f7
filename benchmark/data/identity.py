"""What identifies a dataset's numbers, for run records: content, card, stage versions, subset.

`dataset_identity` is computed at planning time, before any data work; it never holds a path, so
the same data in another checkout (or another data directory) identify alike, and a replaced file
(same name, other bytes) does not. The synthetic dataset is identified by its generator's settings
and version (its file is a pure function of them), real data by `cache.content_identity` of the
file (size + SHA-256 of every byte, memoised per process, so the read stage that follows does not
hash the file again).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmark.data.cache import content_identity
from benchmark.data.cards import DatasetCard


def dataset_identity(card: DatasetCard, *, data_file: Path | None, data_dir: Path,
                     max_lines: int | None, quick: bool) -> dict[str, Any]:
    """JSON-able identity of the prepared dataset a run would train on (part of its hash).

    data_file: an explicit input (else the card's default file under `data_dir/raw/`). Raises
    DataError when the input is missing or not a regular file (checked without opening it).
    """
    from benchmark.data.pipeline import STAGE_VERSIONS, input_path

    identity: dict[str, Any] = {"name": card.name, "card": card.as_dict(),
                                "stage_versions": dict(STAGE_VERSIONS),
                                "max_lines": max_lines, "quick": quick}
    if data_file is None and card.generator is not None:
        from benchmark.data.synthetic import GENERATOR_VERSION, PROFILES

        spec = PROFILES[card.generator.profile].spec
        identity["generator"] = {"version": GENERATOR_VERSION, "spec": asdict(spec),
                                 "lines": card.generator.quick_lines if quick
                                 else card.generator.lines, "seed": card.generator.seed}
        return identity
    identity["content"] = content_identity(input_path(card, data_file, data_dir, quick))
    return identity
