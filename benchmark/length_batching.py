"""Length-aware execution: run per-bag computations on groups of bags of similar length.

Bags of one mini-batch are right-padded to the batch's longest bag; a Transformer over such a
batch spends most of its work on padding when lengths are skewed. Two tools remove that work
without changing a bag's numbers in eval mode:

- `length_order` / `iter_length_batches`: visit bags in length order when every bag is scored
  independently (scoring, validation, LogBERT's centre pass), so each batch is cut to a width
  close to its own bags' lengths. The caller writes results back by index, so the output order
  is the BagSet's.
- `run_length_chunked`: inside one padded batch, sort the rows by extent, run a function on
  sub-chunks of `chunk` rows cut to each sub-chunk's longest row, and scatter the results back
  in the original row order (zeros beyond each sub-chunk's width).

Identity: with key-padding masks, attention gives padded keys weight exactly 0, so a row's
outputs on its real positions do not depend on how much padding follows. On CPU (MKL, torch
2.13) the eval-mode outputs are bitwise equal as long as a call holds more than a handful of rows
(a single bag of ~10 lines hits a different small-matrix GEMM path whose last bit can differ;
`chunk` ≥ 8 bags avoids it). In training the gradients of weights are sums over all positions,
and sub-chunks sum them in another order, and dropout draws its masks for other shapes: chunked
*training* is therefore not bitwise equal, and models expose it as an option, off by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.data.bagset import BagSet


def length_order(lengths: np.ndarray) -> np.ndarray:
    """(B,) int64 positions sorting `lengths` ascending (stable: ties keep their order)."""
    return np.argsort(np.asarray(lengths), kind="stable").astype(np.int64)


def iter_length_batches(bags: BagSet, batch_size: int) -> Iterator[np.ndarray]:
    """Index blocks of `batch_size` bags in length order (every bag exactly once)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = length_order(bags.lengths)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def row_extents(mask: torch.Tensor) -> torch.Tensor:
    """(n,) int64: 1 + the last real position of each row of mask (n, W) (0 for an empty row)."""
    positions = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask * positions).amax(dim=1)


def length_groups(extents: torch.Tensor, chunk: int) -> list[tuple[torch.Tensor, int]]:
    """Rows sorted by extent (stable) in groups of `chunk`: [(row indices, group width ≥ 1)]."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    order = torch.argsort(extents, stable=True)
    groups = order.split(chunk)
    # each group's last row has its largest extent (sorted): one transfer for all the widths
    last = [min(start + chunk, len(order)) - 1 for start in range(0, len(order), chunk)]
    widths = extents[order[last]].tolist()
    return [(group, max(int(width), 1)) for group, width in zip(groups, widths, strict=True)]


ChunkFn = Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]


def run_length_chunked(
    fn: ChunkFn,
    inputs: Sequence[torch.Tensor],
    mask: torch.Tensor,
    chunk: int,
    width_dims: Sequence[Sequence[int]] = ((1,),),
    offset: int = 0,
) -> tuple[torch.Tensor, ...]:
    """Apply fn to row groups of similar length, each cut to its own width, and reassemble.

    inputs: tensors (n, W, ...) sharing the row axis 0 and the width axis 1, cut to each group's
    width; mask (n, W) bool, True = real position. fn(*cut inputs) returns one tensor or a
    tuple; width_dims[k] names the axes of output k whose length is (group width + offset) --
    offset counts positions fn adds in front, e.g. a [CLS] token -- and that are zero-padded back
    to W + offset (all other axes must not depend on the width).
    Returns the outputs as a tuple, rows in the original order; positions past a row's group
    width are 0.
    """
    n, full = mask.shape
    outputs: list[torch.Tensor] | None = None
    for group, width in length_groups(row_extents(mask), chunk):
        result = fn(*(x[group, :width] for x in inputs))
        result = result if isinstance(result, tuple) else (result,)
        if len(result) != len(width_dims):
            raise ValueError(f"fn returned {len(result)} outputs, width_dims names "
                             f"{len(width_dims)}")
        if outputs is None:
            outputs = [_empty_like_full(r, n, dims, full + offset)
                       for r, dims in zip(result, width_dims, strict=True)]
        for out, r, dims in zip(outputs, result, width_dims, strict=True):
            out[group] = _pad_axes(r, dims, full + offset)
    if outputs is None:
        raise ValueError("run_length_chunked needs at least one row")
    return tuple(outputs)


def _empty_like_full(r: torch.Tensor, n: int, dims: Sequence[int], full: int) -> torch.Tensor:
    shape = [n, *r.shape[1:]]
    for d in dims:
        shape[d] = full
    return r.new_zeros(shape)


def _pad_axes(r: torch.Tensor, dims: Sequence[int], full: int) -> torch.Tensor:
    """Zero-pad axes `dims` of r at their end to length `full`."""
    pad = [0] * (2 * r.dim())
    for d in dims:
        pad[2 * (r.dim() - 1 - d) + 1] = full - r.shape[d]
    return F.pad(r, pad) if any(pad) else r
