"""Input sanity checks on what the reader found, applied before any parsing or training.

Each check either passes, logs a warning with counts, or raises a `DataError` naming the file
(and its first offending line numbers): too many unparsed lines (wrong file for the dataset),
timestamps going backwards (shuffled, reversed or concatenated logs), `--strict` violations.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.errors import DataError

log = logging.getLogger(__name__)

MAX_REPORTED_LINES = 5


def raise_if_unclean(meta: dict[str, Any], path: Path, fmt: str) -> None:
    """--strict: the first unparsed or invalid-UTF-8 line is an error."""
    if meta["first_unparsed"]:
        raise DataError(f"{path}:{meta['first_unparsed'][0]}: line does not match the {fmt} "
                        f"format ({meta['unparsed_lines']} such lines; --strict)")
    if meta["first_invalid_utf8"]:
        raise DataError(f"{path}:{meta['first_invalid_utf8'][0]}: invalid UTF-8 "
                        f"({meta['invalid_utf8_lines']} such lines; --strict)")


def check_unparsed(meta: dict[str, Any], path: Path, fmt: str, max_unparsed: float) -> None:
    """DataError when more than `max_unparsed` (a fraction) of the lines do not match `fmt`."""
    lines, bad = int(meta["lines"]), int(meta["unparsed_lines"])
    if lines and bad / lines > max_unparsed:
        first = ", ".join(map(str, meta["first_unparsed"]))
        raise DataError(f"{path}: {bad:,} of {lines:,} lines ({bad / lines:.1%}) do not match "
                        f"the {fmt} format, more than the {max_unparsed:.1%} allowed; first at "
                        f"line(s) {first}; wrong file for this dataset? (--max-unparsed FRACTION "
                        "to accept)")


def check_time_order(timestamps: np.ndarray, path: Path, tolerance: float,
                     strict: bool) -> int:
    """Count lines whose timestamp is more than `tolerance` seconds before the previous line's
    ((L,) float64 seconds); warn with counts, or DataError under `strict`. Returns the count."""
    if len(timestamps) < 2:
        return 0
    steps = np.diff(timestamps)
    back = np.flatnonzero(steps < -tolerance)
    if len(back) == 0:
        return 0
    first = ", ".join(str(int(i) + 2) for i in back[:MAX_REPORTED_LINES])
    message = (f"{path}: time goes backwards by more than {tolerance:g} s at {len(back):,} of "
               f"{len(timestamps):,} lines (largest jump back {-steps[back].min():,.0f} s; first "
               f"at line(s) {first}); lines shuffled, reversed or files concatenated? Bags and "
               "the chronological split assume time order")
    if strict:
        raise DataError(message + " (--strict)")
    log.warning("%s", message)
    return int(len(back))


def too_few_bags(path: Path, lines: int, bags: int, reason: str) -> DataError:
    """The error for an input that yields too few bags to split (`reason`: the splitter's)."""
    return DataError(f"{path}: {lines:,} line(s), {bags:,} bag(s): {reason}")
