"""The candidate scorer: plans (tokenization and tries), batches within a token budget, and the
forward passes (trie rows, shared-prompt rows, plain causal rows) with the LM head."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from labor_econ.lm.inputs import ContextLengthError, _check_candidates, _check_texts
from labor_econ.lm.loading import CausalLM, resolve_dtype
from labor_econ.lm.masks import (
    _has_flex_attention,
    _lay_out,
    _pack_length,
    _packed_width,
    attention_mask,
    mask_format,
)
from labor_econ.lm.pruning import Pruning, _PruneState
from labor_econ.lm.tokenization import (
    _context_start,
    _segment_starts,
    _split_joint,
    _Tokenization,
)
from labor_econ.lm.trie import _padded, _Paths, _Trie

__all__ = ["CandidateScorer", "Pruning"]

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


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run with dropout off, restoring the model's training flag afterwards."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


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

    With the demo's tiny model:

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
        #: Tokens fed to the model so far (real tokens, no padding), by kind: prompts of
        #: `score` (and rests of `score_prefixed`), trie nodes of both, sequences of
        #: `score_observed`, and (key ``"prefix"``, added on its first use) the shared
        #: prefixes of `score_prefixed`.
        self.tokens_fed = {"prompt": 0, "trie": 0, "observed": 0}
        #: Rows of ``score_observed(..., persons=...)`` fed on their own (see there).
        self.observed_fallback_rows = 0
        #: Tokens `score` feeds for the prompts of the last `score_prefixed` (each whole).
        self.last_whole_tokens = 0
        #: What the last `score` with a tolerance left out (see `Pruning`).
        self.last_pruning: Pruning | None = None
        self._pruned_states: dict[int, _PruneState] | None = None

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
        tolerance: float = 0.0,
        observed: Sequence[int] | None = None,
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
        tolerance : float, default 0.0
            0: every candidate scored exactly. Above 0 (certified pruning): the trie is fed
            level by level (the prompt once, its keys and values kept), and subtrees whose
            prefix probabilities sum to at most `tolerance` times the mass of the candidates
            found are left unexpanded; the `observed` candidate's path is always expanded,
            so its log q is exact. ``last_pruning`` then reports per prompt the mass found
            and the unexpanded mass R, which bounds the mass of every candidate not
            expanded: the observed candidate's normalized log-probability lies within
            ``log1p(R / found)`` below the one computed from the returned scores (see
            `Pruning`). An unexpanded candidate's log q is filled in as its subtree's prefix
            log-probability minus log(candidates in that subtree): the subtree's bound
            split evenly, so that the returned scores hold the upper end of the unknown mass.
            Prompts whose candidates merge with the prompt's last tokens are expanded in
            full.
        observed : sequence of int, optional
            With `tolerance`: the column of each prompt's observed candidate.

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
        if tolerance:
            return self._score_pruned(prompts, candidates, starts, tolerance, observed)
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
            # Counted once the batch ran (not again when an out-of-memory batch is retried).
            self.tokens_fed["prompt"] += sum(len(ids) for _, ids, _ in chosen)
            self.tokens_fed["trie"] += sum(len(t.inner) for *_, ps in chosen for t, _ in ps)

        # Leaves are not fed; a shared prompt is fed once.
        lengths = [len(ids) + sum(len(t.inner) for t, _ in parts) for _, ids, parts in units]
        self._run_batches(lengths, run, owners=[i for i, *_ in units])
        return out

    def _score_pruned(
        self,
        prompts: list[str],
        candidates: list[str],
        starts: Sequence[int] | None,
        tolerance: float,
        observed: Sequence[int] | None,
    ) -> np.ndarray:
        """`score` with certified pruning (see its `tolerance`); sets ``last_pruning``."""
        # 0 is taken here (every node expanded level by level: the benchmark's reference).
        if isinstance(tolerance, bool) or not 0 <= float(tolerance) < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
        k = len(candidates)
        if observed is None:
            observed = np.full(len(prompts), -1, dtype=np.int64)
        observed = np.asarray(observed)
        if observed.shape != (len(prompts),) or not np.issubdtype(observed.dtype, np.integer):
            raise ValueError(f"observed must hold one column index per prompt ({len(prompts)})")
        if ((observed < -1) | (observed >= k)).any():
            bad = int(np.flatnonzero((observed < -1) | (observed >= k))[0])
            raise ValueError(f"observed[{bad}] = {observed[bad]} is not a column of {k}")
        config = self.lm.model.config
        if getattr(config, "sliding_window", None) is not None:
            raise ValueError("tolerance > 0 needs full attention (keys kept from level to level)")
        out = np.empty((len(prompts), k), dtype=np.float64)
        found = np.zeros(len(prompts))
        unexpanded = np.zeros(len(prompts))
        plans = self._plan(prompts, candidates, starts, whole=True)
        self._check_context([len(ids) + int(parts[0][0].depth.max()) for ids, parts in plans])

        def run(batch: list[int]) -> None:
            chosen = []
            for i in batch:
                ids, ((trie, cols),) = plans[i]
                # The trie numbers candidates in its own (sorted) order.
                row = int(np.argsort(cols)[observed[i]]) if observed[i] >= 0 else -1
                chosen.append((ids, trie, cols, row))
            values = self._forward_pruned(chosen, tolerance)
            for i, (logq, m, r, state) in zip(batch, values, strict=True):
                out[i], found[i], unexpanded[i] = logq, m, r
                if self._pruned_states is not None:  # kept for benchmarks and tests
                    self._pruned_states[i] = state

        flex = self.attn_implementation == "flex_attention"
        if flex:  # the level-by-level mask over kept keys is a dense one
            self.lm.model.set_attn_implementation("sdpa")
        try:
            lengths = [len(ids) + len(parts[0][0].inner) for ids, parts in plans]
            self._run_batches(lengths, run)
        finally:
            if flex:
                self.lm.model.set_attn_implementation("flex_attention")
        self.last_pruning = Pruning(float(tolerance), found, unexpanded)
        return out

    def _forward_pruned(
        self, plans: list[tuple[list[int], _Trie, np.ndarray, int]], tolerance: float
    ) -> list[tuple[np.ndarray, float, float, _PruneState]]:
        """Level-by-level scoring of (prompt ids, trie, columns, observed column) rows.

        The prompts are fed once (right-padded, causal) and their keys and values kept;
        each round then feeds the chosen frontier nodes of every row, a node seeing its
        prompt, its ancestors (kept from earlier rounds) and itself, at position prompt
        length + depth - 1 as in `_forward_tries`. Returns each row's log q over its
        columns' order, the mass found, the unexpanded mass and its final state.
        """
        device = self.lm.device
        n = len(plans)
        prompt_ids, lengths = _padded([ids for ids, *_ in plans], fill=self._pad_id)
        first = self._base(input_ids=torch.from_numpy(prompt_ids).to(device), use_cache=True)
        cache = getattr(first, "cache", None)  # transformers 5.24+; before: past_key_values
        if cache is None:
            cache = first.past_key_values
        self.tokens_fed["prompt"] += int(lengths.sum())
        last = first.last_hidden_state[
            torch.arange(n, device=device), torch.from_numpy(lengths - 1).to(device)
        ]
        states = [_PruneState(trie, obs, tolerance) for _, trie, _, obs in plans]
        # The root's children get their log-probabilities from the last prompt token.
        self._expand(last, [(b, -1) for b in range(n)], states)
        kept = prompt_ids.shape[1]
        while True:
            chosen = [state.choose() for state in states]
            width = max(len(c) for c in chosen)
            if width == 0:
                break
            input_ids = np.full((n, width), self._pad_id, dtype=np.int64)
            position_ids = np.zeros((n, width), dtype=np.int64)
            allowed = np.zeros((n, width, kept + width), dtype=bool)
            allowed[:, :, kept:] = np.eye(width, dtype=bool)  # every new token sees itself
            for b, (nodes, state) in enumerate(zip(chosen, states, strict=True)):
                trie = state.trie
                for j, v in enumerate(nodes):
                    input_ids[b, j] = trie.tokens[v]
                    position_ids[b, j] = lengths[b] + trie.depth[v] - 1
                    allowed[b, j, : lengths[b]] = True
                    allowed[b, j, state.ancestor_slots(v)] = True
                    state.slot[v] = kept + j
            second = self._base(
                input_ids=torch.from_numpy(input_ids).to(device),
                attention_mask=self._mask_format(torch.from_numpy(allowed).to(device)[:, None]),
                position_ids=torch.from_numpy(position_ids).to(device),
                use_cache=True,
                **{self._cache_argument: cache},
            )
            kept += width
            self.tokens_fed["trie"] += sum(len(c) for c in chosen)
            where = [(b, j, v) for b, nodes in enumerate(chosen) for j, v in enumerate(nodes)]
            hidden = second.last_hidden_state[
                torch.tensor([b for b, _, _ in where], device=device),
                torch.tensor([j for _, j, _ in where], device=device),
            ]
            self._expand(hidden, [(b, v) for b, _, v in where], states)
        return [
            (state.log_q()[np.argsort(cols)], state.found(), state.unexpanded(), state)
            for (_, _, cols, _), state in zip(plans, states, strict=True)
        ]

    def _expand(
        self, hidden: torch.Tensor, fed: list[tuple[int, int]], states: list[_PruneState]
    ) -> None:
        """Children's prefix log-probabilities of fed nodes (b, v) (v = -1: the root) from
        their hidden states (one row each)."""
        slot, token, targets = [], [], []
        for r, (b, v) in enumerate(fed):
            children = states[b].children(v)
            slot.extend([r] * len(children))
            token.extend(states[b].trie.tokens[children].tolist())
            targets.append((b, v, children))
        if not slot:
            return
        lp = self._node_log_probs(
            hidden,
            torch.tensor(slot, device=hidden.device),
            torch.tensor(token, device=hidden.device),
        ).astype(np.float64)
        at = 0
        for b, v, children in targets:
            states[b].learn(v, children, lp[at : at + len(children)])
            at += len(children)

    def _check_context(self, needed: Sequence[int]) -> None:
        """Raise `ContextLengthError` for rows needing more positions than the model has."""
        limit = self._max_positions
        if limit is None:
            return
        too_long = [(i, int(n)) for i, n in enumerate(needed) if n > limit]
        if too_long:
            raise ContextLengthError(too_long, int(limit))

    def score_observed(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str],
        *,
        persons: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Log-probability of one continuation per prompt (e.g. the observed outcome).

        A plain causal forward, with the same tokenization rule as `score`, so
        ``score_observed(p, c)[i] == score([p[i]], [c[i]])[0, 0]``. With `persons`, the rows
        of one person are read off one causal pass over that person's longest text (its last
        prompt + continuation, which holds every earlier prompt + continuation of the person
        as a prefix): about 10-15 tokens fed per row instead of the whole prompt again.

        Parameters
        ----------
        prompts : sequence of str
            The n prompts.
        continuations : sequence of str
            One continuation per prompt.
        persons : sequence, optional
            The person of each row (e.g. the panel's ids). A person's rows are fed once as
            one sequence where that gives exactly the per-row numbers: a row's prompt +
            continuation must be a prefix of the person's longest text, and its joint
            tokenization a prefix of that text's tokenization (no token spanning the end of
            its continuation, as with Llama's tokenizer at a line break). Other rows are fed
            one by one, as without `persons`; ``observed_fallback_rows`` counts them.

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
        if persons is not None:
            persons = list(persons)
            if len(persons) != len(prompts):
                raise ValueError(
                    f"got {len(persons)} persons for {len(prompts)} prompts; pass one per prompt"
                )
        out = np.empty(len(prompts), dtype=np.float64)
        if not prompts:
            return out
        prefix = self._tok.prefix
        texts = [p + c for p, c in zip(prompts, continuations, strict=True)]
        prompt_ids = self._tok.encode(prompts)
        joint = self._tok.encode(texts)
        rows = []
        for p, c, pi, ji in zip(prompts, continuations, prompt_ids, joint, strict=True):
            m = _split_joint(pi, ji, len(prefix), p, c)
            rows.append((prefix + ji, len(prefix) + m))
        self._check_context([len(ids) for ids, _ in rows])
        # A unit: one token sequence fed once, and the (row, start, stop) spans read off it.
        units, alone = _person_units(texts, rows, persons)
        self.observed_fallback_rows += alone

        def run(batch: list[int]) -> None:
            chosen = [units[u] for u in batch]
            values = self._forward_spans(
                [(ids, [(a, b) for _, a, b in spans]) for ids, spans in chosen]
            )
            for (_, spans), sums in zip(chosen, values, strict=True):
                for (i, _, _), value in zip(spans, sums, strict=True):
                    out[i] = value
            self.tokens_fed["observed"] += sum(len(ids) for ids, _ in chosen)

        self._run_batches([len(ids) for ids, _ in units], run)
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
        self,
        prompts: list[str],
        candidates: list[str],
        starts: Sequence[int] | None = None,
        whole: bool = False,
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
            limit = None if whole else self._trie_limit(len(ids))
            # Shared rows, cut by default: rows of nearly equal fed nodes pad least.
            fed = not whole and self._share_prompts and self.max_trie_nodes == "auto"
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
        """Mask (batch, 1, q, kv) allowing ``k <= q < end[b, k]`` (see `masks.attention_mask`)."""
        return attention_mask(end, self.attn_implementation, self.lm.model.dtype)

    def _mask_format(self, allowed: torch.Tensor) -> torch.Tensor:
        """`allowed` in the attention's format (see `masks.mask_format`)."""
        return mask_format(allowed, self.attn_implementation, self.lm.model.dtype)

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
        k = torch.arange(prompt_ids.shape[1], device=device)
        sees_prompt = k[None, :] < torch.from_numpy(lengths[owner]).to(device)[:, None]
        last = first.last_hidden_state[
            torch.arange(n, device=device), torch.from_numpy(lengths - 1).to(device)
        ]
        return self._forward_trie_rows(tries, lengths, [sees_prompt], last, cache)

    def _forward_trie_rows(
        self,
        tries: list[tuple[int, _Trie]],
        offset: np.ndarray,
        sees_cached: list[torch.Tensor],
        last: torch.Tensor,
        cache: Any,
    ) -> list[list[np.ndarray]]:
        """log q of each (owner, trie): the trie's inner nodes (in preorder) fed as one row
        each, after the owners' cached keys and values (already copied to the trie rows).

        Owner ``o``'s text is ``offset[o]`` tokens long and ``last[o]`` is its last token's
        hidden state (the root's children's logits, slot 0). A row's query ``q`` sees the
        cached keys its ``sees_cached`` masks allow ((rows, keys) each, in cache order) and
        the trie keys ``k <= q < end[k]``, at position ``offset + depth - 1``.
        """
        device = self.lm.device
        n = len(last)
        width = max(len(trie.inner) for _, trie in tries)
        rows = len(tries)
        input_ids = np.full((rows, width), self._pad_id, dtype=np.int64)
        position_ids = np.zeros((rows, width), dtype=np.int64)
        end = np.arange(1, width + 1, dtype=np.int64)[None, :].repeat(rows, axis=0)
        # Head rows: the n owners' last tokens, then the rows x width trie positions.
        head_rows, node_slot, node_token, counts = [], [], [], []
        n_rows = 0
        for r, (o, trie) in enumerate(tries):
            fed = trie.inner
            m = len(fed)
            input_ids[r, :m] = trie.tokens[fed]
            position_ids[r, :m] = offset[o] + trie.depth[fed] - 1
            end[r, :m] = np.searchsorted(fed, trie.end[fed])
            head_rows.append(np.concatenate([[o], n + r * width + np.arange(m)]))
            node_slot.append(n_rows + trie.head_slot)
            node_token.append(trie.tokens)
            counts.append(len(trie.tokens))
            n_rows += m + 1
        q = torch.arange(width, device=device)
        end_t = torch.from_numpy(end).to(device)
        sees_trie = (q[None, None, :] <= q[None, :, None]) & (q[None, :, None] < end_t[:, None, :])
        allowed = torch.cat(
            [s[:, None, :].expand(-1, width, -1) for s in sees_cached] + [sees_trie], dim=2
        )[:, None]
        out_pass = self._base(
            input_ids=torch.from_numpy(input_ids).to(device),
            attention_mask=self._mask_format(allowed),
            position_ids=torch.from_numpy(position_ids).to(device),
            use_cache=True,
            **{self._cache_argument: cache},
        )
        hidden = torch.cat([last, out_pass.last_hidden_state.flatten(0, 1)])
        hidden = hidden[torch.from_numpy(np.concatenate(head_rows)).to(device)]
        lp = self._node_log_probs(
            hidden,
            torch.from_numpy(np.concatenate(node_slot)).to(device),
            torch.from_numpy(np.concatenate(node_token)).to(device),
        )
        pieces = np.split(lp, np.cumsum(counts)[:-1])
        out: list[list[np.ndarray]] = [[] for _ in range(n)]
        for (o, trie), piece in zip(tries, pieces, strict=True):
            out[o].append(trie.log_q(piece))
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
        """Sum of the log-probabilities of ``ids[start:]`` in each (ids, start) row."""
        sums = self._forward_spans([(ids, [(start, len(ids))]) for ids, start in rows])
        return [s[0] for s in sums]

    def _forward_spans(
        self, rows: list[tuple[list[int], list[tuple[int, int]]]]
    ) -> list[list[float]]:
        """Sum of the log-probabilities of ``ids[a:b]`` for every span (a, b) of each row.

        One padded causal row each; under FlexAttention the rows are packed into one
        sequence of a fixed length like the tries, each segment causal on its own.
        """
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
                return self._forward_spans(rows)
        else:
            input_ids, _ = _padded([ids for ids, _ in rows], fill=self._pad_id)
            starts = np.arange(len(rows)) * input_ids.shape[1]
            # Right padding under a plain causal mask: real tokens never see the padding.
            hidden = self._base(
                input_ids=torch.from_numpy(input_ids).to(device), use_cache=False
            ).last_hidden_state
        # Each span's head rows (the positions before its tokens) and targets, in order.
        head_rows = np.concatenate(
            [
                c + np.arange(a - 1, b - 1)
                for (_, spans), c in zip(rows, starts, strict=True)
                for a, b in spans
            ]
        )
        targets = np.concatenate(
            [np.asarray(ids[a:b], dtype=np.int64) for ids, spans in rows for a, b in spans]
        )
        counts = [b - a for _, spans in rows for a, b in spans]
        hidden = hidden.reshape(input_ids.size, -1)[torch.from_numpy(head_rows).to(device)]
        slot = torch.arange(hidden.shape[0], device=device)
        token = torch.from_numpy(targets).to(device)
        lp = self._node_log_probs(hidden, slot, token).astype(np.float64)
        sums = iter(float(piece.sum()) for piece in np.split(lp, np.cumsum(counts)[:-1]))
        return [[next(sums) for _ in spans] for _, spans in rows]

    def score_prefixed(
        self,
        prefixes: Sequence[str],
        rests: Sequence[str],
        candidates: Sequence[str],
        *,
        starts: Sequence[int] | None = None,
    ) -> np.ndarray:
        """`score` of the prompts ``prefixes[i] + rests[i]``, each distinct prefix fed once.

        Prompts with the same prefix text form a group (e.g. one person's simulated careers:
        the header and the observed waves, then each draw's simulated waves): the group's
        prefix is fed once (with the tokenizer's BOS, keys and values kept), each prompt's
        rest attends to those cached keys, and each of its candidate tries to the prefix's
        and the rest's keys. Every token gets exactly the hidden state it gets in `score`,
        which feeds each prompt whole.

        Tokenization is the whole prompt's, as in `score`: a prompt is scored this way only
        when its prefix's tokens are a prefix of the tokens `score` feeds for the whole
        prompt; otherwise (a token spanning the cut, a prefix that covers tokens the
        candidates merge with, or an empty prefix without BOS) it is scored by `score`.
        Cut prefixes at a line or wave start so that the check passes.

        On CUDA (FlexAttention) and where the prompts' keys and values are not reused
        (sliding-window attention, see ``max_trie_nodes``), this is `score` of the whole
        prompts. ``tokens_fed["prefix"]`` counts the prefixes' tokens, rests count as
        ``"prompt"`` and trie nodes as ``"trie"``; ``last_whole_tokens`` is then what `score`
        feeds for the same prompts (each prompt whole, and its tries).

        Parameters
        ----------
        prefixes, rests : sequence of str
            Prompt i is ``prefixes[i] + rests[i]`` (not empty); either part may be empty.
        candidates : sequence of str
            The K candidate continuations (as in `score`).
        starts : sequence of int, optional
            Where each whole prompt's last wave begins (as in `score`).

        Returns
        -------
        numpy.ndarray
            Float64 array of shape (n, K): ``log P(candidates[k] | prefixes[i] + rests[i])``.

        Raises
        ------
        ValueError
            When `prefixes` and `rests` differ in length, for an empty prompt, or for bad
            candidates (as in `score`).
        TypeError
            For a single string where a sequence is expected.

        Examples
        --------
        >>> from labor_econ.datasets import wage_panel
        >>> from labor_econ.demo import demo_lm
        >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
        >>> train, val = fit_panel.split(test_size=0.1, seed=0)
        >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
        >>> from labor_econ import ResumeTemplate
        >>> template = ResumeTemplate.preset("labor_llm")
        >>> prompt = template.prompts(val).iloc[3]
        >>> cut = prompt.rfind("\\n", 0, len(prompt) - 1) + 1  # a line start
        >>> candidates = template.continuations(val.taxonomy)
        >>> scorer = CandidateScorer(lm, progress=False)
        >>> log_q = scorer.score_prefixed([prompt[:cut]] * 2, [prompt[cut:], ""], candidates)
        >>> whole = scorer.score([prompt, prompt[:cut]], candidates)
        >>> bool(np.abs(log_q - whole).max() < 1e-4), scorer.tokens_fed["prefix"] > 0
        (True, True)
        """
        if isinstance(prefixes, str) or isinstance(rests, str):
            raise TypeError("prefixes and rests must be sequences of strings, not one string")
        prefixes, rests = list(prefixes), list(rests)
        if len(prefixes) != len(rests):
            raise ValueError(
                f"got {len(prefixes)} prefixes but {len(rests)} rests; pass one rest per prefix"
            )
        for name, texts in (("prefixes", prefixes), ("rests", rests)):
            bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
            if bad:
                raise TypeError(
                    f"{name}[{bad[0]}] is a {type(texts[bad[0]]).__name__}, not a string"
                )
        candidates = _check_candidates(candidates)
        prompts = _check_texts([p + r for p, r in zip(prefixes, rests, strict=True)], "prompts")
        self.last_whole_tokens = 0
        if not self._share_prompts or not prompts:
            before = sum(self.tokens_fed.values())
            out = self.score(prompts, candidates, starts=starts)
            self.last_whole_tokens = sum(self.tokens_fed.values()) - before
            return out
        out = np.empty((len(prompts), len(candidates)), dtype=np.float64)
        plans = self._plan(prompts, candidates, starts)
        self._check_context(
            [len(ids) + max(int(trie.depth.max()) for trie, _ in parts) for ids, parts in plans]
        )
        distinct = list(dict.fromkeys(prefixes))
        head_ids = dict(zip(distinct, self._tok.encode(distinct), strict=True))
        bos = self._tok.prefix
        members: dict[str, list[int]] = {}
        alone = []
        for i, (text, (ids, _)) in enumerate(zip(prefixes, plans, strict=True)):
            head = bos + head_ids[text]
            if head and len(head) <= len(ids) and ids[: len(head)] == head:
                members.setdefault(text, []).append(i)
            else:
                alone.append(i)
        self.last_whole_tokens = sum(
            len(ids) + sum(len(t.inner) for t, _ in parts) for ids, parts in plans
        )
        if alone:
            out[alone] = self.score(
                [prompts[i] for i in alone],
                candidates,
                starts=None if starts is None else [starts[i] for i in alone],
            )
        # A unit: one prefix and the prompts (at most the token budget's worth) that share it.
        budget = self._token_budget()
        units: list[tuple[list[int], list[int]]] = []
        lengths = []
        for text, rows in members.items():
            head = bos + head_ids[text]
            chunk, size = [], len(head)
            for i in rows:
                ids, parts = plans[i]
                cost = len(ids) - len(head) + sum(len(t.inner) for t, _ in parts)
                if chunk and size + cost > budget:
                    units.append((head, chunk))
                    lengths.append(size)
                    chunk, size = [], len(head)
                chunk.append(i)
                size += cost
            units.append((head, chunk))
            lengths.append(size)

        def run(batch: list[int]) -> None:
            chosen = [units[u] for u in batch]
            rows = [
                (g, plans[i][0][len(head) :], [t for t, _ in plans[i][1]])
                for g, (head, chunk) in enumerate(chosen)
                for i in chunk
            ]
            values = self._forward_prefixed([head for head, _ in chosen], rows)
            order = [i for _, chunk in chosen for i in chunk]
            for i, per_trie in zip(order, values, strict=True):
                for (_, cols), value in zip(plans[i][1], per_trie, strict=True):
                    out[i, cols] = value
            # Counted once the batch ran (not again when an out-of-memory batch is retried).
            self.tokens_fed["prefix"] = self.tokens_fed.get("prefix", 0) + sum(
                len(head) for head, _ in chosen
            )
            self.tokens_fed["prompt"] += sum(len(rest) for _, rest, _ in rows)
            self.tokens_fed["trie"] += sum(len(t.inner) for *_, ts in rows for t in ts)

        if units:
            self._run_batches(lengths, run)
        return out

    def _forward_prefixed(
        self, heads: list[list[int]], rows: list[tuple[int, list[int], list[_Trie]]]
    ) -> list[list[np.ndarray]]:
        """log q of each trie of each (head index, rest ids, tries) row, in three passes.

        The heads (shared prefixes) are fed once, right-padded and causal; their keys and
        values are copied to every row, whose rest tokens (right-padded) see their head's
        real keys and the rest's earlier tokens; the keys and values are then copied to
        every trie, whose inner nodes (in preorder) see the head, the rest and the trie keys
        ``k <= q < end[k]``, at position head + rest length + depth - 1 (as in
        `_forward_shared`, one level deeper). The root's children get their logits from the
        row's last token: the rest's, or the head's when the rest is empty.
        """
        device = self.lm.device
        head_ids, head_len = _padded(heads, fill=self._pad_id)
        first = self._base(input_ids=torch.from_numpy(head_ids).to(device), use_cache=True)
        cache = getattr(first, "cache", None)  # transformers 5.24+; before: past_key_values
        if cache is None:
            cache = first.past_key_values
        group = np.array([g for g, _, _ in rows], dtype=np.int64)
        cache.batch_select_indices(torch.from_numpy(group).to(device))
        n = len(rows)
        own = head_len[group]  # each row's real head keys
        rest_len = np.array([len(rest) for _, rest, _ in rows], dtype=np.int64)
        kept_head = head_ids.shape[1]
        last = first.last_hidden_state[
            torch.from_numpy(group).to(device), torch.from_numpy(own - 1).to(device)
        ]
        width = int(rest_len.max())
        if width:
            rest_ids = np.full((n, width), self._pad_id, dtype=np.int64)
            for r, (_, rest, _) in enumerate(rows):
                rest_ids[r, : len(rest)] = rest
            position_ids = own[:, None] + np.arange(width)[None, :]
            q = torch.arange(width, device=device)
            k = torch.arange(kept_head, device=device)
            sees_head = k[None, :] < torch.from_numpy(own).to(device)[:, None]
            # Causal among the rest; a padding query sees its head and what precedes it.
            sees_rest = (q[None, :] <= q[:, None])[None].expand(n, -1, -1)
            allowed = torch.cat([sees_head[:, None, :].expand(-1, width, -1), sees_rest], dim=2)
            second = self._base(
                input_ids=torch.from_numpy(rest_ids).to(device),
                attention_mask=self._mask_format(allowed[:, None]),
                position_ids=torch.from_numpy(position_ids).to(device),
                use_cache=True,
                **{self._cache_argument: cache},
            )
            has_rest = torch.from_numpy(rest_len > 0).to(device)
            at = torch.from_numpy(np.maximum(rest_len - 1, 0)).to(device)
            from_rest = second.last_hidden_state[torch.arange(n, device=device), at]
            last = torch.where(has_rest[:, None], from_rest, last)
        tries = [(r, trie) for r, (_, _, ts) in enumerate(rows) for trie in ts]
        owner = np.array([r for r, _ in tries], dtype=np.int64)
        cache.batch_select_indices(torch.from_numpy(owner).to(device))
        k = torch.arange(kept_head, device=device)
        sees = [k[None, :] < torch.from_numpy(own[owner]).to(device)[:, None]]
        if width:
            k = torch.arange(width, device=device)
            sees.append(k[None, :] < torch.from_numpy(rest_len[owner]).to(device)[:, None])
        return self._forward_trie_rows(tries, own + rest_len, sees, last, cache)


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


