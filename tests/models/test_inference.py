"""Conventions every results class shares: Wald inference, cov_type names, input rules."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax
from statsmodels.discrete.discrete_model import MNLogit
from statsmodels.iolib.summary2 import summary_col
from statsmodels.tools.sm_exceptions import CollinearityWarning

from labor_econ import CareerPanel, PanelError, Taxonomy, clarke_test, compare, vuong_test
from labor_econ.datasets import simulate_panel
from labor_econ.diagnostics.hypotheses import lr_test
from labor_econ.models.base import COV_TYPES
from labor_econ.models.llm import LLMModel
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.models.pool import LogLinearPoolModel
from labor_econ.taxonomies import occ1990

NUMERIC = ["experience", "tenure", "educ"]  # numeric only: no quasi-separation


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.3, seed=0)


@pytest.fixture(scope="module")
def llm(split):
    """An LLM calibrated on scores built from the Markov model (no LM needed)."""
    train, test = split
    markov = MarkovModel(train).fit()
    logq = log_softmax(np.log(markov.predict(test).to_numpy()) / 0.8, axis=1) - 0.2
    return LLMModel.from_scores(test, logq, name="scores").fit(calibrate=True)


@pytest.fixture(scope="module")
def pool(split):
    train, test = split
    parts = {"markov": MarkovModel(train).fit(), "marginal": MarginalModel(train).fit()}
    return LogLinearPoolModel(test, parts).fit()


@pytest.fixture(scope="module")
def mnl(split):
    return MNLogitModel(split[0], features=NUMERIC).fit(cov_type="nonrobust")


def check_wald(res, names):
    b = res._wald_params()
    assert list(b.index) == names
    cov = res.cov_params()
    assert isinstance(cov, pd.DataFrame) and list(cov.columns) == names
    ci = res.conf_int()
    assert list(ci.columns) == [0, 1]
    se = np.sqrt(np.diag(cov.to_numpy()))
    np.testing.assert_allclose(ci[1] - b, 1.959963984540054 * se)
    # t_test of each parameter = 0 is the z table; a joint Wald test of all = 0
    t = res.t_test(np.eye(len(names)))
    np.testing.assert_allclose(np.ravel(t.statistic), b / se)
    w = res.wald_test(np.eye(len(names)))
    expected = b.to_numpy() @ np.linalg.solve(cov.to_numpy(), b.to_numpy())
    assert float(w.statistic) == pytest.approx(expected)
    assert w.df_denom == len(names)
    by_name = res.t_test(f"{names[0]} = 0")
    assert np.ravel(by_name.statistic)[0] == pytest.approx(b.iloc[0] / se[0])
    with pytest.raises(ValueError, match="alpha must lie in"):
        res.conf_int(alpha=1.5)


def test_llm_results_wald_inference(llm):
    check_wald(llm, ["scale", "stay"])
    one = llm.t_test("scale = 1")
    assert np.ravel(one.statistic)[0] == pytest.approx((llm.params["scale"] - 1) / llm.bse["scale"])
    assert isinstance(llm.tvalues, pd.Series) and isinstance(llm.pvalues, pd.Series)
    text = summary_col([llm], model_names=["LLM"]).as_text()
    assert "scale" in text and "stay" in text
    with pytest.raises(ValueError, match="no covariance"):
        llm.model.fit().wald_test(np.eye(2))


def test_pool_results_wald_inference(pool):
    check_wald(pool, ["markov", "marginal"])
    diff = pool.t_test("markov - marginal = 0")
    assert float(diff.effect[0]) == pytest.approx(pool.params["markov"] - pool.params["marginal"])
    assert "markov" in summary_col([pool]).as_text()


def test_mnlogit_bse_equal_direct_statsmodels_fit(split, mnl):
    model = mnl.model
    direct = MNLogit(np.asarray(model.endog.cat.codes), model.exog.to_numpy()).fit(
        method="newton", disp=0
    )
    assert mnl.mnl_llf == pytest.approx(direct.llf, rel=1e-9)
    np.testing.assert_allclose(mnl.params.to_numpy(), direct.params, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(mnl.bse.to_numpy(), direct.bse, rtol=1e-3)
    assert mnl.cov_type == "nonrobust" and mnl.cov_params_available
    # person-clustered sandwich from statsmodels' per-transition scores, with G / (G - 1)
    cluster = model.fit(cov_type="cluster")
    at = cluster._wald_params().to_numpy()  # statsmodels' derivatives at our estimate
    scores = direct.model.score_obs(at)
    persons = model.endog.index.get_level_values(0)
    sums = pd.DataFrame(scores).groupby(np.asarray(persons)).sum().to_numpy()
    g = len(sums)
    bread = np.linalg.inv(-direct.model.hessian(at))
    expected = bread @ (sums.T @ sums) @ bread * g / (g - 1)
    np.testing.assert_allclose(cluster.cov_params().to_numpy(), expected, rtol=1e-5)
    hc0 = model.fit(cov_type="HC0")
    np.testing.assert_allclose(
        hc0.cov_params().to_numpy(), bread @ scores.T @ scores @ bread, rtol=1e-5
    )
    assert "cluster (person, " in cluster.summary().as_text()


def test_mnlogit_wald_inference_and_summary_col(mnl):
    names = list(mnl._wald_params().index)
    assert names[0] == "2:const" and len(names) == mnl.k_params
    check_wald(mnl, names)
    assert mnl.bse.shape == mnl.params.shape
    text = summary_col([mnl.flat]).as_text()
    assert "2:experience" in text


def test_mnlogit_llf_equals_statsmodels_on_30_codes():
    full = occ1990()
    tax = Taxonomy(full.codes[:30], full.titles[:30], name="occ1990[:30]")
    panel = simulate_panel(400, taxonomy=tax, seed=1)
    model = MNLogitModel(panel, features=["experience", "gap", "birth_year", "static"])
    res = model.fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = MNLogit(np.asarray(model.endog.cat.codes), model.exog.to_numpy()).fit(
            method="bfgs", maxiter=5000, gtol=1e-7, disp=0
        )
    assert res.mnl_llf == pytest.approx(direct.llf, rel=1e-6)
    assert res.converged


def test_markov_and_marginal_have_no_coefficient_table(split):
    for res in (MarkovModel(split[0]).fit(), MarginalModel(split[0]).fit()):
        for attr in ("tvalues", "pvalues"):
            with pytest.raises(AttributeError, match="compare"):
                getattr(res, attr)
        for method in ("conf_int", "cov_params", "t_test", "wald_test"):
            with pytest.raises(AttributeError, match="not coefficients"):
                getattr(res, method)()
        with pytest.raises(AttributeError, match="compare"):
            summary_col([res])


def test_one_cov_type_registry(split, llm):
    train, test = split
    assert set(COV_TYPES) == {"nonrobust", "HC0", "cluster"}
    message = r"cov_type must be one of \['nonrobust', 'HC0', 'cluster'\]"
    with pytest.raises(ValueError, match=message):
        llm.model.fit(calibrate=True, cov_type="robust")
    with pytest.raises(ValueError, match=message):
        LogLinearPoolModel(test, [MarginalModel(train).fit()]).fit(cov_type="robust")
    with pytest.raises(ValueError, match=message):
        MNLogitModel(train, features=NUMERIC).fit(cov_type="robust")


def test_models_on_different_transition_sets_are_refused(split):
    train, test = split
    markov = MarkovModel(train).fit()
    first = LLMModel.from_scores(
        test,
        np.full((len(test.transitions(include_first=True)), 9), np.log(1 / 9)),
        include_first=True,
        name="llm",
    ).fit()
    counts = f"'llm' on {test.n_transitions + test.n_persons}.*'Markov' on {test.n_transitions}"
    with pytest.raises(ValueError, match=counts):
        compare({"llm": first, "Markov": markov}, test)
    with pytest.raises(ValueError, match="different transition sets"):
        vuong_test(first, markov, test)
    with pytest.raises(ValueError, match="different transition sets"):
        clarke_test(first, markov, test)
    with pytest.raises(
        ValueError, match=f"predicts {test.n_transitions + test.n_persons} transitions"
    ):
        LogLinearPoolModel(test, {"llm": first, "markov": markov})


def test_from_scores_rows_summing_above_one_are_refused(split):
    test = split[1]
    n = test.n_transitions
    ok = np.full((n, 9), np.log(1 / 9))
    LLMModel.from_scores(test, ok + np.log1p(1e-6))  # rounding passes
    bad = ok.copy()
    bad[3] += np.log(9)  # this row sums to 9
    person, year = (int(v) for v in test.transitions().index[3])
    with pytest.raises(ValueError, match=f"person {person!r}, year {year!r}: sum of q = 9"):
        LLMModel.from_scores(test, bad)


def test_alpha_must_lie_in_the_unit_interval(split, llm, pool, mnl):
    train, test = split
    a, b = MarkovModel(train).fit(), MarginalModel(train).fit()
    for bad in (0, 1, -0.1, 5, float("nan")):
        with pytest.raises(ValueError, match="alpha must lie in"):
            vuong_test(a, b, test, alpha=bad)
    with pytest.raises(ValueError, match="alpha must lie in"):
        clarke_test(a, b, test, alpha=1.0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        lr_test(b, a, alpha=0.0)
    for res in (llm, pool, mnl):
        with pytest.raises(ValueError, match="alpha must lie in"):
            res.summary(alpha=2)
    with pytest.raises(ValueError, match="alpha must lie in"):
        pool.encompassing_test("marginal", alpha=1)


def test_fitting_on_a_panel_without_transitions_raises(wage):
    frame = pd.DataFrame({"pid": [1, 2], "year": [1990, 1990], "occ": [1, 2]})
    single = CareerPanel(frame, id="pid", time="year", occupation="occ", taxonomy=wage.taxonomy)
    for build in (
        lambda: MarkovModel(single).fit(),
        lambda: MarginalModel(single).fit(),
        lambda: MNLogitModel(single).fit(),
        lambda: LLMModel(single, None).fit(),
        lambda: LogLinearPoolModel(single, [MarginalModel(wage).fit()]).fit(),
    ):
        with pytest.raises(PanelError, match="no transitions"):
            build()


def test_alpha_nan_is_refused_by_check():
    from labor_econ.models.base import check_alpha

    with pytest.raises(ValueError, match="alpha must"):
        check_alpha("x")
    assert check_alpha(0.1) == 0.1


pytestmark = pytest.mark.filterwarnings("ignore", category=CollinearityWarning)
