"""Config fields with their allowed range in the field metadata.

`positive(30)` is `field(default=30, metadata={"min": 1})`. The metadata keys are "min", "max"
(inclusive) and "min_exclusive", "max_exclusive"; a config validator reads them from
`dataclasses.fields(config)[i].metadata`. A field whose default is None (e.g. "derive it") is
range-checked only when set.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def bounded(
    default: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: float | None = None,
    max_exclusive: float | None = None,
) -> Any:
    """A dataclass field with `default` and the given bounds in its metadata."""
    bounds = {"min": min, "max": max, "min_exclusive": min_exclusive,
              "max_exclusive": max_exclusive}
    return field(default=default, metadata={k: v for k, v in bounds.items() if v is not None})


def positive(default: int | float | None) -> Any:
    """An int ≥ 1, or a float > 0 (chosen by the default's type; None counts as int)."""
    if isinstance(default, float):
        return bounded(default, min_exclusive=0)
    return bounded(default, min=1)


def non_negative(default: int | float) -> Any:
    """A number ≥ 0 (a loss weight, a margin, a count that may be zero)."""
    return bounded(default, min=0)


def at_least(default: int | float, low: int | float) -> Any:
    """A number ≥ low."""
    return bounded(default, min=low)


def fraction(default: float) -> Any:
    """A rate in [0, 1): dropout."""
    return bounded(default, min=0, max_exclusive=1)


def ratio(default: float) -> Any:
    """A share in (0, 1]: e.g. a masking ratio that must mask something."""
    return bounded(default, min_exclusive=0, max=1)
