"""The results protocol every fitted transition model follows, and its per-panel evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..panel import CareerPanel, PanelError
from ..taxonomy import Taxonomy
from .changes import ChangeEvaluation, evaluate_predictions
from .metrics import topk_accuracy, topk_hits
from .persistence import load_results, register, save_results
from .render import SummaryStr

__all__ = [
    "COV_TYPES",
    "TransitionEvaluation",
    "TransitionResults",
    "WaldInference",
    "check_alpha",
    "check_cov_type",
    "check_same_transitions",
    "check_taxonomy",
    "cov_type_label",
    "observed_positions",
    "marginal_loglike",
    "topk_accuracy",
    "topk_hits",
    "sandwich_covariance",
]


def check_taxonomy(panel: CareerPanel, taxonomy: Taxonomy, what: str) -> None:
    """Raise unless ``panel`` is coded in ``taxonomy`` (predictions are columns of it)."""
    if panel.taxonomy != taxonomy:
        raise PanelError(
            f"the panel is coded in taxonomy {panel.taxonomy.name!r} ({len(panel.taxonomy)} "
            f"codes) but {what} was estimated on {taxonomy.name!r} ({len(taxonomy)} codes); "
            "use a panel declared with the same taxonomy"
        )


def observed_positions(transitions: pd.DataFrame, taxonomy: Taxonomy) -> np.ndarray:
    """Taxonomy positions of the observed occupations of ``transitions``."""
    return taxonomy.positions(transitions["occupation"])


#: The covariance estimators every model accepts, and what each means. ``"cluster"`` is the
#: same everywhere: clustered by person, with the small-sample factor G / (G - 1).
COV_TYPES: dict[str, str] = {
    "nonrobust": "inverse of the observed information (minus the Hessian)",
    "HC0": "robust sandwich H^-1 (sum_i s_i s_i') H^-1, transitions independent",
    "cluster": "sandwich clustered by person, sum over persons of the summed scores, "
    "times G / (G - 1) (Stata's vce(cluster id) for ML models)",
}


def check_cov_type(cov_type: str) -> str:
    """Return ``cov_type`` if it is a name of :data:`COV_TYPES`, else raise ``ValueError``."""
    if cov_type not in COV_TYPES:
        raise ValueError(
            f"cov_type must be one of {list(COV_TYPES)}, got {cov_type!r} "
            "(cluster = by person, with the factor G / (G - 1))"
        )
    return cov_type


def cov_type_label(cov_type: str | None, n_persons: int | None = None) -> str:
    """How a summary states the covariance type (the same words in every model)."""
    if cov_type is None:
        return "none (not estimated)"
    if cov_type == "cluster":
        clusters = f", {n_persons} persons" if n_persons is not None else ""
        return f"cluster (person{clusters})"
    return cov_type


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it lies strictly between 0 and 1, else raise ``ValueError``."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must lie in (0, 1) (a significance level), got {alpha!r}")
    return value


def cluster_meat(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``G / (G - 1) * sum_g s_g s_g'`` with ``s_g`` the summed scores of group ``g``."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    sums = np.zeros((n_groups, scores.shape[1]))
    np.add.at(sums, codes, scores)
    factor = n_groups / (n_groups - 1) if n_groups > 1 else 1.0
    return factor * (sums.T @ sums)


def sandwich_covariance(
    hessian: np.ndarray,
    scores: np.ndarray | None,
    groups: np.ndarray | None,
    cov_type: str,
    *,
    meat: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance of ML estimates: inverse information or a (clustered) sandwich.

    Parameters
    ----------
    hessian : ndarray (k, k)
        Hessian of the log-likelihood at the estimate.
    scores : ndarray (n, k) or None
        Per-observation scores at the estimate (not needed for ``"nonrobust"`` or when
        ``meat`` is given).
    groups : ndarray (n,) or None
        Cluster labels (persons), used by ``"cluster"``.
    cov_type : {"nonrobust", "HC0", "cluster"}
        See :data:`COV_TYPES`. ``"cluster"`` sums scores within persons and applies the
        small-sample factor G / (G - 1), as Stata's ``vce(cluster)`` does for ML models.
    meat : ndarray (k, k), optional
        The middle of the sandwich, when the caller computed it (a model too large for an
        ``(n, k)`` score matrix); it must already include the cluster factor.
    """
    check_cov_type(cov_type)
    bread = np.linalg.inv(-hessian)
    if cov_type == "nonrobust":
        return bread
    if meat is None:
        if cov_type == "HC0":
            meat = scores.T @ scores
        else:
            meat = cluster_meat(scores, groups)
    return bread @ meat @ bread


