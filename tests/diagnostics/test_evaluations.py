"""Evaluations beside perplexity: AUC against Mann-Whitney, subgroup sums, labor-force
entry/exit, movers' accuracy, and forecasts from a cutoff against exact Markov powers."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from labor_econ.datasets import simulate_panel
from labor_econ.diagnostics.evaluations import auc, evaluate_changes, evaluate_forecasts
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel


@pytest.fixture(scope="module")
def special_panel():
    return simulate_panel(120, years=range(1979, 1991), seed=2, special_states=True)


@pytest.fixture(scope="module")
def fitted(special_panel):
    train, test = special_panel.split(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnl = MNLogitModel(train, features=["prev_occupation", "static"]).fit(
            penalty=1.0, hessian=False
        )
    return [MarkovModel(train).fit(), MarginalModel(train).fit(), mnl], test


def test_auc_equals_mann_whitney_with_ties():
    rng = np.random.default_rng(0)
    score = np.round(rng.normal(size=300), 1)  # many ties
    label = rng.random(300) < 0.3 + 0.2 * (score > 0)
    value, se = auc(score, label)
    mw = mannwhitneyu(score[label], score[~label]).statistic / (label.sum() * (~label).sum())
    assert value == pytest.approx(mw, abs=1e-12)
    # DeLong's variance from explicit pairwise comparisons
    pos, neg = score[label], score[~label]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    delong = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    assert se == pytest.approx(delong, rel=1e-12)
    assert np.isnan(auc(score, np.ones(300, bool))[0])


def test_clustered_auc_se_of_singletons_is_delong_up_to_the_factors():
    rng = np.random.default_rng(1)
    score = rng.normal(size=200)
    label = rng.random(200) < 1 / (1 + np.exp(-score))
    _, se = auc(score, label)
    _, se_cl = auc(score, label, np.arange(200))
    # one transition per person: the clustered form uses n, not n - 1, in each variance
    # and the factor G / (G - 1); the two agree to O(1/n)
    assert se_cl == pytest.approx(se, rel=0.02)


def test_move_statistics_by_hand(fitted):
    models, test = fitted
    ev = evaluate_changes(models, test)
    tr = test.transitions()
    probs = models[0].predict(test)
    moved = (tr["occupation"] != tr["prev_occupation"]).to_numpy()
    pairs = zip(tr.index, tr["prev_occupation"], strict=True)
    p_move = 1 - np.array([probs.loc[i, p] for i, p in pairs])
    row = ev.frame.loc[("all", "Markov")]
    assert row["Move rate"] == pytest.approx(moved.mean())
    assert row["Move Brier"] == pytest.approx(np.mean((p_move - moved) ** 2))
    mw = mannwhitneyu(p_move[moved], p_move[~moved]).statistic / (moved.sum() * (~moved).sum())
    assert row["Move AUC"] == pytest.approx(mw, abs=1e-12)
    assert row["Log-likelihood"] == pytest.approx(models[0].evaluate(test).llf)
    # accuracy among movers: the most probable code other than the previous one
    hits = []
    cases = zip(tr.index, tr["prev_occupation"], tr["occupation"], moved, strict=True)
    for idx, prev, occ, mv in cases:
        if mv:
            others = probs.loc[idx].drop(prev)
            hits.append((others >= others[occ]).sum() == 1)  # a tie for the top: a miss
    assert row["Accuracy among movers"] == pytest.approx(np.mean(hits))


def test_accuracy_among_movers_counts_ties_as_misses(wage):
    """A uniform model ties every code: no mover's destination is its single most probable
    (argmax would have credited the first code of every row)."""
    from labor_econ.models.base import TransitionResults

    class Uniform(TransitionResults):
        name, k_params = "uniform", 0

        def __init__(self, panel):
            self.panel, self.taxonomy = panel, panel.taxonomy

        def _predict_proba(self, panel):
            k = len(self.taxonomy)
            return np.full((panel.n_transitions, k), 1 / k)

    row = evaluate_changes([Uniform(wage)], wage).frame.loc[("all", "uniform")]
    assert row["Accuracy among movers"] == 0.0


def test_exit_and_entry_auc_use_the_special_states(fitted, special_panel):
    models, test = fitted
    ev = evaluate_changes(models, test)
    tax = test.taxonomy
    special = list(tax.special)
    assert len(special) == 3
    tr = test.transitions()
    probs = models[2].predict(test)
    p_special = probs[special].sum(axis=1).to_numpy()
    from_regular = ~tr["prev_occupation"].isin(special).to_numpy()
    exited = tr["occupation"].isin(special).to_numpy()
    s, y = p_special[from_regular], exited[from_regular]
    expected = mannwhitneyu(s[y], s[~y]).statistic / (y.sum() * (~y).sum())
    assert ev.frame.loc[("all", "MNLogit"), "Exit AUC"] == pytest.approx(expected)
    s, y = 1 - p_special[~from_regular], ~exited[~from_regular]
    expected = mannwhitneyu(s[y], s[~y]).statistic / (y.sum() * (~y).sum())
    assert ev.frame.loc[("all", "MNLogit"), "Entry AUC"] == pytest.approx(expected)
    # the marginal model scores every transition the same: AUC one half
    assert ev.frame.loc[("all", "Marginal"), "Exit AUC"] == pytest.approx(0.5)


def test_subgroup_loglikelihoods_sum_to_the_pooled_one(fitted):
    models, test = fitted
    pooled = evaluate_changes(models, test).frame
    for by in ("female", "cohort", "gap"):
        ev = evaluate_changes(models, test, by=by)
        for name in ("Markov", "Marginal", "MNLogit"):
            parts = ev.frame.xs(name, level="model")
            assert parts["Log-likelihood"].sum() == pytest.approx(
                pooled.loc[("all", name), "Log-likelihood"], rel=1e-12
            )
            assert parts["N"].sum() == pooled.loc[("all", name), "N"]
    table = evaluate_changes(models, test, by="female").table
    assert list(table.columns.get_level_values(0).unique()) == [0, 1]
    cohort = evaluate_changes(models, test, by="cohort").frame
    assert set(cohort.index.get_level_values(0)) <= {"1955-1959", "1960-1964"}


def test_by_a_person_series_and_calibration(fitted):
    models, test = fitted
    persons = pd.Series(np.where(np.arange(test.n_persons) % 2, "odd", "even"), index=test.persons)
    ev = evaluate_changes(models, test, by=persons.rename("half"))
    assert ev.by == "half"
    assert set(ev.frame.index.get_level_values(0)) == {"even", "odd"}
    cal = ev.calibration("Markov", bins=5)
    assert cal["n"].sum() == test.n_transitions
    weighted = (cal["observed"] * cal["n"]).sum() / cal["n"].sum()
    assert weighted == pytest.approx(ev.moved.mean())
    assert "Move AUC" in str(ev)


def test_bad_input(fitted):
    models, test = fitted
    with pytest.raises(ValueError, match="not a column of the panel's transitions"):
        evaluate_changes(models, test, by="nonsense")
    with pytest.raises(ValueError, match="groups on the outcome"):
        evaluate_changes(models, test, by="occupation")
    with pytest.raises(ValueError, match="has no value for"):
        evaluate_changes(models, test, by=pd.Series({test.persons[0]: 1}))
    with pytest.raises(ValueError, match="two models are named"):
        evaluate_changes([models[0], models[0]], test)
    with pytest.raises(ValueError, match="bins must be an integer"):
        evaluate_changes(models, test).calibration(bins=0)


def test_forecasts_one_step_ahead_are_the_exact_markov_probabilities(wage):
    res = MarkovModel(wage).fit()
    fe = evaluate_forecasts([res], wage, start=1984, horizon=3, n_draws=2000, seed=0)
    data = wage.data.set_index(["nr", "year"])["occupation"]
    at84 = data.xs(1984, level="year")
    p = res.params
    for h in (1, 2, 3):
        at = data.xs(1984 + h, level="year")
        exact = np.linalg.matrix_power(p.to_numpy(), h)
        pos = res.taxonomy.positions
        truth = np.log(exact[pos(at84.loc[at.index]), pos(at)])
        got = fe.loglike.xs(1984 + h, level="year")["Markov"].loc[at.index].to_numpy()
        if h == 1:
            np.testing.assert_allclose(got, truth, atol=1e-12)
        else:
            # 2,000 draws: the draw average of a probability is within a few percent
            assert np.abs(np.exp(got) - np.exp(truth)).max() < 0.05
    assert fe.table["N"].tolist() == [wage.n_persons] * 3
    assert fe.excluded == []


def test_forecasts_exclude_persons_who_start_late(special_panel):
    res = MarginalModel(special_panel).fit()
    data = special_panel.data
    late = special_panel._derive(data[~((data["pid"] == 3) & (data["year"] < 1985))])
    fe = evaluate_forecasts([res], late, start=1983, horizon=2, n_draws=10)
    assert fe.excluded == [3]
    assert 3 not in fe.loglike.index.get_level_values(0)
    # the marginal model forecasts every year with its frequencies
    obs = fe.loglike.index.get_level_values(0)
    codes = late.data.set_index(["pid", "year"]).loc[fe.loglike.index, "occ"]
    np.testing.assert_allclose(fe.loglike["Marginal"], np.log(res.params.loc[codes].to_numpy()))
    assert len(obs) == fe.table["N"].sum()
