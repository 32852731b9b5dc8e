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
from ..models.changes import ChangeEvaluation, evaluate_predictions, transition_groups
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
#: The occupation-change rows (:mod:`labor_econ.models.changes`), after the fit statistics;
#: the labor-force exit and entry AUCs only where the taxonomy marks special codes.
CHANGE_ROWS = ("Move AUC", "Move Brier", "Accuracy among movers", "Exit AUC", "Entry AUC")
#: Rows of :attr:`ModelComparison.by_group`: group sizes, fit and the change statistics, each
#: followed by its person-clustered standard error where it has one (``_se`` rows).
BY_GROUP_ROWS = (
    "N",
    "Persons",
    "Log-likelihood",
    "Perplexity",
    "Move rate",
    *CHANGE_ROWS,
)

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
    "Move AUC": "{:.4f}",
    "Move Brier": "{:.4f}",
    "Accuracy among movers": "{:.4f}",
    "Exit AUC": "{:.4f}",
    "Entry AUC": "{:.4f}",
}
#: How the rows of :attr:`ModelComparison.by_group` are printed (standard errors: ``(.4f)``).
BY_GROUP_FORMATS: dict[str, str] = {
    "N": "{:.0f}",
    "Persons": "{:.0f}",
    "Log-likelihood": "{:.2f}",
    "Perplexity": "{:.4f}",
    "Move rate": "{:.4f}",
    **{row: "{:.4f}" for row in CHANGE_ROWS},
}


def _format(spec: str, value: float) -> str:
    """One cell: infinite values written out (``-inf``), never left blank."""
    if np.isnan(value):
        return ""
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    return spec.format(value)


