"""Fewer tokens (issue 22): person-level observed scoring against per-row scoring and
`naive_score`, certified pruning against the exact trie, fed-token counts, and candidates
that are prefixes of one another refused (issue 23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from byte_level_lm import byte_level_lm
from scipy.special import logsumexp

from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer, naive_score, score_panel
from labor_econ.lm.inputs import PrefixCandidatesError, check_no_prefix_candidates
from labor_econ.lm.testing import tiny_lm
from labor_econ.taxonomy import Taxonomy
from labor_econ.templates import ResumeTemplate

# fp32 scoring: per-row, person-level and trie numbers differ by rounding only (measured
# up to 7e-6 on 2 CPU cores); a wrong position or mask moves them by far more.
TOL = 1e-4


@pytest.fixture(scope="module")
def template():
    return ResumeTemplate.preset("labor_llm")


@pytest.fixture(scope="module")
def lm(tmp_path_factory, template):
    panel = simulate_panel(40, years=list(range(1990, 1996)), seed=9)
    continuations = template.continuations(panel.taxonomy) * 100
    texts = [p + c for p, c in zip(template.prompts(panel), continuations, strict=False)]
    path = tmp_path_factory.mktemp("fewer_tokens_lm")
    return tiny_lm(path, texts, vocab_size=600, initializer_range=0.3, seed=3, device="cpu")


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(5, years=list(range(1990, 1996)), seed=2)


@pytest.fixture(scope="module")
def rows(panel, template):
    prompts = template.prompts(panel)
    observed = panel.taxonomy.positions(panel.transitions()["occupation"].loc[prompts.index])
    return prompts, observed, template.continuations(panel.taxonomy)


@pytest.fixture(scope="module")
def exact(lm, rows):
    prompts, _, candidates = rows
    return CandidateScorer(lm, progress=False).score(prompts.tolist(), candidates)


def test_exact_trie_counts_prompt_and_inner_nodes(lm, rows, exact):
    prompts, _, candidates = rows
    scorer = CandidateScorer(lm, progress=False, max_trie_nodes=None)
    np.testing.assert_allclose(scorer.score(prompts.tolist(), candidates), exact, atol=TOL)
    plans = scorer._plan(prompts.tolist(), candidates)
    assert scorer.tokens_fed == {
        "prompt": sum(len(ids) for ids, _ in plans),
        "trie": sum(len(t.inner) for _, parts in plans for t, _ in parts),
        "observed": 0,
    }


@pytest.mark.parametrize("tolerance", [1e-6, 1e-3, 1e-2, 0.2])
def test_pruned_scores_lie_within_their_certified_bounds(lm, rows, exact, tolerance):
    prompts, observed, candidates = rows
    scorer = CandidateScorer(lm, progress=False)
    got = scorer.score(prompts.tolist(), candidates, tolerance=tolerance, observed=observed)
    pruning = scorer.last_pruning
    i = np.arange(len(observed))
    # The observed path is always expanded: its log q is exact.
    np.testing.assert_allclose(got[i, observed], exact[i, observed], rtol=0, atol=TOL)
    # The unexpanded mass stays within the tolerance of the mass found ...
    assert np.all(pruning.unexpanded <= tolerance * pruning.found * (1 + 1e-9))
    # ... and bounds the mass of the candidates not expanded.
    expanded = np.isclose(got, exact, rtol=0, atol=TOL)
    hidden = np.where(expanded, 0.0, np.exp(exact)).sum(axis=1)
    assert np.all(hidden <= pruning.unexpanded * (1 + 1e-6) + 1e-12)
    # The observed outcome's normalized log p lies in [computed, computed + log_bound].
    want = exact[i, observed] - logsumexp(exact, axis=1)
    computed = got[i, observed] - logsumexp(got, axis=1)
    assert np.all(want >= computed - TOL)
    assert np.all(want <= computed + pruning.log_bound + TOL)
    assert pruning.max_bound == pytest.approx(pruning.log_bound.max())
    assert pruning.max_bound <= np.log1p(tolerance) + 1e-12
    assert pruning.total_bound == pytest.approx(pruning.log_bound.sum())


def test_pruning_feeds_fewer_trie_nodes_as_the_tolerance_grows(lm, rows):
    prompts, observed, candidates = rows
    fed = []
    for tolerance in (0.0, 1e-6, 0.2):
        scorer = CandidateScorer(lm, progress=False, max_trie_nodes=None)
        scorer.score(prompts.tolist(), candidates, tolerance=tolerance, observed=observed)
        fed.append(scorer.tokens_fed["trie"])
    # Measured here: 464, 438 and 341 (a tiny LM of flat distributions).
    assert fed[0] >= fed[1] > fed[2]


def test_pruning_without_observed_and_bad_arguments(lm, rows, exact):
    prompts, _, candidates = rows
    scorer = CandidateScorer(lm, progress=False)
    got = scorer.score(prompts.tolist()[:3], candidates, tolerance=1e-3)
    assert np.all(scorer.last_pruning.unexpanded <= 1e-3 * scorer.last_pruning.found)
    assert np.all(np.isfinite(got))
    with pytest.raises(ValueError, match="tolerance must be in"):
        scorer.score(prompts.tolist(), candidates, tolerance=1.5)
    with pytest.raises(ValueError, match="not a column"):
        scorer.score(prompts.tolist()[:1], candidates, tolerance=0.1, observed=[len(candidates)])


def test_person_level_observed_equals_per_row(lm, rows, exact):
    prompts, observed, candidates = rows
    continuations = [candidates[k] for k in observed]
    scorer = CandidateScorer(lm, progress=False)
    per_row = scorer.score_observed(prompts.tolist(), continuations)
    row_tokens = scorer.tokens_fed["observed"]
    persons = prompts.index.get_level_values(0)
    scorer.tokens_fed["observed"] = 0
    got = scorer.score_observed(prompts.tolist(), continuations, persons=persons)
    assert scorer.observed_fallback_rows == 0
    np.testing.assert_allclose(got, per_row, rtol=0, atol=TOL)
    np.testing.assert_allclose(got, exact[np.arange(len(observed)), observed], rtol=0, atol=TOL)
    # One sequence per person: its last prompt and continuation.
    persons_tokens = scorer.tokens_fed["observed"]
    assert persons_tokens < row_tokens / 2
    with pytest.raises(ValueError, match="persons for"):
        scorer.score_observed(prompts.tolist(), continuations, persons=persons[:2])


def _merging_lm(path):
    """A byte-level BPE as GPT-2's, where "\\n" and the next line's spaces merge into one
    token: a resume's tokens at a wave boundary differ from prompt + continuation's."""
    texts = [
        f"Worker {i}\n  {1980 + j}: Cashiers\n  {1981 + j}: Cooks\n" for i in range(30)
        for j in range(3)
    ]  # fmt: skip
    return byte_level_lm(path, texts, vocab_size=400)


def test_person_level_falls_back_where_tokens_merge_across_the_boundary(tmp_path):
    lm = _merging_lm(tmp_path)
    tok = lm.tokenizer
    assert "ĊĠ" in tok.convert_ids_to_tokens(tok("Worker 3\n  1981: Cooks")["input_ids"])
    prompts = [
        "Worker 3\n  1980:",
        "Worker 3\n  1980: Cashiers\n  1981:",
        "Worker 3\n  1980: Cashiers\n  1981: Cooks\n  1982:",
        "Worker 4\n  1980:",
    ]
    continuations = [" Cashiers\n", " Cooks\n", " Cashiers", " Cooks"]
    scorer = CandidateScorer(lm, progress=False)
    got = scorer.score_observed(prompts, continuations, persons=[3, 3, 3, 4])
    # The first two rows end in "\n", which merges with the next line's spaces in the
    # person's resume: they are scored on their own. The last row of each person is the
    # person's sequence itself.
    assert scorer.observed_fallback_rows == 2
    want = np.diag(naive_score(lm, prompts, continuations))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    np.testing.assert_allclose(got, scorer.score_observed(prompts, continuations), atol=TOL)


def test_score_panel_observed_only_and_a_store_keeps_both_kinds(lm, panel, exact, rows, tmp_path):
    prompts, observed, _ = rows
    want = exact[np.arange(len(observed)), observed]
    got = score_panel(lm, panel, observed_only=True, progress=False)
    assert list(got.columns) == ["logq_observed"] and got.index.equals(prompts.index)
    np.testing.assert_allclose(got["logq_observed"], want, rtol=0, atol=TOL)
    store = tmp_path / "store"
    stored = score_panel(lm, panel, store=store, observed_only=True, progress=False)
    full = score_panel(lm, panel, store=store, progress=False)
    np.testing.assert_allclose(stored.to_numpy(), got.to_numpy(), atol=0)
    np.testing.assert_allclose(full.to_numpy(), exact, atol=TOL)
    assert (store / "observed").is_dir() and (store / "shards").is_dir()
    # Read back from the store: nothing is scored again.
    again = score_panel(lm, panel, store=store, observed_only=True, progress=False)
    pd.testing.assert_frame_equal(again, stored)
    pruned = score_panel(lm, panel, tolerance=0.01, progress=False)
    np.testing.assert_allclose(pruned.to_numpy()[np.arange(len(observed)), observed], want,
                               atol=TOL)  # fmt: skip
    with pytest.raises(ValueError, match="tolerance must be in"):
        score_panel(lm, panel, tolerance=-1.0, progress=False)


def test_prefix_candidates_are_refused_naming_the_titles(lm):
    card = ResumeTemplate.preset("model_card")
    with pytest.raises(PrefixCandidatesError, match="'Clerk' .*prefix of 'Clerk.Typist'"):
        check_no_prefix_candidates(
            [card.continuation_text(t) for t in ("Clerk", "Clerk.Typist", "Cook")],
            ["Clerk", "Clerk.Typist", "Cook"],
        )
    with pytest.raises(PrefixCandidatesError, match="'1' .*prefix of '1.2'"):
        check_no_prefix_candidates([" 1.", " 1.2.", " 2."], ["1", "1.2", "2"])
    with pytest.raises(PrefixCandidatesError, match="'Cook' .*prefix of 'Cook helper'") as err:
        check_no_prefix_candidates([" Cook ", " Cook helper ", " Cook helper x "],
                                   ["Cook", "Cook helper", "Cook helper x"])  # fmt: skip
    assert err.value.pairs == [
        ("Cook", "Cook helper"), ("Cook", "Cook helper x"), ("Cook helper", "Cook helper x"),
    ]  # fmt: skip
    assert isinstance(err.value, ValueError)
    check_no_prefix_candidates([" Cook\n", " Cook helper\n"])  # a line break ends each title
    # Through score_panel, where the candidates are built from the taxonomy.
    taxonomy = Taxonomy([1, 2, 3], ["Clerk", "Clerk.Typist", "Cook"], name="toy")
    small = simulate_panel(2, taxonomy=taxonomy, years=[1990, 1991], seed=0)
    with pytest.raises(PrefixCandidatesError, match="'Clerk' .*'Clerk.Typist'"):
        score_panel(lm, small, template=card, progress=False)


@pytest.mark.filterwarnings("ignore:.*mean valid mass")
def test_llm_model_raw_metrics_and_tolerance(lm, panel, exact, rows):
    from labor_econ import LLMModel
    from labor_econ.lm.observed import raw_metrics

    _, observed, _ = rows
    i = np.arange(len(observed))
    model = LLMModel(panel, lm, template="labor_llm")
    raw = model.raw_metrics()
    assert raw.nobs == len(observed)
    assert raw.llf == pytest.approx(exact[i, observed].sum(), abs=TOL * len(i))
    assert raw.perplexity == pytest.approx(np.exp(-raw.llf / raw.nobs))
    assert raw.llf == pytest.approx(model.fit().raw_llf, abs=TOL * len(i))
    assert "perplexity" in str(raw)
    again = raw_metrics(lm, panel, progress=False)
    pd.testing.assert_series_equal(again.logq, raw.logq)
    pruned = LLMModel(panel, lm, template="labor_llm", tolerance=0.05)
    np.testing.assert_allclose(pruned.logq[i, observed], exact[i, observed], atol=TOL)


@pytest.mark.filterwarnings("ignore:.*mean valid mass")
def test_pruning_is_reported_through_score_panel_the_store_and_the_summary(
    lm, panel, exact, rows, tmp_path
):
    from labor_econ import LLMModel

    _, observed, _ = rows
    i = np.arange(len(observed))
    memory = score_panel(lm, panel, tolerance=0.05, progress=False)
    stored = score_panel(lm, panel, tolerance=0.05, store=tmp_path / "s", progress=False)
    for frame in (memory, stored):
        pruning = frame.attrs["pruning"]
        assert pruning.tolerance == 0.05 and len(pruning.found) == len(i)
        assert np.all(pruning.unexpanded <= 0.05 * pruning.found)
        np.testing.assert_allclose(frame.to_numpy()[i, observed], exact[i, observed], atol=TOL)
    np.testing.assert_allclose(stored.attrs["pruning"].found, memory.attrs["pruning"].found)
    # A store scored exactly is not mixed with pruned scores.
    from labor_econ.lm import StoreMismatchError

    with pytest.raises(StoreMismatchError, match="tolerance"):
        score_panel(lm, panel, store=tmp_path / "s", progress=False)
    model = LLMModel(panel, lm, template="labor_llm", tolerance=0.05)
    text = str(model.fit().summary())
    assert "pruned at tolerance 0.05" in text and "largest bound" in text


@pytest.mark.parametrize("attn, batch_tokens", [("eager", "auto"), ("sdpa", 1)])
def test_pruning_under_eager_and_one_prompt_per_forward(lm, rows, exact, attn, batch_tokens):
    prompts, observed, candidates = rows
    scorer = CandidateScorer(
        lm, progress=False, attn_implementation=attn, batch_tokens=batch_tokens
    )
    got = scorer.score(prompts.tolist(), candidates, tolerance=1e-3, observed=observed)
    i = np.arange(len(observed))
    np.testing.assert_allclose(got[i, observed], exact[i, observed], rtol=0, atol=TOL)
    expanded = np.isclose(got, exact, rtol=0, atol=TOL)
    hidden = np.where(expanded, 0.0, np.exp(exact)).sum(axis=1)
    assert np.all(hidden <= scorer.last_pruning.unexpanded * (1 + 1e-6) + 1e-12)
    lm.model.set_attn_implementation("sdpa")


def test_prompts_whose_candidates_merge_with_their_tail_are_expanded_in_full(lm):
    # After a prompt ending in a space, " Cashiers" merges with that space (its path starts
    # with an unscored prompt token, an anchor) and "Cooks" does not: nothing is pruned there.
    prompts = ["1990: Cashiers\n1991: ", "1990: Cooks\n1991:"]
    candidates = [" Cashiers\n", "Cooks\n", "Sales workers\n", " Cooks\n"]
    scorer = CandidateScorer(lm, progress=False)
    plans = scorer._plan(prompts, candidates, whole=True)
    assert (plans[0][1][0][0].anchor >= 0).any()
    want = naive_score(lm, prompts, candidates)
    got = scorer.score(prompts, candidates, tolerance=0.5, observed=[1, 1])
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=TOL)
    assert scorer.last_pruning.unexpanded[0] == 0
    np.testing.assert_allclose(got[1, 1], want[1, 1], rtol=0, atol=TOL)
