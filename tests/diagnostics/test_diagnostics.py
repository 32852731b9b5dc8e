"""Model comparison table, Vuong / Clarke / likelihood-ratio tests and their error paths."""

import numpy as np
import pytest
from scipy import stats

from labor_econ import PanelError, Taxonomy
from labor_econ.datasets import simulate_panel
from labor_econ.diagnostics.compare import ModelComparison, compare
from labor_econ.diagnostics.hypotheses import TestResult, clarke_test, lr_test, vuong_test
from labor_econ.models.base import TransitionResults
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning",
    "ignore::statsmodels.tools.sm_exceptions.HessianInversionWarning",
)


class Fixed(TransitionResults):
    """Results whose predictions on their own panel are a given matrix."""

    def __init__(self, panel, probs, name, k_params=0):
        self.panel, self.taxonomy, self.name, self.k_params = panel, panel.taxonomy, name, k_params
        self._probs = probs

    def _predict_proba(self, panel):
        assert panel is self.panel
        return self._probs


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def fitted(split):
    train = split[0]
    return {
        "Marginal": MarginalModel(train).fit(),
        "Markov": MarkovModel(train).fit(),
        "MNLogit": MNLogitModel(train, features=["prev_occupation", "static"]).fit(),
    }


@pytest.fixture(scope="module")
def other_taxonomy_model():
    tax = Taxonomy(list(range(1, 8)), [f"Job {i}" for i in range(1, 8)], name="seven")
    return MarkovModel(simulate_panel(50, taxonomy=tax, years=range(1990, 1995))).fit()


# -- compare ------------------------------------------------------------------------------------
def test_comparison_table(split, fitted):
    test = split[1]
    cmp = compare(fitted, test)
    assert isinstance(cmp, ModelComparison)
    table = cmp.table
    assert list(table.columns) == ["Marginal", "Markov", "MNLogit"]
    assert list(table.index) == [
        "N",
        "Log-likelihood",
        "Perplexity",
        "Top-1 accuracy",
        "Top-5 accuracy",
        "Parameters",
        "Pseudo R2 vs marginal",
        "Vuong z vs best",
        "Vuong p vs best",
        "Move AUC",
        "Move Brier",
        "Accuracy among movers",
    ]  # issue 25: the change rows (no exit/entry AUC: the wage panel has no special codes);
    # issue 24: no AIC / BIC on held-out transitions (they were rows here before), the tests
    best = table.loc["Log-likelihood"].idxmax()
    assert (
        best == "MNLogit" and table.loc[["Vuong z vs best", "Vuong p vs best"], best].isna().all()
    )
    for name in ("Marginal", "Markov"):
        v = vuong_test(fitted[name], fitted[best], test)
        assert table.loc["Vuong z vs best", name] == pytest.approx(v.statistic, rel=1e-12)
        assert table.loc["Vuong p vs best", name] == pytest.approx(v.pvalue, rel=1e-12)
    for name, res in fitted.items():
        ev = res.evaluate(test)
        col = table[name]
        assert col["N"] == test.n_transitions
        assert col["Log-likelihood"] == pytest.approx(ev.llf)
        assert col["Perplexity"] == pytest.approx(ev.perplexity)
        assert col["Top-5 accuracy"] == pytest.approx(ev.accuracy(5))
        assert col["Parameters"] == res.k_params
    assert not cmp.in_sample and "no information criteria" in str(cmp)
    # the common baseline: the smoothed marginal of the first model's estimation sample
    assert table.loc["Pseudo R2 vs marginal", "Marginal"] == pytest.approx(0.0, abs=1e-12)
    llf0 = MarginalModel(split[0]).fit().evaluate(test).llf
    r2 = 1 - table.loc["Log-likelihood", "Markov"] / llf0
    assert table.loc["Pseudo R2 vs marginal", "Markov"] == pytest.approx(r2)
    assert table.loc["Perplexity", "Markov"] == pytest.approx(4.40, abs=0.01)
    assert table.loc["Perplexity", "MNLogit"] == pytest.approx(4.31, abs=0.02)
    text = str(cmp)
    assert "Perplexity" in text and "MNLogit" in text and "4.3965" in text
    assert cmp.summary().as_text() == text
    assert "\\begin{tabular}" in cmp.to_latex()
    assert "<table" in cmp._repr_html_()
    assert "Markov" in repr(cmp)


