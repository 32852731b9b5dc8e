"""Shipped wage panel and the career simulator."""

import numpy as np
import pytest

from labor_econ.datasets import nlsy79_waves, simulate_panel
from labor_econ.taxonomies import occ1990, wage_panel_1970


def test_wage_panel_is_the_vella_verbeek_panel(wage):
    data = wage.data
    assert data.shape == (4360, 12)
    assert wage.static == ("black", "hisp", "educ")
    assert data.groupby("nr").size().eq(8).all()
    # published sample means (Vella and Verbeek 1998, Table 1; Wooldridge's wagepan)
    assert data["union"].mean() == pytest.approx(0.244, abs=1e-3)
    assert data["educ"].mean() == pytest.approx(11.77, abs=1e-2)


def test_nlsy79_schedule():
    waves = nlsy79_waves()
    assert len(waves) == 30 and waves[15] == 1994 and waves[16] == 1996 and waves[-1] == 2022


def test_simulated_panel_structure():
    panel, process = simulate_panel(200, taxonomy=occ1990(), seed=3, return_process=True)
    assert panel.n_persons == 200
    assert panel.birth_year == "birth_year" and set(panel.static) == {"educ", "black", "female"}
    tr = panel.transitions()
    assert tr["gap"].min() >= 1 and (tr["gap"] > 2).any()  # missed waves make gaps irregular
    probs = process.probabilities(panel)
    assert probs.shape == (panel.n_transitions, 389)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    first = process.probabilities(panel, include_first=True)
    assert len(first) == panel.n_obs


def test_simulation_is_deterministic():
    a = simulate_panel(50, seed=5).data
    b = simulate_panel(50, seed=5).data
    assert a.equals(b) and not a.equals(simulate_panel(50, seed=6).data)


def test_special_states():
    panel, process = simulate_panel(
        300, taxonomy=wage_panel_1970(), special_states=True, seed=1, return_process=True
    )
    tax = panel.taxonomy
    assert tax.titles[-3:] == ("Unemployed", "Not in labor force", "In education")
    assert len(tax.special) == 3
    school = tax.code("In education")
    young = panel.data[panel.data["year"] - panel.data["birth_year"] < 19]
    old = panel.data[panel.data["year"] - panel.data["birth_year"] > 30]
    assert (young["occ"] == school).mean() > (old["occ"] == school).mean()
    occ = simulate_panel(5, taxonomy=occ1990(), special_states=True).taxonomy
    assert occ.code("Unemployed") == 991 and len(occ) == 391


def test_true_probabilities_match_simulated_frequencies():
    """Check the returned process against the draws it produced: mean predicted stay
    probability equals the observed stay rate up to sampling error."""
    panel, process = simulate_panel(3000, seed=11, years=range(1990, 1996), return_process=True)
    tr = panel.transitions()
    probs = process.probabilities(panel).to_numpy()
    pos = panel.taxonomy.positions(tr["prev_occupation"])
    p_stay = probs[np.arange(len(tr)), pos]
    stay = (tr["occupation"] == tr["prev_occupation"]).to_numpy()
    se = np.sqrt((p_stay * (1 - p_stay)).sum()) / len(tr)
    assert abs(stay.mean() - p_stay.mean()) < 4 * se
    obs = panel.taxonomy.positions(tr["occupation"])
    llf_true = np.log(probs[np.arange(len(tr)), obs]).sum()
    llf_uniform = -len(tr) * np.log(probs.shape[1])
    assert llf_true > llf_uniform


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_persons"):
        simulate_panel(0)
    with pytest.raises(ValueError, match="miss_rate"):
        simulate_panel(5, miss_rate=1.0)
    with pytest.raises(ValueError, match="two distinct"):
        simulate_panel(5, years=[2000])
