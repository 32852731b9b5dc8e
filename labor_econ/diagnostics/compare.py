"""Side-by-side fit statistics of several transition models on one panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.base import (
    TransitionEvaluation,
    TransitionResults,
    check_same_transitions,
    check_taxonomy,
)
from ..models.markov import MarginalModel, MarginalResults
from ..models.render import Summary, SummaryStr
from ..panel import CareerPanel
from .hypotheses import vuong_test

__all__ = ["ModelComparison", "compare"]

#: The information criteria's rows, shown only where the panel is the models' estimation
#: sample: on held-out transitions no parameter correction is needed (the log-likelihood
#: already pays for overfitting), and AIC would charge a model for coefficients and an LLM
#: for none.
AIC_ROW = "AIC (estimation sample)"
BIC_ROW = "BIC (estimation sample)"
#: On held-out transitions, the person-clustered Vuong test of each model against the one
#: with the highest log-likelihood (the test the information criteria would stand in for).
VUONG_Z_ROW = "Vuong z vs best"
VUONG_P_ROW = "Vuong p vs best"

#: Rows of :attr:`ModelComparison.table` and how each is printed.
ROWS: dict[str, str] = {
    "N": "{:.0f}",
    "Log-likelihood": "{:.2f}",
    "Perplexity": "{:.4f}",
    "Top-1 accuracy": "{:.4f}",
    "Top-5 accuracy": "{:.4f}",
    "Parameters": "{:.0f}",
    AIC_ROW: "{:.2f}",
    BIC_ROW: "{:.2f}",
    "Pseudo R2 vs marginal": "{:.4f}",
    VUONG_Z_ROW: "{:.3f}",
    VUONG_P_ROW: "{:.4f}",
}


def _format(spec: str, value: float) -> str:
    """One cell: infinite values written out (``-inf``), never left blank."""
    if np.isnan(value):
        return ""
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    return spec.format(value)


class ModelComparison(SummaryStr):
    """Fit statistics of several models on the transitions of one panel.

    Build it with :func:`compare`. ``str()``, ``to_html()``, ``to_latex()`` and the
    notebook view render :meth:`summary` (names escaped in HTML and LaTeX).

    Attributes
    ----------
    table : pandas.DataFrame
        Rows among :data:`ROWS` (N, Log-likelihood, Perplexity, Top-1 accuracy, Top-5
        accuracy, Parameters, AIC and BIC where the panel is every model's estimation
        sample, Pseudo R2 vs marginal, and on held-out transitions with two models or
        more the person-clustered Vuong z and p of each model against the one with the
        highest log-likelihood), one column per model in the order given; numeric.
    in_sample : bool
        Whether the panel is every model's estimation sample (then AIC and BIC are shown).
    evaluations : dict of str to TransitionEvaluation
        Each model's evaluation on the panel (per-transition log-likelihoods included).
    baseline : MarginalResults
        The marginal model of the pseudo R-squared.
    panel : CareerPanel
        The panel the models were evaluated on.

    Examples
    --------
    >>> from labor_econ import MarginalModel, MarkovModel, compare
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> comparison = compare({"Marginal": MarginalModel(train).fit(),
    ...                       "Markov": MarkovModel(train).fit()}, test)
    >>> comparison.table.loc[["N", "Log-likelihood", "Top-1 accuracy"]].round(3)
                    Marginal    Markov
    N                763.000   763.000
    Log-likelihood -1550.442 -1129.864
    Top-1 accuracy     0.204     0.556
    >>> comparison.in_sample
    False
    """

    def __init__(
        self,
        table: pd.DataFrame,
        evaluations: dict[str, TransitionEvaluation],
        baseline: MarginalResults,
        panel: CareerPanel,
        baseline_source: str,
        in_sample: bool = False,
    ) -> None:
        self.table = table
        self.evaluations = evaluations
        self.baseline = baseline
        self.panel = panel
        self._baseline_source = baseline_source
        self.in_sample = in_sample

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
            (
                "The panel is the models' estimation sample: AIC = -2 llf + 2 k and "
                "BIC = -2 llf + log(N) k, k = Parameters (each model's k_params)."
                if self.in_sample
                else "Held-out transitions: no information criteria (the held-out "
                "log-likelihood needs no parameter correction); Parameters are each "
                "model's k_params."
            ),
            *self._vuong_note(),
            "Pseudo R2 = 1 - llf / llf0, llf0 the log-likelihood on this panel of the "
            f"add-one smoothed marginal frequencies of {self._baseline_source}.",
        ]

    def _vuong_note(self) -> list[str]:
        if VUONG_Z_ROW not in self.table.index:
            return []
        best = self.table.loc["Log-likelihood"].idxmax()
        return [
            f"Vuong z and p vs best: person-clustered Vuong test of each model against "
            f"{best!r} (the highest log-likelihood), no correction; z < 0 favours {best!r}."
        ]

    def summary(self) -> Summary:
        """The table with notes, renderable as text, HTML and LaTeX.

        Returns
        -------
        labor_econ.models.render.Summary
        """
        smry = Summary()
        smry.add_title("Transition model comparison")
        smry.add_df(self.formatted())
        for note in self._notes():
            smry.add_text(note)
        return smry

    def __repr__(self) -> str:
        return f"<ModelComparison of {list(self.table.columns)} on {self.panel!r}>"


def _named(
    models: Mapping[str, TransitionResults] | Sequence[TransitionResults],
) -> dict[str, TransitionResults]:
    """``models`` keyed by column name: a dict as given, a list by each result's ``name``."""
    if isinstance(models, Mapping):
        return dict(models)
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
        raise TypeError(
            "models must be a dict of name -> fitted results or a list of fitted results, "
            f"got {type(models).__name__}"
        )
    named: dict[str, TransitionResults] = {}
    for i, res in enumerate(models):
        if not isinstance(res, TransitionResults):
            raise TypeError(
                f"models[{i}] is a {type(res).__name__}, not fitted results; call .fit()"
            )
        name = str(res.name)
        if name in named:
            raise ValueError(
                f"models[{i}] and another model are both named {name!r}: pass a dict to "
                'name the columns, e.g. compare({"A": a, "B": b}, panel)'
            )
        named[name] = res
    return named


