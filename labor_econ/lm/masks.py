"""Row layout and attention masks of trie rows for sdpa (boolean), eager (additive float) and
FlexAttention (a ``BlockMask``, see `labor_econ.lm.blockmask`), and packed row lengths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from labor_econ.lm.blockmask import BLOCK_SIZE, block_mask_from_end, end_mask_mod

if TYPE_CHECKING:
    from labor_econ.lm.trie import _Trie


def _has_flex_attention() -> bool:
    try:
        from torch.nn.attention.flex_attention import create_block_mask  # noqa: F401
    except ImportError:
        return False
    return True


def attention_mask(end: torch.Tensor, implementation: str, dtype: torch.dtype) -> Any:
    """Mask (batch, 1, q, kv) allowing ``k <= q < end[b, k]``, in the attention's format.

    sdpa: a boolean tensor; eager: an additive float tensor in `dtype`; flex_attention: a
    ``BlockMask``, whose empty blocks (most of a trie's mask) are skipped, built from
    per-block extremes of `end` where the length is a multiple of 128 (packed rows).
    """
    n = end.shape[1]
    if implementation == "flex_attention":
        if n % BLOCK_SIZE == 0:
            return block_mask_from_end(end)
        from torch.nn.attention.flex_attention import create_block_mask

        return create_block_mask(end_mask_mod(end), end.shape[0], None, n, n, device=end.device)
    pos = torch.arange(n, device=end.device)
    allowed = (pos[None, None, :] <= pos[None, :, None]) & (pos[None, :, None] < end[:, None, :])
    return mask_format(allowed[:, None], implementation, dtype)


def mask_format(allowed: torch.Tensor, implementation: str, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask for sdpa; for eager an additive float mask in `dtype` (eager would add
    a boolean mask as 0/1)."""
    if implementation == "eager":
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
            ~allowed, torch.finfo(dtype).min
        )
    return allowed


def _round_up(n: int, multiple: int) -> int:
    return -(-int(n) // multiple) * multiple


def _pack_length(budget: int, longest: int) -> int:
    """Packed sequence length L: the token budget rounded up to a multiple of 128; where a
    row is longer than that, a power of two times 128 that holds it (few distinct shapes)."""
    length = _round_up(budget, BLOCK_SIZE)
    if length < longest:
        length = BLOCK_SIZE * 2 ** int(np.ceil(np.log2(-(-longest // BLOCK_SIZE))))
    return length


# Packed FlexAttention rows take the packed length L or one of these fractions of it (the
# last, short batch of a call), each compiled once: few shapes, little padding.
_PACK_FRACTIONS = (1, 4, 16)


def _packed_width(tokens: int, length: int | None) -> int:
    """Sequence length for `tokens` packed tokens: the smallest of L, L/4, L/16 (multiples
    of 128) that holds them, for the packed length L (default: `tokens` rounded up)."""
    length = _round_up(max(tokens, 1), BLOCK_SIZE) if length is None else length
    widths = sorted({_round_up(max(length // f, 1), BLOCK_SIZE) for f in _PACK_FRACTIONS})
    return next((w for w in widths if w >= tokens), _round_up(tokens, BLOCK_SIZE))


def _lay_out(
    plans: Sequence[tuple[list[int], _Trie]], pad_id: int, width: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, position ids and subtree ends of (prompt, trie) rows, and the head rows.

    One padded row per plan (`width` None), or all plans packed one after another into a
    single row of `width` tokens. A prompt token's end is its segment's end and padding
    attends to itself only (so that no softmax row is empty); positions restart at 0 in
    every segment. Packing is exact because no end passes its segment's end. The head rows
    index the flattened (rows * width) hidden states: each plan's last prompt token, then
    its inner trie nodes.
    """
    sizes = np.array([len(ids) + len(trie.inner) for ids, trie in plans], dtype=np.int64)
    packed = width is not None
    if width is None:
        rows, width = len(plans), int(sizes.max())
        starts = np.zeros(len(plans), dtype=np.int64)
    else:
        if sizes.sum() > width:  # a bug, not bad input
            raise AssertionError(f"{sizes.sum()} tokens do not fit a packed row of {width}")
        rows, starts = 1, np.concatenate([[0], np.cumsum(sizes)[:-1]])
    input_ids = np.full((rows, width), pad_id, dtype=np.int64)
    position_ids = np.zeros((rows, width), dtype=np.int64)
    end = np.arange(1, width + 1, dtype=np.int64)[None, :].repeat(rows, axis=0)
    head_rows = []
    for b, ((ids, trie), c) in enumerate(zip(plans, starts, strict=True)):
        r = 0 if packed else b
        fed = trie.inner
        p, m = len(ids), len(fed)
        input_ids[r, c : c + p] = ids
        input_ids[r, c + p : c + p + m] = trie.tokens[fed]
        position_ids[r, c : c + p] = np.arange(p)
        position_ids[r, c + p : c + p + m] = p + trie.depth[fed] - 1
        end[r, c : c + p] = c + p + m
        end[r, c + p : c + p + m] = c + p + np.searchsorted(fed, trie.end[fed])
        head_rows.append(r * width + c + np.arange(p - 1, p + m))
    return input_ids, position_ids, end, np.concatenate(head_rows)