def _person_units(
    texts: Sequence[str], rows: Sequence[tuple[list[int], int]], persons: Sequence[Any] | None
) -> tuple[list[tuple[list[int], list[tuple[int, int, int]]]], int]:
    """Token sequences to feed, the (row, start, stop) spans to read off each, and how many
    rows of persons fell back to a sequence of their own.

    Without `persons`, one sequence per row. With them, each person's rows whose text is a
    prefix of the person's longest text and whose tokens (`rows[i][0]`, the joint
    tokenization) are a prefix of that text's tokens share one sequence: causal attention
    gives every such row exactly the hidden states of its own pass. Every other row keeps
    a sequence of its own (the per-row fallback).
    """
    if persons is None:
        return [(ids, [(i, start, len(ids))]) for i, (ids, start) in enumerate(rows)], 0
    groups: dict[Any, list[int]] = {}
    for i, person in enumerate(persons):
        groups.setdefault(person, []).append(i)
    units, fallback = [], 0
    for members in groups.values():
        longest = max(members, key=lambda i: len(texts[i]))
        full = rows[longest][0]
        spans, alone = [], []
        for i in members:
            ids, start = rows[i]
            fits = texts[longest].startswith(texts[i]) and full[: len(ids)] == ids
            (spans if fits else alone).append((i, start, len(ids)))
        units.append((full, spans))
        units.extend((rows[i][0], [(i, a, b)]) for i, a, b in alone)
        fallback += len(alone)
    return units, fallback
