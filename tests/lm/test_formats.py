"""check_format: valid mass against naive_score, greedy continuations, verdicts, warnings."""

import warnings

import numpy as np
import pandas as pd
import pytest
from greedy import greedy_reference
from scipy.special import logsumexp

from labor_econ import (
    FormatCheck,
    LLMModel,
    LowValidMassWarning,
    ResumeTemplate,
    check_format,
)
from labor_econ.lm import naive_score
from labor_econ.lm.testing import tiny_lm

SENTENCES = ResumeTemplate(
    header=("Worker born {birth_year}.",), line="In {year} worked as {title};", name="sentences"
)


@pytest.fixture(scope="module")
def panel(wage):
    from labor_econ.datasets import simulate_panel

    return simulate_panel(4, taxonomy=wage.taxonomy, years=range(1980, 1985), seed=2)


@pytest.fixture(scope="module")
def lm(tmp_path_factory, panel):
    texts = SENTENCES.resumes(panel)
    return tiny_lm(
        tmp_path_factory.mktemp("formats"), texts, vocab_size=400, hidden_size=32,
        initializer_range=0.3, dtype="float32",
    )  # fmt: skip


def test_valid_mass_and_greedy_against_references(lm, panel):
    check = check_format(lm, panel, SENTENCES, n=6, seed=1, progress=False)
    prompts = SENTENCES.prompts(panel)
    assert check.n == 6
    assert check.valid_mass.index.isin(prompts.index).all()
    chosen = prompts.loc[check.valid_mass.index].tolist()
    logq = naive_score(lm, chosen, SENTENCES.continuations(panel.taxonomy))
    np.testing.assert_allclose(check.valid_mass, np.exp(logsumexp(logq, axis=1)), rtol=1e-4)
    for prompt, greedy, terminated in zip(chosen, check.greedy, check.terminated, strict=True):
        text = greedy_reference(lm, prompt, 40)[len(prompt) :]
        body = text[1:] if text.startswith(" ") else text
        head, found, _ = body.partition(";")
        assert found == (";" if terminated else "")
        assert head.startswith(greedy) if not terminated else head == greedy
    assert check.titles == panel.taxonomy.titles
    assert check.mean_valid_mass == pytest.approx(check.valid_mass.mean())
    assert check.p10_valid_mass == pytest.approx(np.quantile(check.valid_mass, 0.1))


def test_seed_draws_transitions_and_small_panels_use_all(lm, panel):
    a = check_format(lm, panel, SENTENCES, n=5, seed=0, progress=False)
    b = check_format(lm, panel, SENTENCES, n=5, seed=0, progress=False)
    c = check_format(lm, panel, SENTENCES, n=5, seed=3, progress=False)
    assert a.valid_mass.index.equals(b.valid_mass.index)
    assert not a.valid_mass.index.equals(c.valid_mass.index)
    every = check_format(lm, panel, SENTENCES, n=10_000, progress=False)
    assert every.n == panel.n_transitions
    with pytest.raises(ValueError, match="n must be at least 1"):
        check_format(lm, panel, SENTENCES, n=0)


def make_check(mass, greedy, terminated=None):
    index = pd.RangeIndex(len(mass))
    terminated = [True] * len(mass) if terminated is None else terminated
    return FormatCheck(
        lm_name="toy",
        template=SENTENCES,
        titles=("Cooks", "Cashiers"),
        valid_mass=pd.Series(mass, index=index, dtype=float),
        greedy=pd.Series(greedy, index=index, dtype=object),
        terminated=pd.Series(terminated, index=index),
    )


@pytest.mark.parametrize(
    ("mass", "titles", "verdict"),
    [
        (0.8, 9, "ok"),
        (0.79, 10, "suspicious"),
        (0.95, 8, "suspicious"),
        (0.31, 5, "suspicious"),
        (0.29, 10, "wrong format"),
        (0.95, 4, "wrong format"),
    ],
)
def test_verdict_thresholds(mass, titles, verdict):
    greedy = ["Cooks"] * titles + ["Cook"] * (10 - titles)
    check = make_check([mass] * 10, greedy)
    assert check.title_share == pytest.approx(titles / 10)
    assert check.verdict == verdict
    assert check.message.startswith(verdict + ":")
    assert ("sample_resumes" in check.message) == (verdict != "ok")


def test_non_titles_and_summary():
    greedy = ["Cooks", "Cook", "Cook", "the", "Cashiers", "Cashiers", "x"]
    terminated = [True, True, True, False, True, False, True]
    check = make_check([0.5, 0.1, 0.2, 0.3, 0.9, 0.9, 0.05], greedy, terminated)
    assert check.is_title.tolist() == [True, False, False, False, True, False, False]
    assert check.non_titles.to_dict() == {"Cook": 2, "the…": 1, "Cashiers…": 1, "x": 1}
    text = str(check)
    assert "Verdict:" in text and "wrong format" in text
    assert "'Cook'" in text and "Valid mass, 10th percentile:" in text
    assert "What to do:" in text
    assert "wrong format" in repr(check)


def test_results_warn_on_low_valid_mass(lm, panel):
    """An untrained model puts almost no mass on the titles: fit warns, saying what to do."""
    model = LLMModel(panel, lm, template=SENTENCES)
    with pytest.warns(LowValidMassWarning, match="check_format"):
        res = model.fit()
    assert res.valid_mass.mean() < 0.5
    ok = LLMModel.from_scores(panel, np.log(np.full((panel.n_transitions, 9), 0.1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowValidMassWarning)
        ok.fit()  # mean valid mass 0.9: no warning
    assert issubclass(LowValidMassWarning, UserWarning)
