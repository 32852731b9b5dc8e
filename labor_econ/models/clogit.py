"""The conditional-logit likelihood shared by the LLM calibration and the log-linear pool.

Both models give transition ``i`` and occupation ``k`` the probability::

    p_ik = exp(x_ik' b) / sum_j exp(x_ij' b)

with alternative-specific features ``x`` (the LLM: ``log q_ik`` and ``1[k = previous]``;
the pool: the components' ``log p_m,ik``), over the occupations available to ``i``. The
log-likelihood is concave in ``b``; its score and Hessian are analytic, and it is maximized
by scipy's trust-region Newton (``trust-exact``), which controls the step where plain
Newton overshoots (an LM far from calibrated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from .base import sandwich_covariance

__all__ = ["ConditionalLogit", "ConditionalLogitFit", "utilities"]


def utilities(x: np.ndarray, params: np.ndarray, available: np.ndarray | None = None) -> np.ndarray:
    """``x b`` for features ``x`` (n, K, p), with ``-inf`` where not ``available`` (n, K):
    the utilities of :class:`ConditionalLogit`, also for alternatives outside a fit (the
    LLM's simulated steps)."""
    u = x @ np.asarray(params, dtype=np.float64)
    if available is not None:
        u[~available] = -np.inf
    return u


@dataclass(frozen=True)
class ConditionalLogitFit:
    """The maximum: ``params``, whether it converged, iterations and scipy's message."""

    params: np.ndarray
    converged: bool
    iterations: int
    max_mean_score: float
    message: str


class ConditionalLogit:
    """Conditional logit over ``K`` alternatives with features ``x`` of shape ``(n, K, p)``.

    Parameters
    ----------
    x : ndarray (n, K, p)
        Features of every alternative of every observation (finite where available).
    choice : ndarray (n,)
        Position of the chosen alternative.
    groups : ndarray (n,)
        Cluster labels (persons) of the clustered covariance.
    available : ndarray (n, K) of bool, optional
        Alternatives that can be chosen (default all): the others get probability 0 for
        every ``b`` (an LLM's ``q = 0`` stays impossible).
    """

    def __init__(
        self,
        x: np.ndarray,
        choice: np.ndarray,
        groups: np.ndarray,
        available: np.ndarray | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.choice = np.asarray(choice)
        self.groups = np.asarray(groups)
        self.available = None if available is None or available.all() else available
        self._rows = np.arange(len(self.choice))

    @property
    def nobs(self) -> int:
        """Number of observations."""
        return len(self.choice)

    def utilities(self, params: np.ndarray) -> np.ndarray:
        """``x b``, (n, K), with ``-inf`` for unavailable alternatives."""
        return utilities(self.x, params, self.available)

    def log_probs(self, params: np.ndarray) -> np.ndarray:
        """Log-probabilities (n, K)."""
        return log_softmax(self.utilities(params), axis=1)

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        """Log-likelihood of each observation."""
        return self.log_probs(params)[self._rows, self.choice]

    def loglike(self, params: np.ndarray) -> float:
        """Log-likelihood."""
        return float(self.loglikeobs(params).sum())

    def _moments(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = np.exp(self.log_probs(params))
        return probs, np.einsum("nk,nkj->nj", probs, self.x)

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """(n, p) scores: chosen features minus their expectation."""
        _, mean = self._moments(params)
        return self.x[self._rows, self.choice] - mean

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the log-likelihood."""
        return self.score_obs(params).sum(axis=0)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian: minus the summed covariance of the features under the probabilities."""
        probs, mean = self._moments(params)
        second = np.einsum("nk,nki,nkj->ij", probs, self.x, self.x, optimize=True)
        return -(second - mean.T @ mean)

    def fit(self, start: np.ndarray, *, maxiter: int = 100, gtol: float = 1e-8):
        """Maximize the mean log-likelihood from ``start`` (trust-region Newton).

        Convergence is judged by the largest mean score (below ``max(gtol, 1e-6)``):
        at the optimum scipy may stop with "failure to predict improvement" (rounding).
        """
        n = self.nobs
        opt = minimize(
            lambda b: -self.loglike(b) / n,
            np.asarray(start, dtype=np.float64),
            jac=lambda b: -self.score(b) / n,
            hess=lambda b: -self.hessian(b) / n,
            method="trust-exact",
            options={"maxiter": maxiter, "gtol": gtol},
        )
        params, steps = self._polish(opt.x, gtol)
        mean_score = float(np.abs(self.score(params)).max() / n)
        converged = bool(np.isfinite(self.loglike(params)) and mean_score <= max(gtol, 1e-6))
        return ConditionalLogitFit(
            params, converged, int(opt.nit) + steps, mean_score, str(opt.message)
        )

    def _polish(self, params: np.ndarray, gtol: float, max_steps: int = 5):
        """Full Newton steps from near the optimum, while they improve the fit.

        scipy's trust region may stop at a mean score of about 1e-9 ("failure to predict
        improvement") from rounding in its model; near the maximum of this concave
        likelihood a plain Newton step converges quadratically to the tolerance asked.
        """
        n, steps = self.nobs, 0
        llf = self.loglike(params)
        while steps < max_steps:
            grad = self.score(params)
            if not np.isfinite(llf) or np.abs(grad).max() / n <= gtol:
                break
            try:
                candidate = params + np.linalg.solve(-self.hessian(params), grad)
            except np.linalg.LinAlgError:
                break
            new = self.loglike(candidate)
            if not new >= llf - 1e-12 * abs(llf):
                break
            params, llf, steps = candidate, new, steps + 1
        return params, steps

    def covariance(self, params: np.ndarray, cov_type: str) -> np.ndarray:
        """Covariance of the estimates (``labor_econ.models.base.sandwich_covariance``)."""
        return sandwich_covariance(
            self.hessian(params), self.score_obs(params), self.groups, cov_type
        )
