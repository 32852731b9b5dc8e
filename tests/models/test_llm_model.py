"""LLMModel: likelihood, analytic derivatives, calibration, results protocol."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax
from statsmodels.iolib.summary2 import summary_col
from statsmodels.tools.numdiff import approx_fprime, approx_hess

from labor_econ import PanelError
from labor_econ.datasets import simulate_panel
from labor_econ.models.llm import LLMModel
from labor_econ.taxonomies import occ1990


def scores_from_truth(panel, process, scale, stay, leak=0.3):
    """log q such that the true log p = scale * log q + stay * 1[k = prev] + const, with a
    fraction 1 - exp(-leak) of the LM's mass on text that is no occupation."""
    logp = process.log_probabilities(panel).to_numpy(copy=True)
    prev = panel.taxonomy.positions(panel.transitions()["prev_occupation"])
    logp[np.arange(len(prev)), prev] -= stay
    return log_softmax(logp / scale, axis=1) - leak


@pytest.fixture(scope="module")
def simulated():
    panel, process = simulate_panel(1500, seed=4, years=range(1990, 1998), return_process=True)
    return panel, process


@pytest.fixture(scope="module")
def model(simulated):
    panel, process = simulated
    return LLMModel.from_scores(panel, scores_from_truth(panel, process, 0.5, 0.7))


def test_uncalibrated_fit_is_renormalized_lm(model):
    res = model.fit()
    assert res.params.tolist() == [1.0, 0.0] and res.df_model == 0 and res.k_params == 0
    assert res.bse.isna().all()
    probs = res.predict()
    q = np.exp(model.logq)
    np.testing.assert_allclose(probs.to_numpy(), q / q.sum(axis=1, keepdims=True))
    assert res.llf == model.loglike(res.params)
    np.testing.assert_allclose(res.valid_mass, np.exp(-0.3))
    obs = model.panel.taxonomy.positions(model.transitions["occupation"])
    assert res.raw_llf == pytest.approx(model.logq[np.arange(len(obs)), obs].sum())
    assert res.raw_llf < res.llf  # renormalizing over real titles raises every probability


@pytest.mark.parametrize("params", [(1.0, 0.0), (0.4, 1.3), (2.0, -0.5)])
def test_analytic_derivatives_match_numerical(model, params):
    params = np.array(params)
    np.testing.assert_allclose(
        model.score(params), approx_fprime(params, model.loglike, centered=True), rtol=1e-5
    )
    np.testing.assert_allclose(model.hessian(params), approx_hess(params, model.loglike), rtol=1e-5)
    np.testing.assert_allclose(model.score_obs(params).sum(axis=0), model.score(params))


def test_calibration_recovers_known_parameters(model):
    res = model.fit(calibrate=True, calibration_persons="all")
    truth = np.array([0.5, 0.7])
    assert np.all(np.abs(res.params.to_numpy() - truth) < 3 * res.bse.to_numpy())
    assert res.llf == model.loglike(res.params) and res.llf >= model.fit().llf
    assert np.abs(model.score(res.params)).max() / res.nobs < 1e-6
    assert res.k_params == 2 and res.aic == pytest.approx(-2 * res.llf + 4)
    assert res.bic == pytest.approx(-2 * res.llf + 2 * np.log(res.nobs))


def test_covariance_types(model, simulated):
    res = {
        c: model.fit(calibrate=True, cov_type=c, calibration_persons="all")
        for c in ("nonrobust", "HC0", "cluster")
    }
    params = res["cluster"].params.to_numpy()
    inv_info = np.linalg.inv(-model.hessian(params))
    np.testing.assert_allclose(res["nonrobust"].cov_params().to_numpy(), inv_info)
    s = model.score_obs(params)
    np.testing.assert_allclose(res["HC0"].cov_params().to_numpy(), inv_info @ s.T @ s @ inv_info)
    persons = model.transitions.index.get_level_values(0)
    g = pd.DataFrame(s).groupby(np.asarray(persons)).sum().to_numpy()
    n_g = len(g)
    expected = n_g / (n_g - 1) * inv_info @ g.T @ g @ inv_info
    np.testing.assert_allclose(res["cluster"].cov_params().to_numpy(), expected)
    with pytest.raises(ValueError, match="cov_type"):
        model.fit(calibrate=True, cov_type="HC3")


