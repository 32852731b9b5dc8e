"""Multinomial logit of the next occupation on career features, built on statsmodels' MNLogit."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular
from statsmodels.discrete.discrete_model import MNLogit
from statsmodels.iolib.summary2 import Summary as Summary2
from statsmodels.tools.sm_exceptions import (
    CollinearityWarning,
    ConvergenceWarning,
    HessianInversionWarning,
)

from ..panel import CareerPanel, PanelError
from .base import TransitionResults

__all__ = [
    "FEATURE_GROUPS",
    "TransitionMNLogit",
    "TransitionMNLogitResults",
]

#: The feature groups of :class:`TransitionMNLogit`, in design order; ``"career"`` is all of
#: them (those the panel can provide).
FEATURE_GROUPS: dict[str, str] = {
    "prev_occupation": "dummies of the previous occupation (one dropped)",
    "prev2_occupation": "dummies of the occupation before the previous one, with 'none' for a "
    "person's second wave (one code dropped)",
    "tenure": "years in the current occupation",
    "experience": "years observed so far",
    "gap": "years since the previous wave",
    "year": "calendar year (the panel's time variable)",
    "birth_year": "the declared birth year",
    "static": "the declared static covariates",
    "varying": "the declared varying covariates, at the previous wave (known at prediction)",
}

_NONE = "none"

#: A dense Hessian is formed only below both limits (memory, and about n * k**2 operations).
_MAX_HESSIAN_BYTES = 256 * 2**20
_MAX_HESSIAN_WORK = 1e11
_DEFAULT_MAXITER = {"newton": 35, "bfgs": 2000, "lbfgs": 2000}
_FALLBACKS = ("bfgs", "lbfgs")
#: Largest number of coefficients printed by ``summary()`` when no standard errors exist.
_MAX_PRINTED_PARAMS = 2000


# -- features ---------------------------------------------------------------------------------
def _resolve_features(panel: CareerPanel, features: str | Sequence[str]) -> tuple[str, ...]:
    """Expand ``features`` into an ordered tuple of groups and covariate names."""
    declared = {
        "birth_year": (panel.birth_year,) if panel.birth_year else (),
        "static": panel.static,
        "varying": panel.varying,
    }
    if isinstance(features, str):
        if features != "career":
            raise ValueError(
                f"features must be 'career' or a list of feature names, got {features!r}"
            )
        return tuple(g for g in FEATURE_GROUPS if g not in declared or declared[g])
    names = list(features)
    if not names:
        raise ValueError("features is empty; pass 'career' or at least one feature name")
    allowed = list(FEATURE_GROUPS) + list(panel.covariates)
    unknown = [f for f in names if f not in allowed]
    if unknown:
        raise ValueError(
            f"unknown feature(s) {unknown}; choose among the groups {list(FEATURE_GROUPS)} "
            f"and the panel's covariates {list(panel.covariates)}"
        )
    empty = [g for g in names if g in declared and not declared[g]]
    if empty:
        raise ValueError(f"the panel declares no {' / '.join(empty)} covariates")
    if len(set(names)) != len(names):
        raise ValueError(f"features lists a name twice: {names}")
    return tuple(names)


_CAREER = ("prev_occupation", "prev2_occupation", "tenure", "experience", "gap", "year")


def _sources(panel: CareerPanel, features: tuple[str, ...]) -> tuple[str, ...]:
    """The raw columns behind ``features``: career features and concrete covariate names."""
    groups = {
        "birth_year": (panel.birth_year,) if panel.birth_year else (),
        "static": panel.static,
        "varying": panel.varying,
    }
    out: list[str] = []
    for name in features:
        for src in groups.get(name, (name,)):
            if src not in out:
                out.append(src)
    clash = [c for c in panel.covariates if c in _CAREER and c in out]
    if clash:
        raise ValueError(
            f"covariate(s) {clash} have the name of a career feature; rename the column(s)"
        )
    return tuple(out)


def _career_frame(panel: CareerPanel, sources: tuple[str, ...]) -> pd.DataFrame:
    """Raw (unscaled, undummied) feature values, one row per transition of ``panel``.

    Raises
    ------
    PanelError
        If ``panel`` does not declare a covariate among ``sources``.
    """
    missing = [c for c in sources if c not in _CAREER and c not in panel.covariates]
    if missing:
        raise PanelError(
            f"the model uses covariate(s) {missing}, which the panel does not declare "
            f"(its covariates: {list(panel.covariates)}); declare them as in the estimation "
            "panel"
        )
    full = panel.transitions(include_first=True)
    ids = full.index.get_level_values(0).to_numpy()
    t = full.index.get_level_values(1).to_numpy().astype(np.int64)
    occ = full["occupation"].to_numpy(dtype=object)
    n = len(full)
    same1 = np.zeros(n, dtype=bool)  # row i-1 is the same person
    same1[1:] = ids[1:] == ids[:-1]
    same2 = np.zeros(n, dtype=bool)  # row i-2 is the same person
    same2[2:] = ids[2:] == ids[:-2]
    # spells: runs of consecutive observed waves of one person with the same code
    new_spell = ~same1
    new_spell[1:] |= occ[1:] != occ[:-1]
    spell_start = t[np.maximum.accumulate(np.where(new_spell, np.arange(n), 0))]
    first_time = t[np.maximum.accumulate(np.where(~same1, np.arange(n), 0))]
    idx = np.flatnonzero(same1)
    out = pd.DataFrame(index=full.index[same1])
    for name in sources:
        if name == "prev_occupation":
            out[name] = occ[idx - 1]
        elif name == "prev2_occupation":
            prev2 = np.full(len(idx), _NONE, dtype=object)
            has2 = same2[idx]
            prev2[has2] = occ[idx[has2] - 2]
            out[name] = prev2
        elif name == "tenure":
            out[name] = (t[idx - 1] - spell_start[idx - 1]).astype(float)
        elif name == "experience":
            out[name] = (t[idx - 1] - first_time[idx]).astype(float)
        elif name == "gap":
            out[name] = (t[idx] - t[idx - 1]).astype(float)
        elif name == "year":
            out[name] = t[idx].astype(float)
        else:
            # Covariates at the previous wave: what is known when the transition is predicted
            # (this wave's wage or hours are outcomes of the same year). Static covariates and
            # the birth year are the same at both waves.
            out[name] = full[name].to_numpy()[idx - 1]
    return out


@dataclass(frozen=True)
class _Column:
    """One design column: a constant, a dummy ``source == level``, or a numeric source."""

    name: str
    source: str | None
    level: Any = None
    center: float = 0.0
    scale: float = 1.0
    standardized: bool = False


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _levels(values: pd.Series) -> list[Any]:
    """Observed levels of a categorical source, in category or sorted order."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    return sorted(pd.unique(values.dropna()).tolist(), key=lambda v: (str(type(v)), v))


