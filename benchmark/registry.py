"""Model registry: `@register_model("name")`, `get_model`, `list_models` (timm style).

`list_models(pattern)` lists the registered names, `unregister_model(name)` removes one (for
tests). Models are discovered, not listed: every module of the model packages (`models`,
`baselines`) is imported on first use, and each `@register_model` in it adds its class. The
packages are namespace packages extended over `sys.path` (`pkgutil.extend_path`), so a
directory `baselines/` elsewhere on the path (a lab's own models, a test's temporary package)
contributes its modules too, in the driver and in every joblib / Dask worker alike. Adding a
model = one new file.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
import pkgutil
import sys
from typing import Any

from benchmark.configs import ConfigError, build_config
from benchmark.model_api import BagModel, ModelContext

_MODELS: dict[str, type[BagModel]] = {}
MODEL_PACKAGES = ("models", "baselines")


def register_model(name: str):
    """Class decorator adding a BagModel subclass under `name`; a duplicate name raises."""

    def add(cls: type[BagModel]) -> type[BagModel]:
        if not (isinstance(cls, type) and issubclass(cls, BagModel)):
            raise TypeError(f"@register_model({name!r}) needs a BagModel subclass, got {cls!r}")
        if name in _MODELS:
            owner = _MODELS[name].__qualname__
            raise ValueError(f"model {name!r} is already registered by {owner}")
        if not dataclasses.is_dataclass(cls.config_class):
            raise TypeError(f"{cls.__qualname__}.config_class must be a dataclass")
        cls.name = name
        _MODELS[name] = cls
        return cls

    return add


def discover_models() -> None:
    """Import every module of the model packages (and their portions elsewhere on sys.path)."""
    for package_name in MODEL_PACKAGES:
        package = importlib.import_module(package_name)
        package.__path__ = pkgutil.extend_path(list(package.__path__), package_name)
        for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            full = f"{package_name}.{module.name}"
            if full not in sys.modules and not module.name.startswith("_"):
                importlib.import_module(full)


def model_class(name: str) -> type[BagModel]:
    discover_models()
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise KeyError(f"unknown model {name!r}; registered models: {known}") from None


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    discover_models()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def unregister_model(name: str) -> type[BagModel]:
    """Remove model `name` from the registry (e.g. a test's temporary model); returns its class.
    KeyError naming the registered models when it is not registered."""
    if name not in _MODELS:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise KeyError(f"unknown model {name!r}; registered models: {known}")
    return _MODELS.pop(name)


def describe_model(name: str) -> str:
    """First line of the model class docstring."""
    doc = (model_class(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def resolve_config(name: str, quick: bool = False, overrides: dict[str, Any] | None = None) -> Any:
    """The model's config: defaults, then its quick overrides (if quick), then `overrides`.

    Every value is coerced to its field's type and range-checked (ConfigError names the field).
    """
    cls = model_class(name)
    changes = dict(cls.quick_overrides) if quick else {}
    changes.update(overrides or {})
    return build_config(cls.config_class, changes, owner=name)


def get_model(name: str, config: Any, context: ModelContext) -> BagModel:
    """Build a registered model from its resolved config."""
    cls = model_class(name)
    if not isinstance(config, cls.config_class):
        expected, got = cls.config_class.__name__, type(config).__name__
        raise TypeError(f"{name} expects a {expected}, got {got}")
    return cls(config, context)


__all__ = ["ConfigError", "describe_model", "discover_models", "get_model", "list_models",
           "model_class", "register_model", "resolve_config", "unregister_model"]
