"""Mobility summaries of a fitted model on a panel: the predicted transition matrix (Stata's
``xttrans`` on fitted probabilities), Shorrocks' mobility index and expected tenure, each with
person-clustered standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..models.base import TransitionResults
from ..panel import CareerPanel

__all__ = ["Mobility", "mobility"]


@dataclass(frozen=True)
class Mobility:
    """Mobility implied by a model's predictions on a panel's transitions.

    Attributes
    ----------
    model : str
    matrix : pandas.DataFrame
        Predicted transition matrix: row ``j`` is the average predicted distribution of the
        transitions whose previous occupation is ``j`` (rows of previous occupations never
        observed are absent). With a Markov model estimated on the same panel and no
        smoothing, it is ``xttrans``'s table (as shares).
    matrix_se : pandas.DataFrame
        Person-clustered standard errors of ``matrix`` (each cell is a mean over a
        row's transitions; persons with several such transitions are one cluster).
    counts : pandas.Series
        Transitions from each previous occupation.
    shorrocks : float
        Shorrocks' index ``(m - trace) / (m - 1)`` over the ``m`` rows of ``matrix``:
        0 when nobody moves, ``m / (m - 1)`` times the average move probability.
    shorrocks_se : float
        Its person-clustered standard error (the trace is a sum of row means).
    tenure : pandas.DataFrame
        Per occupation: ``stay`` (the diagonal), ``stay_se``, ``expected_tenure`` (the
        expected completed spell in years, ``step / (1 - stay)``, a geometric spell with
        the row's stay probability) and ``expected_tenure_se`` (delta method).

    Examples
    --------
    >>> from labor_econ import MarkovModel, mobility
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> mob = mobility(MarkovModel(train).fit(), test)
    >>> isinstance(mob, Mobility), mob.matrix.shape
    (True, (9, 9))
    >>> round(mob.shorrocks, 3), mob.tenure.loc[5, ["stay", "expected_tenure"]].round(3).tolist()
    (0.525, [0.669, 3.023])
    """

    model: str
    matrix: pd.DataFrame
    matrix_se: pd.DataFrame
    counts: pd.Series
    shorrocks: float
    shorrocks_se: float
    tenure: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"<Mobility {self.model!r}: {len(self.matrix)} occupations, Shorrocks "
            f"{self.shorrocks:.4f} (se {self.shorrocks_se:.4f})>"
        )


def _cluster_factor(n_groups: int) -> float:
    return n_groups / (n_groups - 1) if n_groups > 1 else 1.0


def mobility(
    results: TransitionResults, panel: CareerPanel | None = None, *, step: float = 1.0
) -> Mobility:
    """Predicted transition matrix, Shorrocks index and expected tenure of ``results``.

    Parameters
    ----------
    results : TransitionResults
        Any fitted model.
    panel : CareerPanel, optional
        Whose transitions are averaged; default the estimation sample.
    step : float
        Years per wave, to state expected tenure in years (1: annual waves).

    Returns
    -------
    Mobility

    Notes
    -----
    Standard errors treat the model as known and the persons as the sampling units: each
    cell is a mean of predicted probabilities over the transitions from one occupation,
    whose variance is computed from per-person sums of deviations with the factor
    ``G / (G - 1)``, as the rest of the package clusters.

    Examples
    --------
    A Markov model predicts the same distribution for every transition from one occupation,
    so its predicted matrix is its estimated one and the standard errors are zero:

    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> mob = mobility(MarkovModel(train).fit(), test)
    >>> mob
    <Mobility 'Markov': 9 occupations, Shorrocks 0.5248 (se 0.0000)>
    >>> bool((mob.matrix.sum(axis=1).round(12) == 1).all()), int(mob.counts.sum())
    (True, 763)
    """
    if not isinstance(results, TransitionResults):
        raise TypeError(f"results must be fitted model results, got {type(results).__name__}")
    step = float(step)
    if not np.isfinite(step) or step <= 0:
        raise ValueError(f"step must be a positive number of years, got {step!r}")
    panel = results.panel if panel is None else panel
    probs = results.predict(panel)
    tr = panel.transitions()
    tax = panel.taxonomy
    prev = tax.positions(tr["prev_occupation"])
    persons = pd.factorize(tr.index.get_level_values(0))[0]
    values = probs.to_numpy()
    k = len(tax)
    counts = np.bincount(prev, minlength=k)
    rows = np.flatnonzero(counts)
    sums = np.zeros((k, k))
    np.add.at(sums, prev, values)
    mean = sums[rows] / counts[rows, None]
    # Clustered variance of each row mean: deviations summed within (person, row).
    dev = values - (sums / np.maximum(counts, 1)[:, None])[prev]
    pair, pair_code = np.unique(persons.astype(np.int64) * k + prev, return_inverse=True)
    pair_sums = np.zeros((len(pair), k))
    np.add.at(pair_sums, pair_code.ravel(), dev)
    pair_row = pair % k
    var = np.zeros((k, k))
    np.add.at(var, pair_row, pair_sums**2)
    groups = np.bincount(pair_row, minlength=k)
    factor = np.array([_cluster_factor(g) for g in groups])
    se = np.sqrt(factor[rows, None] * var[rows]) / counts[rows, None]
    codes = pd.Index(tax.codes)
    labels = codes[rows]
    matrix = pd.DataFrame(mean, index=labels.rename("previous"), columns=codes.rename("current"))
    matrix_se = pd.DataFrame(se, index=matrix.index, columns=matrix.columns)

    stay = mean[np.arange(len(rows)), rows]
    stay_se = se[np.arange(len(rows)), rows]
    m = len(rows)
    # Shorrocks: trace = sum_j mean_j[j]; its influence per person is the sum over the
    # person's transitions of (p_it[j] - stay_j) / n_j, j the transition's row.
    infl = dev[np.arange(len(prev)), prev] / counts[prev]
    per_person = np.bincount(persons, weights=infl)
    n_persons = len(per_person)
    trace_se = float(np.sqrt(_cluster_factor(n_persons) * (per_person**2).sum()))
    shorrocks = (m - stay.sum()) / (m - 1) if m > 1 else np.nan
    shorrocks_se = trace_se / (m - 1) if m > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = step / (1.0 - stay)
        expected_se = step * stay_se / (1.0 - stay) ** 2
    tenure = pd.DataFrame(
        {
            "stay": stay,
            "stay_se": stay_se,
            "expected_tenure": expected,
            "expected_tenure_se": expected_se,
            "transitions": counts[rows],
        },
        index=labels.rename("occupation"),
    )
    return Mobility(
        model=results.name,
        matrix=matrix,
        matrix_se=matrix_se,
        counts=pd.Series(counts[rows], index=matrix.index, name="transitions"),
        shorrocks=float(shorrocks),
        shorrocks_se=float(shorrocks_se),
        tenure=tenure,
    )
