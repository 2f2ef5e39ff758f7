"""logmilp-bench: data pipeline, model registry, trainer, protocol, run store and report."""

from benchmark.model_api import BagModel, BagScores, ModelContext
from benchmark.registry import get_model, list_models, register_model, resolve_config

__all__ = [
    "BagModel",
    "BagScores",
    "ModelContext",
    "get_model",
    "list_models",
    "register_model",
    "resolve_config",
]
