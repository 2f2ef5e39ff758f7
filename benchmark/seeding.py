"""Seeding and device selection: a seed fixes Python, NumPy and torch RNGs.

torch is imported only by what needs it, so a torch-free model (benchmark.capabilities) is
seeded without it (`seed_python_numpy`).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def seed_python_numpy(seed: int) -> None:
    """Seed the Python and NumPy global RNGs."""
    random.seed(seed)
    np.random.seed(seed)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
    import torch

    seed_python_numpy(seed)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` = CUDA when available, else CPU; otherwise the named device (must be available)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return device
