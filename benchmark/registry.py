"""Model registry: `@register_model("name")`, `get_model`, `list_models` (timm style)."""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
from typing import Any

from benchmark.model_api import BagModel, ModelContext

_MODELS: dict[str, type[BagModel]] = {}
_BUILTIN_PACKAGES = ("models", "baselines")


def register_model(name: str):
    """Class decorator adding a BagModel subclass under `name`; a duplicate name raises."""

    def add(cls: type[BagModel]) -> type[BagModel]:
        if name in _MODELS:
            owner = _MODELS[name].__qualname__
            raise ValueError(f"model {name!r} is already registered by {owner}")
        if not (isinstance(cls, type) and issubclass(cls, BagModel)):
            raise TypeError(f"@register_model({name!r}) needs a BagModel subclass, got {cls!r}")
        if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
            raise TypeError(f"{cls.__qualname__}.config_class must be a dataclass")
        cls.name = name
        _MODELS[name] = cls
        return cls

    return add


def load_builtin_models() -> None:
    """Import the packages whose modules register the built-in models."""
    for package in _BUILTIN_PACKAGES:
        importlib.import_module(package)


def model_class(name: str) -> type[BagModel]:
    load_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise KeyError(f"unknown model {name!r}; registered models: {known}") from None


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    load_builtin_models()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def describe_model(name: str) -> str:
    """First line of the model class docstring."""
    doc = (model_class(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def resolve_config(name: str, quick: bool = False, overrides: dict[str, Any] | None = None) -> Any:
    """The model's config: defaults, then its quick overrides (if quick), then `overrides`."""
    cls = model_class(name)
    config = cls.config_class()
    changes = dict(cls.quick_overrides) if quick else {}
    changes.update(overrides or {})
    unknown = set(changes) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise ValueError(f"unknown config field(s) for {name}: {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **changes)


def get_model(name: str, config: Any, context: ModelContext) -> BagModel:
    """Build a registered model from its resolved config."""
    cls = model_class(name)
    if not isinstance(config, cls.config_class):
        expected, got = cls.config_class.__name__, type(config).__name__
        raise TypeError(f"{name} expects a {expected}, got {got}")
    return cls(config, context)
