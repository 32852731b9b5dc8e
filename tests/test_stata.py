"""Writing predictions back to Stata files."""

import warnings

import numpy as np
import pandas as pd
import pytest

from labor_econ import MarkovTransitionModel, predictions_frame


@pytest.fixture(scope="module")
def fitted(wage):
    train, test = wage.split(test_size=0.2, seed=0)
    return MarkovTransitionModel(train).fit(), test


def test_predictions_frame(fitted):
    res, test = fitted
    frame = predictions_frame(res, test)
    assert list(frame.columns[:5]) == ["nr", "year", "occupation", "pred_occ", "pred_p"]
    probs = frame[[f"p_{c}" for c in range(1, 10)]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(frame["pred_occ"], probs.argmax(axis=1) + 1)
    assert len(frame) == test.n_transitions
    expected = res.predict(test).reset_index()
    np.testing.assert_allclose(probs, expected[list(range(1, 10))].to_numpy())


def test_to_stata_round_trip_with_labels(fitted, tmp_path):
    res, test = fitted
    path = tmp_path / "pred.dta"
    written = res.to_stata(path, test)
    with pd.io.stata.StataReader(path) as reader:
        back = reader.read(convert_categoricals=False)
        labels = reader.value_labels()
        variable_labels = reader.variable_labels()
    pd.testing.assert_frame_equal(back, written, check_dtype=False)
    assert labels["occupation"][9] == "Service workers"
    assert variable_labels["p_3"] == "P(Sales workers)"
    with pd.io.stata.StataReader(path) as reader:
        titled = reader.read()
    assert titled["pred_occ"].iloc[0] in set(test.taxonomy.titles)


def test_predictions_frame_at_survey_size_is_one_block():
    """389 probability columns without pandas' fragmentation warning."""
    from pandas.errors import PerformanceWarning

    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import occ1990

    panel = simulate_panel(30, taxonomy=occ1990(), seed=0)
    res = MarkovTransitionModel(panel).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        frame = predictions_frame(res, panel)
    assert frame.shape == (panel.n_transitions, 5 + 389)
    np.testing.assert_allclose(frame.iloc[:, 5:].sum(axis=1), 1.0)
