"""The evaluations beside perplexity: occupation change (stay vs move), labor-force entry and
exit, accuracy among movers, by subgroup with person-clustered standard errors; and forecast
evaluation several years ahead from simulated careers.

LABOR-LLM reports how well models predict whether a worker changes occupation and whether a
worker stays in the labor force, by subgroup; CAREER evaluates forecasts from a cutoff year
by the log of the draw-averaged probability of what happened. :func:`evaluate_changes` and
:func:`evaluate_forecasts` compute those tables for several fitted models at once. The
change evaluation's computation (:class:`ChangeEvaluation`, :func:`auc`) lives on the results
floor, :mod:`labor_econ.models.changes` and :mod:`labor_econ.models.metrics`, so that every
results object has it too (``res.evaluate_changes(panel)``); it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..models.base import TransitionResults, check_taxonomy
from ..models.changes import STATISTICS, ChangeEvaluation, evaluate_predictions
from ..models.metrics import auc
from ..models.simulate import simulate
from ..panel import CareerPanel, PanelError

__all__ = [
    "STATISTICS",
    "ChangeEvaluation",
    "ForecastEvaluation",
    "auc",
    "evaluate_changes",
    "evaluate_forecasts",
]


def _models(models: Any) -> dict[str, TransitionResults]:
    if isinstance(models, TransitionResults):
        models = [models]
    if isinstance(models, Mapping):
        named = dict(models)
    else:
        named = {}
        for res in models:
            if res.name in named:
                raise ValueError(
                    f"two models are named {res.name!r}; pass a dict of name to results"
                )
            named[res.name] = res
    if not named:
        raise ValueError("no models to evaluate")
    bad = [k for k, v in named.items() if not isinstance(v, TransitionResults)]
    if bad:
        raise TypeError(f"model(s) {bad} are not fitted transition results")
    return named


def evaluate_changes(
    models: Mapping[str, TransitionResults] | Sequence[TransitionResults] | TransitionResults,
    panel: CareerPanel,
    *,
    by: str | pd.Series | None = None,
) -> ChangeEvaluation:
    """Stay-vs-move, labor-force entry/exit and movers' accuracy of several models, by group.

    Parameters
    ----------
    models : dict of name to results, or a list of results (named by ``.name``)
    panel : CareerPanel
        The transitions evaluated (coded in the models' taxonomy).
    by : str or pandas.Series, optional
        Groups shown side by side: a column of ``panel.transitions()`` (a covariate,
        ``gap``, ``prev_occupation``), ``"cohort"`` (five-year birth cohorts, from the
        declared birth year), or a Series indexed by person id or by (id, time).

    Returns
    -------
    ChangeEvaluation
        ``.table`` (statistics x (group, model)), ``.frame``, ``.calibration()``,
        ``.summary()``.

    Notes
    -----
    P(move) is one minus the probability a model gives the previous occupation; the move
    AUC and Brier score compare it with whether the occupation changed. Where the taxonomy
    marks special codes (unemployed, not in the labor force, in education), the exit AUC
    scores the probability of a special state on transitions from a regular occupation
    and the entry AUC the probability of a regular occupation on transitions from a
    special state. Group log-likelihoods sum to the pooled one. Standard errors are
    clustered by person (factor G / (G - 1)); AUC standard errors are DeLong's, clustered.
    See Also
    --------
    labor_econ.models.base.TransitionResults.evaluate_changes : the same for one model.
    labor_econ.compare : with ``by=``, these rows beside the fit statistics.

    Examples
    --------
    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> models = {"Markov": MarkovModel(train).fit(), "Marginal": MarginalModel(train).fit()}
    >>> changes = evaluate_changes(models, test, by="black")
    >>> changes.table.loc[["N", "Move AUC", "Move Brier"]].round(3)
    black             0                1
    model        Markov Marginal  Markov Marginal
    N           665.000  665.000  98.000   98.000
    Move AUC      0.569    0.560   0.632    0.522
    Move Brier    0.242    0.431   0.256    0.312
    """
    named = _models(models)
    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    for name, res in named.items():
        check_taxonomy(panel, res.taxonomy, f"model {name!r}")
    return evaluate_predictions(
        {name: res.predict(panel) for name, res in named.items()}, panel, by=by
    )


@dataclass(frozen=True)
class ForecastEvaluation:
    """Forecasts several years ahead from a cutoff, scored against the observed waves.

    Attributes
    ----------
    table : pandas.DataFrame
        Index (years ahead, year); per model the mean over persons observed that year of
        the log of the draw-averaged probability of their observed occupation, and ``N``.
    loglike : pandas.DataFrame
        The per (person, year) log draw-averaged probabilities, one column per model.
    start : int
    n_draws : int
    excluded : list
        Persons without a wave at or before ``start`` (not forecast).

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> forecasts = evaluate_forecasts(
    ...     MarkovModel(train).fit(), test, start=1985, horizon=2, n_draws=100, seed=0
    ... )
    >>> isinstance(forecasts, ForecastEvaluation), forecasts.table.index.tolist()
    (True, [(1, 1986), (2, 1987)])
    """

    table: pd.DataFrame
    loglike: pd.DataFrame
    start: int
    n_draws: int
    excluded: list

    def __str__(self) -> str:
        return (
            f"Forecasts from {self.start}, {self.n_draws} draws per person: mean log of the "
            f"draw-averaged probability of the observed occupation\n{self.table.to_string()}"
        )


def evaluate_forecasts(
    models: Mapping[str, TransitionResults] | Sequence[TransitionResults] | TransitionResults,
    panel: CareerPanel,
    *,
    start: int,
    horizon: int,
    n_draws: int = 1000,
    seed: int = 0,
    step: int = 1,
) -> ForecastEvaluation:
    """Score multi-step forecasts from ``start`` against the panel's later waves (CAREER).

    Each model simulates ``n_draws`` careers of every person observed at or before
    ``start`` (only waves up to ``start`` are used), ``horizon`` waves of ``step`` years
    ahead. For a person observed at year ``start + h * step``, the forecast's score is the
    log of the probability the model gave the observed occupation at that step, averaged
    over the draws (each draw conditions on its own simulated career so far).

    Returns
    -------
    ForecastEvaluation

    Notes
    -----
    All models use the same random numbers (``seed``), so their differences are not
    blurred by independent simulation noise. Persons first observed after ``start`` are
    not forecast and are listed in ``excluded``.

    Examples
    --------
    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> models = {"Markov": MarkovModel(train).fit(), "Marginal": MarginalModel(train).fit()}
    >>> forecasts = evaluate_forecasts(models, test, start=1984, horizon=3, n_draws=200)
    >>> forecasts.table.round(3)
                        N  Markov  Marginal
    years ahead year
    1           1985  109  -1.450    -2.030
    2           1986  109  -1.611    -2.042
    3           1987  109  -1.690    -2.017
    """
    named = _models(models)
    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    data = panel.data
    first = data.groupby(panel.id, sort=False)[panel.time].min()
    excluded = first.index[first.to_numpy() > start].tolist()
    if len(excluded) == len(first):
        raise PanelError(f"no person has a wave at or before the start {start}")
    sub = panel.subset(first.index[first.to_numpy() <= start]) if excluded else panel
    ids = pd.Index(sub.persons)
    years = [start + step * (h + 1) for h in range(horizon)]
    later = sub.data[sub.data[panel.time].isin(years)]
    targets = np.full((len(ids), horizon), -1, dtype=np.int64)
    rows = ids.get_indexer(later[panel.id])
    cols = np.searchsorted(np.asarray(years), later[panel.time].to_numpy())
    targets[rows, cols] = panel.taxonomy.positions(later[panel.occupation])
    if (targets < 0).all():
        raise PanelError(
            f"no person of the panel is observed at the forecast years {years}: nothing to score"
        )
    seen = targets >= 0
    person_idx, h_idx = np.nonzero(seen)
    index = pd.MultiIndex.from_arrays(
        [ids[person_idx], np.asarray(years)[h_idx]], names=[panel.id, panel.time]
    )
    loglike = {}
    for name, res in named.items():
        check_taxonomy(sub, res.taxonomy, f"model {name!r}")
        sim = simulate(
            res,
            sub,
            start=start,
            horizon=horizon,
            n_draws=n_draws,
            seed=seed,
            step=step,
            keep_draws=0,
            targets=targets,
        )
        with np.errstate(divide="ignore"):
            loglike[name] = np.log(sim.target_prob[seen] / n_draws)
    loglike = pd.DataFrame(loglike, index=index)
    ahead = pd.Series(h_idx + 1, index=index, name="years ahead") * step
    table = loglike.groupby([ahead.to_numpy(), index.get_level_values(1)]).mean()
    table.index.names = ["years ahead", panel.time]
    table.insert(0, "N", loglike.groupby([ahead.to_numpy()]).size().to_numpy())
    return ForecastEvaluation(
        table=table, loglike=loglike, start=start, n_draws=n_draws, excluded=excluded
    )
