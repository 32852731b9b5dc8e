"""Markov, marginal and multinomial-logit baselines: estimates, design, robustness, protocol."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import MNLogit
from statsmodels.tools.sm_exceptions import CollinearityWarning, ConvergenceWarning

from labor_econ import CareerPanel, PanelError, Taxonomy
from labor_econ.datasets import simulate_panel
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import FEATURE_GROUPS, MNLogitModel

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.CollinearityWarning",
    "ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning",
    "ignore::statsmodels.tools.sm_exceptions.HessianInversionWarning",
)

SMALL = ["prev_occupation", "static"]


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def markov(split):
    return MarkovModel(split[0]).fit()


@pytest.fixture(scope="module")
def marginal(split):
    return MarginalModel(split[0]).fit()


@pytest.fixture(scope="module")
def mnl_small(split):
    return MNLogitModel(split[0], features=SMALL).fit(cov_type="nonrobust")


@pytest.fixture(scope="module")
def mnl_career(split):
    return MNLogitModel(split[0]).fit()


def small_panel(taxonomy=None, **columns):
    """Two persons, codes 1-3; ``columns`` adds covariates."""
    frame = pd.DataFrame(
        {
            "pid": [1, 1, 1, 1, 2, 2, 2, 3, 3, 3],
            "year": [1990, 1991, 1992, 1994, 1990, 1991, 1992, 1990, 1992, 1993],
            "occ": [1, 1, 2, 2, 3, 1, 1, 2, 3, 3],
            **columns,
        }
    )
    tax = taxonomy or Taxonomy([1, 2, 3], ["Cooks", "Clerks", "Drivers"], name="toy3")
    return CareerPanel(
        frame, id="pid", time="year", occupation="occ", taxonomy=tax, varying=list(columns)
    )


# -- Markov and marginal ------------------------------------------------------------------------
def test_markov_matches_smoothed_counts(split, markov):
    train = split[0]
    tr = train.transitions()
    counts = pd.crosstab(tr["prev_occupation"], tr["occupation"]).reindex(
        index=range(1, 10), columns=range(1, 10), fill_value=0
    )
    expected = (counts + 1).div(counts.sum(axis=1) + 9, axis=0)
    np.testing.assert_allclose(markov.params.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert list(markov.params.index) == list(range(1, 10))
    assert markov.k_params == 9 * 8
    assert markov.df_model == 8 * 8
    probs = markov.predict(split[1])
    test_prev = split[1].transitions()["prev_occupation"].to_numpy()
    np.testing.assert_allclose(probs.to_numpy(), expected.loc[test_prev].to_numpy())
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_markov_unseen_previous_is_uniform_and_mle_without_smoothing():
    tax = Taxonomy([1, 2, 3, 4], ["Cooks", "Clerks", "Drivers", "Miners"], name="toy4")
    panel = small_panel(tax)  # code 4 is never a previous occupation
    res = MarkovModel(panel).fit()
    np.testing.assert_allclose(res.params.loc[4].to_numpy(), 1 / 4)
    assert (res.params.to_numpy() > 0).all()
    # from 1: 1->1 twice, 1->2 once
    np.testing.assert_allclose(res.params.loc[1].to_numpy(), np.array([3, 2, 1, 1]) / 7)
    mle = MarkovModel(panel, smoothing=0).fit()
    np.testing.assert_allclose(mle.params.loc[1].to_numpy(), [2 / 3, 1 / 3, 0, 0])
    assert np.isnan(mle.bse.loc[4]).all()
    with pytest.raises(ValueError, match="smoothing"):
        MarkovModel(panel, smoothing=-1)


def test_marginal_gives_unseen_codes_positive_probability():
    tax = Taxonomy([1, 2, 3, 4], ["Cooks", "Clerks", "Drivers", "Miners"], name="toy4")
    panel = small_panel(tax)
    res = MarginalModel(panel).fit()
    n = panel.n_transitions
    counts = panel.transitions()["occupation"].value_counts().reindex([1, 2, 3, 4], fill_value=0)
    np.testing.assert_allclose(res.params.to_numpy(), (counts + 1) / (n + 4))
    assert res.params[4] == pytest.approx(1 / (n + 4))
    assert res.k_params == 3 and res.df_model == 0
    assert MarginalModel(panel, smoothing=0).fit().llf == pytest.approx(res.llnull)


def test_markov_and_marginal_summaries_render(markov, marginal):
    for res in (markov, marginal):
        smry = res.summary()
        text = smry.as_text()
        assert "Log-likelihood" in text and "wage_panel_1970" in text
        assert smry.as_html().startswith("<table")
        assert "\\begin{table}" in smry.as_latex()
    assert "from 5" in markov.summary().as_text()
    assert "Craftsmen, foremen and kindred" in marginal.summary().as_text()


# -- MNLogit design -----------------------------------------------------------------------------
def independent_design(panel, train):
    """The career design built directly with pandas (shift / get_dummies), standardized with
    the statistics of ``train``'s design, for checking the model's feature code."""

    def raw(p):
        full = p.transitions(include_first=True).reset_index()
        idc, tc = p.id, p.time
        g = full.groupby(idc)
        full["prev"] = g["occupation"].shift(1)
        full["prev2"] = g["occupation"].shift(2)
        new_spell = full["occupation"] != g["occupation"].shift(1)
        full["spell_start"] = full.groupby(new_spell.cumsum())[tc].transform("min")
        full["tenure"] = g[tc].shift(1) - g["spell_start"].shift(1)
        full["experience"] = g[tc].shift(1) - g[tc].transform("min")
        full["gap_"] = full[tc] - g[tc].shift(1)
        lagged = {c: g[c].shift(1) for c in p.covariates}  # covariates at the previous wave
        full = full[full["prev"].notna()]
        out = pd.DataFrame({"const": 1.0}, index=full.index)
        prev = pd.get_dummies(full["prev"].astype(int).astype(str), prefix="prev", prefix_sep="=")
        prev2 = full["prev2"].map(lambda v: "none" if pd.isna(v) else str(int(v)))
        prev2 = pd.get_dummies(prev2, prefix="prev2", prefix_sep="=")
        out = out.join(prev.astype(float)).join(prev2.astype(float))
        out["tenure"] = full["tenure"].astype(float)
        out["experience"] = full["experience"].astype(float)
        out["gap"] = full["gap_"].astype(float)
        out["year"] = full[tc].astype(float)
        for c in p.covariates:
            out[c] = lagged[c][full.index].astype(float)
        return out.set_index(pd.MultiIndex.from_frame(full[[p.id, p.time]]))

    ref, target = raw(train), raw(panel)
    for col in [
        "tenure",
        "experience",
        "gap",
        "year",
        "educ",
        "exper",
        "expersq",
        "hours",
        "lwage",
    ]:
        target[col] = (target[col] - ref[col].mean()) / ref[col].std(ddof=0)
    return target


def test_career_design_matches_independent_construction(split):
    train, test = split
    with pytest.warns(CollinearityWarning, match="gap .constant") as record:
        model = MNLogitModel(train)
    assert "year (collinear" in str(record[0].message)
    assert model.dropped == {
        "gap": "constant in the estimation sample",
        "year": "collinear with the columns before it",
    }
    assert model.features == tuple(g for g in FEATURE_GROUPS if g != "birth_year")
    for panel in (train, test):
        expected = independent_design(panel, train)
        ours = model.design(panel)
        assert ours.index.equals(panel.transitions().index)
        assert set(ours.columns) | set(model.dropped) == set(expected.columns) - {"prev=1"} - {
            "prev2=1"
        }
        pd.testing.assert_frame_equal(
            ours, expected[ours.columns].reindex(ours.index), check_names=False, atol=1e-12
        )
    assert {"black", "hisp", "married", "union"}.isdisjoint(model.scaling.index)  # 0/1 as is
    assert model.names[:2] == ["const", "prev=2"]


def test_mnlogit_llf_equals_direct_statsmodels_fit(split, mnl_small):
    train = split[0]
    tr = train.transitions()
    y = tr["occupation"].to_numpy()
    x = pd.get_dummies(tr["prev_occupation"], prefix="prev", drop_first=True, dtype=float)
    for c in ["black", "hisp"]:
        x[c] = tr[c].astype(float)
    x["educ"] = (tr["educ"] - tr["educ"].mean()) / tr["educ"].std(ddof=0)
    x.insert(0, "const", 1.0)
    np.testing.assert_allclose(
        mnl_small.model.exog.to_numpy(), x.to_numpy()[:, [0, *range(1, 9), 9, 10, 11]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = MNLogit(y, x).fit(method="bfgs", maxiter=5000, gtol=1e-7, disp=0)
    assert direct.mle_retvals["converged"]
    assert mnl_small.mnl_llf == pytest.approx(direct.llf, rel=1e-6)
    # the reported probabilities are the direct ones mixed with the uniform floor
    floor = 9 / (train.n_transitions + 9)
    p_direct = (1 - floor) * np.asarray(direct.predict(x)) + floor / 9
    llf_direct = np.log(p_direct[np.arange(len(y)), y - 1]).sum()
    assert mnl_small.floor == pytest.approx(floor)
    assert mnl_small.llf == pytest.approx(llf_direct, rel=1e-6)
    assert mnl_small.k_params == 12 * 8 and mnl_small.df_model == 11 * 8


def test_mnlogit_test_perplexities(split, markov, marginal, mnl_small, mnl_career):
    test = split[1]
    ppl = {
        name: res.evaluate(test).perplexity
        for name, res in [
            ("marginal", marginal),
            ("markov", markov),
            ("mnl", mnl_small),
            ("career", mnl_career),
        ]
    }
    assert ppl["marginal"] == pytest.approx(7.63, abs=0.01)
    assert ppl["markov"] == pytest.approx(4.40, abs=0.01)
    assert ppl["mnl"] == pytest.approx(4.31, abs=0.02)
    assert ppl["career"] < ppl["mnl"] < ppl["markov"]


def test_mnlogit_results_protocol(split, mnl_small):
    probs = mnl_small.predict(split[1])
    assert list(probs.columns) == list(range(1, 10))
    assert probs.index.equals(split[1].transitions().index)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.to_numpy() > 0).all()
    assert mnl_small.params.shape == (12, 8)
    assert list(mnl_small.params.columns) == list(range(2, 10))
    assert mnl_small.bse.shape == (12, 8)
    assert mnl_small.base_outcome == 1
    assert mnl_small.aic == pytest.approx(-2 * mnl_small.llf + 2 * 96)
    # quasi-separation (no black or Hispanic farm laborers...): those coefficients are minus
    # infinity at the maximum, reported as NaN with NaN standard errors; the others have some
    empty = mnl_small.params.isna()
    assert 0 < empty.to_numpy().sum() < 96
    assert mnl_small.cov_params_available
    assert (mnl_small.bse.isna() == empty).all().all()
    text = mnl_small.summary().as_text()
    assert "never observed" in text and "2 Managers, officials" in text
    assert "prev=9" in text and "Base outcome: 1 Professional" in text
    assert mnl_small.summary().as_latex()


def test_mnlogit_empty_cells_are_excluded_outcomes_with_exact_standard_errors(split, mnl_small):
    """Independent check of the maximum under quasi-separation: outcomes never observed with
    a level of prev_occupation, black or hisp get probability 0 for that level; the others
    follow the logit. Its gradient vanishes at the estimate, and the standard errors of the
    identified coefficients are the inverse of its numerically differentiated gradient."""
    from scipy.optimize import approx_fprime

    tr = split[0].transitions()
    y = tr["occupation"].to_numpy() - 1
    x = mnl_small.model.exog.to_numpy()
    allowed = np.ones((len(y), 9), dtype=bool)
    for col in ["prev_occupation", "black", "hisp"]:
        seen = pd.crosstab(tr[col], y).reindex(columns=range(9), fill_value=0) > 0
        allowed &= seen.loc[tr[col]].to_numpy()
    free = ~mnl_small.params.isna().to_numpy().ravel(order="F")

    def grad(b_free):
        b = np.zeros(12 * 8)
        b[free] = b_free
        eta = np.column_stack([np.zeros(len(y)), x @ b.reshape(12, 8, order="F")])
        eta = np.where(allowed, eta, -np.inf)
        p = np.exp(eta - eta.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        resid = np.eye(9)[y] - p
        return (x.T @ resid[:, 1:]).ravel(order="F")[free]

    b_hat = mnl_small.params.to_numpy().ravel(order="F")[free]
    assert np.abs(grad(b_hat)).max() < 1e-5 * len(y)  # per transition
    hess = approx_fprime(b_hat, grad, 1e-6)
    se = np.sqrt(np.diag(np.linalg.inv(-(hess + hess.T) / 2)))
    np.testing.assert_allclose(mnl_small.bse.to_numpy().ravel(order="F")[free], se, rtol=1e-4)


def test_mnlogit_summary_is_statsmodels_with_labels(split):
    res = MNLogitModel(split[0], features=["prev_occupation"]).fit()
    assert res.cov_params_available
    # the empty previous-by-next cells (reference and base aside) are NaN, bse too
    tr = split[0].transitions()
    empty = pd.crosstab(tr["prev_occupation"], tr["occupation"]).iloc[1:, 1:] == 0
    assert empty.to_numpy().sum() > 0
    np.testing.assert_array_equal(res.params.iloc[1:].isna().to_numpy(), empty.to_numpy())
    assert res.params.iloc[0].notna().all()
    assert (res.bse.isna() == res.params.isna()).all().all()
    smry = res.summary()
    text = smry.as_text()
    assert re.search(r"Model:\s+MNLogit\s", text)
    assert "2 Managers, officials" in text and "9 Service workers" in text
    assert "std err" in text and "Reported probabilities" in text
    assert smry.as_html() and smry.as_latex()


# -- MNLogit robustness -------------------------------------------------------------------------
def test_default_fit_emits_no_warning_on_the_wage_panel(split):
    """The default fit (L-BFGS) works where Newton fails: no fallback, no warning."""
    for features in (SMALL, "career"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)  # the design, not the fit
            model = MNLogitModel(split[0], features=features)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = model.fit()
        assert res.method == "lbfgs" and res.converged
        assert res.fit_history == (res.fit_history[0],)
        assert res.fit_history[0].startswith("lbfgs: converged")


def test_statsmodels_silent_newton_nan_is_avoided(split):
    """statsmodels' own MNLogit Newton on this design returns NaN flagged as converged; the
    default fit here is finite, and Newton on the same likelihood (trust region) too."""
    model = MNLogitModel(split[0], features=SMALL)
    plain = MNLogit(np.asarray(model.endog.cat.codes), model.exog.to_numpy())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        raw = plain.fit(method="newton", disp=0)
    if np.isfinite(raw.llf):
        pytest.skip("this statsmodels version no longer fails on the wage design")
    assert raw.mle_retvals["converged"]
    res = model.fit()
    assert np.isfinite(res.llf)
    newton = model.fit(method="newton")
    assert newton.mnl_llf == pytest.approx(res.mnl_llf, rel=1e-6)


def test_failed_method_falls_back_to_lbfgs(split, monkeypatch):
    model = MNLogitModel(split[0], features=SMALL)
    real = model._optimize

    def broken(method, *args):
        if method == "bfgs":
            return args[1], np.nan, False, "1 iterations", "non-finite log-likelihood"
        return real(method, *args)

    monkeypatch.setattr(model, "_optimize", broken)
    with pytest.warns(
        ConvergenceWarning, match="method='bfgs' failed.*refitting with method='lbfgs'"
    ):
        res = model.fit(method="bfgs")
    assert res.method == "lbfgs" and res.fit_history[0].startswith("bfgs:")


def test_nonconvergence_warns(split):
    model = MNLogitModel(split[0], features=SMALL)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = model.fit(method="lbfgs", maxiter=3)
    assert not res.converged


def test_nonconvergence_counts_vanishing_pairs_and_advises_a_penalty(split):
    model = MNLogitModel(split[0], features=SMALL)
    start = model._start_params().reshape(len(model.names), -1, order="F")
    start[0, 0] -= 40.0  # outcome 2 at the reference level: probability about e**-40
    with pytest.warns(UserWarning, match="usually has no finite maximum.*fit_regularized"):
        with pytest.warns(ConvergenceWarning, match=r"pairs have fitted probability below 1e-08"):
            model.fit(hessian=False, maxiter=1, start_params=start.ravel(order="F"))


def test_start_is_the_smoothed_markov_chain(split):
    """At the start, a prev-occupation-only MNLogit gives each previous code's row of the
    transition table, smoothed by one transition spread over the outcome shares."""
    train = split[0]
    model = MNLogitModel(train, features=["prev_occupation"])
    prob = model._likelihood.probabilities(model._start_params())
    tr = train.transitions()
    table = pd.crosstab(tr["prev_occupation"], tr["occupation"]).astype(float)
    shares = tr["occupation"].value_counts(normalize=True).reindex(table.columns)
    smoothed = table + shares.to_numpy()
    expected = smoothed.div(smoothed.sum(axis=1), axis=0).loc[tr["prev_occupation"]]
    np.testing.assert_allclose(prob, expected.to_numpy(), rtol=1e-10)


def test_ridge_solves_the_penalized_score_equations(split):
    """At the ridge estimate, statsmodels' MNLogit score on the same design equals
    penalty * b for every slope and 0 for the intercepts."""
    train = split[0]
    model = MNLogitModel(train)
    res = model.fit_regularized(alpha=2.0)
    assert res.converged and res.penalty == 2.0 and res.params.notna().all().all()
    b = res.params.to_numpy()
    y = model.endog.cat.codes.to_numpy()
    score = MNLogit(y, model.exog.to_numpy()).score(b.ravel(order="F"))
    target = 2.0 * b
    target[0] = 0.0  # const is not penalized
    n = train.n_transitions
    np.testing.assert_allclose(score / n, target.ravel(order="F") / n, atol=1e-5)
    # and the penalty shrinks: a smaller penalty gives a larger log-likelihood
    assert model.fit_regularized(alpha=0.5).mnl_llf > res.mnl_llf


def test_large_model_skips_hessian(split):
    model = MNLogitModel(split[0], features=SMALL)
    with pytest.warns(UserWarning, match="Hessian.*not formed"):
        res = model.fit(hessian=False)
    assert res.method == "lbfgs" and not res.cov_params_available
    assert res.bse.isna().all().all()
    text = res.summary().as_text()
    assert "No standard errors" in text and "prev=2" in text
    with pytest.raises(ValueError, match="needs the dense .*Hessian"):
        model.fit(method="newton", hessian=False)


def test_unseen_outcome_codes_get_floor_probability():
    tax = Taxonomy([1, 2, 3, 4], ["Cooks", "Clerks", "Drivers", "Miners"], name="toy4")
    train = small_panel(tax)
    model = MNLogitModel(train, features=["prev_occupation"])
    assert model.unseen_codes == [4] and model.observed_codes == [1, 2, 3]
    res = model.fit(method="bfgs")
    probs = res.predict()
    assert list(probs.columns) == [1, 2, 3, 4]
    floor = 4 / (train.n_transitions + 4)
    np.testing.assert_allclose(probs[4], floor / 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # a held-out person moving into the unseen code has a finite log-likelihood
    frame = pd.DataFrame({"pid": [9, 9], "year": [2000, 2001], "occ": [1, 4]})
    held_out = CareerPanel(frame, id="pid", time="year", occupation="occ", taxonomy=tax)
    assert np.isfinite(res.evaluate(held_out).llf)
    with pytest.raises(ValueError, match="floor"):
        MNLogitModel(train, floor=0)


def test_unseen_previous_occupation_and_level_get_zero_dummies():
    tax = Taxonomy([1, 2, 3, 4], ["Cooks", "Clerks", "Drivers", "Miners"], name="toy4")
    train = small_panel(tax, region=["n", "s", "s", "n", "w", "w", "n", "s", "s", "n"])
    model = MNLogitModel(train, features=["prev_occupation", "region"])
    assert model.names == ["const", "prev=2", "prev=3", "region=s", "region=w"]
    frame = pd.DataFrame(
        {"pid": [9, 9, 9], "year": [2000, 2001, 2002], "occ": [4, 2, 1], "region": ["e", "e", "s"]}
    )
    new = CareerPanel(
        frame, id="pid", time="year", occupation="occ", taxonomy=tax, varying=["region"]
    )
    x = model.design(new)
    # covariates enter at the previous wave: region "e" (unseen) for both transitions
    assert x.loc[(9, 2001)].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # prev 4 and region e unseen
    assert x.loc[(9, 2002)].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_career_features_on_irregular_waves():
    panel = small_panel()
    model = MNLogitModel(panel, features=["tenure", "experience", "gap"])
    assert not model.dropped
    raw = model.design()
    for col, (mean, sd) in model.scaling.iterrows():
        raw[col] = raw[col] * sd + mean
    # person 1: 1990 1, 1991 1, 1992 2, 1994 2; person 2: 1990 3, 1991 1, 1992 1;
    # person 3: 1990 2, 1992 3, 1993 3
    assert raw["tenure"].tolist() == pytest.approx([0, 1, 0, 0, 0, 0, 0])
    assert raw["experience"].tolist() == pytest.approx([0, 1, 2, 0, 1, 0, 2])
    assert raw["gap"].tolist() == pytest.approx([1, 1, 2, 1, 1, 2, 1])
    prev2 = MNLogitModel(panel, features=["prev2_occupation"]).design()
    assert list(prev2.columns) == ["const", "prev2=none", "prev2=2", "prev2=3"]  # 1: reference
    assert prev2["prev2=none"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert prev2["prev2=3"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_feature_validation(toy_panel, wage):
    with pytest.raises(ValueError, match="unknown feature.*'nonsense'.*groups"):
        MNLogitModel(toy_panel, features=["nonsense"])
    with pytest.raises(ValueError, match="no birth_year"):
        MNLogitModel(wage, features=["birth_year"])
    with pytest.raises(ValueError, match="'career' or a list"):
        MNLogitModel(toy_panel, features="all")
    assert "birth_year" in MNLogitModel(toy_panel, features="career").features


def test_new_panel_checks(split, mnl_small):
    tax = Taxonomy(list(range(1, 8)), [f"Job {i}" for i in range(1, 8)], name="seven")
    panel = simulate_panel(150, taxonomy=tax, years=range(1990, 1998), seed=3)
    res = MNLogitModel(panel, features=["prev_occupation", "birth_year", "educ"]).fit()
    assert np.isfinite(res.llf)
    with pytest.raises(PanelError, match="model 'MNLogit'.*'seven'"):
        res.predict(split[1])
    same_tax = simulate_panel(60, years=range(1990, 1995), seed=4)  # wage taxonomy, no 'hisp'
    with pytest.raises(PanelError, match=r"covariate\(s\) \['hisp'\]"):
        mnl_small.predict(same_tax)
