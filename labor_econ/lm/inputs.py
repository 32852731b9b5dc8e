"""Checks of what the scorer is given: prompts, candidate continuations, context length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["ContextLengthError"]


class ContextLengthError(ValueError):
    """Prompts (with their longest candidate) exceed the model's context window.

    Attributes
    ----------
    rows : list of tuple
        ``(prompt index, tokens needed)`` for every prompt that does not fit.
    limit : int
        The model's ``max_position_embeddings``.
    """

    def __init__(
        self, rows: list[tuple[int, int]], limit: int, labels: Sequence[Any] | None = None
    ) -> None:
        self.rows, self.limit = rows, limit
        listed = ", ".join(
            f"{f'prompt {i}' if labels is None else labels[i]} ({n:,} tokens)" for i, n in rows[:10]
        )
        if len(rows) > 10:
            listed += f", ... ({len(rows)} in all)"
        super().__init__(
            f"{len(rows)} prompt(s) are longer than the model's context of {limit:,} tokens "
            f"(max_position_embeddings), counting the prompt and its longest candidate: {listed}; "
            "shorten the prompts (fewer past years or a shorter header) or use a model with a "
            "longer context"
        )

    def relabel(self, labels: Sequence[Any]) -> ContextLengthError:
        """The same error naming each prompt by ``labels[i]`` (e.g. its person and year)."""
        return ContextLengthError(self.rows, self.limit, labels)


def _check_texts(values: Any, what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    values = list(values)
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{what} must be strings; entries {bad[:5]} are not")
    empty = [i for i, v in enumerate(values) if v == ""]
    if empty:
        raise ValueError(
            f"{what} contain {len(empty)} empty strings (positions {empty[:10]}); every entry "
            "needs text"
        )
    return values


def _check_candidates(candidates: Any) -> list[str]:
    candidates = _check_texts(candidates, "candidates")
    if not candidates:
        raise ValueError("candidates is empty: pass at least one candidate continuation")
    seen: dict[str, int] = {}
    duplicates = []
    for c in candidates:
        seen[c] = seen.get(c, 0) + 1
        if seen[c] == 2:
            duplicates.append(c)
    if duplicates:
        raise ValueError(
            f"candidates contain duplicates: {duplicates[:10]!r}; each outcome must appear once"
        )
    return candidates