def _learn_columns(raw: pd.DataFrame, panel: CareerPanel) -> list[_Column]:
    """The design columns, in order, learned from the estimation sample's raw features."""
    cols = [_Column("const", None)]
    codes = list(panel.taxonomy.codes)
    for source in raw.columns:
        values = raw[source]
        if source in ("prev_occupation", "prev2_occupation"):
            present = set(values.tolist())
            observed = [c for c in codes if c in present]
            label = "prev" if source == "prev_occupation" else "prev2"
            if source == "prev2_occupation" and _NONE in present:
                cols.append(_Column(f"{label}={_NONE}", source, _NONE))
            cols += [_Column(f"{label}={c}", source, c) for c in observed[1:]]
        elif source in _CAREER or _is_numeric(values):
            x = values.to_numpy(dtype=float)
            if source not in _CAREER and np.isin(x, (0.0, 1.0)).all():
                cols.append(_Column(source, source))
                continue
            sd = float(x.std())
            scale = sd if sd > 0 else 1.0  # a constant column is omitted as such later
            cols.append(_Column(source, source, None, float(x.mean()), scale, True))
        else:
            cols += [_Column(f"{source}={lv}", source, lv) for lv in _levels(values)[1:]]
    return cols


def _design_matrix(raw: pd.DataFrame, columns: Sequence[_Column]) -> np.ndarray:
    out = np.empty((len(raw), len(columns)))
    for j, col in enumerate(columns):
        if col.source is None:
            out[:, j] = 1.0
        elif col.level is not None:
            out[:, j] = raw[col.source].to_numpy(dtype=object) == col.level
        else:
            out[:, j] = (raw[col.source].to_numpy(dtype=float) - col.center) / col.scale
    return out


