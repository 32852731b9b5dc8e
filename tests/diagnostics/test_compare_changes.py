"""The occupation-change evaluation in ``compare(models, panel, by=)`` and on every results
object (issue 25): the rows equal :func:`evaluate_changes`, groups add up to the pooled
statistics, each model predicts the panel once, and a bad ``by`` names the column."""

import numpy as np
import pandas as pd
import pytest

from labor_econ import ChangeEvaluation, compare
from labor_econ.datasets import simulate_panel
from labor_econ.diagnostics.compare import CHANGE_ROWS
from labor_econ.diagnostics.evaluations import evaluate_changes
from labor_econ.models.markov import MarginalModel, MarkovModel


@pytest.fixture(scope="module")
def special():
    """Careers with special labor-force states (exit and entry AUCs are defined)."""
    panel = simulate_panel(120, years=range(1979, 1991), seed=2, special_states=True)
    train, test = panel.split(seed=0)
    return {"Markov": MarkovModel(train).fit(), "Marginal": MarginalModel(train).fit()}, test


@pytest.fixture(scope="module")
def wage_models(wage):
    train, test = wage.split(test_size=0.2, seed=0)
    return {"Marginal": MarginalModel(train).fit(), "Markov": MarkovModel(train).fit()}, test


def test_change_rows_equal_evaluate_changes(special):
    models, test = special
    cmp = compare(models, test)
    expected = evaluate_changes(models, test).frame
    assert list(cmp.table.index[-len(CHANGE_ROWS) :]) == list(CHANGE_ROWS)
    for row in CHANGE_ROWS:
        for name in models:
            assert cmp.table.loc[row, name] == expected.loc[("all", name), row]
    assert isinstance(cmp.changes, ChangeEvaluation) and cmp.changes.by == "all"
    pd.testing.assert_frame_equal(cmp.changes.frame, expected)
    assert cmp.by_group is None and cmp.formatted_by_group() is None
    assert "Exit AUC" in str(cmp) and "Exit (entry) AUC" in str(cmp)


def test_without_special_codes_no_labor_force_rows(wage_models):
    models, test = wage_models
    table = compare(models, test).table
    assert "Exit AUC" not in table.index and "Entry AUC" not in table.index
    assert {"Move AUC", "Move Brier", "Accuracy among movers"} <= set(table.index)
    assert not table.loc[["Move AUC", "Move Brier"]].isna().any().any()


def test_by_group_adds_up_to_the_pooled_rows(special):
    models, test = special
    plain = compare(models, test)
    cmp = compare(models, test, by="female")
    pd.testing.assert_frame_equal(cmp.table, plain.table)  # the main table is pooled
    pd.testing.assert_frame_equal(
        cmp.changes.frame, evaluate_changes(models, test, by="female").frame
    )
    by_group = cmp.by_group
    assert by_group.columns.names == ["female", "model"]
    assert list(by_group.columns.get_level_values(0).unique()) == [0, 1]
    assert "Move AUC_se" in by_group.index and "Exit AUC" in by_group.index
    for name in models:
        groups = by_group.xs(name, axis=1, level="model")
        n = groups.loc["N"]
        assert n.sum() == plain.table.loc["N", name]
        assert groups.loc["Log-likelihood"].sum() == pytest.approx(
            plain.table.loc["Log-likelihood", name], rel=1e-12
        )
        # the Brier score is a mean: N-weighted group means are the pooled mean
        brier = (groups.loc["Move Brier"] * n).sum() / n.sum()
        assert brier == pytest.approx(plain.table.loc["Move Brier", name], rel=1e-12)
        assert (groups.loc["Move Brier_se"] > 0).all()
    text = str(cmp)
    main, under = text.split("Occupation change by female")
    assert "Transition model comparison" in main and "female=1 Markov" in under
    assert "(0." in under  # standard errors in parentheses
    assert "Occupation change by female" in cmp.to_latex()
    assert "Occupation change by female" in cmp._repr_html_()


def test_by_cohort_and_a_person_series(special):
    models, test = special
    cohort = compare(models, test, by="cohort")
    assert cohort.changes.by == "cohort"
    assert set(cohort.by_group.columns.get_level_values(0)) <= {"1955-1959", "1960-1964"}
    halves = pd.Series(
        np.where(np.arange(test.n_persons) % 2, "odd", "even"), index=test.persons, name="half"
    )
    cmp = compare(models, test, by=halves)
    assert sorted(cmp.by_group.columns.get_level_values(0).unique()) == ["even", "odd"]


def test_each_model_predicts_the_panel_once(wage_models):
    models, test = wage_models
    res = MarkovModel(models["Markov"].panel).fit()
    calls = []
    original = res._predict_proba

    def counting(panel):
        calls.append(panel)
        return original(panel)

    res._predict_proba = counting
    compare({"Markov": res}, test, by="black")
    assert len(calls) == 1
    with pytest.raises(ValueError, match=r"by='blak' is not a column .*'black'"):
        compare({"Markov": res}, test, by="blak")
    assert len(calls) == 1  # a bad `by` fails before any prediction
    with pytest.raises(ValueError, match="groups on the outcome"):
        compare({"Markov": res}, test, by="occupation")
    with pytest.raises(ValueError, match="has no value for"):
        compare({"Markov": res}, test, by=pd.Series({test.persons[0]: 1}))
    with pytest.raises(TypeError, match="by must be None"):
        compare({"Markov": res}, test, by=3)


def test_the_results_method_equals_the_function(special, wage_models):
    models, test = special
    res = models["Markov"]
    for by in (None, "female"):
        pd.testing.assert_frame_equal(
            res.evaluate_changes(test, by=by).frame,
            evaluate_changes({res.name: res}, test, by=by).frame,
        )
    in_sample = res.evaluate_changes()
    assert in_sample.frame.loc[("all", "Markov"), "N"] == res.nobs
    assert in_sample.frame.loc[("all", "Markov"), "Log-likelihood"] == pytest.approx(res.llf)
    wage_markov, wage_test = wage_models[0]["Markov"], wage_models[1]
    with pytest.raises(ValueError, match="by='union2' is not a column"):
        wage_markov.evaluate_changes(wage_test, by="union2")
