"""Log-linear pooling: likelihood derivatives, estimates, covariance, encompassing tests."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import log_softmax

from labor_econ import PanelError, Taxonomy
from labor_econ.datasets import simulate_panel
from labor_econ.diagnostics.hypotheses import TestResult
from labor_econ.models.base import TransitionResults
from labor_econ.models.markov import MarginalModel, MarkovTransitionModel
from labor_econ.models.mnlogit import TransitionMNLogit
from labor_econ.models.pool import LogLinearPool, LogLinearPoolResults

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning",
    "ignore::statsmodels.tools.sm_exceptions.HessianInversionWarning",
)


class TrueProcess(TransitionResults):
    """The simulator's true probabilities as a fitted model."""

    name = "truth"
    k_params = 0

    def __init__(self, panel, process):
        self.panel, self.taxonomy, self.process = panel, panel.taxonomy, process

    def _predict_proba(self, panel):
        return self.process.probabilities(panel).to_numpy()


@pytest.fixture(scope="module")
def parts(wage):
    return wage.split(test_size=0.3, val_size=0.2, seed=0)  # train, val, test


@pytest.fixture(scope="module")
def components(parts):
    train = parts[0]
    return {
        "markov": MarkovTransitionModel(train).fit(),
        "mnlogit": TransitionMNLogit(train, features=["prev_occupation", "static"]).fit(),
        "marginal": MarginalModel(train).fit(),
    }


@pytest.fixture(scope="module")
def pool(parts, components):
    return LogLinearPool(parts[1], components).fit()


def test_score_and_hessian_are_the_derivatives(parts, components):
    model = LogLinearPool(parts[1], components)
    w = np.array([0.4, 0.7, -0.2])
    eps = 1e-6
    eye = np.eye(3)
    num_score = [(model.loglike(w + eps * e) - model.loglike(w - eps * e)) / (2 * eps) for e in eye]
    np.testing.assert_allclose(model.score(w), num_score, rtol=1e-5, atol=1e-4)
    num_hess = np.array(
        [(model.score(w + eps * e) - model.score(w - eps * e)) / (2 * eps) for e in eye]
    )
    np.testing.assert_allclose(model.hessian(w), num_hess, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(model.score_obs(w).sum(axis=0), model.score(w))


def test_pool_estimates(parts, components, pool):
    val = parts[1]
    assert isinstance(pool, LogLinearPoolResults) and pool.converged
    assert list(pool.params.index) == ["markov", "mnlogit", "marginal"]
    assert np.abs(pool.model.score(pool.params.to_numpy())).max() < 1e-6
    assert pool.k_params == 3
    # predictions: the formula, recomputed from the components on any panel
    for panel in (val, parts[2]):
        logs = sum(
            w * np.log(components[k].predict(panel).to_numpy()) for k, w in pool.params.items()
        )
        np.testing.assert_allclose(pool.predict(panel).to_numpy(), np.exp(log_softmax(logs, 1)))
    assert pool.llf == pytest.approx(pool.model.loglike(pool.params.to_numpy()))
    best = max(components.values(), key=lambda r: r.evaluate(val).llf)
    assert pool.llf >= best.evaluate(val).llf  # the pool nests each component (w = e_m)


def test_cluster_sandwich_by_hand(parts, pool):
    model, w = pool.model, pool.params.to_numpy()
    bread = np.linalg.inv(-model.hessian(w))
    scores = pd.DataFrame(model.score_obs(w))
    sums = scores.groupby(parts[1].transitions().index.get_level_values(0).to_numpy()).sum()
    g = len(sums)
    expected = bread @ (sums.T.to_numpy() @ sums.to_numpy()) @ bread * g / (g - 1)
    np.testing.assert_allclose(pool.cov_params().to_numpy(), expected, rtol=1e-10)
    assert pool.cov_type == "cluster"
    nonrobust = model.fit(cov_type="nonrobust")
    np.testing.assert_allclose(nonrobust.params, pool.params)
    np.testing.assert_allclose(nonrobust.cov_params().to_numpy(), bread, rtol=1e-10)
    assert pool.pvalues["mnlogit"] == pytest.approx(
        2 * stats.norm.sf(abs(pool.params["mnlogit"] / pool.bse["mnlogit"]))
    )
    with pytest.raises(ValueError, match="cov_type"):
        model.fit(cov_type="robust")


def test_encompassing_test(parts, components, pool):
    res = pool.encompassing_test("marginal")
    assert isinstance(res, TestResult) and res.df == 1
    restricted = LogLinearPool(parts[1], {k: components[k] for k in ("markov", "mnlogit")}).fit()
    assert res.statistic == pytest.approx(2 * (pool.llf - restricted.llf))
    assert res.pvalue == pytest.approx(stats.chi2.sf(res.statistic, 1))
    assert "'marginal'" in res.null and res.name == "Encompassing (LR)"
    assert res.conclusion.startswith("'marginal' is")
    with pytest.raises(KeyError, match="components"):
        pool.encompassing_test("llm")


def test_pool_recovers_the_truth():
    panel, process = simulate_panel(400, years=range(1980, 1992), seed=5, return_process=True)
    truth = TrueProcess(panel, process)
    res = LogLinearPool(panel, {"truth": truth, "marginal": MarginalModel(panel).fit()}).fit()
    assert abs(res.params["truth"] - 1) < 3 * res.bse["truth"]
    assert abs(res.params["marginal"]) < 3 * res.bse["marginal"]
    assert res.encompassing_test("truth").pvalue < 1e-6


def test_zero_probability_component_is_refused(parts, components):
    few = parts[0].subset(parts[0].persons[:15])
    raw = MarkovTransitionModel(few, smoothing=0).fit()
    with pytest.raises(ValueError, match=r"component 'raw' gives probability 0\.0 to occupation"):
        LogLinearPool(parts[1], {"raw": raw, "markov": components["markov"]})
    fitted = LogLinearPool(parts[1], {"markov": components["markov"]}).fit()
    fitted.components["markov"] = raw  # a new panel is checked as well
    with pytest.raises(ValueError, match="transition"):
        fitted.predict(parts[2])


def test_pool_errors(parts, components):
    tax = Taxonomy(list(range(1, 8)), [f"Job {i}" for i in range(1, 8)], name="seven")
    other = MarkovTransitionModel(simulate_panel(40, taxonomy=tax, years=range(1990, 1994))).fit()
    with pytest.raises(PanelError, match="component 'other'"):
        LogLinearPool(parts[1], {"markov": components["markov"], "other": other})
    with pytest.raises(ValueError, match="named 'Markov'"):
        LogLinearPool(parts[1], [components["markov"], MarkovTransitionModel(parts[2]).fit()])
    with pytest.raises(ValueError, match="collinear"):
        LogLinearPool(parts[1], {"a": components["markov"], "b": components["markov"]}).fit()
    with pytest.raises(TypeError, match="call .fit"):
        LogLinearPool(parts[1], {"m": MarkovTransitionModel(parts[0])})
    single = LogLinearPool(parts[1], [components["markov"]]).fit()
    assert list(single.params.index) == ["Markov"]
    with pytest.raises(ValueError, match="at least two"):
        single.encompassing_test("Markov")


def test_pool_summary(pool):
    smry = pool.summary()
    text = smry.as_text()
    assert "Log-linear pool" in text and "mnlogit" in text and "cluster" in text
    assert smry.as_html() and "\\begin{table}" in smry.as_latex()
    assert "mnlogit=" in repr(pool)
