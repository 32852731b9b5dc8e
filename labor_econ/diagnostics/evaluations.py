"""The evaluations beside perplexity: occupation change (stay vs move), labor-force entry and
exit, accuracy among movers, by subgroup with person-clustered standard errors; and forecast
evaluation several years ahead from simulated careers.

LABOR-LLM reports how well models predict whether a worker changes occupation and whether a
worker stays in the labor force, by subgroup; CAREER evaluates forecasts from a cutoff year
by the log of the draw-averaged probability of what happened. :func:`evaluate_changes` and
:func:`evaluate_forecasts` compute those tables for several fitted models at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.iolib.summary2 import Summary

from ..models.base import TransitionResults, check_taxonomy, topk_hits
from ..models.simulate import simulate
from ..panel import CareerPanel, PanelError

__all__ = [
    "ChangeEvaluation",
    "ForecastEvaluation",
    "auc",
    "evaluate_changes",
    "evaluate_forecasts",
]

#: Statistics of :attr:`ChangeEvaluation.frame`, in order (``_se``: its clustered SE).
STATISTICS = (
    "N",
    "Persons",
    "Log-likelihood",
    "Log-likelihood per transition",
    "Log-likelihood per transition_se",
    "Perplexity",
    "Move rate",
    "Mean P(move)",
    "Move AUC",
    "Move AUC_se",
    "Move Brier",
    "Move Brier_se",
    "Accuracy among movers",
    "Accuracy among movers_se",
    "Exit AUC",
    "Exit AUC_se",
    "Entry AUC",
    "Entry AUC_se",
)


def _cluster_factor(g: int) -> float:
    return g / (g - 1) if g > 1 else 1.0


def _clustered_mean(x: np.ndarray, persons: np.ndarray) -> tuple[float, float]:
    """Mean of ``x`` and its person-clustered standard error (factor G / (G - 1))."""
    if len(x) == 0:
        return np.nan, np.nan
    mean = float(np.mean(x))
    sums = np.bincount(persons, weights=x - mean)
    sums = sums[np.bincount(persons) > 0]
    return mean, float(np.sqrt(_cluster_factor(len(sums)) * (sums**2).sum()) / len(x))


def auc(
    score: np.ndarray, label: np.ndarray, persons: np.ndarray | None = None
) -> tuple[float, float]:
    """Area under the ROC curve of ``score`` for the binary ``label``, and its standard error.

    The AUC is the Mann-Whitney probability that a positive scores above a negative (ties
    count one half). The standard error is DeLong's, from the placement values; with
    ``persons`` their deviations are summed within persons first (clustered, factor
    G / (G - 1)), since a person's transitions are not independent.

    Returns
    -------
    (float, float)
        NaN for both when ``label`` has a single class.
    """
    score = np.asarray(score, dtype=float)
    label = np.asarray(label, dtype=bool)
    m, n = int(label.sum()), int((~label).sum())
    if m == 0 or n == 0:
        return np.nan, np.nan
    ranks = stats.rankdata(score)
    pos_ranks = stats.rankdata(score[label])
    neg_ranks = stats.rankdata(score[~label])
    value = float((ranks[label].sum() - m * (m + 1) / 2) / (m * n))
    # placement values: share of the other class a case beats (midranks count ties as 1/2)
    v10 = (ranks[label] - pos_ranks) / n
    v01 = 1.0 - (ranks[~label] - neg_ranks) / m
    infl = np.empty(len(score))
    infl[label] = (v10 - value) / m
    infl[~label] = (v01 - value) / n
    if persons is None:
        # DeLong: var(V10) / m + var(V01) / n
        var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n if m > 1 and n > 1 else np.nan
        return value, float(np.sqrt(var))
    sums = np.bincount(persons, weights=infl)
    sums = sums[np.bincount(persons) > 0]
    return value, float(np.sqrt(_cluster_factor(len(sums)) * (sums**2).sum()))


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


def _groups(panel: CareerPanel, transitions: pd.DataFrame, by: Any) -> pd.Series:
    """The group label of each transition (``by``: a column, ``"cohort"``, or a Series)."""
    index = transitions.index
    if by is None:
        return pd.Series("all", index=index, name="group")
    if isinstance(by, str):
        if by == "cohort":
            if not panel.birth_year:
                raise ValueError("by='cohort' needs a panel that declares birth_year")
            born = transitions[panel.birth_year].to_numpy().astype(int)
            low = born // 5 * 5
            labels = [f"{a}-{a + 4}" for a in low]
            return pd.Series(labels, index=index, name="cohort")
        if by not in transitions.columns:
            raise ValueError(
                f"by={by!r} is not a column of the panel's transitions; choose among "
                f"{[c for c in transitions.columns if c != 'occupation']} or 'cohort'"
            )
        if by == "occupation":
            raise ValueError("by='occupation' groups on the outcome; use 'prev_occupation'")
        return transitions[by].rename(by)
    if isinstance(by, pd.Series):
        if by.index.nlevels == 2:
            values = by.reindex(index)
        else:
            values = pd.Series(by.reindex(index.get_level_values(0)).to_numpy(), index=index)
        if values.isna().any():
            missing = values.index[values.isna().to_numpy()][:5].tolist()
            raise ValueError(
                f"by has no value for {int(values.isna().sum())} transition(s), e.g. "
                f"(person, year) {missing}; give a value for every person (or transition)"
            )
        return values.rename(by.name or "group")
    raise TypeError("by must be None, a column name, 'cohort' or a pandas Series")


@dataclass(frozen=True)
class ChangeEvaluation:
    """Occupation-change and labor-force evaluations of several models, by group.

    Attributes
    ----------
    frame : pandas.DataFrame
        Index (group, model), columns ``STATISTICS`` (``_se`` columns: person-clustered
        standard errors).
    by : str
        The grouping variable (``"all"`` when there is none).
    move_probability : dict of str to pandas.Series
        Each model's P(move) of every transition (1 minus the probability of staying).
    moved : pandas.Series
        Whether each transition changed occupation.
    group : pandas.Series
        Each transition's group.
    """

    frame: pd.DataFrame
    by: str
    move_probability: dict
    moved: pd.Series
    group: pd.Series

    @property
    def table(self) -> pd.DataFrame:
        """The statistics as rows, one column per (group, model): side by side."""
        return self.frame.T

    def calibration(self, model: str | None = None, bins: int = 10) -> pd.DataFrame:
        """Predicted P(move) against the observed move rate, in equal-width bins.

        Returns
        -------
        pandas.DataFrame
            Index (model, bin); columns ``predicted``, ``observed``, ``n``.
        """
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
        names = list(self.move_probability) if model is None else [model]
        parts = {}
        for name in names:
            if name not in self.move_probability:
                raise KeyError(f"no model {name!r}; models: {list(self.move_probability)}")
            p = self.move_probability[name].to_numpy()
            which = np.minimum((p * bins).astype(int), bins - 1)
            frame = pd.DataFrame({"bin": which, "predicted": p, "observed": self.moved.to_numpy()})
            parts[name] = frame.groupby("bin").agg(
                predicted=("predicted", "mean"),
                observed=("observed", "mean"),
                n=("observed", "size"),
            )
        return pd.concat(parts, names=["model", "bin"])

    def summary(self) -> Summary:
        """The table side by side, standard errors in parentheses under their statistic."""
        rows = {}
        for stat in STATISTICS:
            if stat.endswith("_se"):
                continue
            values = self.frame[stat]
            if values.isna().all():
                continue
            rows[stat] = [_fmt(v) for v in values]
            if f"{stat}_se" in self.frame:
                se = self.frame[f"{stat}_se"]
                rows[""] = [f"({v:.4f})" if np.isfinite(v) else "" for v in se]
                rows[f"{stat} se"] = rows.pop("")
        cols = [f"{g} {m}" if self.by != "all" else str(m) for g, m in self.frame.index]
        table = pd.DataFrame(rows, index=cols).T
        table.index = [i if not i.endswith(" se") else "" for i in table.index]
        smry = Summary()
        smry.add_title(f"Occupation change and labor-force evaluations (by {self.by})")
        smry.add_df(table)
        smry.add_text(
            "Standard errors (in parentheses) are clustered by person. P(move) = 1 - the "
            "probability of the previous occupation. Accuracy among movers: the observed new "
            "occupation is the most probable one other than the previous. Exit: from a "
            "regular occupation into a special state; entry: the reverse."
        )
        return smry

    def __str__(self) -> str:
        return self.summary().as_text()


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "" if np.isnan(v) else ("-inf" if v < 0 else "inf")
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.4f}"


def _statistics(
    probs: np.ndarray,
    observed: np.ndarray,
    prev: np.ndarray,
    persons: np.ndarray,
    special: np.ndarray,
) -> dict[str, float]:
    n = len(observed)
    rows = np.arange(n)
    p_obs = probs[rows, observed]
    with np.errstate(divide="ignore"):
        loglik = np.log(p_obs)
    moved = observed != prev
    p_move = 1.0 - probs[rows, prev]
    ll_mean, ll_se = _clustered_mean(loglik, persons)
    move_auc, move_auc_se = auc(p_move, moved, persons)
    brier, brier_se = _clustered_mean((p_move - moved) ** 2, persons)
    # accuracy among movers: the destination is the most probable once the previous code is
    # removed, a tie counting as a miss as in top-1 accuracy (argmax would pick the first)
    others = probs[moved].copy()
    others[np.arange(moved.sum()), prev[moved]] = -np.inf
    hit = topk_hits(others, observed[moved], 1).astype(float)
    acc, acc_se = _clustered_mean(hit, persons[moved])
    out = {
        "N": float(n),
        "Persons": float(len(np.unique(persons))),
        "Log-likelihood": float(loglik.sum()),
        "Log-likelihood per transition": ll_mean,
        "Log-likelihood per transition_se": ll_se,
        "Perplexity": float(np.exp(-ll_mean)),
        "Move rate": float(moved.mean()),
        "Mean P(move)": float(p_move.mean()),
        "Move AUC": move_auc,
        "Move AUC_se": move_auc_se,
        "Move Brier": brier,
        "Move Brier_se": brier_se,
        "Accuracy among movers": acc,
        "Accuracy among movers_se": acc_se,
    }
    exit_auc = exit_se = entry_auc = entry_se = np.nan
    if special.any():
        p_special = probs[:, special].sum(axis=1)
        from_regular = ~special[prev]
        exit_auc, exit_se = auc(
            p_special[from_regular], special[observed][from_regular], persons[from_regular]
        )
        from_special = special[prev]
        entry_auc, entry_se = auc(
            1.0 - p_special[from_special], ~special[observed][from_special], persons[from_special]
        )
    out["Exit AUC"], out["Exit AUC_se"] = exit_auc, exit_se
    out["Entry AUC"], out["Entry AUC_se"] = entry_auc, entry_se
    return out


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
    """
    named = _models(models)
    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    tr = panel.transitions()
    tax = panel.taxonomy
    observed = tax.positions(tr["occupation"])
    prev = tax.positions(tr["prev_occupation"])
    persons = pd.factorize(tr.index.get_level_values(0))[0]
    special = np.isin(np.arange(len(tax)), tax.positions(list(tax.special)))
    groups = _groups(panel, tr, by)
    labels = pd.unique(groups)
    try:
        labels = sorted(labels)
    except TypeError:
        pass
    predicted = {}
    for name, res in named.items():
        check_taxonomy(panel, res.taxonomy, f"model {name!r}")
        probs = res.predict(panel)
        if not probs.index.equals(tr.index):
            probs = probs.reindex(tr.index)
            if probs.isna().any().any():
                raise ValueError(
                    f"model {name!r} does not predict every transition of the panel; evaluate "
                    "models that predict the same transitions"
                )
        predicted[name] = probs.to_numpy()
    records = {}
    gv = groups.to_numpy()
    for label in labels:
        mask = gv == label
        for name, probs in predicted.items():
            records[(label, name)] = _statistics(
                probs[mask], observed[mask], prev[mask], persons[mask], special
            )
    frame = pd.DataFrame.from_dict(records, orient="index")[list(STATISTICS)]
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=[groups.name, "model"])
    rows = np.arange(len(tr))
    return ChangeEvaluation(
        frame=frame,
        by="all" if by is None else str(groups.name),
        move_probability={
            name: pd.Series(1.0 - p[rows, prev], index=tr.index, name="P(move)")
            for name, p in predicted.items()
        },
        moved=pd.Series(observed != prev, index=tr.index, name="moved"),
        group=groups,
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