class _Stacked(Summary):
    """A summary with further summaries printed under it, each at its own width (one
    statsmodels summary pads every table to the widest, which would spread the main table
    over the by-group table's many columns)."""

    def __init__(self) -> None:
        super().__init__()
        self.under: list[Summary] = []

    def as_text(self) -> str:
        return "\n\n".join([super().as_text(), *(s.as_text() for s in self.under)])

    def as_html(self) -> str:
        return "\n".join([super().as_html(), *(s.as_html() for s in self.under)])

    def as_latex(self, label: str = "") -> str:
        return "\n".join([super().as_latex(label), *(s.as_latex() for s in self.under)])


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
        highest log-likelihood), then the occupation-change rows of :data:`CHANGE_ROWS`
        (P(move) AUC, Brier score of P(move), accuracy among movers, and the labor-force
        exit and entry AUCs where the taxonomy marks special codes), one column per model
        in the order given; numeric.
    changes : ChangeEvaluation
        The occupation-change evaluation of every model on the panel (by group with
        ``by=``; person-clustered standard errors in its ``frame``).
    by_group : pandas.DataFrame or None
        With ``by=``: rows :data:`BY_GROUP_ROWS` (each followed by its ``_se`` row where
        the statistic has a clustered standard error), columns (group, model) side by
        side; None without ``by``.
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
    >>> comparison.table.loc[["Move AUC", "Move Brier"]].round(3)
                Marginal  Markov
    Move AUC       0.558   0.580
    Move Brier     0.415   0.244
    """

    def __init__(
        self,
        table: pd.DataFrame,
        evaluations: dict[str, TransitionEvaluation],
        baseline: MarginalResults,
        panel: CareerPanel,
        baseline_source: str,
        in_sample: bool = False,
        changes: ChangeEvaluation | None = None,
    ) -> None:
        self.table = table
        self.changes = changes
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

    @property
    def by_group(self) -> pd.DataFrame | None:
        """With ``by=``: the per-group statistics side by side (None without ``by``)."""
        if self.changes is None or self.changes.by == "all":
            return None
        rows = []
        for row in BY_GROUP_ROWS:
            rows += [row, f"{row}_se"] if f"{row}_se" in self.changes.frame else [row]
        table = self.changes.table.loc[rows]
        return table.loc[~table.isna().all(axis=1)]

    def formatted_by_group(self) -> pd.DataFrame | None:
        """:attr:`by_group` as strings: standard errors in parentheses on unlabelled rows
        under their statistic; columns ``"by=group model"``."""
        table = self.by_group
        if table is None:
            return None
        cells = [
            [
                (f"({v:.4f})" if np.isfinite(v) else "")
                if row.endswith("_se")
                else _format(BY_GROUP_FORMATS[row], v)
                for v in table.loc[row]
            ]
            for row in table.index
        ]
        labels = ["" if row.endswith("_se") else row for row in table.index]
        columns = [f"{self.changes.by}={group} {model}" for group, model in table.columns]
        return pd.DataFrame(cells, index=labels, columns=columns)

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
            *self._change_note(),
        ]

    def _change_note(self) -> list[str]:
        if not any(row in self.table.index for row in CHANGE_ROWS):
            return []
        labor_force = (
            " Exit (entry) AUC: P(special state) (P(regular occupation)) on transitions "
            "from a regular occupation (a special state)."
            if "Exit AUC" in self.table.index or "Entry AUC" in self.table.index
            else ""
        )
        return [
            "P(move) = 1 - the probability of the previous occupation; Move AUC and Brier "
            "score it against whether the occupation changed. Accuracy among movers: the "
            "observed new occupation is the most probable other than the previous."
            + labor_force
            + " Person-clustered standard errors: comparison.changes.frame."
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
        """The table with notes, renderable as text, HTML and LaTeX; with ``by=``, the
        by-group table printed under it.

        Returns
        -------
        labor_econ.models.render.Summary
        """
        by_group = self.formatted_by_group()
        smry = Summary() if by_group is None else _Stacked()
        smry.add_title("Transition model comparison")
        smry.add_df(self.formatted())
        for note in self._notes():
            smry.add_text(note)
        if by_group is not None:
            under = Summary()
            under.add_title(f"Occupation change by {self.changes.by} (group, model)")
            under.add_df(by_group)
            under.add_text(
                "Standard errors (in parentheses) are clustered by person. The groups' "
                "log-likelihoods sum to the pooled one; their N-weighted Brier scores "
                "average to it."
            )
            smry.under.append(under)
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
    *,
    by: str | pd.Series | None = None,
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
    by : str or pandas.Series, optional
        Also show the occupation-change evaluation per group, side by side
        (:attr:`ModelComparison.by_group`, printed under the main table): a column of
        ``panel.transitions()`` (a static covariate, ``gap``, ``prev_occupation``),
        ``"cohort"`` (five-year birth cohorts, from the declared birth year), or a Series
        indexed by person id or by (id, time); as in
        :func:`~labor_econ.diagnostics.evaluations.evaluate_changes`.

    Returns
    -------
    ModelComparison

    Raises
    ------
    PanelError
        If a model is coded in another taxonomy than ``panel`` (the message names it).
    TypeError, ValueError
        If ``models`` is not a non-empty dict or list of results, or a list holds two
        results of the same name; if ``by`` is no grouping of the transitions (the
        message names the column and lists the choices).

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

    The occupation-change rows (:data:`CHANGE_ROWS`) come from the same predicted
    probabilities as the fit statistics (each model predicts ``panel`` once); they are
    :mod:`labor_econ.models.changes`' statistics on all transitions, and the whole
    evaluation, with person-clustered standard errors, is ``comparison.changes``.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarginalModel, MarkovModel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> comparison = compare(
    ...     {"Marginal": MarginalModel(train).fit(), "Markov": MarkovModel(train).fit()},
    ...     test,
    ...     by="black",
    ... )
    >>> float(round(comparison.table.loc["Perplexity", "Markov"], 2))
    4.4
    >>> float(round(comparison.table.loc["Move AUC", "Markov"], 3))
    0.58
    >>> comparison.by_group.loc[["N", "Move AUC"], (1, "Markov")].round(3).tolist()
    [98.0, 0.632]
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
    if by is not None:
        transition_groups(panel, panel.transitions(), by)  # a bad `by` fails before any work
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
    fit_rows = [row for row in ROWS if row not in CHANGE_ROWS]
    table = pd.DataFrame(columns, index=pd.Index(fit_rows), dtype=float)
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
    # one prediction per model: the change rows reuse the evaluations' probabilities
    predicted = {name: ev.probabilities for name, ev in evaluations.items()}
    pooled = evaluate_predictions(predicted, panel)
    changes = pooled if by is None else evaluate_predictions(predicted, panel, by=by)
    change_rows = pooled.frame.xs("all")[list(CHANGE_ROWS)].T
    change_rows = change_rows.loc[~change_rows.isna().all(axis=1), list(models)]
    table = pd.concat([table, change_rows.astype(float)])
    source = f"the estimation sample of {first_name!r}"
    return ModelComparison(table, evaluations, baseline, panel, source, in_sample, changes)