def test_results_protocol(model):
    res = model.fit(calibrate=True, calibration_persons="all")
    probs = res.predict()
    assert probs.index.equals(model.panel.transitions().index)
    assert list(probs.columns) == list(model.panel.taxonomy.codes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    ev = res.evaluate()
    assert ev.llf == pytest.approx(res.llf) and ev.nobs == res.nobs
    assert res.perplexity == pytest.approx(np.exp(-res.llf / res.nobs))
    assert 0 < res.accuracy(1) <= res.accuracy(5) <= 1
    assert res.llnull < res.llf and 0 < res.prsquared < 1
    assert list(res.params.index) == ["scale", "stay"]


def test_summary_text(model):
    res = model.fit(calibrate=True, calibration_persons="all")
    text = res.summary().as_text()
    assert "LLM Transition Model Results" in text
    assert re.search(r"Checkpoint: +precomputed scores", text)
    assert re.search(rf"Taxonomy: +{res.taxonomy.name} \({len(res.taxonomy)} codes\)", text)
    assert re.search(rf"No. Transitions: +{res.nobs}\n", text)
    assert "No. Persons:" in text and re.search(r"Mean valid mass: +0.7408", text)
    assert "Perplexity:" in text and re.search(r"Covariance Type: +cluster", text)
    assert "scale " in text and "stay " in text
    assert "clustered by person" in text
    assert "not estimated" in model.fit().summary().as_text()
    assert "Coef." in res.summary2().as_text()
    col = summary_col([model.fit(), res], model_names=["LM", "calibrated"]).as_text()
    assert "scale" in col and "(0.01" in col
    assert res.summary().as_latex() and res.summary().as_html()


def test_include_first_models_first_waves(simulated):
    panel, process = simulated
    logp = process.log_probabilities(panel, include_first=True)
    model = LLMModel.from_scores(panel, logp, include_first=True)
    assert model.fit().nobs == panel.n_obs
    np.testing.assert_allclose(model.fit().predict().to_numpy(), np.exp(logp.to_numpy()))


def test_bad_scores_are_rejected(simulated):
    panel, process = simulated
    good = process.log_probabilities(panel).to_numpy(copy=True)
    with pytest.raises(ValueError, match="shape"):
        LLMModel.from_scores(panel, good[:, :3])
    bad = good.copy()
    bad[5, 2] = np.nan
    pid, year = panel.transitions().index[5]
    with pytest.raises(ValueError, match=f"person {pid}, year {year}, code 3"):
        LLMModel.from_scores(panel, bad)
    bad = good.copy()
    bad[7] = -np.inf
    with pytest.raises(ValueError, match="probability 0 to every occupation"):
        LLMModel.from_scores(panel, bad)
    frame = process.log_probabilities(panel)
    with pytest.raises(ValueError, match="columns"):
        LLMModel.from_scores(panel, frame[frame.columns[::-1]])


def test_zero_probability_outcome_stays_impossible(simulated):
    panel, process = simulated
    logq = process.log_probabilities(panel).to_numpy(copy=True)
    logq[:, 7] = -np.inf  # an occupation the LM never writes
    model = LLMModel.from_scores(panel, logq)
    for params in ([1.0, 0.0], [0.5, 2.0]):
        probs = model.predict(params)
        assert (probs[:, 7] == 0).all()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.isfinite(model.hessian([0.5, 2.0])).all()


def test_predict_on_new_panel_needs_lm_and_same_taxonomy(model):
    res = model.fit()
    other = simulate_panel(5, taxonomy=occ1990(), seed=1)
    with pytest.raises(PanelError, match="same taxonomy"):
        res.predict(other)
    same_tax = simulate_panel(5, seed=9)
    with pytest.raises(ValueError, match="no LM to score"):
        res.predict(same_tax)


def test_name_and_lr_test_between_uncalibrated_and_calibrated(simulated):
    from labor_econ import lr_test

    panel, process = simulated
    model = LLMModel.from_scores(panel, scores_from_truth(panel, process, 0.5, 0.7), name="my LM")
    restricted, full = model.fit(), model.fit(calibrate=True, calibration_persons="all")
    assert restricted.name == full.name == "my LM"
    assert re.search(r"Checkpoint: +my LM ", full.summary().as_text())
    test = lr_test(restricted, full)
    assert test.df == 2
    assert test.statistic == pytest.approx(2 * (full.llf - restricted.llf))
    assert test.conclusion.startswith("the restricted model 'my LM' rejected in favour of")


def test_calibration_matches_the_fit_it_replaced(model):
    """The shared conditional logit gives the calibration of the former LLM-only optimizer
    (values recorded from it at commit 50f3b7c) to 1e-6."""
    before = {
        "cluster": [0.01285573807555, 0.07498551277921],
        "HC0": [0.01312332173356, 0.0767101656252],
        "nonrobust": [0.01308145273157, 0.07640954269901],
    }
    for cov_type, bse in before.items():
        res = model.fit(calibrate=True, cov_type=cov_type, calibration_persons="all")
        np.testing.assert_allclose(res.params, [0.51612554491423, 0.56579662796085], atol=1e-6)
        np.testing.assert_allclose(res.bse, bse, atol=1e-6)
        assert res.llf == pytest.approx(-3887.176896644277, abs=1e-6)
        assert res.converged and res.iterations == res.mle_retvals["iterations"] > 0


def test_calibration_test_is_the_clustered_wald(model):
    res = model.fit(calibrate=True, calibration_persons="all")
    test = res.calibration_test()
    assert test.statistic == pytest.approx(res.wald_test("scale = 1, stay = 0").statistic)
    assert test.df == 2 and test.name.startswith("Calibration Wald (cluster (person")
    assert test.pvalue < 1e-6  # scale 0.5, stay 0.7 in the simulated scores
    with pytest.raises(ValueError, match="calibrate=True"):
        model.fit().calibration_test()
    assert model.fit().cov_type is None and not model.fit().calibrated


def test_lr_test_warns_on_clustered_results_and_names_the_alternative(model, simulated):
    import warnings

    from labor_econ import lr_test
    from labor_econ.models.inference import RobustCovarianceWarning
    from labor_econ.models.markov import MarginalModel, MarkovModel

    plain = model.fit()
    for cov_type in ("cluster", "HC0"):
        full = model.fit(calibrate=True, cov_type=cov_type, calibration_persons="all")
        with pytest.warns(RobustCovarianceWarning, match=rf"\({cov_type}\).*calibration_test"):
            lr = lr_test(plain, full)
        # the statistic itself is unchanged: 2 (llf_full - llf_restricted)
        assert lr.statistic == pytest.approx(2 * (full.llf - plain.llf))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # non-robust results: no warning
        lr_test(plain, model.fit(calibrate=True, cov_type="nonrobust", calibration_persons="all"))
        panel = simulated[0]
        lr_test(MarginalModel(panel).fit(), MarkovModel(panel).fit())


def test_calibration_on_a_subsample_is_within_its_standard_errors_of_the_full_fit(model):
    """A seeded subsample of persons estimates (scale, stay) within its own standard errors
    of the all-persons fit. sub - all is about N(0, (1 - n/N) SE_sub^2) for a nested subsample;
    measured |sub - all| / SE_sub over seeds 0-9 at 300 of the 1500 persons: at most 2.2
    (scale) and 2.5 (stay); SE ratio / sqrt(N/n) in 0.91-1.22. Bounds 3.5 and 0.7-1.4."""
    full = model.fit(calibrate=True, calibration_persons="all")
    assert full.calibration_sample is None and full.nobs == len(model.endog)
    for seed in range(3):
        sub = model.fit(calibrate=True, calibration_persons=300, seed=seed)
        assert sub.n_persons == 300 and sub.calibration_sample == {
            "persons": 300,
            "of": 1500,
            "seed": seed,
        }
        assert sub.nobs == sub.model.panel.n_transitions < full.nobs
        gap = np.abs(sub.params - full.params) / sub.bse
        assert (gap < 3.5).all(), gap
        # the subsample's standard errors are about sqrt(N / n) times the full fit's
        ratio = (sub.bse / full.bse).to_numpy() / np.sqrt(full.nobs / sub.nobs)
        assert np.all((ratio > 0.7) & (ratio < 1.4)), ratio
    again = model.fit(calibrate=True, calibration_persons=300, seed=2)
    assert again.params.equals(sub.params)  # seeded
    assert "seeded subsample of 300 of 1500 persons (seed 2)" in str(again.summary())
    everyone = model.fit(calibrate=True, calibration_persons=5000)  # more than the panel has
    assert everyone.calibration_sample is None and everyone.params.equals(full.params)
    for bad in (0, -3, 2.5, "some", True):
        with pytest.raises(ValueError, match="calibration_persons must be a positive int"):
            model.fit(calibrate=True, calibration_persons=bad)


def test_subsample_calibration_survives_save_and_load(model, tmp_path):
    from labor_econ import TransitionResults

    res = model.fit(calibrate=True, calibration_persons=200, seed=1)
    res.save(tmp_path / "llm.zip")
    back = TransitionResults.load(tmp_path / "llm.zip")
    assert back.calibration_sample == res.calibration_sample
    np.testing.assert_allclose(back.params, res.params)
    assert "seeded subsample of 200 of 1500 persons" in str(back.summary())
