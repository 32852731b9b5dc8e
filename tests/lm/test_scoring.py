"""Tests of CandidateScorer (token-trie scoring) against the naive one-row-per-pair reference."""

from __future__ import annotations

import random
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import logsumexp

from labor_econ.lm import CandidateScorer, naive_score
from labor_econ.lm.testing import tiny_lm

TOL = 1e-4


def _titles() -> list[str]:
    with resources.as_file(resources.files("labor_econ") / "data" / "occ1990_ipums.csv") as path:
        return pd.read_csv(path)["title"].tolist()


def _resume(rng: random.Random, titles: list[str], years: int) -> str:
    born = rng.randint(1940, 1975)
    start = born + rng.randint(17, 25)
    lines = [f"A worker born in {born}."]
    lines += [f"{start + j} (age {start + j - born}): {rng.choice(titles)}" for j in range(years)]
    lines.append(f"{start + years} (age {start + years - born}):")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def lm(tmp_path_factory: pytest.TempPathFactory):
    rng = random.Random(0)
    titles = _titles()
    texts = [
        _resume(rng, titles, rng.randint(1, 6)) + f" {rng.choice(titles)}\n" for _ in range(800)
    ]
    # A large init makes every attention weight and position matter, so that a wrong mask or
    # position id moves the scores far beyond TOL.
    return tiny_lm(
        tmp_path_factory.mktemp("scoring_lm"), texts, vocab_size=1024, initializer_range=0.3,
        seed=1, device="cpu",
    )  # fmt: skip


@pytest.fixture
def scorer(lm):
    return CandidateScorer(lm, progress=False, attn_implementation="sdpa")


CANDIDATES = [
    " Cashiers\n",
    " Cashiers and clerks\n",
    " Cashiers\n\n",
    " Sales workers, n.e.c. (retail)\n",
    " Sales",
    " Sales workers",
    " 911 dispatchers #2\n",
    " Café owners\n",
    " Zürich bankers €\n",
    "Cashiers\n",
]

PROMPTS = [
    "x",
    "Occupation:",
    "A worker born in 1961.\n1980 (age 19): Cashiers\n1981 (age 20): Sales workers\n1982 (age 21):",
    "Another worker.\n1982 (age 21):",
    "Born 1950.\n" + "\n".join(f"{1970 + j} (age {20 + j}): Stock clerks" for j in range(12)),
    "Line one\nline two ends with a newline\n",
]


