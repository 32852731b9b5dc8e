"""Scoring checked against references: bfloat16 against float32, and a GPT-2-style tokenizer
(byte-level BPE, no BOS token) through the scorer's fallback and error branches against
`naive_score`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from byte_level_lm import byte_level_lm

from labor_econ.lm import CandidateScorer, load_lm, naive_score

TOL = 1e-4

RESUMES = [
    f"Worker {i}\n  {1980 + j}: {title}\n  {1981 + j}: {other}\n\nWorker {i + 1}\n"
    for i in range(40)
    for j, (title, other) in enumerate(
        [("Cashiers", "Sales workers"), ("Cooks", "Cashiers"), ("Sales workers", "Cooks")]
    )
]

CANDIDATES = [" Cashiers\n", " Cashiers and clerks\n", " Sales workers\n", " Cooks\n", "\n\n"]


def _no_bos_lm(path):
    """A byte-level BPE tokenizer as GPT-2's (no BOS, "\\n" and spaces merge into one token),
    on a tiny Llama."""
    return byte_level_lm(path, RESUMES, vocab_size=420)


@pytest.fixture(scope="module")
def no_bos(tmp_path_factory):
    return _no_bos_lm(tmp_path_factory.mktemp("no_bos_lm"))


def test_tokenizer_is_gpt2_style(no_bos):
    tok = no_bos.tokenizer
    assert tok.bos_token is None
    assert tok("Cooks")["input_ids"] == tok("Cooks", add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(tok("Worker 3\n  1981: Cooks")["input_ids"])
    assert "ĊĠ" in pieces  # a token that spans the line break: the per-line cache cannot hold


PROMPTS = [
    # The last line starts after a token that spans the newline ("\n " merges): the scorer's
    # per-line cache check fails and the whole prompt is tokenized with each candidate.
    "Worker 3\n  1980: Cashiers\n  1981:",
    "Worker 3\n  1980: Cashiers\n  1981: Cooks\n\nWorker 4\n  1982:",
    # Ends in a space: merges with the candidates' leading space.
    "Worker 5\n  1980: ",
    # Ends in a line break: "\n" + "\n\n" merge across the boundary.
    "Worker 6\n  1980: Cooks\n",
    # One line only, several tokens.
    "Worker 7:",
]


def test_no_bos_scores_equal_naive(no_bos):
    scorer = CandidateScorer(no_bos, progress=False)
    assert scorer._tok.prefix == []
    got = scorer.score(PROMPTS, CANDIDATES)
    want = naive_score(no_bos, PROMPTS, CANDIDATES)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert np.all(got < 0) and np.abs(got[0] - got[1]).max() > 1e-3
    observed = scorer.score_observed(PROMPTS, CANDIDATES)
    np.testing.assert_allclose(observed, np.diag(want), rtol=0, atol=TOL)
    # Scored one prompt at a time (each its own forward), the same numbers.
    scorer.batch_tokens = 1
    np.testing.assert_allclose(scorer.score(PROMPTS, CANDIDATES), want, rtol=0, atol=TOL)


def test_no_bos_candidate_merging_with_the_first_token_raises(no_bos):
    scorer = CandidateScorer(no_bos, progress=False)
    tok = no_bos.tokenizer
    # "Wor" + "ker 1\n" is read as "Worker" " 1" "\n": the first token itself changes.
    assert tok("Wor")["input_ids"][0] != tok("Worker 1\n")["input_ids"][0]
    with pytest.raises(ValueError, match="merges with the first token of the prompt 'Wor'"):
        scorer.score(["Wor"], ["ker 1\n", " Cooks\n"])
    with pytest.raises(ValueError, match="merges with the first token"):
        scorer.score_observed(["Wor"], ["ker 1\n"])
    with pytest.raises(ValueError, match="no context"):
        naive_score(no_bos, ["Wor"], ["ker 1\n"])
    # With a token of context the same candidate is scored, merged tokens and all.
    prompts, candidates = ["Worker 2\n\nWor"], ["ker 1\n", " Cooks\n"]
    got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, naive_score(no_bos, prompts, candidates), rtol=0, atol=TOL)


# -- bfloat16 --------------------------------------------------------------------------------
# bfloat16 keeps 8 bits of mantissa (relative rounding 2**-9 per operation). On this model
# (init 0.3, logits within +-6) scores of candidates of 1 to 4 tokens moved, against float32,
# by at most 0.17 nats (mean 0.053) with sdpa and 0.27 (mean 0.063) with eager attention
# (torch 2.13 CPU). The tolerances leave about a factor of two for other kernels; scores that
# belong to another prompt differ by 3.3 nats on average, a wrong mask or position by more
# than 1 (tests/lm/test_scoring.py).
BF16_MAX, BF16_MEAN = 0.5, 0.12


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_bfloat16_scores_match_float32(no_bos, attn):
    fp32 = naive_score(no_bos, PROMPTS, CANDIDATES)
    copy = load_lm(no_bos.name, device="cpu")
    scorer = CandidateScorer(copy, dtype="bfloat16", progress=False, attn_implementation=attn)
    assert copy.model.dtype == torch.bfloat16
    got = scorer.score(PROMPTS, CANDIDATES)
    assert got.dtype == np.float64
    diff = np.abs(got - fp32)
    assert diff.max() < BF16_MAX and diff.mean() < BF16_MEAN, (diff.max(), diff.mean())
    assert diff.max() > 1e-4  # really computed in bfloat16
