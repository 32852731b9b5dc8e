"""Log-linear pooling of fitted transition models, with weights estimated by maximum likelihood."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from types import SimpleNamespace
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import log_softmax
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from ..panel import CareerPanel, PanelError
from .base import (
    TransitionResults,
    WaldInference,
    check_alpha,
    check_cov_type,
    check_taxonomy,
    cov_type_label,
)
from .clogit import ConditionalLogit
from .inference import TestResult, lr_test, wald_result
from .renamed import renamed_getattr
from .render import Summary, header, info_summary

__all__ = ["LogLinearPoolModel", "LogLinearPoolResults", "encompassing_test"]

CovType = Literal["cluster", "HC0", "nonrobust"]
EncompassingMethod = Literal["wald", "lr"]


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
                "MarkovModel(smoothing=1.0))"
            )
        logs.append(np.log(values))
    return np.stack(logs)


class LogLinearPoolModel:
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
    >>> from labor_econ.models.markov import MarginalModel, MarkovModel
    >>> train, val = wage_panel().split(test_size=0.3, seed=0)
    >>> pool = LogLinearPoolModel(
    ...     val,
    ...     {"markov": MarkovModel(train).fit(), "marginal": MarginalModel(train).fit()},
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

    # -- likelihood (the shared conditional logit, features the components' log p) ---------
    @cached_property
    def _clogit(self) -> ConditionalLogit:
        return ConditionalLogit(np.moveaxis(self._logs, 0, 2), self._choice, self._groups)

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        """Log-likelihood of each transition at weights ``params``."""
        return self._clogit.loglikeobs(params)

    def loglike(self, params: np.ndarray) -> float:
        """Log-likelihood at weights ``params``."""
        return self._clogit.loglike(params)

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """(n, M) per-transition scores: observed minus expected component log-probability."""
        return self._clogit.score_obs(params)

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the log-likelihood."""
        return self._clogit.score(params)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian: minus the sum over transitions of the covariance, under the pooled
        probabilities, of the components' log-probabilities."""
        return self._clogit.hessian(params)

    # -- estimation -------------------------------------------------------------------------
    def fit(
        self,
        *,
        cov_type: CovType = "cluster",
        start_params: np.ndarray | None = None,
        maxiter: int = 100,
        tol: float = 1e-10,
    ) -> LogLinearPoolResults:
        """Estimate the weights by maximum likelihood (trust-region Newton).

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
            Iterations of :func:`scipy.optimize.minimize` (``method="trust-exact"``, the
            analytic score and Hessian of
            :class:`~labor_econ.models.clogit.ConditionalLogit`).
        tol : float
            Tolerance on the largest mean score per transition.

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
            When the optimizer stops before the score vanishes.
        """
        check_cov_type(cov_type)
        m = len(self.names)
        w = np.full(m, 1.0 / m) if start_params is None else np.asarray(start_params, float)
        if w.shape != (m,):
            raise ValueError(f"start_params must have {m} entries, got shape {w.shape}")
        self._check_identified(w)
        opt = self._clogit.fit(w, maxiter=maxiter, gtol=tol)
        if not opt.converged:
            warnings.warn(
                f"LogLinearPoolModel: the optimizer did not converge in {opt.iterations} "
                "iterations "
                f"({opt.message}; largest mean score {opt.max_mean_score:.3g}): a weight may "
                "be diverging (one component nearly determines the outcome)",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._check_identified(opt.params)
        cov = self._clogit.covariance(opt.params, cov_type)
        return LogLinearPoolResults(self, opt.params, cov, cov_type, opt.converged, opt.iterations)

    def _check_identified(self, params: np.ndarray) -> None:
        hess = self.hessian(params)
        if not np.isfinite(hess).all() or np.linalg.cond(hess) > 1e12:
            raise ValueError(
                "the pool's Hessian is singular: the components' log-probabilities are "
                f"collinear on this panel ({self.names}); drop a redundant component"
            )


class LogLinearPoolResults(WaldInference, TransitionResults):
    """Results of :class:`LogLinearPoolModel`.

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
    >>> from labor_econ import LogLinearPoolModel, MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, val = wage_panel().split(test_size=0.3, seed=0)
    >>> components = {"Marginal": MarginalModel(train).fit(),
    ...               "Markov": MarkovModel(train).fit()}
    >>> res = LogLinearPoolModel(val, components).fit()
    >>> list(res.params.index), res.nobs == val.n_transitions
    (['Marginal', 'Markov'], True)
    >>> res.conf_int().columns.tolist()
    [0, 1]
    """

    name = "LogLinearPool"

    def __init__(
        self,
        model: LogLinearPoolModel,
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

    @property
    def _simulation_keys(self) -> tuple[str, ...]:
        """Every state any component reads (``models.simulate``)."""
        keys = {k for res in self.components.values() for k in res._simulation_keys}
        return tuple(k for k in ("person", "occupation", "prev", "tenure", "path") if k in keys)

    def _step_proba(self, states) -> np.ndarray:
        with np.errstate(divide="ignore"):
            logs = np.stack([np.log(r._step_proba(states)) for r in self.components.values()])
        return np.exp(log_softmax(np.tensordot(self.params.to_numpy(), logs, 1), axis=1))

    def encompassing_test(
        self, name: str, *, method: EncompassingMethod | None = None, alpha: float = 0.05
    ) -> TestResult:
        """Test of ``w[name] = 0``: do the other components encompass ``name``?

        See :func:`encompassing_test`, which this calls.
        """
        return encompassing_test(self, name, method=method, alpha=alpha)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Fit statistics and the weights with standard errors.

        Returns
        -------
        labor_econ.models.render.Summary
        """
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
        model = LogLinearPoolModel(panel, dict(zip(state["names"], components, strict=True)))
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


def encompassing_test(
    pool: LogLinearPoolResults,
    name: str,
    *,
    method: EncompassingMethod | None = None,
    alpha: float = 0.05,
) -> TestResult:
    """Test of ``w[name] = 0`` in a log-linear pool: do the other components encompass it?

    Parameters
    ----------
    pool : LogLinearPoolResults
        A fitted log-linear pool.
    name : str
        A component.
    method : {"wald", "lr"}, optional
        ``"wald"``: ``z^2 = (w / se)^2`` with the pool's own covariance (person-clustered
        for the default ``cov_type="cluster"``), chi-squared(1). ``"lr"``: the pool refit
        without ``name`` and compared by :func:`~labor_econ.lr_test`, which treats the
        transitions as independent. Default: ``"wald"`` when the pool was fitted with a
        robust covariance (``"cluster"``, ``"HC0"``), ``"lr"`` when ``"nonrobust"``. A
        person's transitions are dependent, so the LR statistic's chi-squared reference
        overstates the evidence (as Stata refuses ``lrtest`` after ``vce(cluster)``): in the
        Monte Carlo of the test suite (a person-level misspecified pool, dependent
        transitions, 5% nominal, 400 replicates) the LR rejects a true ``w = 0`` in 18.5% of
        the replicates, the clustered Wald test in 5.5%.
    alpha : float
        Level of the conclusion.

    Returns
    -------
    TestResult

    Raises
    ------
    KeyError
        If ``name`` is not a component.
    ValueError
        If the pool has a single component, or ``method`` is unknown.

    Examples
    --------
    >>> from labor_econ import LogLinearPoolModel, MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.diagnostics import encompassing_test
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> components = {"Marginal": MarginalModel(train).fit(), "Markov": MarkovModel(train).fit()}
    >>> pool = LogLinearPoolModel(test, components).fit()
    >>> encompassing_test(pool, "Marginal").conclusion  # clustered Wald test
    "'Marginal' is encompassed by 'Markov' at 5% (cannot reject w = 0)"
    >>> encompassing_test(pool, "Markov").conclusion
    "'Markov' is not encompassed by 'Marginal': w = 0 rejected at 5%"
    """
    alpha = check_alpha(alpha)
    if name not in pool.components:
        raise KeyError(f"{name!r} is not a component; components: {list(pool.components)}")
    if len(pool.components) < 2:
        raise ValueError("an encompassing test needs at least two components")
    if method is None:
        method = "lr" if pool.cov_type == "nonrobust" else "wald"
    if method not in ("wald", "lr"):
        raise ValueError(f"method must be 'wald', 'lr' or None, got {method!r}")
    others = {k: v for k, v in pool.components.items() if k != name}
    rest = ", ".join(repr(k) for k in others)
    null = f"w[{name!r}] = 0: {rest} encompass {name!r}"
    if method == "lr":
        restricted = LogLinearPoolModel(pool.panel, others).fit(cov_type=pool.cov_type)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = lr_test(restricted, pool, alpha=alpha)
        test_name = "Encompassing (LR)"
    else:
        r = (pool.params.index == name).astype(float)[None, :]
        result = wald_result(pool, r, alpha=alpha)
        test_name = f"Encompassing (Wald, {cov_type_label(pool.cov_type, pool.n_persons)})"
    level = f"{alpha:.0%}"
    conclusion = (
        f"{name!r} is not encompassed by {rest}: w = 0 rejected at {level}"
        if result.pvalue < alpha
        else f"{name!r} is encompassed by {rest} at {level} (cannot reject w = 0)"
    )
    return dataclasses.replace(result, name=test_name, null=null, conclusion=conclusion)


#: Old names, importable with a FutureWarning (see :mod:`labor_econ.models.renamed`).
__getattr__ = renamed_getattr(__name__, ("LogLinearPool",))