def _constraints(names: list[str], r_matrix: Any, q_matrix: Any = None):
    """``(R, q)`` from a matrix, a (R, q) tuple or a string such as ``"scale = 1, stay"``."""
    if isinstance(r_matrix, str) or (
        isinstance(r_matrix, (list, tuple)) and r_matrix and isinstance(r_matrix[0], str)
    ):
        from patsy import DesignInfo

        lc = DesignInfo(names).linear_constraint(r_matrix)
        return lc.coefs, lc.constants[:, 0]
    if isinstance(r_matrix, tuple) and len(r_matrix) == 2 and q_matrix is None:
        r_matrix, q_matrix = r_matrix
    r = np.atleast_2d(np.asarray(r_matrix, dtype=float))
    if r.shape[1] != len(names):
        raise ValueError(
            f"r_matrix has {r.shape[1]} columns but the model has {len(names)} parameters "
            f"({names[:6]}{' ...' if len(names) > 6 else ''})"
        )
    q = np.zeros(len(r)) if q_matrix is None else np.asarray(q_matrix, dtype=float).ravel()
    return r, q


class WaldInference:
    """Wald inference from ``params`` and a covariance, shared by every results class that
    estimates parameters (the LLM calibration, the pool weights, the MNLogit coefficients).

    A subclass provides :meth:`_wald_params` (a Series of the estimates, flattened in the
    order of the covariance) and :meth:`_wald_cov` (the ``(k, k)`` covariance array, or
    None when there is none: every statistic is then NaN). Everything else follows, with
    statsmodels' names and shapes: ``bse``, ``tvalues``, ``pvalues``, ``conf_int()`` (columns
    0 and 1), ``cov_params()`` (a method), ``t_test``, ``wald_test``. Inference is normal
    (z statistics), as for statsmodels' ML models.
    """

    use_t = False

    def _wald_params(self) -> pd.Series:
        raise NotImplementedError

    def _wald_cov(self) -> np.ndarray | None:
        raise NotImplementedError

    def _shaped(self, values: np.ndarray, name: str | None = None):
        """``values`` (flattened) in the shape and labels of :attr:`params`."""
        params = self.params
        if isinstance(params, pd.DataFrame):
            flat = np.asarray(values).reshape(params.shape[::-1]).T
            return pd.DataFrame(flat, index=params.index, columns=params.columns)
        return pd.Series(values, index=params.index, name=name)

    def _flat_cov(self) -> np.ndarray:
        cov = self._wald_cov()
        k = len(self._wald_params())
        return np.full((k, k), np.nan) if cov is None else np.asarray(cov, dtype=float)

    @property
    def bse(self):
        """Standard errors of :attr:`params` (NaN where there is no covariance)."""
        with np.errstate(invalid="ignore"):
            return self._shaped(np.sqrt(np.diag(self._flat_cov())), "bse")

    @property
    def tvalues(self):
        """z statistics of ``params = 0``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            flat = self._wald_params().to_numpy() / np.sqrt(np.diag(self._flat_cov()))
        return self._shaped(flat, "z")

    @property
    def pvalues(self):
        """Two-sided normal p-values of :attr:`tvalues`."""
        with np.errstate(invalid="ignore"):
            flat = self._wald_params().to_numpy() / np.sqrt(np.diag(self._flat_cov()))
        return self._shaped(2 * stats.norm.sf(np.abs(flat)), "pvalue")

    def conf_int(self, alpha: float = 0.05, cols: None = None) -> pd.DataFrame:
        """Normal confidence intervals, columns 0 (lower) and 1 (upper) as in statsmodels.

        Rows are the flattened parameter names (for a coefficient table, ``outcome:feature``).
        """
        q = stats.norm.ppf(1 - check_alpha(alpha) / 2)
        b = self._wald_params()
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.diag(self._flat_cov()))
        return pd.DataFrame({0: b.to_numpy() - q * se, 1: b.to_numpy() + q * se}, index=b.index)

    def cov_params(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Covariance of the flattened parameters, labelled (NaN where there is none)."""
        names = self._wald_params().index
        return pd.DataFrame(self._flat_cov(), index=names, columns=names)

    def t_test(self, r_matrix: Any, q_matrix: Any = None):
        """z tests of each linear restriction ``R params = q``.

        Parameters
        ----------
        r_matrix : array-like, str or tuple
            A ``(m, k)`` matrix, ``(R, q)``, or constraints by name (``"scale = 1"``,
            ``"stay"``, ``"markov - marginal = 0"``), as statsmodels accepts.
        q_matrix : array-like, optional

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
        """
        from statsmodels.stats.contrast import ContrastResults

        b = self._wald_params()
        r, q = _constraints(list(b.index), r_matrix, q_matrix)
        effect = r @ b.to_numpy()
        sd = np.sqrt(np.diag(r @ self._flat_cov() @ r.T))
        return ContrastResults(
            effect=effect, sd=sd, statistic=(effect - q) / sd, distribution="norm"
        )

    def wald_test(self, r_matrix: Any, q_matrix: Any = None, *, scalar: bool = True):
        """Joint Wald (chi-squared) test of ``R params = q``.

        Parameters
        ----------
        r_matrix, q_matrix
            As for :meth:`t_test`.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            ``statistic`` is the chi-squared statistic, ``df_denom`` its degrees of freedom.

        Raises
        ------
        ValueError
            If there is no covariance (standard errors are NaN).
        """
        from statsmodels.stats.contrast import ContrastResults

        b = self._wald_params()
        r, q = _constraints(list(b.index), r_matrix, q_matrix)
        cov = self._flat_cov()
        if not np.isfinite(cov).all():
            raise ValueError("no covariance of the parameters: a Wald test is not possible")
        diff = r @ b.to_numpy() - q
        stat = float(diff @ np.linalg.solve(r @ cov @ r.T, diff))
        return ContrastResults(statistic=stat, df_denom=len(r), distribution="chi2")