def test_compare_errors(split, fitted, other_taxonomy_model):
    with pytest.raises(PanelError, match="model 'Simulated'.*'seven'"):
        compare({"Markov": fitted["Markov"], "Simulated": other_taxonomy_model}, split[1])
    with pytest.raises(TypeError, match="not fitted results"):
        compare({"Markov": MarkovModel(split[0])}, split[1])
    with pytest.raises(ValueError, match="empty"):
        compare({}, split[1])
    with pytest.raises(TypeError, match="dict"):
        compare("Markov", split[1])
    with pytest.raises(TypeError, match=r"models\[1\] is a MarkovModel"):
        compare([fitted["Markov"], MarkovModel(split[0])], split[1])
    with pytest.raises(ValueError, match="both named 'Markov': pass a dict"):
        compare([fitted["Markov"], MarkovModel(split[0], smoothing=0.5).fit()], split[1])


def test_compare_takes_a_list_named_by_each_result(split, fitted):
    as_list = compare([fitted["Marginal"], fitted["Markov"]], split[1])
    assert list(as_list.table.columns) == ["Marginal", "Markov"]
    as_dict = compare({"Marginal": fitted["Marginal"], "Markov": fitted["Markov"]}, split[1])
    assert as_list.table.equals(as_dict.table)


def test_information_criteria_only_on_the_estimation_sample(split, fitted):
    train = split[0]
    cmp = compare(fitted, train)
    assert cmp.in_sample and "Vuong z vs best" not in cmp.table.index
    rows = ["AIC (estimation sample)", "BIC (estimation sample)"]
    assert rows == [r for r in cmp.table.index if "IC" in r]
    for name, res in fitted.items():
        assert cmp.table.loc[rows[0], name] == pytest.approx(res.aic)
        assert cmp.table.loc[rows[1], name] == pytest.approx(res.bic)
        ev = res.evaluate(train)
        assert res.bic == pytest.approx(-2 * ev.llf + np.log(ev.nobs) * res.k_params)
    assert "estimation sample: AIC" in " ".join(str(cmp).split())
    # a copy of the estimation sample (same transitions) counts as the estimation sample
    assert compare(fitted, train.subset(train.persons)).in_sample


# -- Vuong and Clarke ---------------------------------------------------------------------------
def hand_vuong(la, lb, persons, dk, correction, cluster):
    m = la - lb
    n = len(m)
    c = {None: 0.0, "aic": dk, "bic": dk * np.log(n) / 2}[correction]
    d = m - m.mean()
    if cluster:
        omega2 = sum(d[persons == g].sum() ** 2 for g in np.unique(persons)) / n
    else:
        omega2 = (d**2).mean()
    z = (m.sum() - c) / (np.sqrt(n) * np.sqrt(omega2))
    return z, 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize("correction", [None, "aic", "bic"])
