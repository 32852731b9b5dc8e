"""Checks of what the scorer is given: prompts, candidate continuations, context length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labor_econ.errors import LaborEconError

__all__ = ["ContextLengthError", "PrefixCandidatesError", "check_no_prefix_candidates"]


class ContextLengthError(LaborEconError, ValueError):
    """Prompts (with their longest candidate) exceed the model's context window.

    Attributes
    ----------
    rows : list of tuple
        ``(prompt index, tokens needed)`` for every prompt that does not fit.
    limit : int
        The model's ``max_position_embeddings``.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ import CandidateScorer, ResumeTemplate
    >>> from labor_econ.lm import ContextLengthError
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> prompts = template.prompts(val).iloc[:2].tolist()
    >>> too_long = [prompts[0] * 100, prompts[1]]  # the demo model reads 2,048 tokens
    >>> try:
    ...     CandidateScorer(lm).score(too_long, template.continuations(val.taxonomy))
    ... except ContextLengthError as err:
    ...     print(err)
    ...     error = err
    1 prompt(s) are longer than the model's context of 2,048 tokens (max_position_embeddings),
    counting the prompt and its longest candidate: prompt 0 (... tokens); shorten the prompts
    (fewer past years or a shorter header) or use a model with a longer context
    >>> [i for i, _ in error.rows], error.limit
    ([0], 2048)
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


class PrefixCandidatesError(LaborEconError, ValueError):
    """Candidate continuations of which one is a prefix of another.

    Scored as outcomes of one draw, such candidates double-count mass: the text that
    continues with ``" Clerk.Typist."`` also begins with ``" Clerk."``, so ``q(" Clerk.")``
    includes all of ``q(" Clerk.Typist.")``.

    Attributes
    ----------
    pairs : list of tuple
        ``(shorter, longer)`` labels (titles or codes) of every pair found, shorter first.

    Examples
    --------
    A template whose terminator (here ``"."``) can occur inside a title:

    >>> from labor_econ.lm import PrefixCandidatesError, check_no_prefix_candidates
    >>> try:
    ...     check_no_prefix_candidates([" Clerk.", " Clerk.Typist.", " Cashier."],
    ...                                labels=["Clerk", "Clerk-typist", "Cashier"])
    ... except PrefixCandidatesError as err:
    ...     print(err.pairs)
    [('Clerk', 'Clerk-typist')]
    """

    def __init__(self, pairs: list[tuple[Any, Any]], texts: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        listed = "; ".join(
            f"{a!r} ({ta!r}) is a prefix of {b!r} ({tb!r})"
            for (a, b), (ta, tb) in zip(pairs[:10], texts[:10], strict=True)
        )
        if len(pairs) > 10:
            listed += f"; ... ({len(pairs)} pairs in all)"
        super().__init__(
            f"{len(pairs)} candidate continuation(s) are prefixes of others, so their "
            f"probabilities would double-count mass: {listed}. Rename the titles or codes, or "
            "use a template whose terminator cannot occur inside a title (e.g. a line break)"
        )


def check_no_prefix_candidates(
    candidates: Sequence[str], labels: Sequence[Any] | None = None
) -> None:
    """Refuse candidate continuations of which one is a string prefix of another.

    Parameters
    ----------
    candidates : sequence of str
        The K continuations, e.g. ``ResumeTemplate.continuations(taxonomy)``.
    labels : sequence, optional
        What names each candidate in the error (its title or code); default the text.

    Raises
    ------
    PrefixCandidatesError
        Naming every pair (shorter, longer).

    Examples
    --------
    >>> from labor_econ import ResumeTemplate
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.lm import check_no_prefix_candidates
    >>> panel = wage_panel()
    >>> check_no_prefix_candidates(ResumeTemplate.preset("labor_llm").continuations(panel.taxonomy))
    >>> try:
    ...     check_no_prefix_candidates([" Clerk.", " Clerk.Typist.", " Cashier."])
    ... except ValueError as err:
    ...     print(err)
    1 candidate continuation(s) are prefixes of others, so their probabilities would double-count
    mass: ' Clerk.' (' Clerk.') is a prefix of ' Clerk.Typist.' (' Clerk.Typist.'). Rename the
    titles or codes, or use a template whose terminator cannot occur inside a title (e.g. a line
    break)
    """
    labels = list(candidates) if labels is None else list(labels)
    # In sorted order a string is followed by every string it is a prefix of, so checking
    # each string against the next ones while they start with it finds every pair.
    order = sorted(range(len(candidates)), key=candidates.__getitem__)
    pairs, texts = [], []
    for j, a in enumerate(order):
        for b in order[j + 1 :]:
            if not candidates[b].startswith(candidates[a]):
                break
            if candidates[b] != candidates[a]:
                pairs.append((labels[a], labels[b]))
                texts.append((candidates[a], candidates[b]))
    if pairs:
        raise PrefixCandidatesError(pairs, texts)
