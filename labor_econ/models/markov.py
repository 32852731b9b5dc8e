"""Frequency baselines: the first-order Markov transition model and the marginal model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..panel import CareerPanel, PanelError
from .base import TransitionResults
from .renamed import renamed_getattr
from .render import Summary, header, info_summary

__all__ = [
    "MarginalModel",
    "MarginalResults",
    "MarkovResults",
    "MarkovModel",
]

#: Largest taxonomy whose full table is printed by ``summary()``.
_MAX_PRINTED_CODES = 12


class _SmoothedCounts:
    """A model estimated by smoothed counts of a panel's transitions."""

    def __init__(self, panel: CareerPanel, *, smoothing: float = 1.0) -> None:
        if not isinstance(panel, CareerPanel):
            raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
        if panel.n_transitions == 0:
            raise PanelError(
                "the panel has no transitions (every person has a single wave): nothing to count"
            )
        smoothing = float(smoothing)
        if not np.isfinite(smoothing) or smoothing < 0:
            raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing}")
        self.panel = panel
        self.taxonomy = panel.taxonomy
        self.smoothing = smoothing


def _info_summary(results: TransitionResults, title: str, extra: dict[str, str]) -> Summary:
    """A summary with the common fit statistics of ``results`` and model-specific entries."""
    return info_summary(title, header(results, model=results.name, extra=extra))


class _NoCoefficientTable:
    """Wald statistics that a table of smoothed frequencies does not have.

    ``tvalues``, ``pvalues``, ``conf_int``, ``cov_params``, ``t_test`` and ``wald_test``
    raise an :class:`AttributeError` that says why and points to the comparisons that apply
    (so ``hasattr(results, "tvalues")`` is False and ``summary_col`` fails with the reason).
    """

    def _no_table(self, what: str) -> AttributeError:
        return AttributeError(
            f"{type(self).__name__} has no {what}: its params are smoothed frequencies "
            "(probabilities), not coefficients with a Wald table. Compare it with other "
            "models by labor_econ.compare(models, panel), vuong_test, clarke_test or lr_test."
        )

    @property
    def tvalues(self):
        raise self._no_table("tvalues")

    @property
    def pvalues(self):
        raise self._no_table("pvalues")

    def conf_int(self, *args, **kwargs):
        raise self._no_table("conf_int()")

    def cov_params(self, *args, **kwargs):
        raise self._no_table("cov_params()")

    def t_test(self, *args, **kwargs):
        raise self._no_table("t_test()")

    def wald_test(self, *args, **kwargs):
        raise self._no_table("wald_test()")


class MarkovModel(_SmoothedCounts):
    """First-order Markov chain over occupation codes, with additive smoothing.

    The probability of moving from occupation ``j`` to ``k`` is estimated by::

        p[j, k] = (n[j, k] + smoothing) / (n[j] + K * smoothing)

    where ``n[j, k]`` counts the estimation sample's transitions from ``j`` to ``k``,
    ``n[j]`` those from ``j`` and ``K`` is the size of the taxonomy. With
    ``smoothing > 0`` every code, observed or not, gets a positive probability, and a
    previous occupation never seen in the sample gets the uniform distribution.
    ``smoothing=0`` is the maximum-likelihood estimator (Stata's ``xttrans``): unseen
    transitions then get probability zero (and a previous occupation never seen gets the
    uniform distribution), so held-out log-likelihoods can be ``-inf``.

    Parameters
    ----------
    panel : CareerPanel
        The estimation sample.
    smoothing : float, default 1.0
        Pseudo-count added to every cell of the transition table (add-one smoothing by
        default).

    See Also
    --------
    MarginalModel : ignores the previous occupation.
    labor_econ.models.mnlogit.MNLogitModel : adds covariates.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> res = MarkovModel(wage_panel()).fit()
    >>> res.params.shape
    (9, 9)
    """

    def fit(self) -> MarkovResults:
        """Count the transitions and smooth them.

        Returns
        -------
        MarkovResults
        """
        tax = self.taxonomy
        tr = self.panel.transitions()
        k = len(tax)
        counts = np.zeros((k, k))
        np.add.at(
            counts, (tax.positions(tr["prev_occupation"]), tax.positions(tr["occupation"])), 1.0
        )
        smoothed = counts + self.smoothing
        totals = smoothed.sum(axis=1, keepdims=True)
        probs = np.divide(smoothed, totals, out=np.full_like(smoothed, 1.0 / k), where=totals > 0)
        return MarkovResults(self, probs, counts)


