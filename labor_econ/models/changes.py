"""The evaluations beside perplexity, from predicted probabilities: occupation change (stay vs
move), labor-force entry and exit, accuracy among movers, by subgroup with person-clustered
standard errors.

LABOR-LLM reports how well models predict whether a worker changes occupation and whether a
worker stays in the labor force, by subgroup. :func:`evaluate_predictions` computes that
table from each model's predicted probabilities, so that every results object
(:meth:`~labor_econ.models.base.TransitionResults.evaluate_changes`), :func:`compare
<labor_econ.diagnostics.compare.compare>` and
:func:`~labor_econ.diagnostics.evaluations.evaluate_changes` share one computation and a
comparison predicts each model once. It needs no results class, so the results base can
call it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from ..panel import CareerPanel
from .metrics import auc, clustered_mean, topk_hits

__all__ = ["STATISTICS", "ChangeEvaluation", "evaluate_predictions", "transition_groups"]

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


def transition_groups(panel: CareerPanel, transitions: pd.DataFrame, by: Any) -> pd.Series:
    """The group label of each transition (``by``: a column, ``"cohort"``, or a Series).

    Raises
    ------
    ValueError
        If ``by`` names no column of the transitions (the message names it and lists the
        choices), is ``"cohort"`` on a panel without a birth year, or a Series that misses
        some transitions.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> panel = wage_panel()
    >>> groups = transition_groups(panel, panel.transitions(), "gap")
    >>> groups.name, sorted(groups.unique().tolist())
    ('gap', [1])
    """
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

    Built by :func:`labor_econ.diagnostics.evaluations.evaluate_changes`,
    :meth:`TransitionResults.evaluate_changes
    <labor_econ.models.base.TransitionResults.evaluate_changes>` or :func:`labor_econ.compare`
    (``comparison.changes``).

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

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> changes = MarkovModel(train).fit().evaluate_changes(test)
    >>> changes.frame.index.tolist()
    [('all', 'Markov')]
    >>> changes.table.loc[["N", "Move rate", "Move AUC"]].round(3)
    group         all
    model      Markov
    N         763.000
    Move rate   0.444
    Move AUC    0.580
    >>> changes.calibration(bins=2)["n"].tolist()
    [556, 207]
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
    with np.errstate(invalid="ignore"):  # a zero-probability outcome: mean -inf, SE NaN
        ll_mean, ll_se = clustered_mean(loglik, persons)
    move_auc, move_auc_se = auc(p_move, moved, persons)
    brier, brier_se = clustered_mean((p_move - moved) ** 2, persons)
    # accuracy among movers: the destination is the most probable once the previous code is
    # removed, a tie counting as a miss as in top-1 accuracy (argmax would pick the first)
    others = probs[moved].copy()
    others[np.arange(moved.sum()), prev[moved]] = -np.inf
    hit = topk_hits(others, observed[moved], 1).astype(float)
    acc, acc_se = clustered_mean(hit, persons[moved])
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


def evaluate_predictions(
    predicted: Mapping[str, pd.DataFrame],
    panel: CareerPanel,
    *,
    by: str | pd.Series | None = None,
) -> ChangeEvaluation:
    """The change evaluation of models whose probabilities on ``panel`` are already predicted.

    Parameters
    ----------
    predicted : dict of str to pandas.DataFrame
        Each model's ``predict(panel)`` (rows (id, time) of ``panel.transitions()``,
        columns the taxonomy's codes in order), keyed by model name.
    panel : CareerPanel
        The transitions predicted.
    by : str or pandas.Series, optional
        Groups shown side by side, as in
        :func:`~labor_econ.diagnostics.evaluations.evaluate_changes`.

    Returns
    -------
    ChangeEvaluation

    Raises
    ------
    ValueError
        If a model's predictions miss transitions of ``panel``, or ``by`` is no grouping of
        them (the message names the column).

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> panel = wage_panel()
    >>> res = MarkovModel(panel).fit()
    >>> changes = evaluate_predictions({"Markov": res.predict(panel)}, panel)
    >>> float(changes.frame.loc[("all", "Markov"), "N"])
    3815.0
    """
    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    if not predicted:
        raise ValueError("no models to evaluate")
    tr = panel.transitions()
    tax = panel.taxonomy
    observed = tax.positions(tr["occupation"])
    prev = tax.positions(tr["prev_occupation"])
    persons = pd.factorize(tr.index.get_level_values(0))[0]
    special = np.isin(np.arange(len(tax)), tax.positions(list(tax.special)))
    groups = transition_groups(panel, tr, by)
    labels = pd.unique(groups)
    try:
        labels = sorted(labels)
    except TypeError:
        pass
    arrays = {}
    for name, probs in predicted.items():
        if not probs.index.equals(tr.index):
            probs = probs.reindex(tr.index)
            if probs.isna().any().any():
                raise ValueError(
                    f"model {name!r} does not predict every transition of the panel; evaluate "
                    "models that predict the same transitions"
                )
        arrays[name] = probs.to_numpy()
    records = {}
    gv = groups.to_numpy()
    for label in labels:
        mask = gv == label
        for name, probs in arrays.items():
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
            for name, p in arrays.items()
        },
        moved=pd.Series(observed != prev, index=tr.index, name="moved"),
        group=groups,
    )