class _RecordForward:
    """Record the input shapes of every forward of a module."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.handle = module.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs) -> None:
        self.shapes.append(tuple(kwargs["input_ids"].shape))


@pytest.mark.parametrize("max_trie_nodes", ["auto", None, 4, 24])
def test_trie_matches_naive_over_several_forwards(lm, scorer, max_trie_nodes):
    scorer.batch_tokens = 250
    scorer.max_trie_nodes = max_trie_nodes
    record = _RecordForward(lm.model.model)
    try:
        got = scorer.score(PROMPTS, CANDIDATES)
    finally:
        record.handle.remove()
    assert len(record.shapes) > 2  # several forwards
    assert any(rows > 1 for rows, _ in record.shapes)  # and rows of different lengths padded
    want = naive_score(lm, PROMPTS, CANDIDATES)
    assert got.shape == (len(PROMPTS), len(CANDIDATES)) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert np.all(got < 0)
    # Prefix candidates are distinct outcomes with distinct scores.
    assert np.all(np.abs(got[:, 0] - got[:, 1]) > 1e-3)


def test_one_prompt_per_forward_equals_batched(scorer):
    batched = scorer.score(PROMPTS, CANDIDATES)
    scorer.batch_tokens = 1
    np.testing.assert_allclose(scorer.score(PROMPTS, CANDIDATES), batched, rtol=0, atol=TOL)


def test_boundary_merges_are_scored_on_the_joint_tokenization(lm, scorer):
    # A prompt ending in a space: alone it ends with the token "▁", jointly "▁Cashiers".
    # Mid-word prompts: "▁S" "al" + "es" becomes "▁Sales".
    prompts = ["1990 (age 20): Cashiers\n1991 (age 21): ", "Job: Sal", "Job: Cash", "Job:"]
    candidates = ["Cashiers\n", "es workers\n", "iers\n", " Sales\n"]
    plans = scorer._plan(prompts, candidates)
    drops = [
        len(lm.tokenizer(p)["input_ids"]) - len(ids)
        for p, (ids, _) in zip(prompts, plans, strict=True)
    ]
    assert drops[0] >= 1 and drops[1] >= 1  # the boundary case is really exercised
    got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, naive_score(lm, prompts, candidates), rtol=0, atol=TOL)
    assert np.all(got < 0)
    # A trailing space of the prompt scores like a leading space of the candidate.
    stripped = scorer.score(["1990 (age 20): Cashiers\n1991 (age 21):"], [" Cashiers\n"])
    np.testing.assert_allclose(got[0, 0], stripped[0, 0], rtol=0, atol=TOL)


def test_cached_tokenization_matches_full(lm, scorer):
    rng = random.Random(5)
    titles = _titles()
    heads = [_resume(rng, titles, rng.randint(0, 4)).rsplit("\n", 1)[0] for _ in range(12)]
    prompts = [h + "\n2001 (age 30):" for h in heads] + [h + "\n2001 (age 30): " for h in heads]
    candidates = [" " + t + "\n" for t in titles[:40]] + ["Cashiers\n", "€\n"]
    got = scorer.score(prompts, candidates)
    assert len(scorer._paths) <= 4  # two distinct last lines, not one entry per prompt
    np.testing.assert_allclose(
        got[::5], naive_score(lm, prompts[::5], candidates), rtol=0, atol=TOL
    )


def test_eager_matches_sdpa(lm, scorer):
    sdpa = scorer.score(PROMPTS, CANDIDATES)
    try:
        eager = CandidateScorer(lm, progress=False, attn_implementation="eager")
        assert eager.attn_implementation == "eager"
        assert eager._attention_mask(torch.tensor([[2, 2]])).dtype == torch.float32
        np.testing.assert_allclose(eager.score(PROMPTS, CANDIDATES), sdpa, rtol=0, atol=TOL)
    finally:
        lm.model.set_attn_implementation("sdpa")


class _BoolMaskScorer(CandidateScorer):
    def _attention_mask(self, end: torch.Tensor) -> torch.Tensor:
        n = end.shape[1]
        pos = torch.arange(n)
        allowed = (pos[None, None, :] <= pos[None, :, None]) & (pos[None, :, None] < end[:, None])
        return allowed[:, None]


def test_bool_mask_is_silently_wrong_with_eager(lm, scorer):
    right = scorer.score(PROMPTS, CANDIDATES)
    try:
        wrong = _BoolMaskScorer(lm, progress=False, attn_implementation="eager")
        # Eager adds the mask to the attention logits: a bool mask adds 1/0 and masks nothing.
        assert np.abs(wrong.score(PROMPTS, CANDIDATES) - right).max() > 0.1
    finally:
        lm.model.set_attn_implementation("sdpa")
    # The same bool mask is right under sdpa.
    assert (
        np.abs(_BoolMaskScorer(lm, progress=False).score(PROMPTS, CANDIDATES) - right).max() < TOL
    )


def test_custom_4d_mask_reaches_attention_unchanged(lm, scorer):
    built, seen = [], []
    original = scorer._attention_mask

    def record(end):
        built.append(original(end))
        return built[-1]

    scorer._attention_mask = record
    attention = lm.model.model.layers[0].self_attn
    handle = attention.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["attention_mask"]), with_kwargs=True
    )
    try:
        scorer.score(PROMPTS[:2], CANDIDATES)
    finally:
        handle.remove()
    assert len(built) == len(seen) >= 1
    assert all(a is b for a, b in zip(built, seen, strict=True))
    assert built[0].dim() == 4 and built[0].dtype == torch.bool


def test_all_occ1990_titles(lm, scorer):
    titles = _titles()
    candidates = [f" {t}\n" for t in titles]
    rng = random.Random(7)
    prompts = [_resume(rng, titles, rng.randint(0, 8)) for _ in range(64)]
    got = scorer.score(prompts, candidates)
    assert got.shape == (64, 389)
    assert np.all(np.isfinite(got)) and np.all(got < 0)
    # Candidates end in "\n", so they are disjoint events: their probabilities sum to <= 1.
    assert np.all(logsumexp(got, axis=1) <= 1e-9)
    rows = [0, 33, 63]
    np.testing.assert_allclose(
        got[rows], naive_score(lm, [prompts[i] for i in rows], candidates, batch_size=128),
        rtol=0, atol=TOL,
    )  # fmt: skip


def test_score_observed_matches_score(lm, scorer):
    continuations = [CANDIDATES[i % len(CANDIDATES)] for i in range(len(PROMPTS))]
    observed = scorer.score_observed(PROMPTS, continuations)
    assert observed.shape == (len(PROMPTS),)
    full = scorer.score(PROMPTS, CANDIDATES)
    want = [full[i, CANDIDATES.index(c)] for i, c in enumerate(continuations)]
    np.testing.assert_allclose(observed, want, rtol=0, atol=TOL)
    prompts, continuations = ["Job: Sal", "Occupation: "], ["es workers\n", "Cashiers\n"]
    merged = scorer.score_observed(prompts, continuations)
    want = np.diag(naive_score(lm, prompts, continuations))
    np.testing.assert_allclose(merged, want, rtol=0, atol=TOL)


def test_scoring_leaves_training_flag_and_shows_no_bar_off_a_terminal(lm, capsys):
    scorer = CandidateScorer(lm, progress=True)
    lm.model.train()
    try:
        scorer.score(PROMPTS[:2], CANDIDATES)
        assert lm.model.training
    finally:
        lm.model.eval()
    assert "scoring" not in capsys.readouterr().err


def test_dtype_casts_the_model(lm):
    from labor_econ.lm import load_lm

    copy = load_lm(lm.name, device="cpu")
    scorer = CandidateScorer(copy, dtype="bfloat16", progress=False)
    assert copy.dtype == torch.bfloat16
    got = scorer.score(PROMPTS[:2], CANDIDATES)
    assert got.dtype == np.float64 and np.all(np.isfinite(got))


def test_input_validation(scorer):
    with pytest.raises(ValueError, match="candidates is empty"):
        scorer.score(["a"], [])
    with pytest.raises(ValueError, match="duplicates.*' Cashiers\\\\n'"):
        scorer.score(["a"], [" Cashiers\n", " Sales\n", " Cashiers\n"])
    with pytest.raises(ValueError, match="empty strings"):
        scorer.score(["a", ""], [" b"])
    with pytest.raises(ValueError, match="empty strings"):
        scorer.score(["a"], [" b", ""])
    with pytest.raises(TypeError, match="single string"):
        scorer.score("a prompt", [" b"])
    with pytest.raises(ValueError, match="one continuation per prompt"):
        scorer.score_observed(["a", "b"], [" c"])
    assert scorer.score([], [" b", " c"]).shape == (0, 2)
    with pytest.raises(ValueError, match="4D attention mask"):
        CandidateScorer(scorer.lm, attn_implementation="flash_attention_2")
    with pytest.raises(ValueError, match="max_trie_nodes"):
        CandidateScorer(scorer.lm, max_trie_nodes=0)
