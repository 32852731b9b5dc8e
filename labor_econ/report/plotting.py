"""Calibration plots of fitted transition models."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..models.base import TransitionEvaluation, topk_hits

__all__ = ["calibration_table", "calibration_plot"]


def calibration_table(evaluation: TransitionEvaluation, bins: int = 10) -> pd.DataFrame:
    """Predicted versus observed frequency of each transition's top prediction.

    Transitions are grouped by the probability of their most likely occupation (equal-width
    bins on [0, 1]); in each bin, the mean of that probability is compared with how often
    the most likely occupation was the observed one. A calibrated model lies on the
    diagonal.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``predicted``, ``observed``, ``n``.

    Raises
    ------
    ValueError
        If ``bins`` is not an integer >= 1.

    Notes
    -----
    A transition counts as a hit when its observed occupation is the single most likely
    one; a tie for the top counts against, as in top-1 accuracy, so ``observed`` weighted
    by ``n`` sums to ``evaluation.accuracy(1) * evaluation.nobs``.

    Examples
    --------
    >>> from labor_econ import MarkovModel, calibration_table
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> ev = MarkovModel(train).fit().evaluate(test)
    >>> table = calibration_table(ev, bins=5)
    >>> table.columns.tolist(), int(table["n"].sum())
    (['predicted', 'observed', 'n'], 763)
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    probs = evaluation.probabilities.to_numpy()
    top = probs.argmax(axis=1)
    p_top = probs[np.arange(len(top)), top]
    observed = pd.Index(evaluation.probabilities.columns).get_indexer(evaluation.observed)
    hit = topk_hits(probs, observed, 1).astype(float)
    which = np.minimum((p_top * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": which, "predicted": p_top, "observed": hit})
    out = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), n=("observed", "size")
    )
    return out.reset_index(drop=True)


def calibration_plot(
    evaluations: Mapping[str, TransitionEvaluation],
    path: str | os.PathLike[str] | None = None,
    *,
    bins: int = 10,
    min_count: int = 10,
):
    """Plot :func:`calibration_table` of several models on one figure.

    Parameters
    ----------
    evaluations : mapping of str to TransitionEvaluation
        Model name -> its evaluation on the same panel (``results.evaluate(panel)``).
    path : path-like, optional
        Where to save the figure (PNG, PDF, ... by extension).
    bins : int
        Number of equal-width probability bins.
    min_count : int
        Bins holding fewer transitions are not drawn: their observed frequency is noise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, tempfile
    >>> from labor_econ import MarginalModel, MarkovModel, calibration_plot
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> evaluations = {"Marginal": MarginalModel(train).fit().evaluate(test),
    ...                "Markov": MarkovModel(train).fit().evaluate(test)}
    >>> path = os.path.join(tempfile.mkdtemp(), "calibration.png")
    >>> fig = calibration_plot(evaluations, path, bins=5)
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for name, ev in evaluations.items():
        table = calibration_table(ev, bins)
        table = table[table["n"] >= min_count]
        ax.plot(table["predicted"], table["observed"], marker="o", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of the top occupation")
    ax.set_ylabel("observed frequency of the top occupation")
    ax.set_title(f"Calibration of the most likely transition (bins of >= {min_count})")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
