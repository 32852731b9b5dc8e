"""FlexAttention ``BlockMask`` of a trie (or packed tries) mask, built from subtree ends.

The scorer's mask lets query ``q`` attend to key ``k`` exactly when ``k <= q < end[k]``,
where ``end[k]`` is the end of ``k``'s subtree (a prompt token's end is its segment's end,
padding ends right after itself). Because the allowed keys of a query are then described by
one integer per key, the block structure follows from per-block minima and maxima of ``end``:
no dense evaluation of the mask over all (q, k) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["BLOCK_SIZE", "block_mask_from_end", "end_mask_mod"]

BLOCK_SIZE = 128


def end_mask_mod(end: torch.Tensor) -> Callable[[Any, Any, Any, Any], Any]:
    """The mask_mod ``(b, h, q, k) -> k <= q < end[b, k]`` over a (batch, n) tensor `end`.

    One code object for every call, so that a compiled flex_attention's guards on the
    mask_mod's code hold from one batch to the next.
    """

    def mask_mod(b: Any, h: Any, q: Any, k: Any) -> Any:
        return (k <= q) & (q < end[b, k])

    return mask_mod


def _ordered(chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per q block, the number of chosen kv blocks and their indices first (ascending)."""
    count = chosen.sum(-1, dtype=torch.int32)
    # A stable sort on "not chosen" puts the chosen blocks first, each group in index order.
    indices = torch.sort((~chosen).to(torch.int8), dim=-1, stable=True).indices
    return count, indices.to(torch.int32)


def block_mask_from_end(end: torch.Tensor) -> Any:
    """BlockMask for ``k <= q < end[b, k]`` from the (batch, n) tensor of subtree ends.

    For 128-token blocks, kv block K is needed by q block Q iff ``K <= Q`` and some key of K
    ends after Q's first row (``max(end[K]) > first(Q)``); it is full (no mask_mod needed) iff
    ``K < Q`` and every key of K ends after Q's last row (``min(end[K]) >= last(Q) + 1``).
    Requires ``end[b, k] > k`` (every key sees itself, so no softmax row is empty).

    Parameters
    ----------
    end : torch.Tensor
        Integer tensor of shape (batch, n), n a multiple of 128.

    Returns
    -------
    torch.nn.attention.flex_attention.BlockMask
        With one head dimension (broadcast over heads) and `end_mask_mod` as its mask_mod.

    Raises
    ------
    ValueError
        When n is not a multiple of 128, or `end` is not two-dimensional.
    """
    from torch.nn.attention.flex_attention import BlockMask

    if end.dim() != 2:
        raise ValueError(f"end must have shape (batch, n), got {tuple(end.shape)}")
    batch, n = end.shape
    if n % BLOCK_SIZE:
        raise ValueError(f"the sequence length {n} is not a multiple of {BLOCK_SIZE}")
    # The mask_mod holds `end`; compiled flex_attention guards on its strides, so give it
    # the same (row-major) layout whatever the caller's (e.g. a broadcast row of stride 0).
    end = torch.empty((batch, n), dtype=end.dtype, device=end.device).copy_(end)
    blocks = end.reshape(batch, n // BLOCK_SIZE, BLOCK_SIZE)
    top, bottom = blocks.amax(-1), blocks.amin(-1)  # (batch, kv blocks)
    first = torch.arange(0, n, BLOCK_SIZE, device=end.device)  # each q block's first row
    last = first + BLOCK_SIZE - 1
    kv = torch.arange(n // BLOCK_SIZE, device=end.device)
    lower = kv[None, :] <= kv[:, None]  # (q blocks, kv blocks): K <= Q
    needed = lower & (top[:, None, :] > first[None, :, None])
    full = (kv[None, :] < kv[:, None]) & (bottom[:, None, :] >= last[None, :, None] + 1)
    partial = needed & ~full
    kv_num, kv_indices = _ordered(partial[:, None])
    full_num, full_indices = _ordered(full[:, None])
    return BlockMask.from_kv_blocks(
        kv_num,
        kv_indices,
        full_num,
        full_indices,
        BLOCK_SIZE=BLOCK_SIZE,
        mask_mod=end_mask_mod(end),
    )
