"""Metrics that are right or refuse (issue 23): top-k ties, NaN rows, calibration bins."""

import numpy as np
import pandas as pd
import pytest

from labor_econ import calibration_table
from labor_econ.diagnostics.compare import compare
from labor_econ.models.base import TransitionEvaluation, TransitionResults, topk_accuracy
from labor_econ.models.markov import MarkovModel


def _count_topk(probs, observed, k):
    """Independent count: a hit when fewer than k other outcomes reach the observed one's
    probability (ties count against), written as a plain loop."""
    hits = 0
    for row, obs in zip(probs, observed, strict=True):
        others = [j for j in range(len(row)) if j != obs and row[j] >= row[obs]]
        hits += len(others) < k
    return hits / len(observed)


def test_uniform_model_is_not_always_right():
    probs = np.full((20, 9), 1 / 9)
    observed = np.arange(20) % 9
    assert topk_accuracy(probs, observed, 1) == 0.0
    assert topk_accuracy(probs, observed, 8) == 0.0
    assert topk_accuracy(probs, observed, 9) == 1.0


def test_topk_against_an_independent_count_with_ties():
    rng = np.random.default_rng(0)
    # probabilities on a coarse grid, so that many rows have ties at and around the observed
    raw = rng.integers(1, 4, size=(300, 6)).astype(float)
    probs = raw / raw.sum(axis=1, keepdims=True)
    observed = rng.integers(0, 6, size=300)
    for k in (1, 2, 3, 5, 6):
        assert topk_accuracy(probs, observed, k) == pytest.approx(_count_topk(probs, observed, k))


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_topk_refuses_bad_k(k):
    with pytest.raises(ValueError, match="k must be an integer"):
        topk_accuracy(np.full((2, 3), 1 / 3), np.array([0, 1]), k)


def _evaluation(probs, name="m"):
    index = pd.MultiIndex.from_tuples([(1, 1981), (1, 1982), (2, 1981)], names=["id", "year"])
    frame = pd.DataFrame(probs, index=index, columns=[1, 2])
    return TransitionEvaluation(name, frame, pd.Series([1, 2, 1], index=index), 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_probabilities_name_the_rows(bad):
    probs = np.array([[0.5, 0.5], [bad, bad], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"model 'm' .*NaN or infinite.*person 1, year 1982"):
        _evaluation(probs)


def test_rows_not_summing_to_one_are_refused():
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [1.5, -0.5]])
    with pytest.raises(ValueError, match=r"negative or do not sum to one.*person 2, year 1981"):
        _evaluation(probs)


def test_zero_probability_is_minus_infinity_not_skipped():
    ev = _evaluation(np.array([[0.0, 1.0], [0.5, 0.5], [0.5, 0.5]]))
    assert ev.llf == -np.inf
    assert ev.perplexity == np.inf


class Fixed(TransitionResults):
    def __init__(self, panel, probs, name):
        self.panel, self.taxonomy, self.name, self.k_params = panel, panel.taxonomy, name, 0
        self._probs = probs

    def _predict_proba(self, panel):
        return self._probs


def test_inf_covariate_gives_an_error_not_a_finite_llf(wage):
    fitted = MarkovModel(wage).fit()
    n, k = wage.n_transitions, len(wage.taxonomy)
    probs = np.full((n, k), 1 / k)
    probs[3] = np.nan  # what an infinite covariate made of a row
    with pytest.raises(ValueError, match="NaN or infinite probabilities for 1 transition"):
        compare({"Markov": fitted, "broken": Fixed(wage, probs, "broken")}, wage)


def test_minus_infinity_is_printed_with_a_note(wage):
    n, k = wage.n_transitions, len(wage.taxonomy)
    probs = np.zeros((n, k))
    probs[:, 0] = 1.0  # certain of the first code: zero for every other outcome
    table = compare({"Markov": MarkovModel(wage).fit(), "sure": Fixed(wage, probs, "sure")}, wage)
    text = " ".join(str(table.summary()).split())
    assert "-inf" in text
    assert "probability 0 to the observed occupation" in text


@pytest.mark.parametrize("bins", [0, -3, 2.5, "4"])
def test_calibration_table_refuses_bad_bins(wage, bins):
    ev = MarkovModel(wage).fit().evaluate()
    with pytest.raises(ValueError, match="bins must be an integer"):
        calibration_table(ev, bins=bins)
