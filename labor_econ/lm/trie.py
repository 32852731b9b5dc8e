"""Token tries of candidate continuations: building them, cutting them into rows, summing paths."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Trie:
    """The candidates' token paths after a shared prompt part, as a trie in DFS preorder.

    A node's subtree is the index range ``[v, end[v])``, so node ``q`` may attend to node ``k``
    exactly when ``k <= q < end[k]`` (``k`` is ``q`` or one of its ancestors).
    """

    tokens: np.ndarray
    parent: np.ndarray  # -1 for children of the root
    depth: np.ndarray  # 1 for children of the root
    end: np.ndarray
    inner: np.ndarray  # nodes with children, ascending
    head_slot: np.ndarray  # 0: logits at the last prompt token; 1 + j: at inner[j]
    levels: tuple[np.ndarray, ...]  # nodes of depth 2, 3, ... for the cumulative sums
    leaf: np.ndarray  # node where each candidate's path ends
    anchor: np.ndarray  # last unscored (prompt) node on each path, -1 if none

    @classmethod
    def build(cls, paths: Sequence[Sequence[int]], unscored: Sequence[int]) -> _Trie:
        """The trie of `paths`; a path's first `unscored` tokens are not scored."""
        grid, lengths = _padded(paths)
        order = _lexicographic(grid)
        trie = cls._from_sorted(grid[order], lengths[order], np.asarray(unscored)[order])
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return dataclasses.replace(trie, leaf=trie.leaf[back], anchor=trie.anchor[back])

    @classmethod
    def _from_sorted(cls, grid: np.ndarray, lengths: np.ndarray, unscored: np.ndarray) -> _Trie:
        """The trie of the rows of `grid` (paths padded with -1, in lexicographic order).

        In that order a path adds a node for each of its tokens after the prefix it shares
        with the path before, and listing the added nodes row by row is a DFS preorder.
        """
        k, width = grid.shape
        column = np.arange(width)
        valid = column < lengths[:, None]
        shared = np.zeros(k, dtype=np.int64)
        if k > 1:
            same = (grid[1:] == grid[:-1]) & valid[1:] & valid[:-1]
            same = np.concatenate([same, np.zeros((k - 1, 1), dtype=bool)], axis=1)
            shared[1:] = np.argmin(same, axis=1)
        new = valid & (column >= shared[:, None])
        number = np.cumsum(new.ravel()).reshape(k, width) - 1
        # A token shared with the path before is the node the latest path adding it made.
        maker = np.maximum.accumulate(np.where(new, np.arange(k)[:, None], 0), axis=0)
        node = np.where(valid, number[maker, column], -1)
        rows, cols = np.nonzero(new)
        n = len(rows)
        tokens = grid[rows, cols]
        depth = cols + 1
        parent = np.where(cols > 0, node[rows, np.maximum(cols - 1, 0)], -1)
        by_depth = np.argsort(depth, kind="stable")
        levels = tuple(np.split(by_depth, np.cumsum(np.bincount(depth))[1:-1]))[1:]
        size = np.ones(n, dtype=np.int64)
        for nodes in reversed(levels):
            np.add.at(size, parent[nodes], size[nodes])
        inner = np.flatnonzero(np.bincount(parent[parent >= 0], minlength=n))
        head_slot = np.where(parent >= 0, 1 + np.searchsorted(inner, parent), 0)
        leaf = node[np.arange(k), lengths - 1]
        anchor = np.where(unscored > 0, node[np.arange(k), np.maximum(unscored - 1, 0)], -1)
        end = np.arange(n) + size
        return cls(tokens, parent, depth, end, inner, head_slot, levels, leaf, anchor)

    def log_q(self, lp: np.ndarray) -> np.ndarray:
        """Sum node log-probabilities ``lp`` along each candidate's scored path."""
        cum = lp.astype(np.float64)
        for nodes in self.levels:
            cum[nodes] += cum[self.parent[nodes]]
        start = np.where(self.anchor >= 0, cum[np.maximum(self.anchor, 0)], 0.0)
        return cum[self.leaf] - start


def _padded(paths: Sequence[Sequence[int]], fill: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Token paths as rows of an array right-padded with `fill`, and their lengths."""
    lengths = np.fromiter(map(len, paths), dtype=np.int64, count=len(paths))
    grid = np.full((len(paths), int(lengths.max())), fill, dtype=np.int64)
    grid[np.arange(grid.shape[1]) < lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(paths), dtype=np.int64, count=int(lengths.sum())
    )
    return grid, lengths


def _lexicographic(grid: np.ndarray) -> np.ndarray:
    """Order of the rows of `grid` sorted as token sequences (a prefix first: pads are -1)."""
    return np.lexsort(grid.T[::-1])


@dataclass(frozen=True)
class _Paths:
    """Every candidate's token path after one prompt boundary, before it is cut into tries.

    A path starts with `unscored` prompt tokens when the candidate merged with the prompt's
    tail; `drop` prompt tokens (the most any candidate needs) leave the prompt part.
    """

    paths: tuple[tuple[int, ...], ...]
    unscored: tuple[int, ...]
    drop: int

    def tries(
        self, max_nodes: int | None, *, fed: bool = False
    ) -> tuple[tuple[_Trie, np.ndarray], ...]:
        """Cut into tries of at most `max_nodes` nodes, each with the columns it scores.

        A path longer than `max_nodes` gets a trie of its own; None keeps a single trie.
        With `fed`, only the nodes fed to the model (inner nodes) count, so that rows of
        fed nodes come out nearly equal (little padding).
        """
        grid, lengths = _padded(self.paths)
        order = _lexicographic(grid)
        grid, lengths, unscored = grid[order], lengths[order], np.asarray(self.unscored)[order]
        bounds = [0]
        if max_nodes is not None:
            # In lexicographic order a path adds len - (prefix shared with the previous) nodes,
            # all inner but its last, which is inner too when the next path extends it.
            same = (grid[1:] == grid[:-1]) & (grid[1:] >= 0)
            same = np.concatenate([same, np.zeros((len(same), 1), dtype=bool)], axis=1)
            shared = np.concatenate([[0], np.argmin(same, axis=1)])
            leaf_only = np.zeros(len(order), dtype=np.int64)
            if fed:
                leaf_only = 1 - np.append(shared[1:] == lengths[:-1], False)
            whole = (lengths - leaf_only).tolist()
            added = (lengths - shared - leaf_only).tolist()
            size = whole[0]
            for i in range(1, len(order)):
                if size + added[i] > max_nodes:
                    bounds.append(i)
                    size = whole[i]
                else:
                    size += added[i]
        bounds.append(len(order))
        return tuple(
            (_Trie._from_sorted(grid[a:b], lengths[a:b], unscored[a:b]), order[a:b])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        )
