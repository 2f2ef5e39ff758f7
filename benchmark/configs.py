"""Typed, range-checked model configs: frozen dataclasses whose fields declare their bounds.

A config class is a frozen dataclass; a field may carry bounds in its metadata, written with the
helpers below (`epochs: int = positive(30)`, `dropout: float = fraction(0.1)`); a subclass that
redefines only the default (`epochs: int = 200`) keeps the bounds of its base. `build_config`
turns defaults + changes (the model's quick overrides, `--set` values read as JSON) into a config
instance: every value is coerced to its annotated type (`3.0` → `3` for an int field, so `3` and
`3.0` hash alike) and checked against its bounds, and a bad value raises `ConfigError` naming the
field. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union


class ConfigError(ValueError):
    """A config value of the wrong type or out of range; the message names model and field."""


def bounded(default: Any, *, min: float | None = None, max: float | None = None,
            min_exclusive: float | None = None, max_exclusive: float | None = None) -> Any:
    """A dataclass field with `default` and inclusive / exclusive numeric bounds."""
    bounds = {"min": min, "max": max, "min_exclusive": min_exclusive,
              "max_exclusive": max_exclusive}
    return dataclasses.field(default=default,
                             metadata={k: v for k, v in bounds.items() if v is not None})


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


OMIT_DEFAULT = "omit_when_default"
"""Field metadata key: the field is left out of records and config hashes while it holds its
default (`benchmark.records.plain`), so an option added later keeps every earlier hash."""


def option(default: Any) -> Any:
    """A study option added after records existed: left out of records and config hashes while
    it equals `default` (so adding it changes no earlier run's identity)."""
    return dataclasses.field(default=default, metadata={OMIT_DEFAULT: True})


def option_at_least(default: int | float, low: int | float) -> Any:
    """`option` with a lower bound (a number ≥ low)."""
    return dataclasses.field(default=default, metadata={OMIT_DEFAULT: True, "min": low})


def build_config(config_class: type, changes: dict[str, Any], owner: str) -> Any:
    """`config_class(**defaults | changes)` with every field coerced and range-checked.

    owner: the model name used in error messages. Raises ConfigError for an unknown field, a value
    of the wrong type or out of bounds.
    """
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config field(s) for {owner}: {', '.join(unknown)} "
                          f"(fields: {', '.join(fields)})")
    hints = typing.get_type_hints(config_class)
    values = {}
    for name, f in fields.items():
        if not f.init:
            continue
        value = changes[name] if name in changes else _default(f)
        where = f"{owner}.{name}"
        value = coerce(value, hints[name], where)
        check_bounds(value, _bounds(config_class, name), where)
        values[name] = value
    return config_class(**values)


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """`value` as an instance of `annotation` (int, float, bool, str, Literal, X | None, tuple)."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return coerce(value, option, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{where}: {value!r} matches none of {annotation}")
    if origin is Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, allowed))}, "
                              f"got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        return tuple(coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def check_bounds(value: Any, metadata: typing.Mapping[str, Any], where: str) -> None:
    """Raise ConfigError when a number lies outside the bounds in a field's metadata."""
    if value is None or not isinstance(value, int | float) or isinstance(value, bool):
        return
    rules = (("min", lambda v, b: v >= b, "≥"), ("max", lambda v, b: v <= b, "≤"),
             ("min_exclusive", lambda v, b: v > b, ">"),
             ("max_exclusive", lambda v, b: v < b, "<"))
    for key, ok, sign in rules:
        if key in metadata and not ok(value, metadata[key]):
            raise ConfigError(f"{where} must be {sign} {metadata[key]}, got {value!r}")


def _bounds(config_class: type, name: str) -> dict[str, Any]:
    """A field's bounds, inherited: a subclass that only changes a default keeps the base's."""
    bounds: dict[str, Any] = {}
    for cls in reversed(config_class.__mro__):
        if dataclasses.is_dataclass(cls):
            for f in dataclasses.fields(cls):
                if f.name == name and f.metadata:
                    bounds = dict(f.metadata)
    return bounds


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"config field {f.name} has no default")
