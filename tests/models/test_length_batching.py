"""benchmark.length_batching: chunked / length-ordered execution equals the unchunked one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.length_batching import (
    iter_length_batches,
    length_groups,
    row_extents,
    run_length_chunked,
)


def padded_batch(n: int, width: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, width, dim) with garbage at padding, mask (n, width); lengths 10..width."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(10, width + 1, (n,), generator=g)
    lengths[0] = width
    mask = torch.arange(width)[None, :] < lengths[:, None]
    return torch.randn(n, width, dim, generator=g), mask


@pytest.fixture
def encoder() -> nn.TransformerEncoder:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()


def test_chunked_transformer_is_bitwise_equal(encoder: nn.TransformerEncoder) -> None:
    x, mask = padded_batch(48, 70, 64, seed=1)
    with torch.no_grad():
        full = encoder(x, src_key_padding_mask=~mask)
        (chunked,) = run_length_chunked(
            lambda xs, ms: encoder(xs, src_key_padding_mask=~ms), (x, mask), mask, chunk=16)
    assert chunked.shape == full.shape
    assert torch.equal(chunked[mask], full[mask])
    for group, width in length_groups(row_extents(mask), 16):  # zero past each group's width
        assert torch.equal(chunked[group, width:], torch.zeros_like(chunked[group, width:]))


def test_several_outputs_and_offset_axes() -> None:
    x, mask = padded_batch(20, 33, 8, seed=2)

    def fn(xs: torch.Tensor, ms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, w, _ = xs.shape
        with_cls = torch.cat([torch.ones(n, 1, 8), xs * ms[..., None]], dim=1)  # (n, 1 + w, 8)
        pair = with_cls.sum(-1)[:, :, None] * with_cls.sum(-1)[:, None, :]  # (n, 1+w, 1+w)
        return with_cls, pair, ms.sum(1).float()

    outs = run_length_chunked(fn, (x, mask), mask, chunk=8, width_dims=((1,), (1, 2), ()),
                              offset=1)
    full = fn(x, mask)
    assert [o.shape for o in outs] == [f.shape for f in full]
    assert torch.equal(outs[2], full[2])
    real = torch.cat([torch.ones(20, 1, dtype=torch.bool), mask], dim=1)
    assert torch.equal(outs[0][real], full[0][real])
    both = real[:, :, None] & real[:, None, :]
    assert torch.equal(outs[1][both], full[1][both])


def test_gradients_reach_every_real_position(encoder: nn.TransformerEncoder) -> None:
    x, mask = padded_batch(24, 40, 64, seed=3)
    x.requires_grad_(True)
    (out,) = run_length_chunked(lambda xs, ms: encoder(xs, src_key_padding_mask=~ms),
                                (x, mask), mask, chunk=8)
    out[mask].sum().backward()
    assert bool((x.grad[mask].abs().sum(-1) > 0).all())
    assert torch.equal(x.grad[~mask], torch.zeros_like(x.grad[~mask]))


def test_groups_cover_rows_once_sorted_by_extent() -> None:
    mask = torch.zeros(7, 9, dtype=torch.bool)
    for row, length in enumerate([3, 9, 1, 0, 5, 9, 2]):
        mask[row, :length] = True
    extents = row_extents(mask)
    assert extents.tolist() == [3, 9, 1, 0, 5, 9, 2]
    groups = length_groups(extents, chunk=3)
    assert sorted(torch.cat([g for g, _ in groups]).tolist()) == list(range(7))
    assert [w for _, w in groups] == [2, 9, 9]  # extents 0 1 2 | 3 5 9 | 9
    with pytest.raises(ValueError, match="chunk"):
        length_groups(extents, chunk=0)


def test_length_batches_visit_every_bag_once_in_length_order() -> None:
    lengths = np.array([5, 1, 7, 3, 3, 2, 9])
    ends = np.cumsum(lengths)
    table = TemplateTable(("a",), np.zeros((1, 2), dtype=np.float32))
    bags = BagSet(np.zeros(int(ends[-1]), dtype=np.int32), ends - lengths, ends,
                  np.zeros(len(lengths), dtype=np.int8), table)
    blocks = list(iter_length_batches(bags, 3))
    order = np.concatenate(blocks)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    assert np.all(np.diff(lengths[order]) >= 0)
    assert [len(b) for b in blocks] == [3, 3, 1]
