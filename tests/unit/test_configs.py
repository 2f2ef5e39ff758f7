"""Config field helpers: each puts its default and its range into the field metadata."""

from dataclasses import dataclass, fields
from typing import Literal

import pytest

from benchmark.configs import (
    ConfigError,
    at_least,
    bounded,
    build_config,
    fraction,
    non_negative,
    positive,
    ratio,
)


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


@dataclass(frozen=True)
class _Base:
    epochs: int = positive(30)
    lr: float = positive(1e-3)
    dropout: float = fraction(0.1)
    mode: Literal["a", "b"] = "a"
    steps: int | None = positive(None)
    flag: bool = False


@dataclass(frozen=True)
class _Child(_Base):
    epochs: int = 200  # a new default keeps the base's bounds


def test_build_config_coerces_types_so_equal_values_hash_alike():
    config = build_config(_Child, {"epochs": 3.0, "lr": 1, "steps": None}, owner="m")
    assert config.epochs == 3 and type(config.epochs) is int and type(config.lr) is float
    assert build_config(_Child, {"epochs": 3}, owner="m") == \
        build_config(_Child, {"epochs": 3e0}, owner="m")


@pytest.mark.parametrize("changes, message", [
    ({"epochs": "nine"}, "m.epochs must be an integer, got 'nine'"),
    ({"epochs": 1.5}, "m.epochs must be an integer, got 1.5"),
    ({"epochs": 0}, "m.epochs must be ≥ 1, got 0"),
    ({"lr": 0}, "m.lr must be > 0, got 0"),
    ({"lr": "fast"}, "m.lr must be a finite number, got 'fast'"),
    ({"dropout": 1.0}, "m.dropout must be < 1, got 1.0"),
    ({"mode": "c"}, "m.mode must be one of 'a', 'b', got 'c'"),
    ({"flag": 1}, "m.flag must be true or false, got 1"),
    ({"steps": 0}, "m.steps must be ≥ 1, got 0"),
    ({"depth": 2}, "unknown config field(s) for m: depth"),
])
def test_build_config_names_the_field_of_a_bad_value(changes, message):
    with pytest.raises(ConfigError) as info:
        build_config(_Child, changes, owner="m")
    assert message in str(info.value)
