"""Config field helpers: each puts its default and its range into the field metadata."""

from dataclasses import dataclass, fields

from benchmark.config_fields import at_least, bounded, fraction, non_negative, positive, ratio


@dataclass(frozen=True)
class _Example:
    count: int = positive(30)
    rate: float = positive(1e-3)
    unset: int | None = positive(None)
    weight: float = non_negative(0.1)
    heads: int = at_least(16, 2)
    dropout: float = fraction(0.1)
    share: float = ratio(0.5)
    window: float = bounded(0.15, min=0, max=1)


def test_helpers_set_default_and_range_metadata():
    example = _Example()
    assert (example.count, example.rate, example.unset, example.weight, example.heads,
            example.dropout, example.share, example.window) == (30, 1e-3, None, 0.1, 16, 0.1,
                                                                 0.5, 0.15)
    metadata = {f.name: dict(f.metadata) for f in fields(_Example)}
    assert metadata == {
        "count": {"min": 1},
        "rate": {"min_exclusive": 0},
        "unset": {"min": 1},
        "weight": {"min": 0},
        "heads": {"min": 2},
        "dropout": {"min": 0, "max_exclusive": 1},
        "share": {"min_exclusive": 0, "max": 1},
        "window": {"min": 0, "max": 1},
    }
