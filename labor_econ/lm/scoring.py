"""Log-probabilities of K candidate continuations per prompt under a causal LM, via a token trie."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labor_econ.lm.blockmask import BLOCK_SIZE, block_mask_from_end, end_mask_mod
from labor_econ.lm.loading import CausalLM, resolve_dtype

__all__ = ["CandidateScorer", "ContextLengthError", "naive_score"]

_SUPPORTED_ATTENTION = ("flex_attention", "sdpa", "eager")
_HEAD_CHUNK_ROWS = 2048
# On CPU smaller chunks of logits stay in cache between the matmul, log_softmax and gather:
# 1 thread, 8268 rows: vocab 2048 (hidden 64) 56-58 ms at 64-256 rows vs 110 at 2048;
# vocab 32000 (hidden 512, 1024 rows) 663 ms at 256 vs 977 at 2048.
_CPU_HEAD_CHUNK_ROWS = 256
_CPU_BATCH_TOKENS = 8192
# An attended pair costs less time than its FLOPs say next to a token (fused attention
# kernels vs. memory-bound norms, rotary embeddings and activations). Measured on 2 CPU cores
# with the tiny Llama at K = 300: the fastest cut was 2-4x the FLOP optimum (512 nodes, not
# 256: 1.4x faster). Models of a billion parameters and more still never cut a trie.
_PAIR_DISCOUNT = 4.0
# Trie nodes per row where the rows share their prompt's keys and values (CPU, sdpa/eager):
# rows of N nodes cost N * (prompt + N) attended pairs; measured on 2 CPU cores with the tiny
# Llama at K = 300 (prompt ~150 tokens), 128 was fastest (64: 1.4x, 256: 1.2x its time).
_SHARED_ROW_NODES = 128
# torch.cuda.OutOfMemoryError is an alias of torch.OutOfMemoryError where the latter exists.
_OOM_ERRORS = tuple(
    {getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), torch.cuda.OutOfMemoryError}
)


class ContextLengthError(ValueError):
    """Prompts (with their longest candidate) exceed the model's context window.

    Attributes
    ----------
    rows : list of tuple
        ``(prompt index, tokens needed)`` for every prompt that does not fit.
    limit : int
        The model's ``max_position_embeddings``.

    Examples
    --------
    >>> from labor_econ.lm import ContextLengthError
    >>> print(ContextLengthError([(0, 5000)], 2048))
    1 prompt(s) are longer than the model's context of 2,048 tokens (max_position_embeddings),
    counting the prompt and its longest candidate: prompt 0 (5,000 tokens); shorten the prompts
    (fewer past years or a shorter header) or use a model with a longer context
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


def _has_flex_attention() -> bool:
    try:
        from torch.nn.attention.flex_attention import create_block_mask  # noqa: F401
    except ImportError:
        return False
    return True


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


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run with dropout off, restoring the model's training flag afterwards."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


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


