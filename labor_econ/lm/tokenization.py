"""Tokenization for scoring: the tokenizer's own prefix, joint prompt + candidate splits and
where a prompt's last wave (the key of the scorer's tokenization caches) begins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class _Tokenization:
    """Tokenization shared by all scoring paths: the tokenizer's own prefix, then the text."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        probe = "a"
        with_special = tokenizer(probe, add_special_tokens=True)["input_ids"]
        plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
        for i in range(len(with_special) - len(plain) + 1):
            if with_special[i : i + len(plain)] == plain:
                self.prefix = list(with_special[:i])
                break
        else:
            raise ValueError(
                "cannot tell which special tokens the tokenizer adds before a text: "
                f"{with_special} with special tokens vs {plain} without"
            )

        self._backend = _plain_backend(tokenizer)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text; special-token strings in it ("</s>") are read as text."""
        if not texts:
            return []
        backend = self._backend
        if backend is not None and backend.truncation is None and backend.padding is None:
            # What tokenizer(texts, add_special_tokens=False, split_special_tokens=True) runs,
            # without building offsets and Python encodings it would discard (3x faster).
            batch = getattr(backend, "encode_batch_fast", backend.encode_batch)
            split = backend.encode_special_tokens
            backend.encode_special_tokens = True
            try:
                return [e.ids for e in batch(list(texts), add_special_tokens=False)]
            finally:
                backend.encode_special_tokens = split
        ids = self.tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)
        return [list(i) for i in ids["input_ids"]]


def _plain_backend(tokenizer: Any) -> Any:
    """The Rust tokenizer behind `tokenizer` when calling it adds nothing but the Rust call.

    That holds for transformers' fast tokenizers whose class keeps the library's own
    ``__call__`` and ``_encode_plus`` (Llama, Mistral, Qwen, GPT-2, ...); None otherwise.
    """
    try:
        from transformers.tokenization_utils_base import PreTrainedTokenizerBase
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:
        return None
    cls = type(tokenizer)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if (
        not isinstance(tokenizer, TokenizersBackend)
        or cls.__call__ is not PreTrainedTokenizerBase.__call__
        or cls._encode_plus is not TokenizersBackend._encode_plus
        or not hasattr(backend, "encode_special_tokens")
    ):
        return None
    return backend


def _split_joint(
    prompt_ids: Sequence[int], joint_ids: Sequence[int], offset: int, prompt: str, candidate: str
) -> int:
    """Shared length of a prompt's tokens and the joint tokenization of prompt + candidate.

    Where the two agree on the whole prompt this is ``len(prompt_ids)``. Where tokens merge
    across the boundary (a prompt ending in a space, or mid-word), it is shorter: the prompt
    tokens after it are scored as part of the candidate's joint tokens, which is what the model
    predicts when it reads prompt + candidate as one text.
    """
    m = _common_prefix(prompt_ids, joint_ids)
    if offset + m == 0:
        raise ValueError(
            f"the candidate {candidate!r} merges with the first token of the prompt {prompt!r}, "
            "which leaves no context to condition on; start the prompt with more text or use a "
            "tokenizer that adds a BOS token"
        )
    if len(joint_ids) == m:
        raise ValueError(
            f"the candidate {candidate!r} adds no tokens after the prompt {prompt!r}; check the "
            "candidate strings"
        )
    return m


def _segment_starts(prompts: Sequence[str], starts: Sequence[int] | None) -> list[int]:
    """Where the cached last segment of each prompt begins (its cache key is the text after).

    Default: after the last line break before the final character. Given `starts`, they are
    checked to lie inside their prompts; an offset of 0 turns the cache off for that prompt.
    """
    if starts is None:
        return [p.rfind("\n", 0, len(p) - 1) + 1 for p in prompts]
    starts = list(starts)
    if len(starts) != len(prompts):
        raise ValueError(f"got {len(starts)} starts for {len(prompts)} prompts; pass one each")
    bad = [
        i
        for i, (p, s) in enumerate(zip(prompts, starts, strict=True))
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or not 0 <= s < len(p)
    ]
    if bad:
        i = bad[0]
        raise ValueError(
            f"starts[{i}] = {starts[i]!r} is not an offset inside prompt {i} (length "
            f"{len(prompts[i])}); {len(bad)} bad entries"
        )
    return [int(s) for s in starts]


def _context_start(prompt: str, cut: int, by_lines: bool) -> int:
    """Start of the text before `cut` that checks the cached tokenization: the line before
    (line-cut prompts), else as many characters as the segment, from a word's start."""
    if by_lines:
        return prompt.rfind("\n", 0, cut - 1) + 1
    start = max(0, cut - max(len(prompt) - cut, 32))
    while start > 0 and not prompt[start - 1].isspace():
        start -= 1
    return start
