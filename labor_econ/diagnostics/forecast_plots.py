"""Plots of simulated careers and of the change evaluations: share fan charts (factual vs
counterfactual), P(move) calibration, subgroup comparisons."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models.simulate import Simulation
from .evaluations import ChangeEvaluation

__all__ = ["fan_chart", "move_calibration_plot", "subgroup_plot"]


def _pyplot(path: Any):
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, plt, path: str | os.PathLike[str] | None):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def fan_chart(
    simulation: Simulation,
    occupations: Sequence[Any] | None = None,
    *,
    counterfactual: Simulation | None = None,
    alpha: float = 0.1,
    top: int = 4,
    path: str | os.PathLike[str] | None = None,
):
    """Occupational shares over the simulated years, with the interval across draws.

    Parameters
    ----------
    simulation : Simulation
    occupations : sequence of codes, optional
        Default the ``top`` codes with the largest mean share over the years.
    counterfactual : Simulation, optional
        Drawn dashed beside the factual shares, same colour per occupation.
    alpha : float
        The band is the ``alpha`` interval across draws (0.1: the 5th to 95th percentile).
    path : path-like, optional
        Where to save the figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> sim = MarkovModel(wage_panel()).fit().simulate(horizon=3, n_draws=50, seed=0)
    >>> fig = fan_chart(sim, [1, 5])
    >>> len(fig.axes), [line.get_label() for line in fig.axes[0].lines]
    (1, ['1', '5'])
    >>> plt.close(fig)
    """
    shares = simulation.shares(alpha)
    if occupations is None:
        mean = shares["share"].groupby(level="occupation").mean()
        occupations = mean.sort_values(ascending=False).index[:top].tolist()
    unknown = [c for c in occupations if c not in simulation.codes]
    if unknown:
        raise ValueError(f"occupation code(s) {unknown} are not in the model's taxonomy")
    plt = _pyplot(path)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    years = simulation.years
    runs = [("", simulation, "-")]
    if counterfactual is not None:
        runs.append((" (counterfactual)", counterfactual, "--"))
    for i, code in enumerate(occupations):
        color = f"C{i % 10}"
        for suffix, sim, style in runs:
            table = (shares if sim is simulation else sim.shares(alpha)).xs(code, level=1)
            ax.plot(years, table["share"], style, color=color, label=f"{code}{suffix}")
            ax.fill_between(years, table["lower"], table["upper"], color=color, alpha=0.15)
    ax.set_xlabel(simulation.time_name)
    ax.set_ylabel("share of persons")
    title = f"Simulated occupational shares, {simulation.model} ({simulation.n_draws} draws)"
    if counterfactual is not None and counterfactual.set:
        title += f"\ncounterfactual: {counterfactual.set}"
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", ncol=2)
    return _finish(fig, plt, path)


def move_calibration_plot(
    evaluation: ChangeEvaluation,
    *,
    bins: int = 10,
    min_count: int = 10,
    path: str | os.PathLike[str] | None = None,
):
    """Predicted P(move) against the observed move rate, one line per model.

    Bins with fewer than ``min_count`` transitions are not drawn (their rate is noise).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from labor_econ import MarginalModel, MarkovModel, evaluate_changes
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> models = {"Markov": MarkovModel(train).fit(), "Marginal": MarginalModel(train).fit()}
    >>> fig = move_calibration_plot(evaluate_changes(models, test), bins=5)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['perfect calibration', 'Markov', 'Marginal']
    >>> plt.close(fig)
    """
    table = evaluation.calibration(bins=bins)
    plt = _pyplot(path)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for name in table.index.get_level_values("model").unique():
        part = table.xs(name, level="model")
        part = part[part["n"] >= min_count]
        ax.plot(part["predicted"], part["observed"], marker="o", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of changing occupation")
    ax.set_ylabel("observed share that changed")
    ax.set_title(f"P(move) calibration (bins of >= {min_count} transitions)", fontsize="medium")
    ax.legend(loc="upper left", fontsize="small")
    return _finish(fig, plt, path)


def subgroup_plot(
    evaluation: ChangeEvaluation,
    statistic: str = "Move AUC",
    *,
    path: str | os.PathLike[str] | None = None,
):
    """One statistic per group and model, bars side by side with 95% intervals where the
    statistic has a (person-clustered) standard error.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``statistic`` is no statistic of the evaluation (the message lists them).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> changes = MarkovModel(train).fit().evaluate_changes(test, by="black")
    >>> fig = subgroup_plot(changes, "Move AUC")
    >>> len(fig.axes[0].patches), fig.axes[0].get_xlabel()  # one bar per group
    (2, 'black')
    >>> plt.close(fig)
    """
    frame = evaluation.frame
    if statistic not in frame.columns or statistic.endswith("_se"):
        stats = [c for c in frame.columns if not c.endswith("_se")]
        raise ValueError(f"unknown statistic {statistic!r}; choose among {stats}")
    groups = frame.index.get_level_values(0).unique()
    models = frame.index.get_level_values(1).unique()
    plt = _pyplot(path)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(groups) * len(models)), 4))
    width = 0.8 / len(models)
    x = np.arange(len(groups))
    for j, name in enumerate(models):
        part = frame.xs(name, level=1).reindex(groups)
        se = part.get(f"{statistic}_se")
        err = None if se is None else 1.96 * se.to_numpy()
        ax.bar(x + j * width, part[statistic], width, yerr=err, capsize=3, label=str(name))
    ax.set_xticks(x + width * (len(models) - 1) / 2)
    ax.set_xticklabels([str(g) for g in groups])
    ax.set_xlabel(evaluation.by)
    ax.set_ylabel(statistic)
    ax.set_title(f"{statistic} by {evaluation.by}", fontsize="medium")
    ax.legend(fontsize="small")
    return _finish(fig, plt, path)