class CandidateScorer:
    """Score K candidate continuations of many prompts with one forward pass per prompt.

    For each prompt the input is the prompt's tokens followed by the inner nodes of a token
    trie holding every candidate's continuation; an attention mask lets each trie node see the
    whole prompt, its ancestors and itself, and its position id is prompt length + depth - 1,
    so every node gets exactly the hidden state it would get in prompt + candidate alone. The
    LM head runs only at the last prompt token and at inner trie nodes; log-softmax is taken in
    float32. Leaves (the last token of a candidate) are not fed through the model at all: a
    node's log-probability comes from its parent's logits, and a leaf's own hidden state is
    never used. Several prompts share a forward pass up to a token budget.

    Parameters
    ----------
    lm : CausalLM
        The model and tokenizer (see `load_lm`).
    batch_tokens : int or "auto", default "auto"
        Budget of (padded) tokens per forward pass; a sequence longer than that runs alone.
        ``"auto"``: sized from the free GPU memory (``torch.cuda.mem_get_info``) on CUDA, a
        power of two, 8192 on CPU. Under FlexAttention the rows are packed into sequences of
        this many tokens rounded up to 128 (or a quarter or a sixteenth of that for a last,
        short batch), so that the compiled kernel sees at most three shapes. On a CUDA
        out-of-memory error a batch is halved and retried (and the budget halved for the
        batches after it); no prompt is lost.
    dtype : str or torch.dtype, optional
        Cast ``lm.model`` to this dtype (in place) before scoring, e.g. ``torch.float32`` to
        compare methods without bfloat16 noise. Default: keep the model's dtype.
    progress : bool, default True
        Show a tqdm progress bar (prompts/s and time left) when stderr is a terminal.
    attn_implementation : {"flex_attention", "sdpa", "eager"}, optional
        Attention implementation to set on the model. Default: ``"flex_attention"`` on CUDA
        (PyTorch FlexAttention with a ``BlockMask`` built from the trie; it skips the mask's
        empty blocks, and falls back to sdpa with a warning where it fails to run), else the
        model's own when it is sdpa or eager, else sdpa (flash-attention kernels cannot take
        the trie's mask). sdpa gets a boolean 4D mask; eager an additive float mask (eager
        would add a boolean mask as 0/1 and silently attend everywhere). FlexAttention is
        compiled on its first call (minutes on a CPU), so it is not the CPU default.
    max_trie_nodes : int, "auto" or None, default "auto"
        Cut a prompt's trie into several rows (each repeating the prompt) of at most this many
        nodes. Attention over prompt + trie grows with the square of its length while the rest
        of the model grows linearly, so small models with short prompts gain from cutting.
        ``"auto"`` picks the size minimising the forward's FLOPs for each prompt's length
        (billion-parameter models never cut a few thousand nodes); None never cuts. On CPU
        with sdpa or eager a cut prompt is fed once and its keys and values serve all its
        rows (no prompt repeated), and ``"auto"`` cuts rows of 128 nodes.

    Notes
    -----
    Tokenization matches tokenizing prompt + candidate as one text: the joint text is split at
    the prompt's token count when the prompt's own tokens are a prefix of it. When they are not
    (tokens merge across the boundary, as for a prompt ending in a space with Llama's
    tokenizer), the candidate is scored from the longest shared token prefix: the merged
    tokens, which cover the prompt's tail and the candidate, are what is scored. The tokenizer's
    leading special tokens (BOS) start every prompt; none are added inside continuations.

    Candidate tokenizations are cached per prompt's last wave (the text after its last line
    break, or from the offsets given as ``starts``, e.g. ``ResumeTemplate.wave_starts`` for
    one-line sentence resumes), so K candidates cost K short tokenizations per distinct last
    wave, not per prompt. This relies on no token spanning the wave's start, as with Llama's
    tokenizer at a line break or before a space, and is checked: each prompt must tokenize as
    its head plus its last wave, and the candidates, tokenized after the text before (the line
    before, or as many characters as the wave), must leave that text's tokens intact; where a
    check fails, that prompt is tokenized jointly with every candidate in full. Special-token
    strings in the text (``"</s>"``) are tokenized as text, never as control tokens.

    Examples
    --------
    >>> scorer = CandidateScorer(lm)  # doctest: +SKIP
    >>> log_q = scorer.score(prompts, [" Cashiers\\n", " Sales workers\\n"])  # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ import ResumeTemplate
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> prompts = template.prompts(val).iloc[:3].tolist()
    >>> log_q = CandidateScorer(lm).score(prompts, template.continuations(val.taxonomy))
    >>> log_q.shape, bool((log_q < 0).all())
    ((3, 9), True)
    """

    def __init__(
        self,
        lm: CausalLM,
        *,
        batch_tokens: int | str = "auto",
        dtype: str | torch.dtype | None = None,
        progress: bool = True,
        attn_implementation: str | None = None,
        max_trie_nodes: int | str | None = "auto",
    ) -> None:
        if batch_tokens != "auto" and not (isinstance(batch_tokens, int) and batch_tokens >= 1):
            raise ValueError(f"batch_tokens must be 'auto' or positive, got {batch_tokens!r}")
        if max_trie_nodes not in ("auto", None) and not (
            isinstance(max_trie_nodes, int) and max_trie_nodes >= 1
        ):
            raise ValueError(
                f"max_trie_nodes must be 'auto', None or positive, got {max_trie_nodes!r}"
            )
        self.lm = lm
        self.batch_tokens = batch_tokens
        self.progress = progress
        self.max_trie_nodes = max_trie_nodes
        model = lm.model
        if dtype is not None:
            model.to(resolve_dtype(dtype, lm.device))
        current = getattr(model.config, "_attn_implementation", None)
        if attn_implementation is not None:
            wanted = attn_implementation
        elif lm.device.type == "cuda" and _has_flex_attention():
            wanted = "flex_attention"
        else:
            wanted = current if current in ("sdpa", "eager") else "sdpa"
        if wanted not in _SUPPORTED_ATTENTION:
            raise ValueError(
                f"attn_implementation={wanted!r} cannot take the trie's 4D attention mask; use "
                f"one of {_SUPPORTED_ATTENTION}"
            )
        if wanted != current:
            model.set_attn_implementation(wanted)
        self._flex_fallback = attn_implementation is None and wanted == "flex_attention"
        for attr in ("final_logit_softcapping", "logit_scale"):
            if getattr(model.config, attr, None) is not None:
                raise ValueError(
                    f"{type(model).__name__} transforms its logits ({attr}); CandidateScorer "
                    "supports models whose logits are lm_head(last hidden state)"
                )
        self._base = model.base_model
        self._head = model.get_output_embeddings()
        self._tok = _Tokenization(lm.tokenizer)
        pad = lm.tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else (lm.tokenizer.eos_token_id or 0))
        # FLOPs of one token through the layers (2 per weight) and of one attended pair
        # (q.k and the weighted value, 2 * 2 per channel), for max_trie_nodes="auto".
        config = model.config
        heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        embedding = self._base.get_input_embeddings().weight.numel()
        self._token_flops = 2 * (sum(p.numel() for p in self._base.parameters()) - embedding)
        self._pair_flops = 4 * heads * head_dim * config.num_hidden_layers
        self._max_positions = getattr(config, "max_position_embeddings", None)
        # The forward's name for a KV cache: `cache` (transformers 5.24+), else past_key_values.
        self._cache_argument = (
            "cache"
            if "cache" in inspect.signature(self._base.forward).parameters
            else "past_key_values"
        )
        self._cache_candidates: tuple[str, ...] | None = None
        self._paths: dict[tuple[str, tuple[int, ...]], _Paths] = {}
        self._tries: dict[tuple[Any, ...], tuple[tuple[_Trie, np.ndarray], ...]] = {}
        self._pack_length: int | None = None  # set by _run_batches for packed flex rows

    @property
    def attn_implementation(self) -> str:
        """The model's attention implementation: flex_attention, sdpa or eager."""
        return self.lm.model.config._attn_implementation

    @property
    def _share_prompts(self) -> bool:
        """Whether a prompt cut into several tries is fed once, its keys and values reused.

        On CPU with sdpa or eager, whose kernels compute every masked pair, this saves the
        prompt's repeats and most of the attention; on CUDA FlexAttention already skips the
        empty blocks. Sliding-window layers would drop cached keys, so they never share.
        """
        config = self.lm.model.config
        return (
            self.lm.device.type == "cpu"
            and self.attn_implementation in ("sdpa", "eager")
            and getattr(config, "sliding_window", None) is None
            and all(t == "full_attention" for t in getattr(config, "layer_types", None) or [])
        )

    def __repr__(self) -> str:
        return (
            f"CandidateScorer(lm={self.lm.name!r}, batch_tokens={self.batch_tokens}, "
            f"attn_implementation={self.attn_implementation!r}, "
            f"max_trie_nodes={self.max_trie_nodes!r})"
        )

    def score(
        self,
        prompts: Sequence[str],
        candidates: Sequence[str],
        *,
        starts: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Log-probability of each candidate continuation given each prompt.

        Parameters
        ----------
        prompts : sequence of str
            The n prompts (e.g. rendered resumes up to the year being predicted).
        candidates : sequence of str
            The same K distinct continuations for every prompt, e.g. ``" Cashiers\\n"``: a
            leading space and the terminator belong to the candidate, so ``" Cashiers\\n"``
            and ``" Cashiers and clerks\\n"`` are distinct outcomes.
        starts : sequence of int, optional
            Where each prompt's last wave begins (character offsets, e.g.
            ``ResumeTemplate.wave_starts(prompts)``): candidate tokenizations are cached per
            text from there. Default: after the prompt's last line break. Only speed depends
            on it; the scores do not.

        Returns
        -------
        numpy.ndarray
            Float64 array of shape (n, K): ``log P(candidates[k] | prompts[i])``.

        Raises
        ------
        ValueError
            For no candidates, duplicate or empty candidates, or empty prompts.
        TypeError
            For a single string where a sequence is expected.
        """
        candidates = _check_candidates(candidates)
        prompts = _check_texts(prompts, "prompts")
        out = np.empty((len(prompts), len(candidates)), dtype=np.float64)
        if not prompts:
            return out
        plans = self._plan(prompts, candidates, starts)
        self._check_context(
            [len(ids) + max(int(trie.depth.max()) for trie, _ in parts) for ids, parts in plans]
        )
        # A unit of work: one (prompt, trie) row, or a prompt whose tries share its forward.
        units = []
        for i, (ids, parts) in enumerate(plans):
            if len(parts) > 1 and self._share_prompts:
                units.append((i, ids, parts))
            else:
                units.extend((i, ids, (part,)) for part in parts)

        def run(batch: list[int]) -> None:
            chosen = [units[u] for u in batch]
            single = [(i, ids, parts[0]) for i, ids, parts in chosen if len(parts) == 1]
            if single:
                values = self._forward_tries([(ids, trie) for _, ids, (trie, _) in single])
                for (i, _, (_, cols)), value in zip(single, values, strict=True):
                    out[i, cols] = value
            shared = [(i, ids, parts) for i, ids, parts in chosen if len(parts) > 1]
            if shared:
                values = self._forward_shared([(ids, [t for t, _ in ps]) for _, ids, ps in shared])
                for (i, _, parts), per_trie in zip(shared, values, strict=True):
                    for (_, cols), value in zip(parts, per_trie, strict=True):
                        out[i, cols] = value

        # Leaves are not fed; a shared prompt is fed once.
        lengths = [len(ids) + sum(len(t.inner) for t, _ in parts) for _, ids, parts in units]
        self._run_batches(lengths, run, owners=[i for i, *_ in units])
        return out

    def _check_context(self, needed: Sequence[int]) -> None:
        """Raise `ContextLengthError` for rows needing more positions than the model has."""
        limit = self._max_positions
        if limit is None:
            return
        too_long = [(i, int(n)) for i, n in enumerate(needed) if n > limit]
        if too_long:
            raise ContextLengthError(too_long, int(limit))

    def score_observed(self, prompts: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
        """Log-probability of one continuation per prompt (e.g. the observed outcome).

        A plain causal forward per row, with the same tokenization rule as `score`, so
        ``score_observed(p, c)[i] == score([p[i]], [c[i]])[0, 0]``.

        Parameters
        ----------
        prompts : sequence of str
            The n prompts.
        continuations : sequence of str
            One continuation per prompt.

        Returns
        -------
        numpy.ndarray
            Float64 array of shape (n,).

        Raises
        ------
        ValueError
            When the lengths differ, or for empty strings.
        """
        prompts = _check_texts(prompts, "prompts")
        continuations = _check_texts(continuations, "continuations")
        if len(prompts) != len(continuations):
            raise ValueError(
                f"got {len(prompts)} prompts but {len(continuations)} continuations; pass one "
                "continuation per prompt"
            )
        out = np.empty(len(prompts), dtype=np.float64)
        if not prompts:
            return out
        prefix = self._tok.prefix
        prompt_ids = self._tok.encode(prompts)
        joint = self._tok.encode([p + c for p, c in zip(prompts, continuations, strict=True)])
        rows = []
        for p, c, pi, ji in zip(prompts, continuations, prompt_ids, joint, strict=True):
            m = _split_joint(pi, ji, len(prefix), p, c)
            rows.append((prefix + ji, len(prefix) + m))
        self._check_context([len(ids) for ids, _ in rows])

        def run(batch: list[int]) -> None:
            for i, value in zip(batch, self._forward_rows([rows[i] for i in batch]), strict=True):
                out[i] = value

        self._run_batches([len(ids) for ids, _ in rows], run)
        return out

    def _run_batches(
        self, lengths: Sequence[int], run: Any, owners: Sequence[int] | None = None
    ) -> None:
        """Call `run` on batches of row indices, longest rows first, within the token budget.

        `owners` maps rows to prompts, for the progress bar (default: one row per prompt).
        Under FlexAttention, a batch is the rows whose lengths sum to at most the packed
        length (see `_pack_length` and `_packed_width`), packed into one sequence;
        otherwise as many rows as fit the budget padded to the longest. On a CUDA
        out-of-memory error the budget is halved and the same rows retried in smaller
        batches; a single row that does not fit re-raises the error.
        """
        from tqdm.auto import tqdm

        owners = list(range(len(lengths))) if owners is None else list(owners)
        left = np.bincount(owners)
        order = np.argsort(-np.asarray(lengths), kind="stable")
        cumulative = np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64)[order])])
        budget = self._token_budget()
        with (
            _eval_mode(self.lm.model),
            torch.inference_mode(),
            tqdm(
                total=len(left),
                unit="prompt",
                desc="scoring",
                disable=None if self.progress else True,
                leave=False,
                smoothing=0.05,
            ) as bar,
        ):
            start = 0
            while start < len(order):
                longest = lengths[order[start]]
                if self.attn_implementation == "flex_attention":
                    self._pack_length = _pack_length(budget, longest)
                    room = cumulative[start] + self._pack_length
                    stop = max(start + 1, int(np.searchsorted(cumulative, room, "right")) - 1)
                    tokens = int(cumulative[stop] - cumulative[start])
                else:
                    stop = start + max(1, budget // max(longest, 1))
                    tokens = len(order[start:stop]) * longest
                batch = [int(r) for r in order[start:stop]]
                try:
                    ran = self._run_or_shrink(run, batch, longest)
                finally:
                    self._pack_length = None
                if not ran:
                    budget = max(1, min(budget, tokens) // 2)
                    continue  # the same rows again, in a smaller batch
                done = 0
                for r in batch:
                    left[owners[r]] -= 1
                    done += left[owners[r]] == 0
                bar.update(int(done))
                start = stop

    def _run_or_shrink(self, run: Any, batch: list[int], longest: int) -> bool:
        """Run one batch; False when it ran out of CUDA memory and should be split."""
        try:
            run(batch)
            return True
        except _OOM_ERRORS as err:
            if len(batch) == 1:
                raise type(err)(
                    f"out of memory on a single prompt of {longest:,} tokens (prompt and inner "
                    "trie nodes); lower max_trie_nodes to cut its trie into smaller rows, or "
                    f"free GPU memory: {err}"
                ) from err
        # Outside the except block, so that the failed batch's tensors can be freed.
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return False

    def _token_budget(self) -> int:
        """Tokens per forward: `batch_tokens`, or for "auto" sized from free GPU memory.

        The automatic budget is a power of two, so that it (and with it the packed length of
        FlexAttention rows, hence the compiled shapes) stays the same from call to call.
        """
        if self.batch_tokens != "auto":
            return int(self.batch_tokens)
        if self.lm.device.type != "cuda":
            return _CPU_BATCH_TOKENS
        free, _ = torch.cuda.mem_get_info(self.lm.device)
        config = self.lm.model.config
        hidden = config.hidden_size
        inner = getattr(config, "intermediate_size", None) or 4 * hidden
        # Live activations per token inside one layer (residual, q/k/v/output, MLP up and
        # gate) in the model's dtype; the LM head is run in fixed-size chunks. Half the free
        # memory keeps room for the attention mask and the allocator; OOM halving backs it up.
        per_token = self.lm.model.dtype.itemsize * (6 * hidden + 3 * inner)
        return int(2 ** np.floor(np.log2(np.clip(0.5 * free / per_token, 2048, 65536))))

    def _plan(
        self, prompts: list[str], candidates: list[str], starts: Sequence[int] | None = None
    ) -> list[tuple[list[int], tuple[tuple[_Trie, np.ndarray], ...]]]:
        """For each prompt, its token ids before the tries, and the tries with their columns."""
        if self._cache_candidates != tuple(candidates):
            self._cache_candidates = tuple(candidates)
            self._paths, self._tries = {}, {}
        encode, prefix = self._tok.encode, self._tok.prefix
        cuts = _segment_starts(prompts, starts)
        full = encode(prompts)
        heads = encode([p[:cut] for p, cut in zip(prompts, cuts, strict=True)])
        plans = []
        for p, cut, ids, head in zip(prompts, cuts, full, heads, strict=True):
            if cut and ids[: len(head)] != head:
                cut, head = 0, []
            tail = ids[len(head) :]
            key: tuple[str, tuple[int, ...]] | None = (p[cut:], tuple(tail))
            paths = self._paths.get(key)
            if paths is None and cut:
                # The candidates' tokens after the last wave depend only on that wave when no
                # token spans its start; check it with the text before as context.
                start = _context_start(p, cut, starts is None)
                context_head, context = encode([p[start:cut], p[start:]])
                if context == context_head + tail:
                    paths = self._joint_paths(
                        p, p[start:], context_head, tail, candidates, len(prefix) + len(head)
                    )
                if paths is not None:
                    self._paths[key] = paths
            if paths is None:
                paths = self._joint_paths(p, p, [], ids, candidates, len(prefix))
                key = None
            ids = prefix + ids[: len(ids) - paths.drop]
            limit = self._trie_limit(len(ids))
            # Shared rows, cut by default: rows of nearly equal fed nodes pad least.
            fed = self._share_prompts and self.max_trie_nodes == "auto"
            parts = self._tries.get((key, limit, fed)) if key is not None else None
            if parts is None:
                parts = paths.tries(limit, fed=fed)
                if key is not None:
                    self._tries[key, limit, fed] = parts
            plans.append((ids, parts))
        return plans

    def _trie_limit(self, prompt_len: int) -> int | None:
        """Most nodes per trie for a prompt part of `prompt_len` tokens (see max_trie_nodes)."""
        if self.max_trie_nodes != "auto":
            return None if self.max_trie_nodes is None else int(self.max_trie_nodes)
        if self._share_prompts:
            # The prompt is fed once whatever the cut: smaller rows only save attention pairs.
            return _SHARED_ROW_NODES
        # Cutting N nodes into g tries costs g * P more tokens and saves attention pairs:
        # g * (P + N/g)^2 + (g * P + N) * token/pair is smallest at N/g = sqrt(P^2 + P * ratio).
        ratio = _PAIR_DISCOUNT * self._token_flops / self._pair_flops
        best = np.sqrt(prompt_len**2 + prompt_len * ratio)
        return int(2 ** np.round(np.log2(max(best, 16.0))))  # a few sizes, for the cache

    def _joint_paths(
        self,
        prompt: str,
        text: str,
        head: list[int],
        tail: list[int],
        candidates: list[str],
        offset: int,
    ) -> _Paths | None:
        """The candidates' token paths after `tail`, from joint tokenizations of `text` + c.

        `text` is the prompt or its last lines, tokenized as `head` + `tail`. Returns None when a
        candidate changes the tokens of `head`: the split does not hold and the caller falls
        back to the whole prompt.
        """
        joint = self._tok.encode([text + c for c in candidates])
        if head and any(j[: len(head)] != head for j in joint):
            return None
        cut = [
            _split_joint(tail, j[len(head) :], offset, prompt, c)
            for j, c in zip(joint, candidates, strict=True)
        ]
        keep = min(cut)
        return _Paths(
            paths=tuple(
                tuple(tail[keep:m] + j[len(head) + m :]) for j, m in zip(joint, cut, strict=True)
            ),
            unscored=tuple(m - keep for m in cut),
            drop=len(tail) - keep,
        )

    def _attention_mask(self, end: torch.Tensor) -> Any:
        """Mask (batch, 1, q, kv) allowing ``k <= q < end[b, k]``, in the attention's format.

        sdpa: a boolean tensor; eager: an additive float tensor; flex_attention: a
        ``BlockMask``, whose empty blocks (most of a trie's mask) are skipped, built from
        per-block extremes of `end` where the length is a multiple of 128 (packed rows).
        """
        n = end.shape[1]
        if self.attn_implementation == "flex_attention":
            if n % BLOCK_SIZE == 0:
                return block_mask_from_end(end)
            from torch.nn.attention.flex_attention import create_block_mask

            return create_block_mask(end_mask_mod(end), end.shape[0], None, n, n, device=end.device)
        pos = torch.arange(n, device=end.device)
        allowed = (pos[None, None, :] <= pos[None, :, None]) & (
            pos[None, :, None] < end[:, None, :]
        )
        return self._mask_format(allowed[:, None])

    def _mask_format(self, allowed: torch.Tensor) -> torch.Tensor:
        """A boolean mask for sdpa; for eager an additive float mask (eager would add a
        boolean mask as 0/1)."""
        if self.attn_implementation == "eager":
            dtype = self.lm.model.dtype
            return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
                ~allowed, torch.finfo(dtype).min
            )
        return allowed

    def _forward_shared(self, plans: list[tuple[list[int], list[_Trie]]]) -> list[list[np.ndarray]]:
        """log q of each trie of each (prompt ids, tries): the prompt is fed once, its keys
        and values then serve every trie row (the trie's inner nodes in preorder).

        A row's query ``q`` sees the prompt's ``p`` real keys and the trie keys ``k <= q <
        end[k]`` after them, the same attention as in `_forward_tries` without repeating the
        prompt; the head reads the last prompt token's logits (slot 0) from the first pass.
        """
        device = self.lm.device
        n = len(plans)
        prompt_ids, lengths = _padded([ids for ids, _ in plans], fill=self._pad_id)
        # Right padding under a plain causal mask: real tokens never see the padding.
        first = self._base(input_ids=torch.from_numpy(prompt_ids).to(device), use_cache=True)
        cache = getattr(first, "cache", None)  # transformers 5.24+; before: past_key_values
        if cache is None:
            cache = first.past_key_values
        tries = [(b, trie) for b, (_, ts) in enumerate(plans) for trie in ts]
        owner = np.array([b for b, _ in tries])
        cache.batch_select_indices(torch.from_numpy(owner).to(device))
        width = max(len(trie.inner) for _, trie in tries)
        rows = len(tries)
        input_ids = np.full((rows, width), self._pad_id, dtype=np.int64)
        position_ids = np.zeros((rows, width), dtype=np.int64)
        end = np.arange(1, width + 1, dtype=np.int64)[None, :].repeat(rows, axis=0)
        # Head rows: the n last prompt tokens, then the rows x width trie positions.
        head_rows, node_slot, node_token, counts = [], [], [], []
        n_rows = 0
        for r, (b, trie) in enumerate(tries):
            fed, p = trie.inner, lengths[b]
            m = len(fed)
            input_ids[r, :m] = trie.tokens[fed]
            position_ids[r, :m] = p + trie.depth[fed] - 1
            end[r, :m] = np.searchsorted(fed, trie.end[fed])
            head_rows.append(np.concatenate([[b], n + r * width + np.arange(m)]))
            node_slot.append(n_rows + trie.head_slot)
            node_token.append(trie.tokens)
            counts.append(len(trie.tokens))
            n_rows += m + 1
        q = torch.arange(width, device=device)
        k = torch.arange(prompt_ids.shape[1], device=device)
        sees_prompt = k[None, :] < torch.from_numpy(lengths[owner]).to(device)[:, None]
        end_t = torch.from_numpy(end).to(device)
        sees_trie = (q[None, None, :] <= q[None, :, None]) & (q[None, :, None] < end_t[:, None, :])
        allowed = torch.cat([sees_prompt[:, None, :].expand(-1, width, -1), sees_trie], dim=2)[
            :, None
        ]
        second = self._base(
            input_ids=torch.from_numpy(input_ids).to(device),
            attention_mask=self._mask_format(allowed),
            position_ids=torch.from_numpy(position_ids).to(device),
            use_cache=True,
            **{self._cache_argument: cache},
        )
        last = first.last_hidden_state[
            torch.arange(n, device=device), torch.from_numpy(lengths - 1).to(device)
        ]
        hidden = torch.cat([last, second.last_hidden_state.flatten(0, 1)])
        hidden = hidden[torch.from_numpy(np.concatenate(head_rows)).to(device)]
        lp = self._node_log_probs(
            hidden,
            torch.from_numpy(np.concatenate(node_slot)).to(device),
            torch.from_numpy(np.concatenate(node_token)).to(device),
        )
        pieces = np.split(lp, np.cumsum(counts)[:-1])
        out: list[list[np.ndarray]] = [[] for _ in plans]
        for (b, trie), piece in zip(tries, pieces, strict=True):
            out[b].append(trie.log_q(piece))
        return out

    def _forward_tries(self, plans: list[tuple[list[int], _Trie]]) -> list[np.ndarray]:
        """log q of each (prompt ids, trie) row; the trie's leaves are not fed to the model.

        Row layout: the prompt's p tokens, then the trie's inner nodes in preorder. Removing
        the leaves keeps every subtree a contiguous range, so the mask stays ``k <= q <
        end[k]`` with `end` counted in inner nodes; inner node j sits at row p + j, which is
        where the head reads the logits of its children (head slot 1 + j). Under
        FlexAttention the rows are packed one after another into one sequence of a fixed
        length (see `_packed_width`), so that the compiled kernel sees few shapes; sdpa and
        eager get one padded row each (their dense mask grows with the square of the length).
        """
        width = None
        if self.attn_implementation == "flex_attention":
            width = _packed_width(
                sum(len(ids) + len(trie.inner) for ids, trie in plans), self._pack_length
            )
        input_ids, position_ids, end, head_rows = _lay_out(plans, self._pad_id, width)
        node_slot, node_token, counts = [], [], []
        n_rows = 0
        for _, trie in plans:
            node_slot.append(n_rows + trie.head_slot)
            node_token.append(trie.tokens)
            counts.append(len(trie.tokens))
            n_rows += len(trie.inner) + 1
        device = self.lm.device
        hidden = self._hidden(input_ids, position_ids, end)
        if hidden is None:  # FlexAttention failed and the model fell back to sdpa
            return self._forward_tries(plans)
        hidden = hidden.reshape(input_ids.size, -1)[torch.from_numpy(head_rows).to(device)]
        lp = self._node_log_probs(
            hidden,
            torch.from_numpy(np.concatenate(node_slot)).to(device),
            torch.from_numpy(np.concatenate(node_token)).to(device),
        )
        pieces = np.split(lp, np.cumsum(counts)[:-1])
        return [trie.log_q(piece) for (_, trie), piece in zip(plans, pieces, strict=True)]

    def _hidden(
        self, input_ids: np.ndarray, position_ids: np.ndarray, end: np.ndarray
    ) -> torch.Tensor | None:
        """Last hidden states of a laid-out batch (moved to the model's device) under the
        trie mask; None when FlexAttention, chosen by default, failed on its first forward
        (e.g. where it cannot compile) and the model was switched to sdpa (with a
        warning): the caller lays the rows out again."""
        flex = self.attn_implementation == "flex_attention"
        device = self.lm.device
        try:
            with _static_compile() if flex else contextlib.nullcontext():
                hidden = self._base(
                    input_ids=torch.from_numpy(input_ids).to(device),
                    attention_mask=self._attention_mask(torch.from_numpy(end).to(device)),
                    position_ids=torch.from_numpy(position_ids).to(device),
                    use_cache=False,
                ).last_hidden_state
        except _OOM_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of the default flex path
            if not self._flex_fallback:
                raise
            warnings.warn(
                f"FlexAttention failed ({type(err).__name__}: {err}); scoring with sdpa instead",
                RuntimeWarning,
                stacklevel=2,
            )
            self._flex_fallback = False
            self.lm.model.set_attn_implementation("sdpa")
            return None
        self._flex_fallback = False  # it ran: from now on any error is a real one
        return hidden

    def _node_log_probs(
        self, hidden: torch.Tensor, slot: torch.Tensor, token: torch.Tensor
    ) -> np.ndarray:
        """``log_softmax(lm_head(hidden[slot]))[token]`` in float32, the head run in chunks."""
        out = torch.empty(len(slot), dtype=torch.float32, device=hidden.device)
        chunk = _CPU_HEAD_CHUNK_ROWS if hidden.device.type == "cpu" else _HEAD_CHUNK_ROWS
        starts = torch.arange(0, hidden.shape[0] + chunk, chunk, device=slot.device)
        order = torch.argsort(slot)
        bounds = torch.searchsorted(slot[order], starts).tolist()
        for c, start in enumerate(range(0, hidden.shape[0], chunk)):
            # log_softmax, not logits - logsumexp: a fused kernel, 1.5-2x faster on CPU.
            log_probs = torch.log_softmax(self._head(hidden[start : start + chunk]).float(), -1)
            sel = order[bounds[c] : bounds[c + 1]]
            out[sel] = log_probs[slot[sel] - start, token[sel]]
        return out.cpu().numpy()

    def _forward_rows(self, rows: list[tuple[list[int], int]]) -> list[float]:
        """Sum of the log-probabilities of ``ids[start:]`` in each (ids, start) row.

        One padded causal row each; under FlexAttention the rows are packed into one
        sequence of a fixed length like the tries, each segment causal on its own.
        """
        targets = [ids[start:] for ids, start in rows]
        counts = [len(t) for t in targets]
        device = self.lm.device
        if self.attn_implementation == "flex_attention":
            sizes = np.array([len(ids) for ids, _ in rows], dtype=np.int64)
            width = _packed_width(int(sizes.sum()), self._pack_length)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            input_ids = np.full((1, width), self._pad_id, dtype=np.int64)
            position_ids = np.zeros((1, width), dtype=np.int64)
            end = np.arange(1, width + 1, dtype=np.int64).reshape(1, width)  # padding: itself
            for (ids, _), c, size in zip(rows, starts, sizes, strict=True):
                input_ids[0, c : c + size] = ids
                position_ids[0, c : c + size] = np.arange(size)
                end[0, c : c + size] = c + size  # causal within the segment
            hidden = self._hidden(input_ids, position_ids, end)
            if hidden is None:  # FlexAttention failed and the model fell back to sdpa
                return self._forward_rows(rows)
        else:
            input_ids, _ = _padded([ids for ids, _ in rows], fill=self._pad_id)
            starts = np.arange(len(rows)) * input_ids.shape[1]
            # Right padding under a plain causal mask: real tokens never see the padding.
            hidden = self._base(
                input_ids=torch.from_numpy(input_ids).to(device), use_cache=False
            ).last_hidden_state
        head_rows = np.concatenate(
            [
                c + np.arange(start - 1, len(ids) - 1)
                for (ids, start), c in zip(rows, starts, strict=True)
            ]
        )
        hidden = hidden.reshape(input_ids.size, -1)[torch.from_numpy(head_rows).to(device)]
        slot = torch.arange(hidden.shape[0], device=device)
        token = torch.from_numpy(np.concatenate(targets).astype(np.int64)).to(device)
        lp = self._node_log_probs(hidden, slot, token).astype(np.float64)
        return [float(piece.sum()) for piece in np.split(lp, np.cumsum(counts)[:-1])]


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


def _static_compile() -> Any:
    """Compile settings for the packed flex forwards: each packed length gets its own
    static graph (no switch to dynamic shapes after the second length), and the few lengths
    of a run (three per budget, more after out-of-memory halvings) stay under the limit."""
    config = torch._dynamo.config
    changes = {"automatic_dynamic_shapes": False}
    for name in ("recompile_limit", "cache_size_limit"):  # the older name before torch 2.6
        if hasattr(config, name):
            changes[name] = max(int(getattr(config, name)), 32)
            break
    return config.patch(**changes)


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


def naive_score(
    lm: CausalLM, prompts: Sequence[str], candidates: Sequence[str], *, batch_size: int = 32
) -> np.ndarray:
    """Reference scorer: one row per prompt + candidate, a plain causal forward each.

    Each pair is tokenized as one text with the tokenizer's defaults; the candidate's tokens
    are those after the longest prefix shared with the prompt's own tokenization (see
    `CandidateScorer`). Log-softmax in float32 over full logits. Slow (n * K rows); kept to
    check `CandidateScorer`.

    Parameters
    ----------
    lm : CausalLM
        Model and tokenizer.
    prompts : sequence of str
        The n prompts.
    candidates : sequence of str
        The K candidate continuations.
    batch_size : int, default 32
        Rows per forward pass.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape (n, K).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import numpy as np
    >>> from labor_econ import CandidateScorer, ResumeTemplate
    >>> from labor_econ.lm import naive_score
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> prompts = template.prompts(val).iloc[:2].tolist()
    >>> candidates = template.continuations(val.taxonomy)
    >>> slow = naive_score(lm, prompts, candidates)
    >>> slow.shape
    (2, 9)
    >>> bool(np.allclose(slow, CandidateScorer(lm).score(prompts, candidates), atol=1e-4))
    True
    """
    candidates = _check_candidates(candidates)
    prompts = _check_texts(prompts, "prompts")
    tokenizer, model = lm.tokenizer, lm.model
    special = set(tokenizer.all_special_ids)

    def encode(text: str) -> list[int]:
        # Data is text: "</s>" in a title is three characters, not the end-of-text token.
        ids = list(tokenizer(text, split_special_tokens=True)["input_ids"])
        while ids and ids[-1] in special:
            ids.pop()
        return ids

    rows = []
    for p in prompts:
        prompt_ids = encode(p)
        for c in candidates:
            joint = encode(p + c)
            m = _common_prefix(prompt_ids, joint)
            if m == 0 or m == len(joint):
                raise ValueError(f"cannot score {c!r} after {p!r}: no context or no new tokens")
            rows.append((joint, m))
    scores = np.empty(len(rows), dtype=np.float64)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with _eval_mode(model), torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for b, (ids, _) in enumerate(chunk):
                input_ids[b, : len(ids)] = torch.tensor(ids)
                attention[b, : len(ids)] = 1
            logits = model(
                input_ids=input_ids.to(lm.device), attention_mask=attention.to(lm.device)
            ).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            row_of = torch.tensor([b for b, (ids, m) in enumerate(chunk) for _ in ids[m:]])
            positions = torch.tensor([t for ids, m in chunk for t in range(m - 1, len(ids) - 1)])
            targets = torch.tensor([t for ids, m in chunk for t in ids[m:]])
            picked = log_probs[row_of.to(lm.device), positions.to(lm.device), targets.to(lm.device)]
            scores[start : start + len(chunk)] = np.bincount(
                row_of.numpy(), weights=picked.double().cpu().numpy(), minlength=len(chunk)
            )
    return scores.reshape(len(prompts), len(candidates))