def _same_sample(a: CareerPanel, b: CareerPanel) -> bool:
    """Whether two panels hold the same transitions (same rows and observed occupations)."""
    if a is b:
        return True
    ta, tb = a.transitions(), b.transitions()
    return (
        a.taxonomy == b.taxonomy
        and ta.index.equals(tb.index)
        and ta["occupation"].equals(tb["occupation"])
    )


def compare(
    models: Mapping[str, TransitionResults] | Sequence[TransitionResults],
    panel: CareerPanel,
) -> ModelComparison:
    """Compare fitted transition models on the transitions of ``panel``.

    Parameters
    ----------
    models : dict of str to TransitionResults, or list of TransitionResults
        Fitted models (any results following the common protocol), keyed by the column
        names of the table, in column order; a list is keyed by each result's ``name``
        (two results with the same name are refused: pass a dict).
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
        If ``models`` is not a non-empty dict or list of results, or a list holds two
        results of the same name.

    Notes
    -----
    AIC and BIC, ``-2 llf + 2 k`` and ``-2 llf + log(N) k``, are shown only where ``panel``
    is every model's estimation sample (rows "AIC (estimation sample)" and "BIC
    (estimation sample)"): on held-out transitions the log-likelihood needs no parameter
    correction, and AIC would charge a model for its coefficients and an LLM for none. The
    pseudo R-squared of every column is
    ``1 - llf / llf0`` against one common baseline, so that the row ranks models as the
    log-likelihood does: ``llf0`` is the log-likelihood on ``panel`` of
    :class:`~labor_econ.models.markov.MarginalModel` (add-one smoothed marginal
    frequencies) fitted on the estimation sample of the *first* model. In sample this is
    McFadden's R-squared up to the smoothing (``O(K / n)``).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarginalModel, MarkovModel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> table = compare(
    ...     {"Marginal": MarginalModel(train).fit(), "Markov": MarkovModel(train).fit()},
    ...     test,
    ... ).table
    >>> float(round(table.loc["Perplexity", "Markov"], 2))
    4.4
    """
    models = _named(models)
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
    in_sample = all(_same_sample(res.panel, panel) for res in models.values())
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
            np.nan,
            np.nan,
        ]
    check_same_transitions(evaluations)
    table = pd.DataFrame(columns, index=pd.Index(list(ROWS)), dtype=float)
    if in_sample or len(models) < 2:
        table = table.drop(index=[VUONG_Z_ROW, VUONG_P_ROW])
    else:
        table = table.drop(index=[AIC_ROW, BIC_ROW])
        best = table.loc["Log-likelihood"].idxmax()
        for name, res in models.items():
            if name == best or not np.isfinite(table.loc["Log-likelihood", name]):
                continue  # a model with -inf log-likelihood has no Vuong test
            test = vuong_test(res, models[best], panel)
            table.loc[[VUONG_Z_ROW, VUONG_P_ROW], name] = [test.statistic, test.pvalue]
    source = f"the estimation sample of {first_name!r}"
    return ModelComparison(table, evaluations, baseline, panel, source, in_sample)
