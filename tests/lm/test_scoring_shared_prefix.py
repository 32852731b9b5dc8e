"""Scoring prompts that share a prefix (`CandidateScorer.score_prefixed`): the prefix fed
once per group, each prompt's rest and tries attending to its cached keys, checked against
`naive_score`; and the LLM simulation that uses it (same draws, fewer tokens fed)."""

from __future__ import annotations

import random
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from byte_level_lm import byte_level_lm

from labor_econ.lm import CandidateScorer, naive_score
from labor_econ.lm.testing import tiny_lm
from labor_econ.models.llm import LLMModel, _shared_cuts
from labor_econ.templates import ResumeTemplate

TOL = 1e-4  # as the other scorer tests against naive_score (float32 forwards)


def _titles() -> list[str]:
    with resources.as_file(resources.files("labor_econ") / "data" / "occ1990_ipums.csv") as path:
        return pd.read_csv(path)["title"].tolist()


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    rng = random.Random(0)
    titles = _titles()
    texts = [
        f"A worker born in {rng.randint(1940, 1975)}.\n"
        + "".join(f"{1980 + j}: {rng.choice(titles)}\n" for j in range(rng.randint(1, 5)))
        for _ in range(400)
    ]
    return tiny_lm(
        tmp_path_factory.mktemp("prefix_lm"), texts, vocab_size=700, initializer_range=0.3,
        seed=2, max_position_embeddings=256, device="cpu",
    )  # fmt: skip


@pytest.fixture(scope="module")
def case(lm):
    """Groups of 1, 2 and 4 prompts, rests of 0 to 3 waves, and a prefix cut inside a word
    (its tokens merge across the cut: not a token prefix of the whole prompt)."""
    titles = _titles()
    rng = random.Random(5)
    candidates = [f" {t}\n" for t in titles[:40]] + [" Sales", " Sales workers", "Cashiers\n"]
    pairs = []
    heads = [
        "A worker born in 1950.\n1970: Cashiers\n",
        "A worker born in 1961.\n",
        "A worker born in 1944.\n1964: Cooks\n1965: Cooks\n",
    ]
    for head, size in zip(heads, [1, 2, 4], strict=True):
        for j in range(size):
            waves = "".join(f"{1990 + w}: {rng.choice(titles)}\n" for w in range(j % 4))
            pairs.append((head, waves + "1995:"))
    pairs.append(("A worker born in 1961.\n", ""))  # an empty rest: the prefix's last token
    pairs.append(("A wor", "ker born in 1961.\n1981:"))  # not a token prefix
    prefixes, rests = [p for p, _ in pairs], [r for _, r in pairs]
    prompts = [p + r for p, r in pairs]
    return prefixes, rests, candidates, naive_score(lm, prompts, candidates, batch_size=128)


@pytest.fixture(params=["sdpa", "eager"])
def attn(request, lm):
    yield request.param
    lm.model.set_attn_implementation("sdpa")