def check_same_transitions(evaluations: dict[str, TransitionEvaluation]) -> None:
    """Raise unless every evaluation covers the same transitions (same (id, time) rows).

    A model built with ``include_first=True`` (an LLM) also predicts each person's first
    wave; a comparison with a model that does not would compare different samples.
    """
    items = list(evaluations.items())
    ref_name, ref = items[0]
    index = ref.loglikeobs.index
    if all(ev.loglikeobs.index.equals(index) for _, ev in items[1:]):
        return
    counts = ", ".join(f"{name!r} on {ev.nobs}" for name, ev in items)
    raise ValueError(
        f"the models are evaluated on different transition sets ({counts} transitions); "
        "compare models on the same transitions (an LLM built with include_first=True also "
        "predicts each person's first wave: rebuild it with include_first=False)"
    )


def _rows_named(index: pd.Index, rows: np.ndarray, limit: int = 5) -> str:
    """'person 3, year 1981; ...' for the first ``limit`` of ``rows`` (positions in index)."""
    named = []
    for pos in rows[:limit]:
        key = index[pos]
        named.append(f"person {key[0]}, year {key[1]}" if isinstance(key, tuple) else f"row {key}")
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return "; ".join(named) + more


def check_probabilities(probs: pd.DataFrame, what: str, *, atol: float = 1e-6) -> None:
    """Refuse predicted probabilities that are not a distribution in every row.

    NaN, infinite or negative entries, or rows that do not sum to one within ``atol``,
    raise a ValueError naming the rows: a NaN-skipping sum would otherwise drop them from
    the log-likelihood while N still counts them.
    """
    values = probs.to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{what} predicts NaN or infinite probabilities for {len(rows)} transition(s): "
            f"{_rows_named(probs.index, rows)}. Check that panel's covariates (an infinite "
            "or extreme value gives NaN probabilities)"
        )
    negative = (values < 0).any(axis=1)
    off = np.abs(values.sum(axis=1) - 1.0) > atol
    if negative.any() or off.any():
        rows = np.flatnonzero(negative | off)
        raise ValueError(
            f"{what} predicts probabilities that are negative or do not sum to one for "
            f"{len(rows)} transition(s): {_rows_named(probs.index, rows)}"
        )


def marginal_loglike(codes: pd.Series) -> float:
    """Log-likelihood of observed occupation codes under their own marginal frequencies."""
    counts = codes.value_counts().to_numpy(dtype=float)
    return float((counts * np.log(counts / counts.sum())).sum())


