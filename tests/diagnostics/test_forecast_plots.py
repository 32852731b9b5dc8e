"""Plots of simulations and change evaluations: they draw what they say and save files."""

import matplotlib
import pytest

from labor_econ.diagnostics.evaluations import evaluate_changes
from labor_econ.diagnostics.forecast_plots import fan_chart, move_calibration_plot, subgroup_plot
from labor_econ.models.markov import MarginalModel, MarkovModel

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def models(wage):
    train, test = wage.split(seed=0)
    return [MarkovModel(train).fit(), MarginalModel(train).fit()], test


def test_fan_chart_with_a_counterfactual(tmp_path, wage, models):
    res = models[0][0]
    sim = res.simulate(wage, horizon=3, n_draws=20, seed=0)
    other = res.simulate(wage.subset(wage.persons[:100]), horizon=3, n_draws=20, seed=0)
    fig = fan_chart(sim, [1, 5], counterfactual=other, path=tmp_path / "fan.png")
    assert (tmp_path / "fan.png").stat().st_size > 1000
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # two occupations, factual and counterfactual
    assert len(fan_chart(sim).axes[0].lines) == 4  # the four largest occupations
    with pytest.raises(ValueError, match=r"not in the model's taxonomy"):
        fan_chart(sim, [999])


def test_move_calibration_and_subgroup_plots(tmp_path, models):
    fitted, test = models
    ev = evaluate_changes(fitted, test, by="black")
    fig = move_calibration_plot(ev, path=tmp_path / "cal.png", min_count=1)
    assert (tmp_path / "cal.png").is_file()
    assert len(fig.axes[0].lines) == 3  # the diagonal and two models
    fig = subgroup_plot(ev, "Move Brier", path=tmp_path / "groups.pdf")
    assert (tmp_path / "groups.pdf").is_file()
    assert len(fig.axes[0].patches) == 4  # two groups x two models
    with pytest.raises(ValueError, match="unknown statistic"):
        subgroup_plot(ev, "Move AUC_se")
