"""Shared fixtures: a tiny planted-anomaly dataset built in memory (no pipeline, no files)."""

from __future__ import annotations

import pytest
import torch
from tiny_data import ANOMALOUS_TEMPLATES, N_TEMPLATES, make_tiny_dataset

from benchmark.data.bagset import PreparedDataset
from benchmark.model_api import ModelContext

__all__ = ["ANOMALOUS_TEMPLATES", "N_TEMPLATES", "make_tiny_dataset"]


@pytest.fixture
def tiny_dataset() -> PreparedDataset:
    return make_tiny_dataset()


@pytest.fixture
def cpu_context(tiny_dataset: PreparedDataset) -> ModelContext:
    return ModelContext(templates=tiny_dataset.templates, seed=0, device=torch.device("cpu"))
