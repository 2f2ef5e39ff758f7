"""Network building blocks shared by several models."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(length, dim) float32 fixed sine/cosine position encodings (Vaswani et al.), any length:
    column 2i = sin(pos · 10000^(−2i/dim)), column 2i + 1 = cos of the same angle."""
    position = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def append_buffer_rows(module: nn.Module, name: str, rows: torch.Tensor) -> None:
    """Replace buffer `name` of `module` by itself with `rows` appended along dim 0 (same dtype,
    device and persistence): how a loaded model admits one more (unknown) template."""
    old = getattr(module, name)
    persistent = name not in module._non_persistent_buffers_set
    new = torch.cat([old, rows.to(dtype=old.dtype, device=old.device)], dim=0)
    module.register_buffer(name, new, persistent=persistent)
