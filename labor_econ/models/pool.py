"""Log-linear pooling of fitted transition models, with weights estimated by maximum likelihood."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy.special import log_softmax
from statsmodels.iolib.summary2 import Summary  # noqa: F401 (the return type)
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from ..panel import CareerPanel, PanelError
from .base import (
    TransitionResults,
    WaldInference,
    check_alpha,
    check_cov_type,
    check_taxonomy,
    cov_type_label,
    sandwich_covariance,
)

if TYPE_CHECKING:
    from ..diagnostics.hypotheses import TestResult

__all__ = ["LogLinearPool", "LogLinearPoolResults"]

CovType = Literal["cluster", "HC0", "nonrobust"]


def _as_dict(
    components: Mapping[str, TransitionResults] | Sequence[TransitionResults],
) -> dict[str, TransitionResults]:
    if isinstance(components, Mapping):
        out = dict(components)
    else:
        out = {}
        for res in components:
            name = str(getattr(res, "name", type(res).__name__))
            if name in out:
                raise ValueError(f"two components are named {name!r}; pass a dict to name them")
            out[name] = res
    if not out:
        raise ValueError("a pool needs at least one component")
    for name, res in out.items():
        if not isinstance(res, TransitionResults):
            raise TypeError(
                f"component {name!r} is a {type(res).__name__}, not fitted results; call .fit()"
            )
    return out


def _component_logs(components: dict[str, TransitionResults], panel: CareerPanel) -> np.ndarray:
    """Stacked log-probabilities (M, n, K) of the components on ``panel``'s transitions."""
    logs = []
    expected = panel.transitions().index
    for name, res in components.items():
        check_taxonomy(panel, res.taxonomy, f"component {name!r}")
        probs = res.predict(panel)
        if not probs.index.equals(expected):
            raise ValueError(
                f"component {name!r} predicts {len(probs)} transitions of this panel but the "
                f"pool models its {len(expected)} transitions (panel.transitions()); "
                "components must be evaluated on the same transition set (an LLM built "
                "with include_first=True also predicts each person's first wave)"
            )
        values = probs.to_numpy()
        bad = ~(values > 0) | ~np.isfinite(values)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            where = tuple(v.item() if isinstance(v, np.generic) else v for v in probs.index[row])
            raise ValueError(
                f"component {name!r} gives probability {float(values[row, col])!r} to "
                f"occupation {res.taxonomy.codes[col]!r} at transition {where} "
                f"({int(bad.any(axis=1).sum())} transitions affected); log-linear pooling "
                "needs positive probabilities for every code: smooth the model (e.g. "
                "MarkovTransitionModel(smoothing=1.0))"
            )
        logs.append(np.log(values))
    return np.stack(logs)


