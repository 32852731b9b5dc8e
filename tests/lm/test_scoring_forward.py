"""The trie forward's attention paths, leaf skipping, OOM halving and the context check.

Every path is checked against `naive_score` (one plain causal row per prompt + candidate).
"""

from __future__ import annotations

import random
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch

from labor_econ.lm import CandidateScorer, naive_score
from labor_econ.lm.blockmask import block_mask_from_end, end_mask_mod
from labor_econ.lm.scoring import ContextLengthError, _lay_out, _pack_length, _packed_width
from labor_econ.lm.testing import tiny_lm

TOL = 1e-4


def _titles() -> list[str]:
    with resources.as_file(resources.files("labor_econ") / "data" / "occ1990_ipums.csv") as path:
        return pd.read_csv(path)["title"].tolist()


def _resume(rng: random.Random, titles: list[str], years: int) -> str:
    born = rng.randint(1940, 1975)
    lines = [f"A worker born in {born}."]
    lines += [f"{born + 20 + j}: {rng.choice(titles)}" for j in range(years)]
    return "\n".join(lines + [f"{born + 20 + years}:"])


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    rng = random.Random(0)
    titles = _titles()
    texts = [
        _resume(rng, titles, rng.randint(1, 5)) + f" {rng.choice(titles)}\n" for _ in range(400)
    ]
    return tiny_lm(
        tmp_path_factory.mktemp("forward_lm"), texts, vocab_size=700, initializer_range=0.3,
        seed=2, max_position_embeddings=256, device="cpu",
    )  # fmt: skip


@pytest.fixture(scope="module")
def case(lm):
    titles = _titles()
    rng = random.Random(3)
    candidates = [f" {t}\n" for t in titles[:60]] + [" Sales", " Sales workers", "Cashiers\n"]
    prompts = [_resume(rng, titles, rng.randint(0, 4)) for _ in range(5)] + ["Job: Sal"]
    return prompts, candidates, naive_score(lm, prompts, candidates, batch_size=128)


@pytest.fixture
def sdpa(lm):
    lm.model.set_attn_implementation("sdpa")
    yield lm
    lm.model.set_attn_implementation("sdpa")


