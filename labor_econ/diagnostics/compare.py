"""Side-by-side fit statistics of several transition models on one panel."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from ..models.base import (
    TransitionEvaluation,
    TransitionResults,
    check_same_transitions,
    check_taxonomy,
)
from ..models.markov import MarginalModel, MarginalResults
from ..panel import CareerPanel

__all__ = ["ModelComparison", "compare"]

#: Rows of :attr:`ModelComparison.table` and how each is printed.
ROWS: dict[str, str] = {
    "N": "{:.0f}",
    "Log-likelihood": "{:.2f}",
    "Perplexity": "{:.4f}",
    "Top-1 accuracy": "{:.4f}",
    "Top-5 accuracy": "{:.4f}",
    "Parameters": "{:.0f}",
    "AIC": "{:.2f}",
    "BIC": "{:.2f}",
    "Pseudo R2 vs marginal": "{:.4f}",
}


def _format(spec: str, value: float) -> str:
    """One cell: infinite values written out (``-inf``), never left blank."""
    if np.isnan(value):
        return ""
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    return spec.format(value)


class ModelComparison:
    """Fit statistics of several models on the transitions of one panel.

    Build it with :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows :data:`ROWS` (N, Log-likelihood, Perplexity, Top-1 accuracy, Top-5 accuracy,
        Parameters, AIC, BIC, Pseudo R2 vs marginal), one column per model in the order
        given; numeric.
    evaluations : dict of str to TransitionEvaluation
        Each model's evaluation on the panel (per-transition log-likelihoods included).
    baseline : MarginalResults
        The marginal model of the pseudo R-squared.
    panel : CareerPanel
        The panel the models were evaluated on.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        evaluations: dict[str, TransitionEvaluation],
        baseline: MarginalResults,
        panel: CareerPanel,
        baseline_source: str,
    ) -> None:
        self.table = table
        self.evaluations = evaluations
        self.baseline = baseline
        self.panel = panel
        self._baseline_source = baseline_source

    def formatted(self) -> pd.DataFrame:
        """The table as strings, each row in its own format."""
        return pd.DataFrame(
            [[_format(ROWS[row], v) for v in self.table.loc[row]] for row in self.table.index],
            index=self.table.index,
            columns=[str(c) for c in self.table.columns],
        )

    def _notes(self) -> list[str]:
        impossible = [
            f"{name!r}: {int(np.isneginf(ev.loglikeobs.to_numpy()).sum())}"
            for name, ev in self.evaluations.items()
            if np.isneginf(ev.loglikeobs.to_numpy()).any()
        ]
        zero = (
            [
                "-inf: the model gives probability 0 to the observed occupation of some "
                "transitions (" + ", ".join(impossible) + "); see evaluations[name].loglikeobs."
            ]
            if impossible
            else []
        )
        return zero + [
            f"Evaluated on {self.table.iloc[0, 0]:.0f} transitions of {self.panel.n_persons} "
            f"persons (taxonomy {self.panel.taxonomy.name!r}, {len(self.panel.taxonomy)} codes).",
            "AIC and BIC use the log-likelihood on this panel and its N; Parameters are "
            "each model's k_params.",
            "Pseudo R2 = 1 - llf / llf0, llf0 the log-likelihood on this panel of the "
            f"add-one smoothed marginal frequencies of {self._baseline_source}.",
        ]

    def summary(self) -> Summary:
        """The table with notes, renderable as text, HTML and LaTeX.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        smry = Summary()
        smry.add_title("Transition model comparison")
        smry.add_df(self.formatted())
        for note in self._notes():
            smry.add_text(note)
        return smry

    def to_latex(self) -> str:
        """The summary as a LaTeX ``table``."""
        return self.summary().as_latex()

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        return f"<ModelComparison of {list(self.table.columns)} on {self.panel!r}>"


def compare(models: Mapping[str, TransitionResults], panel: CareerPanel) -> ModelComparison:
    """Compare fitted transition models on the transitions of ``panel``.

    Parameters
    ----------
    models : dict of str to TransitionResults
        Fitted models (any results following the common protocol), keyed by the column
        names of the table, in column order.
    panel : CareerPanel
        The transitions to evaluate on (the estimation sample or a held-out panel),
        coded in the models' taxonomy.

    Returns
    -------
    ModelComparison

    Raises
    ------
    PanelError
        If a model is coded in another taxonomy than ``panel`` (the message names it).
    TypeError, ValueError
        If ``models`` is not a non-empty mapping of results.

    Notes
    -----
    AIC and BIC are ``-2 llf + 2 k`` and ``-2 llf + log(N) k`` with the log-likelihood
    ``llf`` and the number of transitions ``N`` of ``panel``: on a held-out panel they are
    penalized held-out likelihoods. The pseudo R-squared of every column is
    ``1 - llf / llf0`` against one common baseline, so that the row ranks models as the
    log-likelihood does: ``llf0`` is the log-likelihood on ``panel`` of
    :class:`~labor_econ.models.markov.MarginalModel` (add-one smoothed marginal
    frequencies) fitted on the estimation sample of the *first* model. In sample this is
    McFadden's R-squared up to the smoothing (``O(K / n)``).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarginalModel, MarkovTransitionModel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> table = compare(
    ...     {"Marginal": MarginalModel(train).fit(), "Markov": MarkovTransitionModel(train).fit()},
    ...     test,
    ... ).table
    >>> float(round(table.loc["Perplexity", "Markov"], 2))
    4.4
    """
    if not isinstance(models, Mapping):
        raise TypeError(
            f"models must be a dict of name -> fitted results, got {type(models).__name__}"
        )
    if not models:
        raise ValueError("models is empty")
    for name, res in models.items():
        if not isinstance(res, TransitionResults):
            raise TypeError(
                f"model {name!r} is a {type(res).__name__}, not fitted results; call .fit()"
            )
        check_taxonomy(panel, res.taxonomy, f"model {name!r}")
    first_name, first = next(iter(models.items()))
    baseline = MarginalModel(first.panel).fit()
    llf0 = baseline.evaluate(panel).llf
    evaluations: dict[str, TransitionEvaluation] = {}
    columns = {}
    for name, res in models.items():
        ev = res.evaluate(panel)
        evaluations[name] = ev
        k = float(ev.k_params)
        columns[name] = [
            ev.nobs,
            ev.llf,
            ev.perplexity,
            ev.accuracy(1),
            ev.accuracy(5),
            k,
            -2 * ev.llf + 2 * k,
            -2 * ev.llf + np.log(ev.nobs) * k,
            1 - ev.llf / llf0,
        ]
    check_same_transitions(evaluations)
    table = pd.DataFrame(columns, index=pd.Index(list(ROWS)), dtype=float)
    source = f"the estimation sample of {first_name!r}"
    return ModelComparison(table, evaluations, baseline, panel, source)
