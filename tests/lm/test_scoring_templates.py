"""The scorer on every template: exact against naive_score, and its cache hit on sentences."""

from __future__ import annotations

import numpy as np
import pytest

from labor_econ import ResumeTemplate
from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer, naive_score
from labor_econ.lm.testing import tiny_lm
from labor_econ.taxonomies import occ1990
from labor_econ.templates import PRESETS

TOL = 1e-4

SENTENCE_TEMPLATES = {
    "semicolons": ResumeTemplate(
        header=("<resume of a worker born {birth_year}>",),
        line="At age {age} ({year}) worked as {title};",
        separator="\n",
        footer="\n</resume>",
    ),
    "one_line_bangs": ResumeTemplate(line="{year}: {title}!", separator=" "),
    "pipes": ResumeTemplate(header=("Born {birth_year}",), line="{year} {title} |"),
    "bars_no_space": ResumeTemplate(line="Y{year}={title}|", separator=""),
    "blank_lines": ResumeTemplate(line="{year}: {title}\n", separator="\n"),
}
TEMPLATES = {**PRESETS, **SENTENCE_TEMPLATES}


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(4, taxonomy=occ1990(), years=list(range(1990, 1996)), seed=3)


@pytest.fixture(scope="module")
def lm(tmp_path_factory, panel):
    texts = [r for t in TEMPLATES.values() for r in t.resumes(panel)]
    return tiny_lm(
        tmp_path_factory.mktemp("template_lm"), texts, vocab_size=700,
        initializer_range=0.3, seed=2, device="cpu",
    )  # fmt: skip


@pytest.fixture
def scorer(lm):
    return CandidateScorer(lm, progress=False, attn_implementation="sdpa")


class _CountingEncode:
    """Wraps _Tokenization.encode to record every text tokenized."""

    def __init__(self, tok):
        self.inner, self.texts = tok.encode, []

    def __call__(self, texts):
        self.texts.extend(texts)
        return self.inner(texts)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_exact_against_naive_on_every_template(lm, scorer, panel, name):
    t = TEMPLATES[name]
    prompts = t.prompts(panel, include_first=True).tolist()[::4]
    candidates = t.continuations(panel.taxonomy)[:: len(panel.taxonomy) // 10]
    got = scorer.score(prompts, candidates, starts=t.wave_starts(prompts))
    np.testing.assert_allclose(got, naive_score(lm, prompts, candidates), rtol=0, atol=TOL)
    # Without starts (last line break) the scores are the same: only speed depends on them.
    np.testing.assert_allclose(got, scorer.score(prompts, candidates), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["model_card", "one_line_bangs", "pipes", "labor_llm"])
def test_cache_is_hit_for_sentence_prompts(scorer, panel, name):
    t = TEMPLATES[name]
    prompts = t.prompts(panel).tolist()
    candidates = t.continuations(panel.taxonomy)[:30]
    counter = _CountingEncode(scorer._tok)
    scorer._tok.encode = counter
    joint_calls = []
    joint_paths = scorer._joint_paths
    scorer._joint_paths = lambda *args: joint_calls.append(args) or joint_paths(*args)
    starts = t.wave_starts(prompts)
    scorer.score(prompts, candidates, starts=starts)
    # Every joint tokenization ran after a context head: none fell back to the whole prompt.
    assert joint_calls and all(head for _, _, head, *_ in joint_calls)
    distinct = {p[s:] for p, s in zip(prompts, starts, strict=True)}
    assert len(scorer._paths) == len(distinct) < len(prompts)
    # Tokenized: the prompts and their heads, then per distinct last wave its context with and
    # without the wave, and the context followed by each candidate.
    assert len(counter.texts) == 2 * len(prompts) + len(distinct) * (len(candidates) + 2)
    if "\n" not in t.boundary:
        # The default key (the last line) gives one-line resumes no cache: every prompt is
        # tokenized jointly with every candidate.
        fresh = CandidateScorer(scorer.lm, progress=False)
        fresh._tok.encode = counter = _CountingEncode(fresh._tok)
        fresh.score(prompts, candidates)
        assert {p + c for p in prompts for c in candidates} <= set(counter.texts)
        assert len(counter.texts) > len(prompts) * len(candidates)


def test_special_token_strings_in_titles_score_as_text(lm, scorer):
    eos, bos = lm.tokenizer.eos_token_id, lm.tokenizer.bos_token_id
    prompts = ["1990: Cashiers\n1991:", "In 1990, works as a </s>. In 1991, works as a"]
    candidates = [" </s>\n", " <s> clerks.", " Cashiers\n"]
    ids = scorer._tok.encode([p + c for p in prompts for c in candidates])
    assert not any(eos in i or bos in i for i in ids)
    got = scorer.score(prompts, candidates)
    np.testing.assert_allclose(got, naive_score(lm, prompts, candidates), rtol=0, atol=TOL)
    # As a control token "</s>" would be one token; as text it is several, each scored.
    one_token = lm.tokenizer(" </s>\n", add_special_tokens=False)["input_ids"]
    assert eos in one_token and len(scorer._tok.encode([" </s>\n"])[0]) > len(one_token)


def test_starts_are_checked(scorer):
    with pytest.raises(ValueError, match="got 1 starts for 2 prompts"):
        scorer.score(["a b", "c d"], [" x\n"], starts=[1])
    with pytest.raises(ValueError, match=r"starts\[0\] = 9 is not an offset inside prompt 0"):
        scorer.score(["a b"], [" x\n"], starts=[9])