class _Inputs:
    """Record input_ids shapes and attention masks of every forward of a module, inside
    a ``with`` block."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.masks: list[object] = []
        self.module = module

    def __enter__(self) -> _Inputs:
        self.handle = self.module.register_forward_pre_hook(self, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()

    def __call__(self, module, args, kwargs) -> None:
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        self.masks.append(kwargs.get("attention_mask"))


def test_leaves_are_not_fed_and_scores_stay_exact(sdpa, case):
    prompts, candidates, want = case
    scorer = CandidateScorer(sdpa, progress=False, batch_tokens=1, max_trie_nodes=None)
    plans = scorer._plan(prompts, candidates)
    with _Inputs(sdpa.model.model) as record:
        got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    # One row per prompt: its tokens plus the trie's inner nodes, every leaf left out.
    fed = sorted(len(ids) + len(parts[0][0].inner) for ids, parts in plans)
    assert sorted(width for _, width in record.shapes) == fed
    leaves = sum(len(parts[0][0].tokens) - len(parts[0][0].inner) for _, parts in plans)
    assert leaves >= len(candidates) * len(prompts) // 2


@pytest.fixture
def uncompiled_flex(monkeypatch):
    # transformers compiles flex_attention on first use, minutes on a CPU; the uncompiled
    # kernel computes the same attention under the same BlockMask.
    flex_module = pytest.importorskip("transformers.integrations.flex_attention")
    from torch.nn.attention.flex_attention import flex_attention

    def uncompiled(query, key, value, training=False, **kwargs):
        return flex_attention(query, key, value, **kwargs)

    monkeypatch.setattr(flex_module, "compile_friendly_flex_attention", uncompiled)


@pytest.mark.parametrize("max_trie_nodes", [None, 40])  # 40: tries cut into ~16 rows
def test_flex_attention_packs_rows_and_matches_naive(sdpa, case, uncompiled_flex, max_trie_nodes):
    from torch.nn.attention.flex_attention import BlockMask

    prompts, candidates, want = case
    scorer = CandidateScorer(
        sdpa, progress=False, attn_implementation="flex_attention", batch_tokens=1300,
        max_trie_nodes=max_trie_nodes,
    )  # fmt: skip
    assert scorer.attn_implementation == "flex_attention"
    plans = scorer._plan(prompts, candidates)
    sizes = [len(ids) + len(trie.inner) for ids, parts in plans for trie, _ in parts]
    # Each packed length compiles a static graph: no switch to dynamic shapes mid-run.
    dynamic = []
    hook = sdpa.model.model.register_forward_pre_hook(
        lambda *_: dynamic.append(torch._dynamo.config.automatic_dynamic_shapes)
    )
    try:
        with _Inputs(sdpa.model.model) as record:
            got = scorer.score(prompts, candidates)
            calls = len(record.shapes)
            few = scorer.score(prompts[:1], candidates)  # a call with one short batch
    finally:
        hook.remove()
    assert dynamic and not any(dynamic) and torch._dynamo.config.automatic_dynamic_shapes
    np.testing.assert_allclose(few, want[:1], rtol=0, atol=TOL)
    assert all(isinstance(m, BlockMask) for m in record.masks)
    # (prompt, trie) rows packed one after another into one sequence of a fixed length:
    # the budget rounded up to 128 (1408), or 1408 / 4 and / 16 for a last, short batch.
    assert all(rows == 1 for rows, _ in record.shapes)
    assert {width for _, width in record.shapes} <= {1408, 384, 128}
    assert calls < len(sizes)  # several rows share a forward
    assert sum(width for _, width in record.shapes[:calls]) < sum(sizes) + 1408
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


def test_flex_attention_packs_observed_rows_causally(sdpa, case, uncompiled_flex):
    prompts, candidates, want = case
    scorer = CandidateScorer(
        sdpa, progress=False, attn_implementation="flex_attention", batch_tokens=300
    )
    chosen = [(i, k) for i in range(len(prompts)) for k in (0, 7, len(candidates) - 1)]
    with _Inputs(sdpa.model.model) as record:
        got = scorer.score_observed(
            [prompts[i] for i, _ in chosen], [candidates[k] for _, k in chosen]
        )
    np.testing.assert_allclose(got, [want[i, k] for i, k in chosen], rtol=0, atol=TOL)
    assert all(rows == 1 for rows, _ in record.shapes)
    assert {width for _, width in record.shapes} <= {384, 128}  # 300 rounded up; / 4, / 16
    assert len(record.shapes) < len(chosen)  # several rows share a packed forward


def test_packed_lengths_are_few_and_hold_the_batch():
    assert _packed_width(1000, 1408) == 1408
    assert _packed_width(384, 1408) == 384 and _packed_width(385, 1408) == 1408
    assert _packed_width(100, 1408) == 128
    assert _packed_width(300, None) == 384  # no packed length: the tokens rounded up
    assert _packed_width(2000, 1408) == 2048  # never less than the tokens
    assert _pack_length(1300, 600) == 1408  # the budget rounded up to 128
    assert _pack_length(300, 600) == _pack_length(500, 1000) == 1024  # rows over the budget
    assert _pack_length(300, 1025) == 2048


def test_packed_layout_is_the_rows_one_after_another(sdpa, case):
    prompts, candidates, _ = case
    scorer = CandidateScorer(sdpa, progress=False, attn_implementation="sdpa", max_trie_nodes=40)
    plans = [(ids, trie) for ids, parts in scorer._plan(prompts, candidates) for trie, _ in parts]
    plans = plans[:5]
    rows = _lay_out(plans, -1, None)
    packed = _lay_out(plans, -1, 512)
    width = rows[0].shape[1]
    assert packed[0].shape == (1, 512)
    sizes = [len(ids) + len(trie.inner) for ids, trie in plans]
    at, heads = 0, []
    for b, size in enumerate(sizes):
        segment = slice(at, at + size)
        assert np.array_equal(packed[0][0, segment], rows[0][b, :size])  # tokens
        assert np.array_equal(packed[1][0, segment], rows[1][b, :size])  # positions from 0
        assert np.array_equal(packed[2][0, segment], rows[2][b, :size] + at)  # ends, shifted
        assert packed[2][0, segment].max() == at + size  # never past the segment's end
        heads.append(rows[3][rows[3] // width == b] - b * width + at)
        at += size
    assert np.array_equal(packed[3], np.concatenate(heads))  # the head reads the same rows
    assert (packed[0][0, at:] == -1).all()
    assert np.array_equal(packed[2][0, at:], np.arange(at, 512) + 1)  # padding sees itself


def _packed_ends(scorer, prompts, candidates, width):
    plans = [(ids, trie) for ids, parts in scorer._plan(prompts, candidates) for trie, _ in parts]
    plans.sort(key=lambda plan: -len(plan[0]) - len(plan[1].inner))  # longest first
    packs, batch, used = [], [], 0
    for ids, trie in plans:
        size = len(ids) + len(trie.inner)
        if batch and used + size > width:
            packs.append(batch)
            batch, used = [], 0
        batch.append((ids, trie))
        used += size
    packs.append(batch)
    return torch.from_numpy(np.concatenate([_lay_out(b, 0, width)[2] for b in packs]))


@pytest.mark.parametrize("max_trie_nodes", [None, 40])
def test_block_mask_from_ends_equals_create_block_mask(sdpa, case, max_trie_nodes):
    from torch.nn.attention.flex_attention import create_block_mask

    prompts, candidates, _ = case
    # A long prompt (no model runs here: longer than the context is fine): its first
    # 128-token blocks are full blocks for the later blocks of its row.
    prompts = [*prompts, "\n".join(prompts[:5] * 2)]
    scorer = CandidateScorer(
        sdpa, progress=False, attn_implementation="sdpa", max_trie_nodes=max_trie_nodes
    )
    end = _packed_ends(scorer, prompts, candidates, 1024)
    n = end.shape[1]
    got = block_mask_from_end(end)
    want = create_block_mask(end_mask_mod(end), end.shape[0], None, n, n, device="cpu")
    assert end.shape[0] > 1 and got.kv_num_blocks.shape == want.kv_num_blocks.shape
    assert torch.equal(got.to_dense(), want.to_dense())
    # The same partial / full split: full blocks need no mask_mod, partial blocks do.
    for count_name, index_name in [
        ("kv_num_blocks", "kv_indices"), ("full_kv_num_blocks", "full_kv_indices"),
    ]:  # fmt: skip
        count, count_want = getattr(got, count_name), getattr(want, count_name)
        index, index_want = getattr(got, index_name), getattr(want, index_name)
        assert torch.equal(count, count_want)
        for b, _, q in np.ndindex(*count.shape):
            c = int(count[b, 0, q])
            assert sorted(index[b, 0, q, :c].tolist()) == sorted(index_want[b, 0, q, :c].tolist())
    assert int(got.full_kv_num_blocks.sum()) > 0  # the case has full blocks
    # and the mask_mod is the trie mask itself.
    q, k = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    for b in range(end.shape[0]):
        dense = (k <= q) & (q < end[b][None, :])
        assert torch.equal(got.mask_mod(torch.tensor(b), torch.tensor(0), q, k), dense)
    with pytest.raises(ValueError, match="not a multiple of 128"):
        block_mask_from_end(end[:, :100])


@pytest.mark.parametrize("segment_end", [255, 256, 257])
def test_block_mask_from_ends_at_block_edges(segment_end):
    from torch.nn.attention.flex_attention import create_block_mask

    # Keys 0-127 (a prompt) end at 255, 256 or 257: kv block 0 is partial for q block 1
    # (rows 128-255), then full; q block 2 (rows 256-383) needs it only for 257.
    end = torch.arange(1, 513)[None, :].clone()
    end[0, :128] = segment_end
    got = block_mask_from_end(end[0].expand(1, 512))  # a stride-0 batch dimension
    (held,) = [c.cell_contents for c in got.mask_mod.__closure__]
    assert held.stride() == (512, 1)  # one layout for compiled guards, whatever the input
    want = create_block_mask(end_mask_mod(end), 1, None, 512, 512, device="cpu")
    assert torch.equal(got.to_dense(), want.to_dense())
    assert torch.equal(got.full_kv_num_blocks, want.full_kv_num_blocks)
    assert int(got.full_kv_num_blocks[0, 0, 1]) == (segment_end >= 256)
    assert int(got.kv_num_blocks[0, 0, 2]) == 1 + (segment_end > 256)


def test_block_mask_equals_dense_mask(sdpa):
    scorer = CandidateScorer(sdpa, progress=False, attn_implementation="sdpa")
    end = torch.tensor([[5, 5, 3, 4, 5, 6, 7], [2, 3, 3, 4, 5, 6, 7]])
    dense = scorer._attention_mask(end)
    sdpa.model.set_attn_implementation("flex_attention")
    block = scorer._attention_mask(end)
    assert torch.equal(block.to_dense().bool(), torch.ones(2, 1, 1, 1, dtype=torch.bool))
    q, k = torch.meshgrid(torch.arange(7), torch.arange(7), indexing="ij")
    for b in range(2):
        rebuilt = block.mask_mod(torch.tensor(b), torch.tensor(0), q, k)
        assert torch.equal(rebuilt, dense[b, 0])


def test_default_flex_falls_back_to_sdpa_when_it_fails(sdpa, case, monkeypatch):
    flex_module = pytest.importorskip("transformers.integrations.flex_attention")

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(flex_module, "compile_friendly_flex_attention", broken)
    prompts, candidates, want = case
    scorer = CandidateScorer(sdpa, progress=False, attn_implementation="flex_attention")
    scorer._flex_fallback = True  # as chosen by default on CUDA
    with pytest.warns(RuntimeWarning, match="FlexAttention failed.*no compiler"):
        got = scorer.score(prompts[:2], candidates)
    assert scorer.attn_implementation == "sdpa"
    np.testing.assert_allclose(got, want[:2], rtol=0, atol=TOL)
    # Asked for explicitly, a failing flex path raises.
    sdpa.model.set_attn_implementation("sdpa")
    explicit = CandidateScorer(sdpa, progress=False, attn_implementation="flex_attention")
    with pytest.raises(RuntimeError, match="no compiler"):
        explicit.score(prompts[:1], candidates)


class _RunsOutOfMemory(torch.nn.Module):
    """The base model, raising CUDA's out-of-memory error on forwards above `limit` tokens."""

    def __init__(self, base: torch.nn.Module, limit: int, error: type[Exception]) -> None:
        super().__init__()
        self.base, self.limit, self.error = base, limit, error
        self.failed: list[tuple[int, ...]] = []
        self.ran: list[tuple[int, ...]] = []

    def forward(self, input_ids, **kwargs):
        if input_ids.numel() > self.limit:
            self.failed.append(tuple(input_ids.shape))
            raise self.error("CUDA out of memory. Tried to allocate 20.00 GiB")
        self.ran.append(tuple(input_ids.shape))
        return self.base(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_batch_and_loses_no_row(sdpa, case):
    error = torch.cuda.OutOfMemoryError  # torch.OutOfMemoryError itself, where torch has it
    assert error is getattr(torch, "OutOfMemoryError", error)
    prompts, candidates, want = case
    scorer = CandidateScorer(sdpa, progress=False, batch_tokens=100_000, max_trie_nodes=None)
    plans = scorer._plan(prompts, candidates)
    widest = max(len(ids) + len(parts[0][0].inner) for ids, parts in plans)
    fake = _RunsOutOfMemory(scorer._base, limit=4 * widest, error=error)
    scorer._base = fake
    got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert fake.failed and fake.failed[0][0] == len(prompts)  # all rows at once: too big
    assert sum(rows for rows, _ in fake.ran) == len(prompts)  # each row ran exactly once
    assert max(rows for rows, _ in fake.ran) == 3  # 6 rows failed, 3 fit
    # A single row that does not fit re-raises, saying what to do.
    fake.limit = 1
    with pytest.raises(error, match="single prompt.*max_trie_nodes"):
        scorer.score(prompts[:1], candidates)


def test_out_of_memory_halves_a_packed_row_and_loses_no_prompt(sdpa, case, uncompiled_flex):
    prompts, candidates, want = case
    scorer = CandidateScorer(
        sdpa, progress=False, attn_implementation="flex_attention", batch_tokens=1300,
        max_trie_nodes=None,
    )  # fmt: skip
    fake = _RunsOutOfMemory(scorer._base, limit=1100, error=torch.cuda.OutOfMemoryError)
    scorer._base = fake
    got = scorer.score(prompts[:3], candidates)
    np.testing.assert_allclose(got, want[:3], rtol=0, atol=TOL)
    assert fake.failed[0] == (1, 1408)  # two ~600-token rows packed into 1408: too big
    assert fake.ran and all(rows == 1 and width <= 1100 for rows, width in fake.ran)


def test_prompts_longer_than_the_context_raise_before_any_forward(sdpa, case):
    prompts, candidates, _ = case
    long = "A worker.\n" + "\n".join(f"{1900 + j}: Cashiers" for j in range(60)) + "\n1999:"
    scorer = CandidateScorer(sdpa, progress=False)
    with _Inputs(sdpa.model.model) as record:
        with pytest.raises(ContextLengthError, match=r"prompt 1 \(\d{3} tokens\)") as info:
            scorer.score([prompts[0], long], candidates)
        with pytest.raises(ContextLengthError, match="context of 256 tokens"):
            scorer.score_observed([long], [" Cashiers\n"])
    assert record.shapes == []  # nothing ran
    ((index, tokens),) = info.value.rows
    deepest = max(len(sdpa.tokenizer(long + c)["input_ids"]) for c in candidates)
    assert index == 1 and tokens == deepest > 256
    assert "person 7, year 1999" in str(info.value.relabel(["x", "person 7, year 1999"]))


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("max_trie_nodes", [7, 40, "auto"])
def test_cut_tries_share_their_prompt_and_stay_exact(sdpa, case, attn, max_trie_nodes):
    prompts, candidates, want = case
    scorer = CandidateScorer(
        sdpa, progress=False, attn_implementation=attn, batch_tokens=100_000,
        max_trie_nodes=max_trie_nodes,
    )  # fmt: skip
    plans = scorer._plan(prompts, candidates)
    cut = [ids for ids, parts in plans if len(parts) > 1]
    with _Inputs(sdpa.model.model) as record:
        got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    if max_trie_nodes == 7:
        # Every prompt is cut, and fed once: a prompt pass, then all tries on its cache.
        assert len(cut) == len(prompts)
        width = max(len(ids) for ids in cut)
        rows = sum(len(parts) for _, parts in plans)
        assert record.shapes[0] == (len(prompts), width) and len(record.shapes) == 2
        assert record.shapes[1][0] == rows > 2 * len(prompts)


def _reference_trie(paths):
    """Node (as its token path) -> ancestors, children; the plain-dict trie of `paths`."""
    nodes = {tuple(p[:d]) for p in paths for d in range(1, len(p) + 1)}
    children = {v: {w for w in nodes if len(w) == len(v) + 1 and w[:-1] == v} for v in nodes}
    return nodes, children


def test_trie_from_sorted_paths_is_the_dict_trie():
    from labor_econ.lm.scoring import _Paths, _Trie

    rng = random.Random(11)
    for _ in range(60):
        paths = list({tuple(rng.randrange(4) for _ in range(rng.randint(1, 6))) for _ in range(25)})
        rng.shuffle(paths)
        unscored = [rng.randint(0, len(p) - 1) for p in paths]
        nodes, children = _reference_trie(paths)
        trie = _Trie.build(paths, unscored)
        path_of = []
        for v in range(len(trie.tokens)):
            above = path_of[trie.parent[v]] if trie.parent[v] >= 0 else ()
            path_of.append((*above, int(trie.tokens[v])))
        assert sorted(path_of) == sorted(nodes)  # each prefix exactly once
        assert [len(p) for p in path_of] == trie.depth.tolist()
        for v, path in enumerate(path_of):
            seen = {path_of[k] for k in range(len(path_of)) if k <= v < trie.end[k]}
            assert seen == {path[:d] for d in range(1, len(path) + 1)}  # the mask's rule
        inner = {path_of[v] for v in trie.inner}
        assert inner == {v for v in nodes if children[v]}
        assert [path_of[v] for v in trie.leaf] == paths
        lp = rng.random() * np.arange(1, len(path_of) + 1)
        want = [
            sum(lp[path_of.index(p[:d])] for d in range(a + 1, len(p) + 1))
            for p, a in zip(paths, unscored, strict=True)
        ]
        np.testing.assert_allclose(trie.log_q(lp), want, rtol=1e-12)
        # Cut tries hold every path once, each within the node limit or alone.
        parts = _Paths(tuple(paths), tuple(unscored), 0).tries(6)
        assert sorted(np.concatenate([cols for _, cols in parts]).tolist()) == list(
            range(len(paths))
        )
        assert all(len(t.tokens) <= 6 or len(cols) == 1 for t, cols in parts)
        for t, cols in parts:
            assert [len(paths[c]) for c in cols] == t.depth[t.leaf].tolist()


def test_fast_encoding_equals_the_tokenizer_call(lm):
    from labor_econ.lm.scoring import _plain_backend, _Tokenization

    tok = _Tokenization(lm.tokenizer)
    assert tok._backend is not None  # the tiny Llama's tokenizer takes the fast path
    texts = ["1990: Cashiers\n", " Sales</s> workers<unk>\n", "  two  spaces", "é ü 中文"]
    want = lm.tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    lm.tokenizer.backend_tokenizer.encode_special_tokens = False
    assert tok.encode(texts) == [list(ids) for ids in want]
    assert lm.tokenizer.backend_tokenizer.encode_special_tokens is False  # left as it was

    class Custom(type(lm.tokenizer)):
        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **kwargs)

    custom = lm.tokenizer.__class__.__new__(Custom)
    custom.__dict__.update(lm.tokenizer.__dict__)
    assert _plain_backend(custom) is None  # its own __call__ might change the text
