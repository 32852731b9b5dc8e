"""save() / load() of every results class: a safe file, identical predictions, no LM."""

import zipfile

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax
from statsmodels.tools.sm_exceptions import CollinearityWarning

from labor_econ.models.base import TransitionResults
from labor_econ.models.llm import LLMTransitionModel, LLMTransitionResults
from labor_econ.models.markov import MarginalModel, MarkovTransitionModel
from labor_econ.models.mnlogit import TransitionMNLogit
from labor_econ.models.pool import LogLinearPool

pytestmark = pytest.mark.filterwarnings("ignore", category=CollinearityWarning)


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.3, seed=0)


@pytest.fixture(scope="module")
def fitted(split):
    train, test = split
    markov = MarkovTransitionModel(train).fit()
    marginal = MarginalModel(train, smoothing=0.5).fit()
    mnl = TransitionMNLogit(train, features=["prev_occupation", "educ"]).fit(cov_type="cluster")
    logq = log_softmax(np.log(markov.predict(test).to_numpy()) / 0.8, axis=1) - 0.2
    llm_model = LLMTransitionModel.from_scores(test, logq, name="scores")
    llm = llm_model.fit(calibrate=True, cov_type="HC0")
    pool = LogLinearPool(test, {"markov": markov, "mnl": mnl}).fit()
    return {"markov": markov, "marginal": marginal, "mnl": mnl, "llm": llm, "pool": pool}


@pytest.mark.parametrize("key", ["markov", "marginal", "mnl", "llm", "pool"])
def test_save_load_gives_identical_predictions(tmp_path, split, fitted, key):
    res = fitted[key]
    path = tmp_path / f"{key}.zip"
    res.save(path)
    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())
    assert {"manifest.json", "panel.parquet", "arrays.npz"} <= members
    assert not any(m.endswith((".pkl", ".pickle", ".bin", ".pt")) for m in members)
    back = type(res).load(path)
    assert type(back) is type(res)
    pd.testing.assert_frame_equal(back.predict(), res.predict())
    assert back.evaluate().llf == res.evaluate().llf
    assert back.llf == res.llf and back.nobs == res.nobs and back.k_params == res.k_params
    pd.testing.assert_frame_equal(pd.DataFrame(back.params), pd.DataFrame(res.params))
    if hasattr(res, "tvalues"):
        pd.testing.assert_frame_equal(back.cov_params(), res.cov_params())
    if key != "llm":  # the LLM needs a new panel's scores (tested below)
        other = split[1] if key != "llm" else split[0]
        pd.testing.assert_frame_equal(back.predict(other), res.predict(other))
        assert back.evaluate(other).llf == pytest.approx(res.evaluate(other).llf, rel=1e-12)
    assert back.summary().as_text()
    assert TransitionResults.load(path).llf == res.llf


def test_saved_llm_results_hold_no_lm(tmp_path, split, fitted):
    res = fitted["llm"]
    res.model.lm = np.zeros(2_000_000)  # stands for a loaded LM: 16 MB that must not be saved
    try:
        path = tmp_path / "llm.zip"
        res.save(path)
    finally:
        res.model.lm = None
    assert path.stat().st_size < 500_000  # the scores of ~1,100 transitions x 9 codes
    back = LLMTransitionResults.load(path)
    assert back.model.lm is None
    assert back.calibrated and back.cov_type == "HC0"
    pd.testing.assert_series_equal(back.bse, res.bse)
    assert back.valid_mass.equals(res.valid_mass) and back.raw_llf == res.raw_llf
    assert back.model.template == res.model.template
    with pytest.raises(ValueError, match="new panel needs its scores.*from_scores"):
        back.predict(split[0])


def test_load_refuses_other_files(tmp_path, fitted):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a saved labor_econ results file"):
        TransitionResults.load(junk)
    with pytest.raises(FileNotFoundError, match="no saved results"):
        TransitionResults.load(tmp_path / "missing.zip")
    path = tmp_path / "markov.zip"
    fitted["markov"].save(path)
    # renamed from LLMTransitionResults (issue 20)
    with pytest.raises(TypeError, match="holds MarkovResults, not LLMResults"):
        LLMTransitionResults.load(path)
