"""Every identified MNLogit coefficient gets a standard error, as in Stata's ``mlogit``:
flat directions of the log-likelihood omitted (set to 0, marked), checked against
statsmodels on the identified sub-design; tests on an omitted coefficient raise."""

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from statsmodels.base.model import GenericLikelihoodModel
from statsmodels.tools.numdiff import approx_fprime
from statsmodels.tools.sm_exceptions import CollinearityWarning, PerfectSeparationError

from labor_econ.models.mnlogit import MNLogitModel, NoMaximumError

pytestmark = pytest.mark.filterwarnings("ignore", category=CollinearityWarning)


@pytest.fixture(scope="module")
def train(wage):
    return wage.split(test_size=0.2, seed=0)[0]


@pytest.fixture(scope="module")
def readme_fit(train):
    """The README's example: the career design on the wage panel's train persons."""
    return MNLogitModel(train).fit()


def test_readme_example_has_standard_errors(readme_fit):
    """Was: 232 of 232 bse NaN ("the information matrix at the estimate is singular").
    Now 224 of 232: the 7 empty cells and the 1 omitted coefficient (prev2=8 in the last
    equation: that level is never seen with the base outcome) have none."""
    res = readme_fit
    assert res.cov_params_available and res.cov_note is None
    empty = res.params.isna()
    omitted = res.omitted
    assert int(empty.to_numpy().sum()) == 7 and int(omitted.to_numpy().sum()) == 1
    assert omitted.loc["prev2=8"].to_numpy().tolist() == [False] * 7 + [True]
    assert res.params.loc["prev2=8", 9] == 0.0
    bse = res.bse
    np.testing.assert_array_equal(bse.isna().to_numpy(), (empty | omitted).to_numpy())
    assert int(bse.notna().to_numpy().sum()) == 224
    assert (bse.to_numpy()[bse.notna().to_numpy()] > 0).all()
    text = res.summary().as_text()
    assert "0 (omitted)" in text and "(empty cell)" in text
    assert "1 coefficients are omitted" in text and "No standard errors" not in text


def test_tests_on_unidentified_coefficients_raise(readme_fit):
    res = readme_fit
    with pytest.raises(ValueError, match=r"'9:prev2=8' is omitted \(not identified\)"):
        res.t_test("9:prev2=8 = 0")
    with pytest.raises(ValueError, match=r"'9:prev2=8' is omitted"):
        res.wald_test("9:prev2=8 = 0, 3:prev2=8 = 0")
    empty = res.params.stack()[lambda s: s.isna()].index[0]
    name = f"{empty[1]}:{empty[0]}"
    with pytest.raises(ValueError, match=f"'{name}' is an empty cell"):
        res.t_test(f"{name} = 0")
    with pytest.raises(ValueError, match="is omitted"):  # the summary_col view too
        res.flat.t_test("9:prev2=8 = 0")
    # identified coefficients: finite tests, though other coefficients are NaN
    t = res.t_test("3:prev2=8 = 0")
    assert np.isfinite(t.effect).all() and np.isfinite(t.sd).all()
    assert float(t.sd[0]) == pytest.approx(res.bse.loc["prev2=8", 3])
    w = res.wald_test("3:prev2=8 = 0, 4:tenure = 0")
    assert np.isfinite(w.statistic) and w.df_denom == 2


def test_no_covariance_makes_tests_raise(train):
    res = MNLogitModel(train, features=["prev_occupation"]).fit(hessian=False)
    with pytest.raises(ValueError, match="no standard errors: the .* Hessian .* not formed"):
        res.t_test("3:prev=2 = 0")


def _allowed(x: np.ndarray, columns: list[int], y: np.ndarray, n_out: int) -> np.ndarray:
    """Outcomes seen with each level of the factor coded by dummy ``columns`` of ``x``
    (the reference level: all of them zero), written out independently of the model."""
    dummies = x[:, columns]
    level = np.where(dummies.any(axis=1), dummies.argmax(axis=1) + 1, 0)
    seen = pd.crosstab(level, y).reindex(columns=range(n_out), fill_value=0).to_numpy() > 0
    return seen[level]


