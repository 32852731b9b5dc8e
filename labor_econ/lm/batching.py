"""Training batches without padding waste: packing, length grouping and token budgets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch

__all__ = [
    "PACKING_ATTENTION",
    "VARLEN_ATTENTION",
    "TokenBudgetBatchSampler",
    "pad_collator",
    "packed_collator",
    "resolve_packing",
]

IGNORE = -100  # label ignored by the causal-LM loss

# Attention implementations that keep packed resumes apart when given position ids that
# restart at 0 for every resume and no attention mask. The flash-attention kernels read the
# sequence boundaries (variable-length kernels: no compute across resumes); sdpa, eager and
# flex attention get a block-diagonal causal mask from transformers' masking_utils
# (`find_packed_sequence_indices`, transformers 5.x), exact but computed over the whole
# packed row.
VARLEN_ATTENTION = frozenset({"flash_attention_2", "flash_attention_3"})
PACKING_ATTENTION = VARLEN_ATTENTION | {"sdpa", "eager", "flex_attention"}


def resolve_packing(model: Any, packing: bool | Literal["auto"]) -> bool:
    """Whether to pack resumes into padding-free batches for ``model``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The model to train; its attention implementation decides.
    packing : bool or "auto"
        ``"auto"`` packs with flash attention, whose variable-length kernels attend within
        each resume only, and pads otherwise: with sdpa or eager attention a packed row
        of T tokens costs T^2 attention, more than the little padding left in
        length-grouped batches (``bench_finetune.py --tiny`` on CPU, batch_tokens=1024:
        0.54-0.55 and 0.32-0.41 of the plain loop's speed packed, 0.91-1.06 and
        0.82-0.93 padded, for LoRA and full fine-tuning). ``True`` packs with any
        implementation that keeps packed resumes apart, or raises; ``False`` pads.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If ``packing=True`` and the model's attention implementation cannot keep packed
        resumes apart.
    """
    if packing not in (True, False, "auto"):
        raise ValueError(f"packing must be True, False or 'auto', got {packing!r}")
    if packing is False:
        return False
    attention = getattr(model.config, "_attn_implementation", None)
    if packing == "auto":
        return attention in VARLEN_ATTENTION
    if attention not in PACKING_ATTENTION or not _masking_detects_packing():
        raise ValueError(
            f"packing=True needs an attention implementation that keeps packed sequences "
            f"apart ({', '.join(sorted(PACKING_ATTENTION))}); the model uses {attention!r}. "
            "Load it with one of these, or pass packing=False."
        )
    return True


def _masking_detects_packing() -> bool:
    try:
        from transformers import masking_utils
    except ImportError:  # pragma: no cover - transformers < 4.53
        return False
    return hasattr(masking_utils, "find_packed_sequence_indices")


def pad_collator(pad_id: int):
    """Collate examples into right-padded ``input_ids``, ``labels`` and ``attention_mask``."""

    def collate(batch: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def packed_collator(flash_attention: bool = False):
    """Collate examples into one padding-free row with position ids restarting per example.

    transformers' ``DataCollatorWithFlattening``: every example's first label becomes
    ``-100``, so no resume predicts the next one's first token; the label at position 0 is
    never a target of the shifted causal-LM loss anyway, so the trained tokens are exactly
    those of the padded batch. With ``flash_attention`` the sequence boundaries are also
    passed as ``cu_seq_lens`` (saves deriving them from the position ids on every layer).
    """
    from transformers import DataCollatorWithFlattening

    return DataCollatorWithFlattening(
        return_position_ids=True, return_flash_attn_kwargs=flash_attention
    )


class TokenBudgetBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of resumes holding at most ``max_tokens`` tokens each.

    The batches are formed once and visited in a new random order every epoch (seed +
    epoch, the same on every process), as fairseq's ``batch_by_size`` does: the number of
    steps per epoch is fixed and no batch ever exceeds the budget. With ``padded=True`` the
    budget counts padded tokens (rows x longest resume) and the resumes are grouped by
    length, so that little is padded; with ``padded=False`` (packing) it counts real
    tokens and the resumes are grouped at random.

    Parameters
    ----------
    lengths : sequence of int
        Token count of every example.
    max_tokens : int
        Token budget of one batch.
    padded : bool
        Whether batches are padded to their longest example.
    seed : int
        Seed of the grouping and of the order of batches.
    ids : sequence, optional
        Labels of the examples (person ids) for error messages.

    Raises
    ------
    ValueError
        If the budget is not positive or one example alone exceeds it.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_tokens: int,
        *,
        padded: bool,
        seed: int = 0,
        ids: Sequence[Any] | None = None,
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"batch_tokens must be positive, got {max_tokens}")
        lengths = [int(n) for n in lengths]
        for i, n in enumerate(lengths):
            if n > max_tokens:
                who = ids[i] if ids is not None else i
                raise ValueError(
                    f"the resume of person {who!r} has {n} tokens, more than "
                    f"batch_tokens={max_tokens}; raise batch_tokens"
                )
        self.max_tokens = max_tokens
        self.seed = seed
        self.epoch = 0
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(lengths), generator=gen).tolist()
        if padded:
            order.sort(key=lengths.__getitem__)  # stable: ties stay in random order
        self.batches: list[list[int]] = []
        current: list[int] = []
        longest = total = 0
        for i in order:
            n = lengths[i]
            cost = max(longest, n) * (len(current) + 1) if padded else total + n
            if current and cost > max_tokens:
                self.batches.append(current)
                current, longest, total = [], 0, 0
            current.append(i)
            longest, total = max(longest, n), total + n
        if current:
            self.batches.append(current)

    def set_epoch(self, epoch: int) -> None:
        """Reorder the batches for ``epoch`` (the Trainer calls it before every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator().manual_seed(self.seed + 1 + self.epoch)
        for j in torch.randperm(len(self.batches), generator=gen).tolist():
            yield list(self.batches[j])