class LogLinearPool:
    """Log-linear (geometric) pool of fitted transition models.

    For transition ``i`` and occupation ``k``::

        p_ik = exp(sum_m w_m log p_m,ik) / sum_j exp(sum_m w_m log p_m,ij)

    with the components' probabilities ``p_m`` held fixed and the weights ``w`` estimated
    by maximum likelihood on ``panel``. This is a conditional logit whose alternative-
    specific "features" are the components' log-probabilities, so the log-likelihood is
    concave in ``w``; it is maximized by Newton's method with the analytic score and
    Hessian. Weights are unrestricted (not constrained to be positive or sum to one):
    ``w_m = 1`` alone reproduces component ``m``; ``w_m > 1`` sharpens it. A test of
    ``w_m = 0`` is an encompassing test: do the other components already carry the
    information of ``m``?

    Parameters
    ----------
    panel : CareerPanel
        The sample the weights are estimated on. Use transitions the components were
        *not* fit on (a validation panel): in-sample, the components' overfitting
        inflates the weights of the richest one.
    components : dict of str to TransitionResults, or list of TransitionResults
        The fitted models to pool (a list is keyed by each result's ``name``). Every
        component must give a positive probability to every code of every transition.

    Raises
    ------
    ValueError
        If a component gives a zero (or non-finite) probability; the message names the
        component, the transition and the code.
    PanelError
        If a component is coded in another taxonomy than ``panel``.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarginalModel, MarkovTransitionModel
    >>> train, val = wage_panel().split(test_size=0.3, seed=0)
    >>> pool = LogLinearPool(
    ...     val,
    ...     {"markov": MarkovTransitionModel(train).fit(), "marginal": MarginalModel(train).fit()},
    ... ).fit()
    >>> list(pool.params.index)
    ['markov', 'marginal']
    """

    def __init__(
        self,
        panel: CareerPanel,
        components: Mapping[str, TransitionResults] | Sequence[TransitionResults],
    ) -> None:
        if not isinstance(panel, CareerPanel):
            raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
        if panel.n_transitions == 0:
            raise PanelError(
                "the panel has no transitions (every person has a single wave): no weights "
                "to estimate"
            )
        self.panel = panel
        self.taxonomy = panel.taxonomy
        self.components = _as_dict(components)
        self.names = list(self.components)
        self._logs = _component_logs(self.components, panel)
        tr = panel.transitions()
        self._choice = self.taxonomy.positions(tr["occupation"])
        self._groups = pd.factorize(tr.index.get_level_values(0))[0]

    endog_names = "occupation"

    @property
    def data(self) -> SimpleNamespace:
        """Parameter names where statsmodels' tools (``summary_col``) look for them."""
        return SimpleNamespace(param_names=list(self.names))

    @property
    def exog_names(self) -> list[str]:
        """The components' names (the weights)."""
        return list(self.names)

    # -- likelihood -------------------------------------------------------------------------
    def _observed_logs(self) -> np.ndarray:
        """(n, M) log-probability each component gives the observed occupation."""
        return self._logs[:, np.arange(self._logs.shape[1]), self._choice].T

    def _pool_logp(self, params: np.ndarray) -> np.ndarray:
        return log_softmax(np.tensordot(np.asarray(params, dtype=float), self._logs, 1), axis=1)

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        """Log-likelihood of each transition at weights ``params``."""
        logp = self._pool_logp(params)
        return logp[np.arange(len(logp)), self._choice]

    def loglike(self, params: np.ndarray) -> float:
        """Log-likelihood at weights ``params``."""
        return float(self.loglikeobs(params).sum())

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """(n, M) per-transition scores: observed minus expected component log-probability."""
        probs = np.exp(self._pool_logp(params))
        expected = np.einsum("mik,ik->im", self._logs, probs)
        return self._observed_logs() - expected

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the log-likelihood."""
        return self.score_obs(params).sum(axis=0)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian: minus the sum over transitions of the covariance, under the pooled
        probabilities, of the components' log-probabilities."""
        probs = np.exp(self._pool_logp(params))
        expected = np.einsum("mik,ik->im", self._logs, probs)
        second = np.einsum("mik,lik,ik->ml", self._logs, self._logs, probs, optimize=True)
        return -(second - expected.T @ expected)

    # -- estimation -------------------------------------------------------------------------
    def fit(
        self,
        *,
        cov_type: CovType = "cluster",
        start_params: np.ndarray | None = None,
        maxiter: int = 100,
        tol: float = 1e-10,
    ) -> LogLinearPoolResults:
        """Estimate the weights by Newton's method with step halving.

        Parameters
        ----------
        cov_type : {"cluster", "HC0", "nonrobust"}, default "cluster"
            Covariance of the weights: person-clustered sandwich
            ``H^-1 (sum_g s_g s_g') H^-1 * G / (G - 1)`` (default: a person's transitions
            are dependent, and pooled components are misspecified by construction, so the
            information-matrix equality fails), the heteroskedasticity-robust sandwich
            without clustering, or the inverse negative Hessian. None accounts for the
            estimation of the components themselves.
        start_params : array, optional
            Starting weights; default ``1 / M`` each (the geometric mean).
        maxiter : int
            Newton iterations.
        tol : float
            Convergence when the largest absolute score per transition is below ``tol``
            or the step is below ``tol`` times ``1 + max|w|``.

        Returns
        -------
        LogLinearPoolResults

        Raises
        ------
        ValueError
            If the Hessian is singular (components with collinear log-probabilities,
            e.g. the same model twice) or ``cov_type`` is unknown.

        Warns
        -----
        ConvergenceWarning
            When ``maxiter`` is reached.
        """
        check_cov_type(cov_type)
        m = len(self.names)
        n = self._logs.shape[1]
        w = np.full(m, 1.0 / m) if start_params is None else np.asarray(start_params, float)
        if w.shape != (m,):
            raise ValueError(f"start_params must have {m} entries, got shape {w.shape}")
        llf = self.loglike(w)
        converged = False
        iterations = 0
        while iterations < maxiter and not converged:
            iterations += 1
            grad = self.score(w)
            if np.abs(grad).max() / n < tol:
                converged = True
                break
            step = self._newton_step(self.hessian(w), grad)
            size = 1.0
            while True:
                candidate = w + size * step
                new = self.loglike(candidate)
                if new >= llf or size < 1e-10:
                    break
                size /= 2
            converged = np.abs(candidate - w).max() < tol * (1 + np.abs(w).max())
            w, llf = candidate, new
        if not converged:
            warnings.warn(
                f"LogLinearPool: Newton did not converge in {maxiter} iterations (a weight "
                "may be diverging: one component nearly determines the outcome)",
                ConvergenceWarning,
                stacklevel=2,
            )
        cov = self._covariance(w, cov_type)
        return LogLinearPoolResults(self, w, cov, cov_type, converged, iterations)

    def _newton_step(self, hess: np.ndarray, grad: np.ndarray) -> np.ndarray:
        try:
            step = np.linalg.solve(-hess, grad)
        except np.linalg.LinAlgError:
            step = np.full_like(grad, np.nan)
        if not np.isfinite(step).all() or np.linalg.cond(hess) > 1e12:
            raise ValueError(
                "the pool's Hessian is singular: the components' log-probabilities are "
                f"collinear on this panel ({self.names}); drop a redundant component"
            )
        return step

    def _covariance(self, params: np.ndarray, cov_type: str) -> np.ndarray:
        return sandwich_covariance(
            self.hessian(params), self.score_obs(params), self._groups, cov_type
        )


