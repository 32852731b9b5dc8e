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
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.models.pool import LogLinearPoolModel, LogLinearPoolResults

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
        "markov": MarkovModel(train).fit(),
        "mnlogit": MNLogitModel(train, features=["prev_occupation", "static"]).fit(),
        "marginal": MarginalModel(train).fit(),
    }


@pytest.fixture(scope="module")
def pool(parts, components):
    return LogLinearPoolModel(parts[1], components).fit()


def test_score_and_hessian_are_the_derivatives(parts, components):
    model = LogLinearPoolModel(parts[1], components)
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
    # issue 24: the LR treats a person's transitions as independent, so it is asked for
    # explicitly (method="lr"); it was the default before.
    res = pool.encompassing_test("marginal", method="lr")
    assert isinstance(res, TestResult) and res.df == 1
    restricted = LogLinearPoolModel(
        parts[1], {k: components[k] for k in ("markov", "mnlogit")}
    ).fit()
    assert res.statistic == pytest.approx(2 * (pool.llf - restricted.llf))
    assert res.pvalue == pytest.approx(stats.chi2.sf(res.statistic, 1))
    assert "'marginal'" in res.null and res.name == "Encompassing (LR)"
    assert res.conclusion.startswith("'marginal' is")
    with pytest.raises(KeyError, match="components"):
        pool.encompassing_test("llm")
    with pytest.raises(ValueError, match="method must be"):
        pool.encompassing_test("marginal", method="score")


def test_encompassing_test_is_clustered_wald_by_default(parts, components, pool):
    """The pool's default cov_type is "cluster": the test is z^2 = (w / clustered se)^2."""
    res = pool.encompassing_test("marginal")
    z = pool.params["marginal"] / pool.bse["marginal"]
    assert res.statistic == pytest.approx(z**2, rel=1e-12) and res.df == 1
    assert res.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert res.name.startswith("Encompassing (Wald, cluster (person")
    assert res.pvalue == pytest.approx(pool.t_test("marginal").pvalue, rel=1e-9)
    # a non-robust pool keeps the likelihood-ratio test
    plain = LogLinearPoolModel(parts[1], components).fit(cov_type="nonrobust")
    assert plain.encompassing_test("marginal").name == "Encompassing (LR)"
    hc0 = LogLinearPoolModel(parts[1], components).fit(cov_type="HC0")
    assert hc0.encompassing_test("marginal").statistic == pytest.approx(
        (hc0.params["marginal"] / hc0.bse["marginal"]) ** 2
    )


def test_pool_matches_the_newton_fit_it_replaced(parts, components):
    """The shared conditional logit (scipy trust-exact) gives the estimates of the former
    hand-written Newton loop (values recorded from it at commit 50f3b7c) to 1e-6."""
    newton = {
        "cluster": [0.19088615916321, 0.1770256673313, 0.11320092746639],
        "HC0": [0.16007648595276, 0.15232004179073, 0.09779291112924],
        "nonrobust": [0.16370873730736, 0.15741776966615, 0.10425611664633],
    }
    for cov_type, bse in newton.items():
        res = LogLinearPoolModel(parts[1], components).fit(cov_type=cov_type)
        np.testing.assert_allclose(
            res.params, [0.15451477636073, 0.87071397820079, 0.0733495933087], atol=1e-6
        )
        np.testing.assert_allclose(res.bse, bse, atol=1e-6)
        assert res.llf == pytest.approx(-1040.7279534412137, abs=1e-6)
        assert res.converged and res.iterations > 0
        assert res.mle_retvals["converged"] and res.mle_retvals["iterations"] == res.iterations


def test_pool_recovers_the_truth():
    panel, process = simulate_panel(400, years=range(1980, 1992), seed=5, return_process=True)
    truth = TrueProcess(panel, process)
    res = LogLinearPoolModel(panel, {"truth": truth, "marginal": MarginalModel(panel).fit()}).fit()
    assert abs(res.params["truth"] - 1) < 3 * res.bse["truth"]
    assert abs(res.params["marginal"]) < 3 * res.bse["marginal"]
    assert res.encompassing_test("truth").pvalue < 1e-6


def test_zero_probability_component_is_refused(parts, components):
    few = parts[0].subset(parts[0].persons[:15])
    raw = MarkovModel(few, smoothing=0).fit()
    with pytest.raises(ValueError, match=r"component 'raw' gives probability 0\.0 to occupation"):
        LogLinearPoolModel(parts[1], {"raw": raw, "markov": components["markov"]})
    fitted = LogLinearPoolModel(parts[1], {"markov": components["markov"]}).fit()
    fitted.components["markov"] = raw  # a new panel is checked as well
    with pytest.raises(ValueError, match="transition"):
        fitted.predict(parts[2])


def test_pool_errors(parts, components):
    tax = Taxonomy(list(range(1, 8)), [f"Job {i}" for i in range(1, 8)], name="seven")
    other = MarkovModel(simulate_panel(40, taxonomy=tax, years=range(1990, 1994))).fit()
    with pytest.raises(PanelError, match="component 'other'"):
        LogLinearPoolModel(parts[1], {"markov": components["markov"], "other": other})
    with pytest.raises(ValueError, match="named 'Markov'"):
        LogLinearPoolModel(parts[1], [components["markov"], MarkovModel(parts[2]).fit()])
    with pytest.raises(ValueError, match="collinear"):
        LogLinearPoolModel(parts[1], {"a": components["markov"], "b": components["markov"]}).fit()
    with pytest.raises(TypeError, match="call .fit"):
        LogLinearPoolModel(parts[1], {"m": MarkovModel(parts[0])})
    single = LogLinearPoolModel(parts[1], [components["markov"]]).fit()
    assert list(single.params.index) == ["Markov"]
    with pytest.raises(ValueError, match="at least two"):
        single.encompassing_test("Markov")


def test_pool_summary(pool):
    smry = pool.summary()
    text = smry.as_text()
    assert "Log-linear pool" in text and "mnlogit" in text and "cluster" in text
    assert smry.as_html() and "\\begin{table}" in smry.as_latex()
    assert "mnlogit=" in repr(pool)
