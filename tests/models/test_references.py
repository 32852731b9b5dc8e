"""Results checked against independent references: a direct statsmodels MNLogit fit, and a
calibration table binned by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import MNLogit

from labor_econ import calibration_table
from labor_econ.datasets import simulate_panel
from labor_econ.models.base import TransitionEvaluation
from labor_econ.models.mnlogit import MNLogitModel


@pytest.fixture(scope="module")
def mnlogit_fit():
    # Person covariates only: every outcome is seen at every covariate value, so there is no
    # quasi-separation and standard errors exist (with previous-occupation dummies on the
    # wage panel they do not).
    panel = simulate_panel(600, seed=7, years=range(1990, 1996))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MNLogitModel(panel, features=["static"])
        # Newton polishes to the optimizer's precision; the default L-BFGS stops where the
        # log-likelihood has converged (checked against the same reference below).
        # statsmodels' standard errors are the inverse information: cov_type="nonrobust"
        # (the package's default is clustered by person).
        res = model.fit(method="newton", cov_type="nonrobust")
        default = model.fit(cov_type="nonrobust")
    return panel, res, default


def test_mnlogit_standard_errors_equal_a_direct_statsmodels_fit(mnlogit_fit):
    panel, res, default = mnlogit_fit
    assert res.cov_params_available
    tr = panel.transitions()
    # The design written out independently: intercept, education standardized with the
    # sample SD, 0/1 dummies as they are.
    x = pd.DataFrame(index=tr.index)
    x["educ"] = (tr["educ"] - tr["educ"].mean()) / tr["educ"].std(ddof=0)
    for c in ["black", "female"]:
        x[c] = tr[c].astype(float)
    x.insert(0, "const", 1.0)
    assert sorted(res.params.index) == sorted(x.columns)
    x = x[list(res.params.index)]
    y = panel.taxonomy.positions(tr["occupation"])
    assert set(y) == set(range(9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # statsmodels' Newton from its default start overflows to NaN on this design (it
        # reports converged); BFGS, polished by Newton steps from there, finds the maximum.
        sm_model = MNLogit(y, x.to_numpy())
        rough = sm_model.fit(method="bfgs", maxiter=5000, gtol=1e-8, disp=0)
        direct = sm_model.fit(
            start_params=rough.params.ravel(order="F"), method="newton", maxiter=50, disp=0
        )
    assert direct.mle_retvals["converged"]
    assert res.mnl_llf == pytest.approx(direct.llf, rel=1e-10)
    np.testing.assert_allclose(res.params.to_numpy(), direct.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), direct.bse, rtol=1e-6)
    assert res.bse.shape == (4, 8)
    assert res.bse.to_numpy().min() > 0.01  # real standard errors, not a degenerate zero
    # The default fit: the same maximum to 1e-10, coefficients well inside one standard error.
    assert default.mnl_llf == pytest.approx(direct.llf, rel=1e-10)
    gap = np.abs(default.params.to_numpy() - direct.params) / direct.bse
    assert gap.max() < 0.01
    np.testing.assert_allclose(default.bse.to_numpy(), direct.bse, rtol=1e-3)


def _evaluation(probs: np.ndarray, observed_pos: np.ndarray) -> TransitionEvaluation:
    codes = list(range(10, 10 + probs.shape[1]))
    index = pd.MultiIndex.from_arrays([np.arange(len(probs)), np.full(len(probs), 2000)])
    return TransitionEvaluation(
        "hand",
        pd.DataFrame(probs, index=index, columns=codes),
        pd.Series(np.asarray(codes)[observed_pos], index=index),
        0,
    )


def test_calibration_table_small_case_by_hand():
    # Top probabilities 0.9 (hit), 0.85 (miss), 0.55 (hit), 0.4 (hit), 0.35 (miss) in bins of
    # width 0.25: [0.25, 0.5) holds 0.4 and 0.35, [0.5, 0.75) 0.55, [0.75, 1] 0.9 and 0.85.
    probs = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.05, 0.85, 0.1],
            [0.2, 0.25, 0.55],
            [0.4, 0.3, 0.3],
            [0.3, 0.35, 0.35 - 1e-9],
        ]
    )
    table = calibration_table(_evaluation(probs, np.array([0, 0, 2, 0, 0])), bins=4)
    want = pd.DataFrame(
        {"predicted": [0.375, 0.55, 0.875], "observed": [0.5, 1.0, 0.5], "n": [2, 1, 2]}
    )
    pd.testing.assert_frame_equal(table, want, check_dtype=False, atol=1e-9)


@pytest.mark.parametrize("bins", [3, 10, 20])
def test_calibration_table_matches_hand_binning(bins):
    rng = np.random.default_rng(bins)
    n, k = 3000, 6
    probs = rng.dirichlet(np.full(k, 0.4), size=n)
    probs[:7] = np.eye(k)[rng.integers(k, size=7)]  # top probability exactly 1: last bin
    observed = np.array([rng.choice(k, p=p) for p in probs])
    table = calibration_table(_evaluation(probs, observed), bins=bins)
    # Reference: bin edges by pd.cut, [lo, hi) with 1.0 in the last bin, rows in bin order.
    top = probs.max(axis=1)
    hit = probs.argmax(axis=1) == observed
    edges = np.linspace(0, 1, bins + 1)
    edges[-1] = 1 + 1e-12
    which = pd.cut(top, edges, right=False, labels=False)
    assert not np.isnan(which).any()
    frame = pd.DataFrame({"bin": which, "top": top, "hit": hit})
    want = frame.groupby("bin").agg(predicted=("top", "mean"), observed=("hit", "mean"))
    want["n"] = frame.groupby("bin").size()
    assert len(want) >= min(bins, 6)
    np.testing.assert_array_equal(table["n"].to_numpy(), want["n"].to_numpy())
    np.testing.assert_allclose(table["predicted"], want["predicted"], rtol=1e-12)
    np.testing.assert_allclose(table["observed"], want["observed"], rtol=1e-12)