class MarkovResults(_NoCoefficientTable, TransitionResults):
    """Results of :class:`MarkovModel`.

    Attributes
    ----------
    params : pandas.DataFrame
        K x K transition probabilities, rows the previous occupation, columns the next,
        both labelled by taxonomy codes; rows sum to one.
    counts : pandas.DataFrame
        K x K transition counts of the estimation sample.
    k_params : int
        ``K * (K - 1)``, the free parameters of the transition matrix.

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> res = MarkovModel(wage_panel()).fit()
    >>> res.params.shape, res.k_params
    ((9, 9), 72)
    >>> bool((res.params.sum(axis=1).round(12) == 1).all())
    True
    >>> int(res.counts.to_numpy().sum()) == res.nobs
    True
    """

    name = "Markov"

    def __init__(self, model: MarkovModel, probs: np.ndarray, counts: np.ndarray):
        self.model = model
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.smoothing = model.smoothing
        k = len(self.taxonomy)
        self.k_params = k * (k - 1)
        codes = pd.Index(self.taxonomy.codes)
        self._probs = probs
        self.params = pd.DataFrame(
            probs, index=codes.rename("previous"), columns=codes.rename("current")
        )
        self.counts = pd.DataFrame(counts, index=self.params.index, columns=self.params.columns)

    @property
    def df_model(self) -> int:
        """Parameters beyond the marginal model's ``K - 1``: ``(K - 1) ** 2``."""
        return self.k_params - (len(self.taxonomy) - 1)

    @property
    def bse(self) -> pd.DataFrame:
        """Multinomial standard errors ``sqrt(p (1 - p) / n[j])`` of each row's probabilities.

        Evaluated at the (smoothed) estimates; NaN for previous occupations never observed.
        """
        n = self.counts.to_numpy().sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(self._probs * (1 - self._probs) / n)
        se[n[:, 0] == 0] = np.nan
        return pd.DataFrame(se, index=self.params.index, columns=self.params.columns)

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        prev = self.taxonomy.positions(panel.transitions()["prev_occupation"])
        return self._probs[prev]

    _simulation_keys = ("occupation",)

    def _step_proba(self, states) -> np.ndarray:
        return self._probs[states.occupation]

    def summary(self) -> Summary:
        """Fit statistics and, for small taxonomies, the transition matrix in percent.

        Returns
        -------
        labor_econ.models.render.Summary
            Renders with ``as_text()``, ``as_html()`` and ``as_latex()``.
        """
        smry = _info_summary(self, "Markov transition model", {"Smoothing:": f"{self.smoothing:g}"})
        if len(self.taxonomy) <= _MAX_PRINTED_CODES:
            # summary2 applies the first table's float format to all tables: format here
            table = (100 * self.params).map(lambda v: f"{v:.1f}")
            table.index = [f"from {c}" for c in table.index]
            table.columns = [str(c) for c in table.columns]
            smry.add_df(table)
            smry.add_text("Rows: previous occupation; columns: next occupation; row percentages.")
        else:
            smry.add_text(f"The {len(self.taxonomy)} x {len(self.taxonomy)} matrix is in .params.")
        return smry

    def _state(self) -> tuple[dict, dict, list]:
        return (
            {"smoothing": self.smoothing},
            {"probs": self._probs, "counts": self.counts.to_numpy()},
            [],
        )

    @classmethod
    def _from_state(cls, panel, state, arrays, components) -> MarkovResults:
        model = MarkovModel(panel, smoothing=state["smoothing"])
        return cls(model, arrays["probs"], arrays["counts"])

    def __repr__(self) -> str:
        return (
            f"<MarkovResults: K={len(self.taxonomy)}, N={self.nobs}, llf={self.llf:.2f}, "
            f"smoothing={self.smoothing:g}>"
        )