@dataclass(frozen=True)
class TransitionEvaluation:
    """How well a fitted model predicts the transitions of one panel.

    Attributes
    ----------
    name : str
        The model's name.
    probabilities : pandas.DataFrame
        Predicted probabilities, rows (id, time), columns taxonomy codes.
    observed : pandas.Series
        Observed occupation code of each transition, same index.
    k_params : int
        Number of estimated parameters of the model.

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> ev = MarkovModel(train).fit().evaluate(test)
    >>> ev.nobs, ev.probabilities.shape
    (763, (763, 9))
    >>> bool(abs(ev.llf - ev.loglikeobs.sum()) < 1e-9)
    True
    >>> 0 < ev.accuracy(1) < ev.accuracy(5) <= 1
    True
    """

    name: str
    probabilities: pd.DataFrame
    observed: pd.Series
    k_params: int

    def __post_init__(self) -> None:
        check_probabilities(self.probabilities, f"model {self.name!r}")

    @cached_property
    def _observed_columns(self) -> np.ndarray:
        return pd.Index(self.probabilities.columns).get_indexer(self.observed)

    @cached_property
    def loglikeobs(self) -> pd.Series:
        """Log-probability of each observed transition, indexed by (id, time)."""
        p = self.probabilities.to_numpy()[np.arange(self.nobs), self._observed_columns]
        with np.errstate(divide="ignore"):
            return pd.Series(np.log(p), index=self.probabilities.index, name="loglikeobs")

    @property
    def llf(self) -> float:
        """Sum of the per-transition log-likelihoods (``-inf`` where the model gives the
        observed occupation of some transition probability zero; never NaN-skipping)."""
        return float(np.sum(self.loglikeobs.to_numpy()))

    @property
    def nobs(self) -> int:
        """Number of transitions."""
        return len(self.observed)

    @property
    def perplexity(self) -> float:
        """``exp(-llf / nobs)``: the effective number of equally likely occupations."""
        return float(np.exp(-self.llf / self.nobs))

    @property
    def persons(self) -> pd.Index:
        """Person id of each transition (the clusters of clustered tests)."""
        return self.probabilities.index.get_level_values(0)

    def accuracy(self, k: int = 1) -> float:
        """Top-``k`` accuracy: share of transitions whose observed occupation is among the
        ``k`` most probable."""
        return topk_accuracy(self.probabilities.to_numpy(), self._observed_columns, k)

    def __repr__(self) -> str:
        return (
            f"<TransitionEvaluation {self.name!r}: N={self.nobs}, llf={self.llf:.2f}, "
            f"perplexity={self.perplexity:.3f}, top-1={self.accuracy(1):.3f}>"
        )


