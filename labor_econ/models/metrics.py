"""Per-transition scoring rules shared by the results floor and the evaluations: top-k hits,
person-clustered means and the AUC with its clustered DeLong standard error.

They sit apart from ``labor_econ.models.base`` so that :mod:`labor_econ.models.changes`
can use them without importing the results base, which itself calls the change evaluation.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["auc", "clustered_mean", "topk_accuracy", "topk_hits"]


def topk_accuracy(probs: np.ndarray, observed: np.ndarray, k: int = 1) -> float:
    """Share of rows whose observed column is among the ``k`` most probable (ties count
    against: the observed outcome must beat all but at most ``k - 1`` others strictly).

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
    >>> topk_accuracy(probs, np.array([0, 1]), 1)  # the tie in row 2 is a miss
    0.5
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return float(np.mean(topk_hits(probs, observed, k)))


def topk_hits(probs: np.ndarray, observed: np.ndarray, k: int = 1) -> np.ndarray:
    """Per row, whether the observed column is among the ``k`` most probable, ties counting
    against (see :func:`topk_accuracy`)."""
    p_obs = probs[np.arange(len(observed)), observed]
    # Rows where at most k outcomes (the observed one included) reach its probability:
    # a tie with the k-th most probable is a miss, so a uniform model scores k / K.
    return (probs >= p_obs[:, None]).sum(axis=1) <= k


def _cluster_factor(g: int) -> float:
    return g / (g - 1) if g > 1 else 1.0


def clustered_mean(x: np.ndarray, persons: np.ndarray) -> tuple[float, float]:
    """Mean of ``x`` and its person-clustered standard error (factor G / (G - 1)).

    ``persons`` holds integer codes 0..G-1 of each value's person (``pd.factorize``).

    Examples
    --------
    >>> import numpy as np
    >>> mean, se = clustered_mean(np.array([1.0, 3.0, 2.0, 6.0]), np.array([0, 0, 1, 1]))
    >>> mean, round(se, 4)
    (3.0, 1.0)
    """
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

    Examples
    --------
    >>> import numpy as np
    >>> value, se = auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    >>> value
    0.75
    >>> auc(np.array([0.1, 0.2]), np.array([1, 1]))  # one class: no AUC
    (nan, nan)
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
