"""Mobility summaries: the predicted matrix against xttrans, clustered SEs against statsmodels
and a person bootstrap."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from labor_econ.diagnostics.mobility import mobility
from labor_econ.models.markov import MarkovModel
from labor_econ.models.mnlogit import MNLogitModel


@pytest.fixture(scope="module")
def mle(wage):
    return MarkovModel(wage, smoothing=0).fit()


def test_unsmoothed_markov_matrix_is_xttrans(wage, mle):
    mob = mobility(mle)
    xt = wage.transition_table().drop(columns="Total") / 100
    xt = xt.loc[xt.notna().all(axis=1)]
    np.testing.assert_allclose(mob.matrix.to_numpy(), xt.to_numpy(), atol=1e-12)
    diag = np.diag(xt.to_numpy())
    m = len(diag)
    assert mob.shorrocks == pytest.approx((m - diag.sum()) / (m - 1), abs=1e-12)
    np.testing.assert_allclose(mob.tenure["expected_tenure"], 1 / (1 - diag))
    assert mob.counts.sum() == wage.n_transitions


def test_cell_standard_errors_are_statsmodels_clustered_means(wage):
    res = MarkovModel(wage.subset(wage.persons[:300])).fit()
    mob = mobility(res, wage)
    probs = res.predict(wage)
    tr = wage.transitions()
    row = tr["prev_occupation"] == 5
    y = probs.loc[row.to_numpy(), 5].to_numpy()
    groups = pd.factorize(tr.index.get_level_values(0)[row.to_numpy()])[0]
    fit = sm.OLS(y, np.ones(len(y))).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
    )
    g = len(np.unique(groups))
    assert mob.matrix.loc[5, 5] == pytest.approx(fit.params[0])
    # statsmodels without its correction has no G / (G - 1); the package's clustering has it
    assert mob.matrix_se.loc[5, 5] == pytest.approx(fit.bse[0] * np.sqrt(g / (g - 1)), rel=1e-10)


def test_shorrocks_se_matches_a_person_bootstrap(wage):
    # predictions that vary within a row (a Markov row is constant: its SE is zero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MNLogitModel(wage, features=["prev_occupation", "static"]).fit(hessian=False)
    mob = mobility(res)
    probs = res.predict().to_numpy()
    prev = res.taxonomy.positions(wage.transitions()["prev_occupation"])
    person_rows = (
        pd.Series(np.arange(len(prev)))
        .groupby(wage.transitions().index.get_level_values(0).to_numpy())
        .indices
    )
    blocks = list(person_rows.values())
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(400):
        rows = np.concatenate([blocks[i] for i in rng.integers(0, len(blocks), len(blocks))])
        n = np.bincount(prev[rows], minlength=9)
        sums = np.zeros(9)
        np.add.at(sums, prev[rows], probs[rows, prev[rows]])
        boot.append((9 - (sums / n).sum()) / 8)
    # 400 replicates: the bootstrap SE is itself uncertain by about 4%; measured ratio
    # 1.005, 1.039, 1.047 with seeds 0, 1, 2
    ratio = np.std(boot, ddof=1) / mob.shorrocks_se
    assert ratio == pytest.approx(1.0, abs=0.15)


def test_bad_input(wage, mle):
    with pytest.raises(ValueError, match="step must be a positive number"):
        mobility(mle, step=0)
    with pytest.raises(TypeError, match="fitted model results"):
        mobility(wage)