class TransitionResults(SummaryStr):
    """Base of every fitted transition model's results: the common fields and protocol.

    A subclass sets ``name``, ``panel`` (the estimation sample), ``taxonomy``, ``params``
    and ``k_params``, implements :meth:`_predict_proba` for any panel coded in that
    taxonomy and ``summary()`` (a :class:`~labor_econ.models.render.Summary`). Everything
    else (``predict``, ``evaluate``, ``llf``, ``aic``, ``str()``, ``to_html()``,
    ``to_latex()``, ``save``/``load``, ...) follows. A subclass that defines
    ``_from_state`` registers itself for :meth:`load` by its class name (and the names in
    its ``_saved_as``, for archives written before a rename).

    Attributes every result has
    ---------------------------
    params : pandas.Series or pandas.DataFrame
        The estimates.
    cov_type : str or None
        The name of the covariance estimator (a key of :data:`COV_TYPES`), or None where
        the model estimates no covariance (smoothed frequencies, an uncalibrated LLM).
    converged : bool
        Whether the estimator converged (True for closed-form estimators).
    iterations : int
        Iterations of the optimizer (0 for closed-form estimators).
    nobs, n_persons : int
        Transitions and persons of the estimation sample.
    A subclass sets ``name``, ``panel`` (the estimation sample), ``taxonomy`` and
    ``k_params``, and implements :meth:`_predict_proba` for any panel coded in that
    taxonomy. Everything else (``predict``, ``evaluate``, ``llf``, ``aic``, ...) follows.

    Examples
    --------
    Every fitted model has this protocol, so the same lines work for each:

    >>> import os, tempfile
    >>> from labor_econ import MarkovModel, TransitionResults
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> res = MarkovModel(train).fit()
    >>> isinstance(res, TransitionResults)
    True
    >>> res.predict(test).shape
    (763, 9)
    >>> path = os.path.join(tempfile.mkdtemp(), "markov.zip")
    >>> res.save(path)
    >>> bool((TransitionResults.load(path).predict(test) == res.predict(test)).all().all())
    True
    """

    name: str
    panel: CareerPanel
    taxonomy: Taxonomy
    k_params: int
    #: Defaults of the convergence record for estimators without iterations.
    cov_type: str | None = None
    converged: bool = True
    iterations: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_from_state" in cls.__dict__:
            # archives written before a rename name the class by its old name
            register(cls, *cls.__dict__.get("_saved_as", ()))

    @property
    def n_persons(self) -> int:
        """Number of persons in the estimation sample (the clusters)."""
        return self.panel.n_persons

    @property
    def mle_retvals(self) -> dict[str, Any]:
        """The convergence record under statsmodels' name: ``converged``, ``iterations``
        and what the optimizer reported besides."""
        extra = self.__dict__.get("_retvals") or {}
        return {**extra, "converged": bool(self.converged), "iterations": int(self.iterations)}

    @mle_retvals.setter
    def mle_retvals(self, value: dict[str, Any] | None) -> None:
        value = dict(value or {})
        self._retvals = value
        if "converged" in value:
            self.converged = bool(value["converged"])
        if "iterations" in value:
            self.iterations = int(value["iterations"])

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        """Probabilities (n_transitions, K) for ``panel.transitions()``, rows summing to one."""
        raise NotImplementedError

    def predict(self, panel: CareerPanel | None = None) -> pd.DataFrame:
        """Predicted probability of every occupation for every transition.

        Parameters
        ----------
        panel : CareerPanel, optional
            A panel coded in the same taxonomy; default the estimation sample.

        Returns
        -------
        pandas.DataFrame
            Rows (id, time) as in ``panel.transitions()``, columns the taxonomy codes in
            taxonomy order; each row sums to one.
        """
        panel = self.panel if panel is None else panel
        check_taxonomy(panel, self.taxonomy, f"model {self.name!r}")
        probs = self._predict_proba(panel)
        index = panel.transitions().index
        return pd.DataFrame(probs, index=index, columns=pd.Index(self.taxonomy.codes))

    def evaluate(self, panel: CareerPanel | None = None) -> TransitionEvaluation:
        """Log-likelihood, perplexity and accuracy of the model on ``panel``'s transitions."""
        panel = self.panel if panel is None else panel
        probs = self.predict(panel)
        observed = panel.transitions()["occupation"]
        return TransitionEvaluation(self.name, probs, observed, int(self.k_params))

    def evaluate_changes(
        self, panel: CareerPanel | None = None, *, by: str | pd.Series | None = None
    ) -> ChangeEvaluation:
        """Stay-vs-move, labor-force entry/exit and movers' accuracy on ``panel``, by group.

        The evaluation of :func:`labor_econ.diagnostics.evaluations.evaluate_changes` for
        this one model: P(move) AUC and Brier score, accuracy among movers, and where the
        taxonomy marks special codes the labor-force exit and entry AUCs, with
        person-clustered standard errors.

        Parameters
        ----------
        panel : CareerPanel, optional
            Default the estimation sample.
        by : str or pandas.Series, optional
            Groups shown side by side: a column of ``panel.transitions()`` (a covariate,
            ``gap``, ``prev_occupation``), ``"cohort"`` (five-year birth cohorts), or a
            Series indexed by person id or by (id, time).

        Returns
        -------
        labor_econ.models.changes.ChangeEvaluation
            Its one model is named ``self.name``.

        Raises
        ------
        ValueError
            If ``by`` is no grouping of the transitions (the message names the column).

        Examples
        --------
        >>> from labor_econ.datasets import wage_panel
        >>> from labor_econ.models.markov import MarkovModel
        >>> train, test = wage_panel().split(test_size=0.2, seed=0)
        >>> changes = MarkovModel(train).fit().evaluate_changes(test, by="black")
        >>> changes.table.loc[["N", "Move AUC"]].round(3)
        black           0       1
        model      Markov  Markov
        N         665.000  98.000
        Move AUC    0.569   0.632
        """
        panel = self.panel if panel is None else panel
        return evaluate_predictions({self.name: self.predict(panel)}, panel, by=by)

    def simulate(
        self,
        panel: CareerPanel | None = None,
        *,
        start: int | None = None,
        horizon: int = 10,
        n_draws: int = 1000,
        seed: int = 0,
        set: dict | None = None,
        step: int = 1,
        keep_draws: int = 100,
        progress: bool = False,
    ):
        """Simulate ``n_draws`` careers of each person of ``panel`` ``horizon`` waves ahead.

        Each draw continues the person's observed career from ``start``: the model's
        distribution of the next wave is computed from the career so far, an occupation is
        drawn, and the career features move on (see :mod:`labor_econ.models.simulate`).

        Parameters
        ----------
        panel : CareerPanel, optional
            Default the estimation sample.
        start : int, optional
            The last observed year used (later waves are ignored); default the panel's last
            year. Every person needs a wave at or before it.
        horizon : int
            Number of simulated waves, at ``start + step``, ``start + 2 step``, ...
        n_draws : int
            Careers simulated per person.
        seed : int
            Draw ``d`` uses random numbers that depend only on ``(seed, d)``: a
            counterfactual with the same seed differs only through the model.
        set : dict, optional
            Covariates set to other values for every person (a counterfactual), e.g.
            ``{"female": 0}``; varying covariates stay at their last observed value.
        step : int
            Years between simulated waves (2 for a biennial survey).
        keep_draws : int
            Draws kept in ``.draws`` (the first ones); shares use all of them.
        progress : bool
            Show a progress bar.

        Returns
        -------
        labor_econ.models.simulate.Simulation
            ``.draws`` (long: draw, id, year, occupation), ``.shares()`` (by year, with
            intervals across draws), ``.scorings`` (model evaluations per year).

        See Also
        --------
        labor_econ.models.simulate.counterfactual : the same with covariates set.
        labor_econ.diagnostics.evaluations.evaluate_forecasts : scored against later waves.

        Examples
        --------
        >>> from labor_econ.datasets import wage_panel
        >>> from labor_econ.models.markov import MarkovModel
        >>> res = MarkovModel(wage_panel()).fit()
        >>> sim = res.simulate(horizon=3, n_draws=100, seed=0)
        >>> sim.years
        [1988, 1989, 1990]
        >>> round(float(sim.shares().loc[1990, "share"].sum()), 12)
        1.0
        >>> sim.draws.columns.tolist()
        ['draw', 'nr', 'year', 'occupation']
        """
        from .simulate import simulate

        return simulate(
            self,
            panel,
            start=start,
            horizon=horizon,
            n_draws=n_draws,
            seed=seed,
            set=set,
            step=step,
            keep_draws=keep_draws,
            progress=progress,
        )

    def save(self, path) -> None:
        """Save the results to ``path`` (a zip of JSON, Parquet and NumPy arrays).

        The file holds the estimation panel, the estimates and what is needed to predict;
        never a language model, a tokenizer or a pickle. See
        :mod:`labor_econ.models.persistence` for the format.
        """
        save_results(self, path)

    @classmethod
    def load(cls, path) -> TransitionResults:
        """Load results saved by :meth:`save` (of any results class).

        Reloaded results give the same ``predict`` and ``evaluate`` on the estimation
        sample, and on new panels where the model needs no LM.
        """
        res = load_results(path)
        if not isinstance(res, cls):
            raise TypeError(f"{path} holds {type(res).__name__}, not {cls.__name__}")
        return res

    def _state(self) -> tuple[dict, dict, list]:
        """(JSON scalars, arrays, component results) that :meth:`save` writes."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def to_stata(self, path, panel: CareerPanel | None = None, **kwargs) -> pd.DataFrame:
        """Write predictions to a Stata ``.dta`` file; see :func:`labor_econ.to_stata`."""
        from ..stata import to_stata

        return to_stata(self, path, panel, **kwargs)

    @cached_property
    def _in_sample(self) -> TransitionEvaluation:
        return self.evaluate(self.panel)

    @property
    def llf(self) -> float:
        """Log-likelihood of the estimation sample."""
        return self._in_sample.llf

    @property
    def nobs(self) -> int:
        """Number of transitions in the estimation sample."""
        return self.panel.n_transitions

    @property
    def llnull(self) -> float:
        """Log-likelihood of the marginal-frequency model on the estimation sample."""
        return marginal_loglike(self.panel.transitions()["occupation"])

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo R-squared, ``1 - llf / llnull``."""
        return 1.0 - self.llf / self.llnull

    @property
    def perplexity(self) -> float:
        """``exp(-llf / nobs)`` on the estimation sample."""
        return float(np.exp(-self.llf / self.nobs))

    def accuracy(self, k: int = 1) -> float:
        """Top-``k`` accuracy on the estimation sample."""
        return self._in_sample.accuracy(k)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 llf + 2 k_params``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 llf + log(nobs) k_params``."""
        return -2.0 * self.llf + np.log(self.nobs) * self.k_params
