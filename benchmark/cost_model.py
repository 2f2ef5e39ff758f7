"""Projected CPU hours of a grid, from per-model costs measured by `bench/paper_scale.py`.

The cost model is data (`benchmark/cost_model.json`): per model, the projected hours of one seed
measured by `bench/paper_scale.py` on a log of `lines` lines (one torch thread, CPU; an upper
bound: every epoch of the configured maximum, no early stopping), with the command and date of
the measurement; and the line counts of the cards' full raw files. A run's projection is

    hours(model, dataset) = hours_per_seed(model) × lines(dataset) / lines_measured(model)

linear in lines because bags, hence training steps and scoring, grow with lines. A model without
a measurement has no projection (shown as "?"). `paper_scale.py --save-costs` adds or replaces
rows. No torch import.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_bytes

COST_MODEL_PATH = Path(__file__).with_name("cost_model.json")
SAMPLE_BYTES = 4 << 20
"""Bytes read from a log to estimate its line count."""


@dataclass(frozen=True)
class CostModel:
    """Measured per-model hours per seed (`models`: name → {hours_per_seed, lines, …}) and the
    full line counts of the cards' raw files (`dataset_lines`)."""

    models: dict[str, dict[str, Any]]
    dataset_lines: dict[str, int]
    device: str = "cpu"

    def run_hours(self, model: str, lines: int | None) -> float | None:
        """Projected hours of one seed of `model` on `lines` lines; None when unknown."""
        entry = self.models.get(model)
        if entry is None or lines is None:
            return None
        return float(entry["hours_per_seed"]) * lines / int(entry["lines"])


def load_cost_model(path: Path = COST_MODEL_PATH) -> CostModel:
    """The cost model at `path` (ValueError naming the file when it is malformed)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return CostModel(models=dict(data["models"]), dataset_lines=dict(data["dataset_lines"]),
                         device=str(data.get("device", "cpu")))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a readable cost model: {err}") from None


def save_measurements(path: Path, rows: list[dict], *, lines: int, device: str, threads: int,
                      command: str) -> None:
    """Merge paper_scale.py rows (those with a `projected h/seed`) into the cost model at `path`."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {
        "models": {}, "dataset_lines": {}, "device": device}
    day = datetime.now(UTC).date().isoformat()
    for row in rows:
        if isinstance(row.get("projected h/seed"), int | float):
            data["models"][row["model"]] = {
                "hours_per_seed": row["projected h/seed"], "lines": lines, "threads": threads,
                "device": device, "measured": day, "command": command}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def estimate_lines(path: Path) -> int | None:
    """Lines of a plain or gzip log, estimated from its first SAMPLE_BYTES; None for archives
    (zip, tar) or an unreadable file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".zip", ".tar.gz", ".tgz", ".tar")):
        return None
    try:
        size = path.stat().st_size
        if name.endswith(".gz"):
            with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as stream:
                sample = stream.read(SAMPLE_BYTES)
                consumed = raw.tell()
        else:
            with open(path, "rb") as raw:
                sample = raw.read(SAMPLE_BYTES)
                consumed = len(sample)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if not sample:
        return 0
    newlines = sample.count(b"\n") or 1
    if consumed >= size:
        return sample.count(b"\n") + (not sample.endswith(b"\n"))
    return round(newlines * size / consumed)