def test_identified_coefficients_match_statsmodels_on_the_identified_sub_design(train):
    """statsmodels' GenericLikelihoodModel on the identified coefficients only (the
    omitted one fixed at 0, the empty cells' outcomes excluded), fit from zero: the same
    maximum, and its standard errors (numerical Hessian) equal ours."""
    model = MNLogitModel(train, features=["prev2_occupation"])
    res = model.fit(method="newton", cov_type="nonrobust")  # polished to the optimizer's precision
    x = model.exog.to_numpy()
    y = model.endog.cat.codes.to_numpy()
    p, n_out = x.shape[1], len(model.observed_codes)
    allowed = _allowed(x, list(range(1, p)), y, n_out)
    empty = res.params.isna().to_numpy().ravel(order="F")
    omitted = res.omitted.to_numpy().ravel(order="F")
    assert empty.sum() == 2 and omitted.sum() == 1
    free = ~(empty | omitted)

    def parts(b_free):
        b = np.zeros(p * (n_out - 1))
        b[free] = b_free
        eta = np.column_stack([np.zeros(len(y)), x @ b.reshape(p, -1, order="F")])
        eta = np.where(allowed, eta, -np.inf)
        return eta, logsumexp(eta, axis=1)

    class Identified(GenericLikelihoodModel):
        def loglikeobs(self, b_free):
            eta, lse = parts(b_free)
            return eta[np.arange(len(y)), y] - lse

        def score(self, b_free):
            eta, lse = parts(b_free)
            resid = np.eye(n_out)[y] - np.exp(eta - lse[:, None])
            return (x.T @ resid[:, 1:]).ravel(order="F")[free]

        def hessian(self, b_free):  # centered differences of the analytic score
            return approx_fprime(b_free, self.score, centered=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_model = Identified(y, None)
        rough = sm_model.fit(
            start_params=np.zeros(free.sum()), method="bfgs", maxiter=3000, gtol=1e-7, disp=0
        )  # from zero, polished by Newton steps
        direct = sm_model.fit(start_params=rough.params, method="newton", maxiter=20, disp=0)
    assert direct.mle_retvals["converged"]
    assert res.mnl_llf == pytest.approx(direct.llf, rel=1e-9)
    ours = res.params.to_numpy().ravel(order="F")[free]
    se = res.bse.to_numpy().ravel(order="F")[free]
    np.testing.assert_allclose(ours, direct.params, atol=0.01 * se.min())
    # statsmodels' standard errors at its own maximum (the two maxima differ by the
    # optimizers' tolerance: measured 4e-5 relative on the standard errors) ...
    np.testing.assert_allclose(se, direct.bse, rtol=2e-4)
    # ... and its covariance (numerically differentiated score) at our estimate: 3e-9
    info = -sm_model.hessian(ours)
    np.testing.assert_allclose(se, np.sqrt(np.diag(np.linalg.inv((info + info.T) / 2))), rtol=1e-6)


def test_cluster_covariance_of_the_identified_coefficients(readme_fit, train):
    res = MNLogitModel(train).fit(cov_type="cluster")
    bse = res.bse
    np.testing.assert_array_equal(bse.isna().to_numpy(), readme_fit.bse.isna().to_numpy())
    np.testing.assert_allclose(res.params.fillna(0), readme_fit.params.fillna(0), atol=1e-8)


def test_save_load_keeps_the_omitted_marks(readme_fit, tmp_path):
    path = tmp_path / "mnl.zip"
    readme_fit.save(path)
    back = type(readme_fit).load(path)
    pd.testing.assert_frame_equal(back.omitted, readme_fit.omitted)
    pd.testing.assert_frame_equal(back.bse, readme_fit.bse)


# -- fit and fit_regularized --------------------------------------------------------------------
def test_fit_penalty_is_deprecated_for_fit_regularized(train):
    model = MNLogitModel(train, features=["prev_occupation"])
    with pytest.warns(DeprecationWarning, match="fit_regularized"):
        old = model.fit(penalty=1.0)
    new = model.fit_regularized(alpha=1.0)
    assert old.penalty == new.penalty == 1.0
    np.testing.assert_allclose(old.params, new.params)
    np.testing.assert_allclose(old.bse, new.bse)
    with pytest.warns(DeprecationWarning):
        assert model.fit(penalty=0).penalty == 0.0
    assert model.fit().penalty == 0.0
    with pytest.raises(ValueError, match="alpha must be > 0 for the ridge; fit"):
        model.fit_regularized(alpha=0)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0, got -1"):
        model.fit_regularized(alpha=-1)
    with pytest.raises(ValueError, match="start_params must be finite"):
        model.fit(start_params=np.full(model.k_params, np.nan))


def test_no_maximum_is_said_early(monkeypatch):
    """A design whose fitted probabilities of allowed pairs keep vanishing: fit() raises
    NoMaximumError naming fit_regularized, after three checks, instead of crawling.
    (On the 389-code simulated NLSY panel, 30,000 transitions: after 75 iterations and
    28 s on 2 CPU cores at load 5; it used to run 37 minutes.)"""
    from labor_econ.datasets import simulate_panel
    from labor_econ.models import mnlogit

    panel = simulate_panel(300, seed=5, years=range(1990, 1998))
    model = MNLogitModel(panel, features=["prev_occupation", "static"])
    counts = iter([3, 7, 20, 50])
    monkeypatch.setattr(mnlogit, "_CHECK_EVERY", 1)
    monkeypatch.setattr(model._mle_likelihood, "vanishing_pairs", lambda b: next(counts))
    start = time.perf_counter()
    with pytest.raises(
        NoMaximumError,
        match=r"does not exist.*keeps growing \(3 at iteration 1, 7 at iteration 2, 20 at "
        r"iteration 3.*fit_regularized\(alpha=1\)",
    ) as info:
        model.fit()
    assert time.perf_counter() - start < 60
    assert isinstance(info.value, ValueError) and isinstance(info.value, PerfectSeparationError)


def test_diverging_rule():
    from labor_econ.models.mnlogit import _diverging

    assert _diverging([1, 2, 3]) and _diverging([0, 5, 6, 9])
    assert not _diverging([0, 1, 2]) and not _diverging([5, 5, 6]) and not _diverging([4, 3, 9])
    assert not _diverging([1, 2])


def test_the_wage_fits_do_not_trip_the_existence_check(readme_fit):
    """The maximum exists on the wage panel (empty cells excluded): no error, converged."""
    assert readme_fit.converged
