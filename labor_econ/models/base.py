"""The results protocol every fitted transition model follows, and its per-panel evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..panel import CareerPanel, PanelError
from ..taxonomy import Taxonomy

__all__ = [
    "TransitionEvaluation",
    "TransitionResults",
    "check_taxonomy",
    "observed_positions",
    "marginal_loglike",
    "topk_accuracy",
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


def sandwich_covariance(
    hessian: np.ndarray, scores: np.ndarray, groups: np.ndarray, cov_type: str
) -> np.ndarray:
    """Covariance of ML estimates: inverse information or a (clustered) sandwich.

    Parameters
    ----------
    hessian : ndarray (k, k)
        Hessian of the log-likelihood at the estimate.
    scores : ndarray (n, k)
        Per-observation scores at the estimate.
    groups : ndarray (n,)
        Cluster labels (persons), used by ``"cluster"``.
    cov_type : {"nonrobust", "HC0", "cluster"}
        ``"cluster"`` sums scores within clusters and applies the small-sample factor
        G / (G - 1), as Stata's ``vce(cluster)`` does for ML models.
    """
    bread = np.linalg.inv(-hessian)
    if cov_type == "nonrobust":
        return bread
    if cov_type == "HC0":
        return bread @ (scores.T @ scores) @ bread
    if cov_type != "cluster":
        raise ValueError(f"cov_type must be 'nonrobust', 'HC0' or 'cluster', got {cov_type!r}")
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(codes.max()) + 1
    sums = np.zeros((n_groups, scores.shape[1]))
    np.add.at(sums, codes, scores)
    factor = n_groups / (n_groups - 1) if n_groups > 1 else 1.0
    return factor * bread @ (sums.T @ sums) @ bread


def topk_accuracy(probs: np.ndarray, observed: np.ndarray, k: int = 1) -> float:
    """Share of rows whose observed column is among the ``k`` most probable (ties count
    against: the observed outcome must beat all but at most ``k - 1`` others strictly)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    p_obs = probs[np.arange(len(observed)), observed]
    return float(np.mean((probs > p_obs[:, None]).sum(axis=1) < k))


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
    """

    name: str
    probabilities: pd.DataFrame
    observed: pd.Series
    k_params: int

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
        """Sum of the per-transition log-likelihoods."""
        return float(self.loglikeobs.sum())

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


class TransitionResults:
    """Mixin giving fitted transition models the common results protocol.

    A subclass sets ``name``, ``panel`` (the estimation sample), ``taxonomy`` and
    ``k_params``, and implements :meth:`_predict_proba` for any panel coded in that
    taxonomy. Everything else (``predict``, ``evaluate``, ``llf``, ``aic``, ...) follows.
    """

    name: str
    panel: CareerPanel
    taxonomy: Taxonomy
    k_params: int

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