@pytest.mark.parametrize("cluster", [True, False])
def test_vuong_matches_formula(split, fitted, correction, cluster):
    test = split[1]
    a, b = fitted["MNLogit"], fitted["Markov"]
    la = a.evaluate(test).loglikeobs.to_numpy()
    lb = b.evaluate(test).loglikeobs.to_numpy()
    persons = test.transitions().index.get_level_values(0).to_numpy()
    z, p = hand_vuong(la, lb, persons, a.k_params - b.k_params, correction, cluster)
    res = vuong_test(a, b, test, correction=correction, cluster=cluster)
    assert res.statistic == pytest.approx(z, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    assert res.df is None and res.correction == correction and res.nobs == len(la)
    winner = "'MNLogit'" if z > 0 else "'Markov'"
    if p < 0.05:
        assert res.conclusion == f"{winner} preferred at 5%"
    else:
        assert res.conclusion == f"cannot discriminate at 5% (the statistic leans to {winner})"
    flipped = vuong_test(b, a, test, correction=correction, cluster=cluster)
    assert flipped.statistic == pytest.approx(-z, rel=1e-10)
    assert flipped.pvalue == pytest.approx(p, rel=1e-10)
    strong = vuong_test(fitted["Markov"], fitted["Marginal"], test, correction=correction)
    assert strong.conclusion == "'Markov' preferred at 5%"


def test_vuong_close_models_and_direction(split, fitted):
    res = vuong_test(fitted["MNLogit"], fitted["Markov"], split[1], correction="bic")
    assert res.statistic < 0  # the BIC penalty of 24 extra parameters
    assert res.conclusion.startswith(("'Markov' preferred", "cannot discriminate"))
    assert "Vuong test (BIC correction)" in str(res)
    assert "person-clustered" in str(res)
    assert repr(res).startswith("<TestResult Vuong: statistic=")


@pytest.mark.parametrize("correction", [None, "aic", "bic"])
def test_clarke_matches_formula(split, fitted, correction):
    test = split[1]
    a, b = fitted["MNLogit"], fitted["Markov"]
    m = a.evaluate(test).loglikeobs.to_numpy() - b.evaluate(test).loglikeobs.to_numpy()
    n = len(m)
    dk = a.k_params - b.k_params
    shift = {None: 0.0, "aic": dk / n, "bic": dk * np.log(n) / (2 * n)}[correction]
    d = m - shift
    d = d[d != 0]
    count = int((d > 0).sum())
    res = clarke_test(a, b, test, correction=correction)
    assert res.statistic == count
    assert res.pvalue == pytest.approx(stats.binomtest(count, len(d), 0.5).pvalue, rel=1e-12)
    assert res.dist == f"binomial({len(d)}, 0.5)"
    lean = "'MNLogit'" if count > len(d) / 2 else "'Markov'"
    assert (lean in res.conclusion) or res.conclusion == "cannot discriminate at 5%"


def test_identical_predictions_are_degenerate_not_an_error(split, fitted):
    a = fitted["Markov"]
    b = MarkovModel(split[0]).fit()
    for cluster in (True, False):
        res = vuong_test(a, b, split[1], cluster=cluster)
        assert res.statistic == 0.0 and res.pvalue == 1.0
        assert res.conclusion == "cannot discriminate (identical predictions)"
    res = clarke_test(a, b, split[1])
    assert res.pvalue == 1.0 and "identical predictions" in res.conclusion
    assert "model a (Markov)" in vuong_test(a, b, split[1]).null


def test_tests_reject_models_in_another_taxonomy(split, fitted, other_taxonomy_model):
    with pytest.raises(PanelError, match="model 'Markov'.*'seven'"):
        vuong_test(other_taxonomy_model, fitted["Markov"], split[1])
    with pytest.raises(PanelError, match="'seven'"):
        clarke_test(fitted["Markov"], other_taxonomy_model, split[1])
    with pytest.raises(ValueError, match="correction"):
        vuong_test(fitted["Markov"], fitted["Marginal"], split[1], correction="hqic")


def test_zero_probability_is_reported(split, fitted):
    few = split[0].subset(split[0].persons[:20])
    raw = MarkovModel(few, smoothing=0).fit()
    with pytest.raises(ValueError, match="probability 0 .* transition"):
        vuong_test(raw, fitted["Markov"], split[1])


# -- likelihood ratio ---------------------------------------------------------------------------
def test_lr_test(split, fitted):
    restricted, full = fitted["Marginal"], fitted["Markov"]
    res = lr_test(restricted, full)
    stat = 2 * (full.llf - restricted.llf)
    assert res.statistic == pytest.approx(stat)
    assert res.df == 64 and res.dist == "chi2(64)"
    assert res.pvalue == pytest.approx(stats.chi2.sf(stat, 64))
    assert res.conclusion == "'Marginal' rejected in favour of 'Markov' at 5%"
    assert "Degrees of freedom: 64" in str(res)
    with pytest.raises(ValueError, match="more parameters"):
        lr_test(full, restricted)


def test_lr_test_needs_the_same_sample(split, fitted):
    on_test = MarkovModel(split[1]).fit()
    with pytest.raises(ValueError, match="same sample.*N=3052.*N=763"):
        lr_test(fitted["Marginal"], on_test)
    # an equal sample declared separately is accepted
    again = MarginalModel(split[0].subset(split[0].persons)).fit()
    assert lr_test(again, fitted["Markov"]).statistic == pytest.approx(
        lr_test(fitted["Marginal"], fitted["Markov"]).statistic
    )


def test_test_result_is_not_collected_and_reads_well():
    res = TestResult("Vuong", 2.5, 0.0124, None, "normal", "H", "'a' preferred at 5%", "aic", 10)
    assert TestResult.__test__ is False
    assert str(res).splitlines()[0] == "Vuong test (AIC correction)"
    assert "Conclusion: 'a' preferred at 5%" in str(res)