class MarginalModel(_SmoothedCounts):
    """The no-information baseline: every transition draws from the marginal frequencies.

    ``p[k] = (n[k] + smoothing) / (n + K * smoothing)`` with ``n[k]`` the number of
    transitions into ``k`` in the estimation sample. The default add-one smoothing gives
    every code of the taxonomy, observed or not, a positive probability (``1 / (n + K)``
    for an unseen code), so held-out log-likelihoods are finite; ``smoothing=0`` gives
    the maximum-likelihood frequencies, whose log-likelihood is ``llnull``.

    Parameters
    ----------
    panel : CareerPanel
        The estimation sample.
    smoothing : float, default 1.0
        Pseudo-count added to every code.

    See Also
    --------
    MarkovModel : conditions on the previous occupation.

    Examples
    --------
    >>> from labor_econ import MarginalModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> res = MarginalModel(train).fit()
    >>> res.k_params, round(float(res.params.sum()), 12)
    (8, 1.0)
    >>> res.predict(test).shape
    (763, 9)
    """

    def fit(self) -> MarginalResults:
        """Count the outcomes and smooth them.

        Returns
        -------
        MarginalResults
        """
        pos = self.taxonomy.positions(self.panel.transitions()["occupation"])
        counts = np.bincount(pos, minlength=len(self.taxonomy)).astype(float)
        smoothed = counts + self.smoothing
        return MarginalResults(self, smoothed / smoothed.sum(), counts)


class MarginalResults(_NoCoefficientTable, TransitionResults):
    """Results of :class:`MarginalModel`.

    Attributes
    ----------
    params : pandas.Series
        Probability of each taxonomy code.
    counts : pandas.Series
        Transitions into each code in the estimation sample.
    k_params : int
        ``K - 1``.

    Examples
    --------
    >>> from labor_econ import MarginalModel
    >>> from labor_econ.datasets import wage_panel
    >>> res = MarginalModel(wage_panel()).fit()
    >>> res.params.index.name, res.params.name
    ('occupation', 'probability')
    >>> res.bse.shape == res.params.shape
    True
    """

    name = "Marginal"

    def __init__(self, model: MarginalModel, probs: np.ndarray, counts: np.ndarray):
        self.model = model
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.smoothing = model.smoothing
        self.k_params = len(self.taxonomy) - 1
        codes = pd.Index(self.taxonomy.codes, name="occupation")
        self._probs = probs
        self.params = pd.Series(probs, index=codes, name="probability")
        self.counts = pd.Series(counts, index=codes, name="count")

    @property
    def df_model(self) -> int:
        """Zero: the marginal model is the null model."""
        return 0

    @property
    def bse(self) -> pd.Series:
        """Multinomial standard errors ``sqrt(p (1 - p) / n)``."""
        return pd.Series(
            np.sqrt(self._probs * (1 - self._probs) / self.nobs), index=self.params.index
        )

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        return np.broadcast_to(self._probs, (panel.n_transitions, len(self._probs))).copy()

    _simulation_keys = ()

    def _step_proba(self, states) -> np.ndarray:
        return np.broadcast_to(self._probs, (len(states), len(self._probs)))

    def summary(self) -> Summary:
        """Fit statistics and, for small taxonomies, the probability of each code.

        Returns
        -------
        labor_econ.models.render.Summary
        """
        smry = _info_summary(self, "Marginal model", {"Smoothing:": f"{self.smoothing:g}"})
        if len(self.taxonomy) <= _MAX_PRINTED_CODES:
            table = pd.DataFrame(
                {
                    "title": list(self.taxonomy.titles),
                    "count": self.counts.astype(int).to_numpy(),
                    "probability": [f"{p:.4f}" for p in self._probs],
                },
                index=[str(c) for c in self.taxonomy.codes],
            )
            smry.add_df(table)
        else:
            smry.add_text("The probability of each code is in .params.")
        return smry

    def _state(self) -> tuple[dict, dict, list]:
        return (
            {"smoothing": self.smoothing},
            {"probs": self._probs, "counts": self.counts.to_numpy()},
            [],
        )

    @classmethod
    def _from_state(cls, panel, state, arrays, components) -> MarginalResults:
        model = MarginalModel(panel, smoothing=state["smoothing"])
        return cls(model, arrays["probs"], arrays["counts"])

    def __repr__(self) -> str:
        return (
            f"<MarginalResults: K={len(self.taxonomy)}, N={self.nobs}, llf={self.llf:.2f}, "
            f"smoothing={self.smoothing:g}>"
        )


#: Old names, importable with a FutureWarning (see :mod:`labor_econ.models.renamed`).
__getattr__ = renamed_getattr(__name__, ("MarkovTransitionModel",))