def _independent_columns(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Mask of the columns kept by a greedy left-to-right rank check (Stata's rule: a column
    collinear with earlier ones is omitted).  Works on the Gram matrix by an incremental
    Cholesky factorization, so it costs ``n p**2 + p**3``."""
    gram = x.T @ x / len(x)
    p = gram.shape[0]
    keep = np.zeros(p, dtype=bool)
    chol = np.zeros((p, p))
    kept: list[int] = []
    for j in range(p):
        g = gram[j, j]
        if kept:
            v = solve_triangular(chol[: len(kept), : len(kept)], gram[kept, j], lower=True)
            r = g - v @ v
        else:
            v, r = np.empty(0), g
        if g <= 0 or r <= tol * g:
            continue
        m = len(kept)
        chol[m, :m] = v
        chol[m, m] = np.sqrt(r)
        kept.append(j)
        keep[j] = True
    return keep


class _CareerDesign:
    """Learns the design on the estimation panel and computes it identically for any panel."""

    def __init__(self, panel: CareerPanel, features: tuple[str, ...]) -> None:
        self.sources = _sources(panel, features)
        raw = _career_frame(panel, self.sources)
        columns = _learn_columns(raw, panel)
        x = _design_matrix(raw, columns)
        keep = _independent_columns(x)
        self.dropped = {
            col.name: (
                "constant in the estimation sample"
                if np.ptp(x[:, j]) == 0
                else "collinear with the columns before it"
            )
            for j, col in enumerate(columns)
            if not keep[j]
        }
        self.columns = [c for c, k in zip(columns, keep, strict=True) if k]
        self.matrix = x[:, keep]
        self.index = raw.index

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def scaling(self) -> pd.DataFrame:
        rows = [(c.name, c.center, c.scale) for c in self.columns if c.standardized]
        return pd.DataFrame(rows, columns=["feature", "mean", "sd"]).set_index("feature")

    def transform(self, panel: CareerPanel) -> np.ndarray:
        return _design_matrix(_career_frame(panel, self.sources), self.columns)


# -- statsmodels model --------------------------------------------------------------------------
class _StableMNLogit(MNLogit):
    """statsmodels' MNLogit with a log-sum-exp likelihood.

    Same estimator, parameters and results classes; only the arithmetic differs:
    probabilities never overflow (statsmodels exponentiates raw linear predictors), the
    log-likelihood and score cost one pass over the ``n x J`` linear predictor and share
    it (BFGS asks for both at the same point).
    """

    def __init__(self, endog: Any, exog: Any, **kwargs: Any) -> None:
        super().__init__(endog, exog, **kwargs)
        self._choice = np.asarray(self.wendog).argmax(axis=1)
        self._cached: tuple[bytes, float, np.ndarray] | None = None

    def _shifted(self, params: np.ndarray) -> np.ndarray:
        """Linear predictors with the base outcome's zero column, minus each row's maximum."""
        full = np.zeros((self.exog.shape[0], int(self.J)))
        full[:, 1:] = self.exog @ np.asarray(params).reshape(self.K, -1, order="F")
        full -= full.max(axis=1, keepdims=True)
        return full

    def _log_softmax(self, params: np.ndarray) -> np.ndarray:
        full = self._shifted(params)
        full -= np.log(np.exp(full).sum(axis=1, keepdims=True))
        return full

    def cdf(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (statsmodels' signature)
        full = np.column_stack((np.zeros(len(X)), X))
        full -= full.max(axis=1, keepdims=True)
        np.exp(full, out=full)
        full /= full.sum(axis=1, keepdims=True)
        return full

    def loglike_and_score(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.asarray(params, dtype=float)
        key = params.tobytes()
        if self._cached is None or self._cached[0] != key:
            full = self._shifted(params)
            rows = np.arange(len(full))
            chosen = full[rows, self._choice]
            np.exp(full, out=full)
            total = full.sum(axis=1)
            llf = float((chosen - np.log(total)).sum())
            resid = full[:, 1:]
            resid /= -total[:, None]
            other = self._choice > 0
            resid[rows[other], self._choice[other] - 1] += 1.0
            self._cached = (key, llf, (resid.T @ self.exog).ravel())
        return self._cached[1], self._cached[2].copy()

    def loglike(self, params: np.ndarray) -> float:
        return self.loglike_and_score(params)[0]

    def score(self, params: np.ndarray) -> np.ndarray:
        return self.loglike_and_score(params)[1]

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        return self.wendog * self._log_softmax(params)


def _steps(retvals: dict[str, Any] | None) -> str:
    """How long an optimizer ran, from statsmodels' ``mle_retvals``."""
    retvals = retvals or {}
    if "iterations" in retvals:
        return f"{retvals['iterations']} iterations"
    return f"{retvals.get('gcalls', '?')} score evaluations"


# statsmodels prints the model class's name in summaries; the estimator is MNLogit's.
_StableMNLogit.__name__ = "MNLogit"


# -- model --------------------------------------------------------------------------------------
class TransitionMNLogit:
    """Multinomial logit of the next occupation on the career so far (statsmodels ``MNLogit``).

    Parameters
    ----------
    panel : CareerPanel
        The estimation sample; one observation per transition.
    features : "career" or list of str, default "career"
        ``"career"`` uses every group of :data:`FEATURE_GROUPS` the panel can provide. A
        list selects groups and/or individual declared covariates by name, in design
        order of the list:

        ``prev_occupation``
            dummies of the previous occupation; the first code (taxonomy order) seen as
            a previous occupation in the estimation sample is the reference.
        ``prev2_occupation``
            dummies of the occupation at the wave before the previous one, plus a
            ``prev2=none`` dummy for a person's second wave; the first observed code is the
            reference.
        ``tenure``
            years in the current occupation: the previous wave's time minus the first
            wave of the run of consecutive observed waves with the previous wave's code
            (0 when the code was new at the previous wave).
        ``experience``
            years observed so far: the previous wave's time minus the person's first wave.
        ``gap``
            years since the previous wave.
        ``year``
            calendar year (the panel's time variable) of the transition.
        ``birth_year``, ``static``, ``varying``
            the declared covariates, varying ones at the previous observed wave (known when
            the transition is predicted; this wave's wage or hours are outcomes of the same
            year). Numeric and boolean columns enter as they are when
            they only take the values 0/1, standardized otherwise; other dtypes (object,
            string, category) become dummies of their levels, the first level dropped.
    floor : float, optional
        Weight of the uniform distribution mixed into the predictions (see Notes);
        default ``K / (n + K)`` with ``n`` the number of transitions. Must be in (0, 1).

    Notes
    -----
    **Design.** Numeric features (the career durations, the year and non-binary numeric
    covariates) are standardized with the estimation sample's mean and standard deviation
    (see :attr:`scaling`), so their coefficients are per standard deviation; this keeps
    the quasi-Newton fits well conditioned (with raw years, hours or wages, statsmodels'
    BFGS overflows). Columns that are constant or exactly collinear with earlier columns
    in the estimation sample are omitted (as Stata does) with a ``CollinearityWarning``
    and listed in :attr:`dropped`: on a balanced panel such as the wage panel, ``gap`` is
    constant and ``year`` equals ``experience`` plus a constant. Any panel's design is
    computed with the estimation sample's columns, references and scaling: a previous
    occupation (or covariate level) not seen in the estimation sample gets all its dummies
    zero, i.e. is treated as the reference category.

    **No zero probabilities.** MNLogit can only estimate outcomes it observes: it is fit
    on the ``J`` codes observed in the estimation sample (the first, in taxonomy order, is
    the base outcome). Predictions are then mixed with the uniform distribution over all
    ``K`` taxonomy codes, as add-one smoothing would::

        p = (1 - floor) * p_mnl + floor / K,    floor = K / (n + K) by default

    so a code absent from the estimation sample gets probability ``floor / K`` (by
    default ``1 / (n + K)``, what :class:`~labor_econ.models.markov.MarginalModel` gives
    it), never zero. The floor also makes held-out log-likelihoods well defined under
    quasi-separation: with an empty cell of the previous-by-next occupation table (the
    wage panel has several) the maximum-likelihood coefficients diverge, the fitted
    ``p_mnl`` of that cell goes to zero as the optimizer iterates, and without the floor
    held-out perplexity would depend on where the optimizer stopped. The MNLogit part
    is the exact statsmodels estimate: ``results.model_results.llf`` is its
    log-likelihood; ``results.llf`` is that of the reported (floored) probabilities.

    See Also
    --------
    TransitionMNLogit.fit
    labor_econ.models.markov.MarkovTransitionModel

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = TransitionMNLogit(wage_panel(), features=["prev_occupation", "static"]).fit()
    >>> res.params.shape
    (12, 8)
    """

    def __init__(
        self,
        panel: CareerPanel,
        *,
        features: str | Sequence[str] = "career",
        floor: float | None = None,
    ) -> None:
        if not isinstance(panel, CareerPanel):
            raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
        if panel.n_transitions == 0:
            raise ValueError("the panel has no transitions (every person has a single wave)")
        self.panel = panel
        self.taxonomy = panel.taxonomy
        k = len(panel.taxonomy)
        self.floor = k / (panel.n_transitions + k) if floor is None else float(floor)
        if not 0 < self.floor < 1:
            raise ValueError(
                f"floor must be in (0, 1), got {floor}: MNLogit gives no probability to codes "
                "absent from the estimation sample, and zero probabilities are not allowed"
            )
        self.features = _resolve_features(panel, features)
        self._design = _CareerDesign(panel, self.features)
        if self._design.dropped:
            listed = "; ".join(f"{k} ({v})" for k, v in self._design.dropped.items())
            warnings.warn(f"MNLogit design: omitted {listed}", CollinearityWarning, stacklevel=2)
        outcomes = self.taxonomy.positions(panel.transitions()["occupation"])
        present = np.bincount(outcomes, minlength=len(self.taxonomy)) > 0
        if present.sum() < 2:
            raise ValueError("the estimation sample has a single outcome code; nothing to model")
        #: Taxonomy positions of the outcome codes observed in the estimation sample.
        self._observed = np.flatnonzero(present)
        codes = list(self.taxonomy.codes)
        self.observed_codes = [codes[i] for i in self._observed]
        self.unseen_codes = [codes[i] for i in np.flatnonzero(~present)]
        self.exog = pd.DataFrame(self._design.matrix, index=self._design.index, columns=self.names)
        ordinal = np.searchsorted(self._observed, outcomes)
        self.endog = pd.Series(
            pd.Categorical.from_codes(ordinal, categories=self.observed_codes),
            index=self._design.index,
            name="occupation",
        )
        self._sm_model = _StableMNLogit(self.endog, self.exog)

    @property
    def names(self) -> list[str]:
        """Names of the design columns (``const`` first)."""
        return self._design.names

    @property
    def dropped(self) -> dict[str, str]:
        """Design columns omitted as constant or collinear, with the reason."""
        return dict(self._design.dropped)

    @property
    def scaling(self) -> pd.DataFrame:
        """Mean and standard deviation used to standardize each numeric feature."""
        return self._design.scaling

    @property
    def k_params(self) -> int:
        """Number of coefficients: design columns times (observed outcomes - 1)."""
        return len(self.names) * (len(self._observed) - 1)

    def design(self, panel: CareerPanel | None = None) -> pd.DataFrame:
        """The design matrix of ``panel``'s transitions, aligned to the estimation design.

        Parameters
        ----------
        panel : CareerPanel, optional
            Default the estimation sample.

        Returns
        -------
        pandas.DataFrame
            Rows (id, time) as in ``panel.transitions()``, columns :attr:`names`.
        """
        if panel is None:
            return self.exog.copy()
        x = self._design.transform(panel)
        return pd.DataFrame(x, index=panel.transitions().index, columns=self.names)

    def _hessian_ok(self) -> bool:
        k = self.k_params
        return 8.0 * k * k <= _MAX_HESSIAN_BYTES and len(self.exog) * k * k <= _MAX_HESSIAN_WORK

    def _start_params(self) -> np.ndarray:
        """Zero slopes and intercepts at the log odds of the observed outcome shares."""
        start = np.zeros((len(self.names), len(self._observed) - 1))
        shares = np.bincount(self.endog.cat.codes, minlength=len(self._observed))
        start[0] = np.log(shares[1:] / shares[0])
        return start.ravel(order="F")

    def fit(
        self,
        method: str | None = None,
        maxiter: int | None = None,
        *,
        hessian: bool | Literal["auto"] = "auto",
        start_params: np.ndarray | None = None,
        disp: bool = False,
        **kwargs: Any,
    ) -> TransitionMNLogitResults:
        """Fit by maximum likelihood, falling back to other optimizers when one fails.

        The optimizers are tried in turn: the requested ``method`` (default Newton), then
        ``"bfgs"``, then ``"lbfgs"``. An attempt fails when it raises a linear-algebra
        error or ends with a non-finite log-likelihood or parameters, which statsmodels
        may report as converged (see Warns); each fallback is announced by a warning and
        recorded in ``results.fit_history``. If every attempt fails, an error is raised.

        Parameters
        ----------
        method : str, optional
            A statsmodels optimizer (``"newton"``, ``"bfgs"``, ``"lbfgs"``, ...). Default:
            ``"newton"`` when the dense Hessian is affordable, else ``"lbfgs"``.
        maxiter : int, optional
            Iteration limit of each attempt; default 35 for Newton (as statsmodels), 2000
            for BFGS and L-BFGS.
        hessian : bool or "auto"
            Whether to form the dense ``k x k`` Hessian (``k`` = :attr:`k_params`) for
            Newton steps and standard errors. ``"auto"`` does so when it takes at most
            256 MiB and about ``nobs * k**2 <= 1e11`` operations; otherwise the model is
            fit by L-BFGS with the analytic score, ``skip_hessian=True``, and no standard
            errors (a warning and the summary say so).
        start_params : ndarray, optional
            Default: zero slopes, intercepts at the log odds of the outcome shares.
        disp : bool
            Print the optimizer's messages.
        **kwargs
            Passed to ``statsmodels`` ``MNLogit.fit`` (e.g. ``gtol`` for BFGS, default
            ``1e-6`` here rather than statsmodels' ``1e-5`` so that fits agree to about
            ``1e-8`` in log-likelihood; ``pgtol`` or ``factr`` for L-BFGS, which is given
            the joint log-likelihood-and-score function).

        Returns
        -------
        TransitionMNLogitResults

        Raises
        ------
        RuntimeError
            If every optimizer tried fails (non-finite log-likelihood or parameters).

        Warns
        -----
        statsmodels.tools.sm_exceptions.ConvergenceWarning
            When an optimizer fails and the next one is tried, and when the kept fit has
            not converged (``mle_retvals["converged"]`` False). On the wage panel Newton
            always fails: empty cells of the previous-by-next occupation table send
            coefficients towards minus infinity, the Newton steps explode and the Hessian
            becomes singular; plain statsmodels then returns NaN parameters and
            log-likelihood flagged ``converged=True`` after 4 iterations.
        statsmodels.tools.sm_exceptions.HessianInversionWarning
            When the Hessian at the estimate cannot be inverted (no standard errors).
        UserWarning
            When the Hessian is skipped for size.
        """
        use_hessian = self._hessian_ok() if hessian == "auto" else bool(hessian)
        k = self.k_params
        size = (
            f"{k} x {k} Hessian ({8 * k * k / 2**20:,.0f} MiB, about "
            f"{len(self.exog) * k * k:.1g} operations to form)"
        )
        if method is None:
            chain = ["newton", *_FALLBACKS] if use_hessian else ["lbfgs"]
        else:
            if method in ("newton", "ncg") and not use_hessian:
                raise ValueError(
                    f"method={method!r} needs the dense {size}; "
                    "use method='lbfgs' or pass hessian=True"
                )
            chain = [method, *(m for m in _FALLBACKS if m != method)]
            if method in _FALLBACKS:
                chain = list(_FALLBACKS[_FALLBACKS.index(method) :])
        if not use_hessian:
            warnings.warn(
                f"MNLogit with {k} coefficients: the {size} is not formed; fitting by "
                "L-BFGS with the analytic score, without standard errors (bse are NaN). "
                "Pass hessian=True to force it.",
                UserWarning,
                stacklevel=2,
            )
        start = self._start_params() if start_params is None else np.asarray(start_params)
        history: list[str] = []
        for attempt, name in enumerate(chain):
            res, problem, caught = self._attempt(
                name, maxiter, use_hessian, start, disp, dict(kwargs)
            )
            if problem is None:
                break
            history.append(f"{name}: {problem}")
            nxt = chain[attempt + 1] if attempt + 1 < len(chain) else None
            if nxt is not None:
                warnings.warn(
                    f"MNLogit fit with method={name!r} failed: {problem}; "
                    f"refitting with method={nxt!r}",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        else:
            raise RuntimeError(
                "MNLogit could not be fit: " + "; ".join(history) + ". Check the design "
                "(model.exog) for extreme values or use fewer features."
            )
        retvals = res.mle_retvals
        converged = bool(retvals.get("converged", False))
        iterations = _steps(retvals)
        history.append(
            f"{name}: {'converged' if converged else 'NOT converged'} after {iterations}"
        )
        cov_note = None if use_hessian else f"the {size} was not formed"
        if use_hessian and any(issubclass(w.category, HessianInversionWarning) for w in caught):
            cov_note = (
                "the Hessian at the estimate is not negative definite (often quasi-separation: "
                "an outcome never observed with some level of a dummy, whose coefficient "
                "diverges)"
            )
            warnings.warn(
                f"MNLogit: {cov_note}; no standard errors", HessianInversionWarning, stacklevel=2
            )
        if not converged:
            warnings.warn(
                f"MNLogit fit with method={name!r} did not converge after {iterations} "
                "(mle_retvals['converged'] is False); increase maxiter, or look for "
                "quasi-separation (an outcome never seen with some dummy's level: its "
                "coefficient diverges)",
                ConvergenceWarning,
                stacklevel=2,
            )
        return TransitionMNLogitResults(self, res, name, converged, tuple(history), cov_note)

    def _attempt(
        self,
        method: str,
        maxiter: int | None,
        use_hessian: bool,
        start: np.ndarray,
        disp: bool,
        kwargs: dict[str, Any],
    ) -> tuple[Any, str | None, list[warnings.WarningMessage]]:
        """One optimizer run; returns (results, problem or None, warnings raised)."""
        model = self._sm_model
        n = len(self.exog)
        if method == "bfgs":
            kwargs.setdefault("gtol", 1e-6)
        if method == "lbfgs":
            kwargs.setdefault(
                "loglike_and_score", lambda p: tuple(v / n for v in model.loglike_and_score(p))
            )
        iters = maxiter if maxiter is not None else _DEFAULT_MAXITER.get(method, 2000)
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            try:
                res = model.fit(
                    start_params=start,
                    method=method,
                    maxiter=iters,
                    disp=disp,
                    skip_hessian=not use_hessian,
                    warn_convergence=False,
                    **kwargs,
                )
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                return None, f"{type(exc).__name__}: {exc}", list(caught)
        params = np.asarray(res.params)
        if not np.isfinite(res.llf) or not np.isfinite(params).all():
            retvals = res.mle_retvals or {}
            flagged = (
                " although statsmodels reports converged=True" if retvals.get("converged") else ""
            )
            what = "log-likelihood" if not np.isfinite(res.llf) else "parameters"
            return (
                None,
                f"non-finite {what} after {_steps(retvals)}{flagged}",
                list(caught),
            )
        return res, None, list(caught)


# -- results ------------------------------------------------------------------------------------
def _label(code: Any, title: str, width: int = 32) -> str:
    text = f"{code} {title}" if str(code) != title else str(code)
    return text if len(text) <= width else text[: width - 3] + "..."


class TransitionMNLogitResults(TransitionResults):
    """Results of :class:`TransitionMNLogit`: the common protocol plus statsmodels' results.

    Attributes
    ----------
    model : TransitionMNLogit
    model_results : statsmodels MultinomialResultsWrapper
        The statsmodels results (parameters of the standardized design, positional
        outcome labels).
    method : str
        The optimizer whose fit was kept.
    converged : bool
    fit_history : tuple of str
        One line per optimizer tried.
    k_params : int
        Design columns times (observed outcome codes - 1).
    floor : float
        Weight of the uniform distribution in the reported probabilities.
    cov_note : str or None
        Why there are no standard errors, if there are none.
    """

    name = "MNLogit"

    def __init__(
        self,
        model: TransitionMNLogit,
        sm_results: Any,
        method: str,
        converged: bool,
        history: tuple[str, ...],
        cov_note: str | None = None,
    ) -> None:
        self.model = model
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.model_results = sm_results
        self.method = method
        self.converged = converged
        self.fit_history = history
        self.k_params = model.k_params
        self.floor = model.floor
        self.cov_note = cov_note
        self._coef = np.asarray(sm_results.params)

    @property
    def params(self) -> pd.DataFrame:
        """Coefficients: rows design columns, columns the non-base outcome codes."""
        return pd.DataFrame(
            self._coef,
            index=pd.Index(self.model.names, name="feature"),
            columns=pd.Index(self.model.observed_codes[1:], name="occupation"),
        )

    @property
    def cov_params_available(self) -> bool:
        """Whether standard errors exist (see ``hessian`` in :meth:`TransitionMNLogit.fit`)."""
        return self.model_results._results.normalized_cov_params is not None

    @property
    def bse(self) -> pd.DataFrame:
        """Standard errors shaped like :attr:`params` (NaN without a Hessian)."""
        if self.cov_params_available:
            values = np.asarray(self.model_results.bse)
        else:
            values = np.full_like(self._coef, np.nan)
        return pd.DataFrame(values, index=self.params.index, columns=self.params.columns)

    @property
    def df_model(self) -> int:
        """Coefficients beyond the outcome intercepts."""
        return self.k_params - (len(self.model.observed_codes) - 1)

    @property
    def base_outcome(self) -> Any:
        """The outcome code whose coefficients are normalized to zero."""
        return self.model.observed_codes[0]

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        x = self.model._design.transform(panel)
        observed = self.model._sm_model.cdf(x @ self._coef)
        probs = np.zeros((len(x), len(self.taxonomy)))
        probs[:, self.model._observed] = observed
        return (1.0 - self.floor) * probs + self.floor / len(self.taxonomy)

    def _notes(self) -> list[str]:
        model = self.model
        notes = [f"Features: {', '.join(model.features)}. Fit: {'; '.join(self.fit_history)}."]
        if len(model.scaling):
            notes.append(
                "Standardized with the estimation sample's mean and SD: "
                + ", ".join(model.scaling.index)
                + "."
            )
        if model.dropped:
            notes.append(
                "Omitted: " + "; ".join(f"{k} ({v})" for k, v in model.dropped.items()) + "."
            )
        base = self.base_outcome
        notes.append(f"Base outcome: {_label(base, self.taxonomy.title(base), 60)}.")
        if model.unseen_codes:
            notes.append(
                f"Codes absent from the estimation sample ({len(model.unseen_codes)}): "
                f"{model.unseen_codes[:10]}{' ...' if len(model.unseen_codes) > 10 else ''}."
            )
        notes.append(
            f"Reported probabilities: (1 - {self.floor:.3g}) x MNLogit + {self.floor:.3g} x "
            f"uniform over the {len(self.taxonomy)} codes (log-likelihood {self.llf:.2f}; "
            f"the MNLogit part's is {self.model_results.llf:.2f})."
        )
        if not self.cov_params_available:
            notes.append(f"No standard errors: {self.cov_note or 'no covariance'}.")
        return notes

    def summary(self, alpha: float = 0.05) -> Any:
        """statsmodels' MNLogit summary with outcome equations labelled by code and title.

        Parameters
        ----------
        alpha : float
            Significance level of the confidence intervals.

        Returns
        -------
        statsmodels.iolib.summary.Summary or statsmodels.iolib.summary2.Summary
            The statsmodels summary when standard errors exist; otherwise a summary of
            the fit statistics and coefficients (no standard errors). Both render with
            ``as_text()``, ``as_html()``, ``as_latex()``.
        """
        codes = self.model.observed_codes
        labels = [_label(c, self.taxonomy.title(c)) for c in codes[1:]]
        if self.cov_params_available:
            smry = self.model_results.summary(
                yname="occupation",
                yname_list=labels,
                title="Multinomial logit of the next occupation",
                alpha=alpha,
            )
            smry.add_extra_txt(self._notes())
            return smry
        smry = Summary2()
        smry.add_title("Multinomial logit of the next occupation (no standard errors)")
        smry.add_dict(
            {
                "Model:": "MNLogit",
                "Taxonomy:": f"{self.taxonomy.name} ({len(self.taxonomy)} codes)",
                "No. transitions:": str(self.nobs),
                "Outcomes estimated:": str(len(codes)),
                "Parameters:": str(self.k_params),
                "Method:": self.method,
                "Converged:": str(self.converged),
                "Log-likelihood:": f"{self.llf:.4f}",
                "LL-Null:": f"{self.llnull:.4f}",
                "Pseudo R-squ.:": f"{self.prsquared:.4f}",
            }
        )
        if self._coef.size <= _MAX_PRINTED_PARAMS:
            table = self.params.map(lambda v: f"{v:.4f}")
            table.columns = labels
            smry.add_df(table)
        else:
            smry.add_text(f"{self._coef.size} coefficients: see .params.")
        for note in self._notes():
            smry.add_text(note)
        return smry

    def __repr__(self) -> str:
        return (
            f"<TransitionMNLogitResults: {len(self.model.names)} features x "
            f"{len(self.model.observed_codes) - 1} outcomes, N={self.nobs}, "
            f"llf={self.llf:.2f}, method={self.method!r}, converged={self.converged}>"
        )