@pytest.mark.parametrize("max_trie_nodes", ["auto", 8])
def test_prefixed_scores_equal_naive_scores(lm, case, attn, max_trie_nodes):
    prefixes, rests, candidates, want = case
    scorer = CandidateScorer(
        lm, progress=False, attn_implementation=attn, max_trie_nodes=max_trie_nodes
    )
    got = scorer.score_prefixed(prefixes, rests, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    if max_trie_nodes == 8:  # every prompt's trie cut into several rows
        plans = scorer._plan([p + r for p, r in zip(prefixes, rests, strict=True)], candidates)
        assert all(len(parts) > 1 for _, parts in plans)


def test_prefixed_route_feeds_each_prefix_once_and_counts_tokens(lm, case):
    prefixes, rests, candidates, want = case
    prompts = [p + r for p, r in zip(prefixes, rests, strict=True)]
    whole = CandidateScorer(lm, progress=False)
    whole.score(prompts, candidates)
    scorer = CandidateScorer(lm, progress=False, batch_tokens=100_000)
    with _Forwards(lm.model) as forwards:
        got = scorer.score_prefixed(prefixes, rests, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    encode = scorer._tok.encode
    bos = scorer._tok.prefix
    # The last prompt falls back to `score` (its prefix is not a token prefix); the others
    # share three passes: the 3 distinct prefixes, the rests, the tries.
    plans = scorer._plan(prompts, candidates)
    fits = [
        ids[: len(bos + h)] == bos + h for h, (ids, _) in zip(encode(prefixes), plans, strict=True)
    ]
    assert fits == [True] * 8 + [False]
    tries = sum(len(parts) for _, parts in plans[:-1])
    assert [shape[0] for shape in forwards.shapes[-3:]] == [3, 8, tries]
    heads = {
        p: len(bos) + len(ids) for p, ids in zip(prefixes[:-1], encode(prefixes[:-1]), strict=True)
    }
    assert scorer.tokens_fed["prefix"] == sum(heads.values())
    shared_rest = sum(
        len(ids) - heads[p] for p, (ids, _) in zip(prefixes[:-1], plans[:-1], strict=True)
    )
    assert scorer.tokens_fed["prompt"] == shared_rest + len(plans[-1][0])
    assert scorer.tokens_fed["trie"] == whole.tokens_fed["trie"]
    assert scorer.last_whole_tokens == whole.tokens_fed["prompt"] + whole.tokens_fed["trie"]
    fed = sum(scorer.tokens_fed.values())
    assert fed < scorer.last_whole_tokens


class _Forwards:
    """Record the batch shapes of every forward of a model's base, inside a ``with``."""

    def __init__(self, model) -> None:
        self.base = model.base_model
        self.shapes: list[tuple[int, ...]] = []

    def __enter__(self) -> _Forwards:
        def hook(module, args, kwargs):
            self.shapes.append(tuple(kwargs["input_ids"].shape))

        self.handle = self.base.register_forward_pre_hook(hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


def test_prefix_not_a_token_prefix_falls_back_to_whole_prompts(tmp_path):
    # A byte-level BPE without BOS where "\n" and the next line's spaces merge into one
    # token: a prefix ending in "\n" is not a token prefix of its prompt.
    texts = [
        f"Worker {i}\n  {1980 + j}: Cashiers\n  {1981 + j}: Cooks\n" for i in range(30)
        for j in range(3)
    ]  # fmt: skip
    lm = byte_level_lm(tmp_path, texts, vocab_size=400)
    prefixes = ["Worker 3\n", "Worker 3\n  1980: Cashiers", "", "Worker 4"]
    rests = ["  1980:", "\n  1981:", "Worker 5\n  1980:", "\n  1980: Cooks\n  1981:"]
    candidates = [" Cashiers\n", " Cooks\n", " Cooks"]
    prompts = [p + r for p, r in zip(prefixes, rests, strict=True)]
    scorer = CandidateScorer(lm, progress=False)
    got = scorer.score_prefixed(prefixes, rests, candidates)
    np.testing.assert_allclose(got, naive_score(lm, prompts, candidates), rtol=0, atol=TOL)
    # Only the second and the last prefix are token prefixes (the empty one has no BOS).
    encode = scorer._tok.encode
    assert scorer.tokens_fed["prefix"] == len(encode([prefixes[1]])[0]) + len(
        encode([prefixes[3]])[0]
    )


def test_without_shared_keys_it_is_score_of_the_whole_prompts(lm, case, monkeypatch):
    prefixes, rests, candidates, want = case
    monkeypatch.setattr(CandidateScorer, "_share_prompts", property(lambda self: False))
    scorer = CandidateScorer(lm, progress=False)
    got = scorer.score_prefixed(prefixes, rests, candidates)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert scorer.tokens_fed.get("prefix", 0) == 0
    assert scorer.last_whole_tokens == scorer.tokens_fed["prompt"] + scorer.tokens_fed["trie"]


def test_prefixed_input_errors(lm):
    scorer = CandidateScorer(lm, progress=False)
    with pytest.raises(ValueError, match="2 prefixes but 1 rests"):
        scorer.score_prefixed(["a", "b"], ["c"], [" x"])
    with pytest.raises(TypeError, match="not one string"):
        scorer.score_prefixed("ab", ["c"], [" x"])
    with pytest.raises(TypeError, match=r"rests\[1\] is a int"):
        scorer.score_prefixed(["a", "b"], ["c", 3], [" x"])
    with pytest.raises(ValueError, match="empty"):
        scorer.score_prefixed(["a", ""], ["c", ""], [" x"])
    with pytest.raises(ValueError, match="duplicate"):
        scorer.score_prefixed(["a"], ["c"], [" x", " x"])
    assert scorer.score_prefixed([], [], [" x"]).shape == (0, 1)


def test_shared_cuts_stop_at_a_wave_start():
    template = ResumeTemplate.preset("labor_llm")
    head = "Header line.\n1980: Cooks\n"
    prompts = [head + "1981: Cooks\n1982:", head + "1981: Cashiers\n1982:", "Other.\n1980:"]
    cuts = _shared_cuts(prompts, [0, 0, 1], template)
    # the common text runs into "1981: C": cut back to that line's start; a prompt alone is
    # cut at its last wave
    assert cuts == [len(head), len(head), len("Other.\n")]
    # one-line resumes: cut after the terminator of the wave boundary ". " (as wave_starts)
    card = ResumeTemplate.preset("model_card")
    head = "Born in 1950. In 1980, works as a Cooks."
    one_line = [
        head + " In 1981, works as a Cooks. In 1982, works as a",
        head + " In 1981, works as a Cashiers. In 1982, works as a",
    ]
    assert _shared_cuts(one_line, ["a", "a"], card) == [len(head)] * 2


# -- the LLM simulation: a person's states share their resume's start ----------------------
@pytest.fixture(scope="module")
def sim_lm(tmp_path_factory, wage):
    texts = ResumeTemplate.preset("labor_llm").resumes(wage)
    return tiny_lm(
        tmp_path_factory.mktemp("random_tiny_lm"), texts, vocab_size=400, hidden_size=16,
        initializer_range=0.2, seed=1, device="cpu",
    )  # fmt: skip


def _whole_prompts(self, prefixes, rests, candidates, *, starts=None):
    """The route before shared prefixes: every prompt fed whole."""
    return self.score(
        [p + r for p, r in zip(prefixes, rests, strict=True)], candidates, starts=starts
    )


def test_simulation_draws_equal_whole_prompt_scoring_with_fewer_tokens(wage, sim_lm, monkeypatch):
    small = wage.subset(wage.persons[:3])
    runs = {}
    for route in ("prefixed", "whole"):
        if route == "whole":
            monkeypatch.setattr(CandidateScorer, "score_prefixed", _whole_prompts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the random LM's low valid mass
            res = LLMModel(small, sim_lm).fit(calibrate=True)
            runs[route] = res.simulate(
                small, start=1982, horizon=4, n_draws=40, seed=1, keep_draws=40
            )
    new, old = runs["prefixed"], runs["whole"]
    np.testing.assert_array_equal(new.kept, old.kept)
    np.testing.assert_array_equal(new.counts, old.counts)
    assert new.lm_scorings == old.lm_scorings  # the same prompts scored
    assert new.lm_scorings.scored > 3 * 4  # several states per person and year
    # What scoring each prompt whole feeds is what the old route fed.
    assert new.lm_scorings.tokens_whole == old.lm_scorings.tokens_fed
    assert new.lm_scorings.tokens_fed < old.lm_scorings.tokens_fed / 2


def test_simulated_logq_groups_must_match_the_prompts(wage, sim_lm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no saved template: the preset
        model = LLMModel(wage.subset(wage.persons[:2]), sim_lm)
        prompts = list(model.prompts.iloc[:2])
        with pytest.raises(ValueError, match="got 1 groups for 2 prompts"):
            model.simulated_logq(prompts, groups=[0])
        grouped = model.simulated_logq(prompts, groups=[0, 0])
        plain = LLMModel(wage.subset(wage.persons[:2]), sim_lm).simulated_logq(prompts)
    np.testing.assert_allclose(grouped, plain, rtol=0, atol=TOL)


def test_a_scorer_with_its_own_score_gets_whole_prompts(wage, sim_lm):
    calls = []

    class Logging(CandidateScorer):
        def score(self, prompts, candidates, **kwargs):
            calls.append(len(prompts))
            return super().score(prompts, candidates, **kwargs)

        def score_prefixed(self, *args, **kwargs):  # pragma: no cover - must not be called
            raise AssertionError("the shared-prefix route bypasses the overridden score")

    small = wage.subset(wage.persons[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = LLMModel(small, sim_lm, scorer=Logging(sim_lm, progress=False)).fit()
        calls.clear()
        sim = res.simulate(small, start=1982, horizon=2, n_draws=10, seed=0)
    assert sum(calls) == sim.lm_scorings.scored > 0
    assert sim.lm_scorings.tokens_fed == sim.lm_scorings.tokens_whole
