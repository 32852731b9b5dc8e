"""Multi-step simulation: Markov against the matrix power, MNLogit against a hand loop over
its features, counterfactuals, draw bookkeeping and bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest

from labor_econ import CareerPanel, PanelError
from labor_econ.datasets import simulate_panel
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.models.simulate import counterfactual, draw_uniforms

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.CollinearityWarning",
    "ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning",
)


@pytest.fixture(scope="module")
def irregular():
    # irregular waves (10% missed interviews), static covariates and a birth year
    return simulate_panel(40, years=range(1980, 1990), seed=3, miss_rate=0.2)


@pytest.fixture(scope="module")
def mnlogit(irregular):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MNLogitModel(irregular).fit(penalty=1.0, hessian=False)


def test_markov_shares_equal_the_matrix_power(wage):
    res = MarkovModel(wage).fit()
    n_draws, horizon = 400, 4
    sim = res.simulate(horizon=horizon, n_draws=n_draws, seed=5, keep_draws=0)
    last = wage.data.groupby(wage.id)[wage.occupation].last()
    start = np.zeros(len(res.taxonomy))
    np.add.at(start, res.taxonomy.positions(last), 1.0)
    p = res.params.to_numpy()
    shares = sim.shares()["share"].to_numpy().reshape(horizon, -1)
    for h in range(horizon):
        exact_person = np.eye(len(p))[res.taxonomy.positions(last)] @ np.linalg.matrix_power(
            p, h + 1
        )
        exact = exact_person.mean(axis=0)
        # Monte Carlo standard error of a share averaged over persons and draws
        se = np.sqrt((exact_person * (1 - exact_person)).sum(axis=0) / len(last) ** 2 / n_draws)
        z = (shares[h] - exact) / se
        assert np.abs(z).max() < 4.5, (h, z)
    assert sim.counts.sum(axis=2).tolist() == [[wage.n_persons] * horizon] * n_draws


def test_marginal_draws_from_its_frequencies(wage):
    res = MarginalModel(wage).fit()
    sim = res.simulate(horizon=2, n_draws=300, seed=0, keep_draws=0)
    shares = sim.shares().xs(1988)["share"].to_numpy()
    se = np.sqrt(res.params * (1 - res.params) / (wage.n_persons * 300)).to_numpy()
    assert np.abs((shares - res.params.to_numpy()) / se).max() < 4.5
    assert sim.scorings.tolist() == [1, 1]  # one distribution serves every row


def _hand_loop(res, panel, *, start, horizon, n_draws, seed):
    """Each draw of each person: extend the observed career by the simulated waves as a
    panel, take the model's prediction of the new wave from ``res.predict`` (the
    estimation design's own feature code), draw by the inverse CDF."""
    data = panel.data[panel.data[panel.time] <= start]
    persons = pd.unique(data[panel.id])
    u = draw_uniforms(seed, np.arange(n_draws), horizon, len(persons))
    codes = np.asarray(res.taxonomy.codes, dtype=object)
    out = np.empty((n_draws, horizon, len(persons)), dtype=int)
    for d in range(n_draws):
        for i, pid in enumerate(persons):
            career = data[data[panel.id] == pid].copy()
            for h in range(horizon):
                year = start + h + 1
                row = career.iloc[[-1]].copy()
                row[panel.time] = year
                row[panel.occupation] = codes[0]  # placeholder: the outcome is not a feature
                career = pd.concat([career, row], ignore_index=True)
                one = CareerPanel(
                    career,
                    id=panel.id,
                    time=panel.time,
                    occupation=panel.occupation,
                    taxonomy=panel.taxonomy,
                    birth_year=panel.birth_year,
                    static=panel.static,
                    varying=panel.varying,
                )
                p = res.predict(one).to_numpy()[-1]
                cdf = np.cumsum(p)
                j = min(int(np.searchsorted(cdf, u[d, h, i] * cdf[-1], side="right")), len(p) - 1)
                out[d, h, i] = j
                career.iloc[-1, career.columns.get_loc(panel.occupation)] = codes[j]
    return out


def test_mnlogit_simulation_equals_a_hand_loop_over_its_features(irregular, mnlogit):
    small = irregular.subset(irregular.persons[:4])
    start, horizon, n_draws = 1986, 3, 5
    sim = mnlogit.simulate(
        small, start=start, horizon=horizon, n_draws=n_draws, seed=11, keep_draws=n_draws
    )
    expected = _hand_loop(mnlogit, small, start=start, horizon=horizon, n_draws=n_draws, seed=11)
    assert np.array_equal(sim.kept, expected)
    assert set(mnlogit._simulation_keys) == {"person", "occupation", "prev", "tenure"}


