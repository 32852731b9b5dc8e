"""Certified pruning of a candidate trie: which nodes to feed next, level by level, and
what was left out (`Pruning`).

A node's prefix probability bounds the total probability of the candidates below it, and is
known as soon as its parent has been fed. The scorer (`CandidateScorer.score(...,
tolerance=)`) feeds, level by level, every frontier node but the smallest, whose prefix
probabilities together stay within the tolerance of the mass found; the observed
candidate's path is always fed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labor_econ.lm.trie import _Trie

__all__ = ["Pruning"]


@dataclass(frozen=True)
class Pruning:
    """What a pruned `CandidateScorer.score` left out, per prompt.

    Attributes
    ----------
    tolerance : float
        The tolerance scored with.
    found : numpy.ndarray
        Mass of the candidates expanded (sum of their q).
    unexpanded : numpy.ndarray
        Sum of the prefix probabilities of the subtrees left unexpanded: at least the
        mass of every candidate in them, and at most ``tolerance * found``.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import numpy as np
    >>> from labor_econ import CandidateScorer, ResumeTemplate
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> prompts = template.prompts(val).iloc[:3].tolist()
    >>> candidates = template.continuations(val.taxonomy)
    >>> scorer = CandidateScorer(lm)
    >>> logq = scorer.score(prompts, candidates, tolerance=0.05)
    >>> pruning = scorer.last_pruning
    >>> pruning.tolerance, pruning.found.shape
    (0.05, (3,))
    >>> bool((pruning.unexpanded <= pruning.tolerance * pruning.found).all())
    True
    >>> bool(pruning.max_bound <= np.log1p(pruning.tolerance))
    True
    """

    tolerance: float
    found: np.ndarray
    unexpanded: np.ndarray

    @property
    def log_bound(self) -> np.ndarray:
        """Per prompt, the width ``log1p(unexpanded / found)`` of the interval holding an
        expanded candidate's normalized log-probability: between ``log q - log(found +
        unexpanded)`` (its value from the returned scores, whose filled-in candidates sum to
        the unexpanded mass) and ``log q - log(found)``."""
        with np.errstate(divide="ignore"):
            return np.log1p(self.unexpanded / self.found)

    @property
    def max_bound(self) -> float:
        """The largest `log_bound` (0.0 for no prompts)."""
        return float(self.log_bound.max()) if len(self.found) else 0.0

    @property
    def total_bound(self) -> float:
        """The sum of `log_bound`: a bound on the error of a sum of observed log p."""
        return float(self.log_bound.sum())


class _PruneState:
    """One prompt's trie during level-by-level expansion: known prefix log-probabilities
    (``logp``, NaN until the parent is fed), fed nodes and their cache slots."""

    def __init__(self, trie: _Trie, observed: int, tolerance: float) -> None:
        self.trie = trie
        n = len(trie.tokens)
        self.logp = np.full(n, np.nan)
        self.fed = np.zeros(n, dtype=bool)
        self.slot = np.full(n, -1, dtype=np.int64)
        self.is_inner = np.zeros(n, dtype=bool)
        self.is_inner[trie.inner] = True
        order = np.argsort(trie.parent, kind="stable")
        bounds = np.searchsorted(trie.parent[order], np.arange(-1, n + 1))
        self._order, self._bounds = order, bounds
        # Merged prompt tokens (anchors) are not scored: such prompts are expanded in full.
        self.tolerance = tolerance if (trie.anchor < 0).all() else 0.0
        self.must = np.zeros(n, dtype=bool)  # the observed candidate's path
        if observed >= 0:
            v = int(trie.leaf[observed])
            while v >= 0:
                self.must[v] = True
                v = int(trie.parent[v])
        self.deferred = np.zeros(n, dtype=bool)

    def children(self, v: int) -> np.ndarray:
        return self._order[self._bounds[v + 1] : self._bounds[v + 2]]

    def learn(self, v: int, children: np.ndarray, lp: np.ndarray) -> None:
        base = 0.0 if v < 0 else self.logp[v]
        self.logp[children] = base + lp
        if v >= 0:
            self.fed[v] = True

    def ancestor_slots(self, v: int) -> list[int]:
        out = []
        v = int(self.trie.parent[v])
        while v >= 0:
            out.append(int(self.slot[v]))
            v = int(self.trie.parent[v])
        return out

    def found(self) -> float:
        q = self.logp[self.trie.leaf]
        return float(np.exp(q[~np.isnan(q)]).sum())

    def choose(self) -> list[int]:
        """Frontier nodes to feed next: all but the smallest, whose prefix probabilities
        sum to at most `tolerance` times (mass found + frontier mass), an optimistic guess
        at the mass the expansion ends with; when nothing is left to feed and the deferred
        nodes exceed `tolerance` times the mass found, the largest of them (repair)."""
        frontier = np.flatnonzero(~np.isnan(self.logp) & self.is_inner & ~self.fed)
        if len(frontier) == 0:
            return []
        p = np.exp(self.logp[frontier])
        found = self.found()
        optional = ~self.must[frontier]
        order = np.argsort(p[optional], kind="stable")
        room = self.tolerance * (found + p.sum())
        defer = np.zeros(len(frontier), dtype=bool)
        defer_idx = np.flatnonzero(optional)[order]
        if room > 0:  # tolerance 0 (or nothing found yet by a repair) expands everything
            defer[defer_idx[np.cumsum(p[optional][order]) <= room]] = True
        if defer.all():
            # Repair: the guess was optimistic (mass was lost to text that is no candidate).
            room = self.tolerance * found
            order = np.argsort(-p, kind="stable")
            rest = p.sum() - np.cumsum(p[order])  # deferred mass left after expanding 0..i
            if p.sum() <= room:
                self.deferred[:] = False
                self.deferred[frontier] = True
                return []
            need = int(np.argmax(rest <= room)) + 1
            defer[order[:need]] = False
        return frontier[~defer].tolist()

    def unexpanded(self) -> float:
        frontier = ~np.isnan(self.logp) & self.is_inner & ~self.fed
        return float(np.exp(self.logp[frontier]).sum())

    def log_q(self) -> np.ndarray:
        """log q of every candidate in the trie's (lexicographic) order; a candidate under
        an unexpanded node gets that node's prefix log-probability split evenly over the
        candidates under it."""
        trie = self.trie
        q = self.logp[trie.leaf].copy()
        anchored = trie.anchor >= 0
        q[anchored] -= self.logp[trie.anchor[anchored]]
        missing = np.flatnonzero(np.isnan(q))
        if len(missing):
            owner = np.empty(len(missing), dtype=np.int64)
            for j, k in enumerate(missing):
                v = int(trie.leaf[k])
                while np.isnan(self.logp[v]) or not self.is_inner[v] or self.fed[v]:
                    v = int(trie.parent[v])
                owner[j] = v
            nodes, counts = np.unique(owner, return_counts=True)
            shares = (self.logp[nodes] - np.log(counts)).tolist()
            share = dict(zip(nodes.tolist(), shares, strict=True))
            q[missing] = [share[v] for v in owner.tolist()]
        return q