class LogLinearPoolResults(WaldInference, TransitionResults):
    """Results of :class:`LogLinearPool`.

    Standard errors, t-values, p-values, ``conf_int()``, ``cov_params()``, ``t_test`` and
    ``wald_test`` of the weights come from ``labor_econ.models.base.WaldInference``,
    with the covariance chosen by ``cov_type``.

    Attributes
    ----------
    params : pandas.Series
        Weight of each component.
    cov_type : str
    converged : bool
    iterations : int
    k_params : int
        Number of weights (the components' own parameters are not counted).
    components : dict of str to TransitionResults

    Examples
    --------
    >>> from labor_econ import LogLinearPool, MarginalModel, MarkovTransitionModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, val = wage_panel().split(test_size=0.3, seed=0)
    >>> components = {"Marginal": MarginalModel(train).fit(),
    ...               "Markov": MarkovTransitionModel(train).fit()}
    >>> res = LogLinearPool(val, components).fit()
    >>> list(res.params.index), res.nobs == val.n_transitions
    (['Marginal', 'Markov'], True)
    >>> res.conf_int().columns.tolist()
    [0, 1]
    """

    name = "LogLinearPool"

    def __init__(
        self,
        model: LogLinearPool,
        params: np.ndarray,
        cov: np.ndarray,
        cov_type: str,
        converged: bool,
        iterations: int,
    ) -> None:
        self.model = model
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.components = model.components
        self.k_params = len(params)
        index = pd.Index(model.names, name="component")
        self.params = pd.Series(params, index=index, name="weight")
        self._cov = np.asarray(cov, dtype=float)
        self.cov_type = cov_type
        self.converged = converged
        self.iterations = iterations

    def _wald_params(self) -> pd.Series:
        return self.params

    def _wald_cov(self) -> np.ndarray:
        return self._cov

    @property
    def df_model(self) -> int:
        """The number of weights."""
        return self.k_params

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        logs = self.model._logs if panel is self.panel else _component_logs(self.components, panel)
        return np.exp(log_softmax(np.tensordot(self.params.to_numpy(), logs, 1), axis=1))

    def encompassing_test(self, name: str, *, alpha: float = 0.05) -> TestResult:
        """Likelihood-ratio test of ``w[name] = 0``: do the other components encompass it?

        See :func:`labor_econ.diagnostics.hypotheses.encompassing_test`, which this calls.
        """
        from ..diagnostics.hypotheses import encompassing_test

        return encompassing_test(self, name, alpha=alpha)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Fit statistics and the weights with standard errors.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        from ..report import header, info_summary

        alpha = check_alpha(alpha)
        info = header(
            self,
            model=self.name,
            cov_type=cov_type_label(self.cov_type, self.panel.n_persons),
            extra={
                "Components:": str(self.k_params),
                "Converged:": f"{self.converged} ({self.iterations} iterations)",
            },
        )
        smry = info_summary("Log-linear pool of transition models", info)
        ci = self.conf_int(alpha)
        table = pd.DataFrame(
            {
                "weight": self.params.map("{:.4f}".format),
                "std err": self.bse.map("{:.4f}".format),
                "z": self.tvalues.map("{:.3f}".format),
                "P>|z|": self.pvalues.map("{:.3f}".format),
                f"[{alpha / 2:g}": ci[0].map("{:.4f}".format),
                f"{1 - alpha / 2:g}]": ci[1].map("{:.4f}".format),
            }
        )
        smry.add_df(table)
        smry.add_text(
            "p_k proportional to exp(sum_m w_m log p_m,k); standard errors treat the "
            "components' probabilities as known."
        )
        return smry

    def _state(self) -> tuple[dict, dict, list]:
        state = {
            "names": list(self.components),
            "cov_type": self.cov_type,
            "converged": self.converged,
            "iterations": self.iterations,
        }
        arrays = {"params": self.params.to_numpy(), "cov": self._cov}
        return state, arrays, list(self.components.values())

    @classmethod
    def _from_state(cls, panel, state, arrays, components) -> LogLinearPoolResults:
        model = LogLinearPool(panel, dict(zip(state["names"], components, strict=True)))
        return cls(
            model,
            arrays["params"],
            arrays["cov"],
            state["cov_type"],
            state["converged"],
            state["iterations"],
        )

    def __repr__(self) -> str:
        weights = ", ".join(f"{k}={v:.3f}" for k, v in self.params.items())
        return f"<LogLinearPoolResults: {weights}; N={self.nobs}, llf={self.llf:.2f}>"