def test_unpenalized_mnlogit_simulation_equals_a_hand_loop(irregular):
    # maximum likelihood excludes empty cells row by row: the design path, not the tables
    small = irregular.subset(irregular.persons[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MNLogitModel(small, features=["prev_occupation", "tenure", "female"]).fit(
            hessian=False
        )
    sim = res.simulate(small, start=1986, horizon=2, n_draws=3, seed=5, keep_draws=3)
    expected = _hand_loop(res, small, start=1986, horizon=2, n_draws=3, seed=5)
    assert np.array_equal(sim.kept, expected)


def test_mnlogit_tables_give_the_draws_of_its_own_probabilities(irregular, mnlogit, monkeypatch):
    # the ridge fit simulates from products of tables (StepFactors); without them it takes
    # its design-matrix probabilities state by state: the same draws, many draws and years
    assert mnlogit._step_factors is not None
    factored = mnlogit.simulate(horizon=4, n_draws=30, seed=4, keep_draws=30)
    monkeypatch.setattr(type(mnlogit), "_step_factors", lambda self, persons: None)
    plain = mnlogit.simulate(horizon=4, n_draws=30, seed=4, keep_draws=30)
    assert np.array_equal(factored.kept, plain.kept)
    assert np.array_equal(factored.counts, plain.counts)


def test_mnlogit_one_step_forecast_is_its_predicted_probability(irregular, mnlogit):
    # one year ahead every draw of a person is in the observed state: the draw-averaged
    # probability of what happened is the model's predicted probability, from the tables
    from labor_econ.diagnostics.evaluations import evaluate_forecasts

    fe = evaluate_forecasts([mnlogit], irregular, start=1986, horizon=1, n_draws=3, seed=0)
    got = fe.loglike[mnlogit.name]
    probs = mnlogit.predict(irregular)
    observed = irregular.data.set_index([irregular.id, irregular.time])[irregular.occupation]
    rows = got.index
    expected = np.log(
        probs.loc[rows].to_numpy()[
            np.arange(len(rows)), mnlogit.taxonomy.positions(observed.loc[rows])
        ]
    )
    assert len(rows) > 20
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-10)


def test_underflowing_tables_fall_back_to_the_models_probabilities(irregular, mnlogit, monkeypatch):
    # a state whose every weight underflows has no distribution in the tables: its chunk
    # takes the model's own probabilities, and the draws are unchanged
    original = type(mnlogit)._step_factors

    def zero_first_person(self, persons):
        factors = original(self, persons)
        factors.person = factors.person.copy()
        factors.person[0] = 0.0
        return factors

    expected = mnlogit.simulate(horizon=2, n_draws=8, seed=1, keep_draws=8)
    monkeypatch.setattr(type(mnlogit), "_step_factors", zero_first_person)
    got = mnlogit.simulate(horizon=2, n_draws=8, seed=1, keep_draws=8)
    assert np.array_equal(got.kept, expected.kept)


def test_pool_simulation_equals_a_hand_loop(irregular, mnlogit):
    from labor_econ.models.pool import LogLinearPoolModel

    markov = MarkovModel(irregular).fit()
    marginal = MarginalModel(irregular).fit()
    pool = LogLinearPoolModel(irregular, [markov, mnlogit, marginal]).fit()
    assert set(pool._simulation_keys) == {"person", "occupation", "prev", "tenure"}
    small = irregular.subset(irregular.persons[5:8])
    sim = pool.simulate(small, start=1985, horizon=2, n_draws=4, seed=0, keep_draws=4)
    expected = _hand_loop(pool, small, start=1985, horizon=2, n_draws=4, seed=0)
    assert np.array_equal(sim.kept, expected)


def test_draws_do_not_depend_on_the_block_size(irregular, mnlogit, monkeypatch):
    from labor_econ.models import simulate as engine

    full = mnlogit.simulate(horizon=3, n_draws=6, seed=2, keep_draws=6)
    monkeypatch.setattr(engine, "_BLOCK_ROWS", 50)  # one draw per block
    monkeypatch.setattr(engine, "_CHUNK_STATES", 7)
    monkeypatch.setattr(engine, "_CHUNK_FACTORED", 7)
    small = mnlogit.simulate(horizon=3, n_draws=6, seed=2, keep_draws=6)
    assert np.array_equal(full.kept, small.kept)
    assert np.array_equal(full.counts, small.counts)


def test_counterfactual_that_changes_nothing_gives_identical_draws(irregular, mnlogit):
    female = irregular.data.groupby(irregular.id)["female"].first()
    same = irregular.subset(female[female == 1].index)
    fact = mnlogit.simulate(same, horizon=4, n_draws=20, seed=4, keep_draws=20)
    cf = mnlogit.simulate(same, horizon=4, n_draws=20, seed=4, keep_draws=20, set={"female": 1})
    assert np.array_equal(fact.kept, cf.kept)
    diff = fact.difference(cf)
    assert (diff[["difference", "lower", "upper"]].to_numpy() == 0).all()
    changed = mnlogit.simulate(same, horizon=4, n_draws=20, seed=4, set={"female": 0})
    assert not np.array_equal(fact.counts, changed.counts)
    assert changed.set == {"female": 0}


def test_counterfactual_women_with_mens_covariate(irregular, mnlogit):
    female = irregular.data.groupby(irregular.id)["female"].first()
    women = irregular.subset(female[female == 1].index)
    cf = counterfactual(mnlogit, women, set={"female": 0}, horizon=3, n_draws=50, seed=1)
    diff = cf.difference()
    assert list(diff.columns) == ["difference", "lower", "upper"]
    assert (diff["lower"] <= diff["difference"]).all() and (
        diff["difference"] <= diff["upper"]
    ).all()
    # shares sum to one in both runs: the differences sum to zero each year
    np.testing.assert_allclose(diff.groupby(level=0)["difference"].sum(), 0, atol=1e-12)
    # a modified panel that is the same panel: the same draws
    same = counterfactual(mnlogit, women, modified=women, horizon=3, n_draws=10, seed=1)
    assert np.array_equal(same.factual.kept, same.counterfactual.kept)
    with pytest.raises(ValueError, match="exactly one of set="):
        counterfactual(mnlogit, women, horizon=1)
    with pytest.raises(PanelError, match="same persons"):
        counterfactual(mnlogit, women, modified=irregular, horizon=1, n_draws=2)


def test_markov_ignores_covariates_set(irregular):
    res = MarkovModel(irregular).fit()
    a = res.simulate(horizon=2, n_draws=10, seed=1)
    b = res.simulate(horizon=2, n_draws=10, seed=1, set={"female": 0, "educ": 20})
    assert np.array_equal(a.counts, b.counts)


def test_draws_frame_is_long_and_labelled(wage):
    res = MarkovModel(wage).fit()
    sim = res.simulate(horizon=3, n_draws=5, seed=0, keep_draws=2, step=2)
    draws = sim.draws
    assert list(draws.columns) == ["draw", "nr", "year", "occupation"]
    assert len(draws) == 2 * 3 * wage.n_persons
    assert sorted(draws["year"].unique()) == [1989, 1991, 1993]
    assert set(draws["occupation"]) <= set(res.taxonomy.codes)
    assert sim.years == [1989, 1991, 1993]
    assert sim.kept.shape == (2, 3, wage.n_persons)


def test_start_truncates_the_observed_careers(wage):
    res = MarkovModel(wage).fit()
    sim = res.simulate(start=1983, horizon=1, n_draws=200, seed=0, keep_draws=0)
    at83 = wage.data[wage.data["year"] == 1983]["occupation"]
    # one step from 1983: the average of the Markov rows of the 1983 occupations
    exact = res.params.loc[at83.to_numpy()].to_numpy().mean(axis=0)
    got = sim.shares().xs(1984)["share"].to_numpy()
    assert np.abs(got - exact).max() < 0.02


def test_bad_input_is_refused(wage, irregular, toy_frame, toy_taxonomy):
    res = MarkovModel(wage).fit()
    with pytest.raises(ValueError, match="horizon must be an integer >= 1"):
        res.simulate(horizon=0)
    with pytest.raises(ValueError, match="n_draws must be an integer >= 1"):
        res.simulate(n_draws=2.5)
    with pytest.raises(ValueError, match="does not declare as covariates"):
        res.simulate(set={"wage": 1})
    with pytest.raises(PanelError, match="no wave at or before the start 1979"):
        res.simulate(start=1979)
    data = irregular.data
    late = irregular._derive(data[~((data["pid"] == 2) & (data["year"] == 1980))])
    mres = MarkovModel(irregular).fit()
    with pytest.raises(PanelError, match=r"person\(s\) 2 have no wave at or before the start"):
        mres.simulate(late, start=1980)
    toy = CareerPanel(toy_frame, id="pid", time="year", occupation="occ", taxonomy=toy_taxonomy)
    with pytest.raises(PanelError, match="taxonomy 'toy'"):
        mres.simulate(toy)
