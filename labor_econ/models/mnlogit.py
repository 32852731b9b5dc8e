"""Multinomial logit of the next occupation on career features, fit at NLSY scale."""

from __future__ import annotations

import re
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.optimize import minimize
from statsmodels.tools.sm_exceptions import (
    CollinearityWarning,
    ConvergenceWarning,
    PerfectSeparationError,
)

from ..errors import LaborEconError
from ..panel import CareerPanel, PanelError
from .base import (
    TransitionResults,
    WaldInference,
    check_alpha,
    check_cov_type,
    cov_type_label,
    sandwich_covariance,
)
from .design import FEATURE_GROUPS, CareerDesign, DesignMatrix, _design_matrix, resolve_features
from .mnlogit_steps import StepTables, step_proba
from .renamed import renamed_getattr
from .render import Summary

__all__ = [
    "FEATURE_GROUPS",
    "MNLogitModel",
    "MNLogitResults",
    "NoMaximumError",
]

#: A dense Hessian is formed only below both limits (memory, and about n * k**2 operations).
_MAX_HESSIAN_BYTES = 256 * 2**20
_MAX_HESSIAN_WORK = 1e11
_DEFAULT_MAXITER = {"newton": 100, "bfgs": 2000, "lbfgs": 5000}
_METHODS = ("lbfgs", "bfgs", "newton")
#: Largest number of coefficients printed by ``summary()``.
_MAX_PRINTED_PARAMS = 2000
#: Smallest eigenvalue of the information, relative to the largest, for standard errors.
_MIN_CURVATURE = 1e-13
#: Fitted probability below which an allowed (transition, outcome) pair counts as vanishing.
_VANISHING = 1e-8
#: Iterations between two counts of the vanishing pairs during a maximum-likelihood fit.
_CHECK_EVERY = 25


class NoMaximumError(LaborEconError, PerfectSeparationError, ValueError):
    """The maximum likelihood does not exist: coefficients run off to infinity.

    Raised by :meth:`MNLogitModel.fit`; :meth:`MNLogitModel.fit_regularized`
    gives a finite estimate. A ``ValueError`` (bad data for this estimator) and
    statsmodels' ``PerfectSeparationError``.
    """


def _diverging(counts: list[int]) -> bool:
    """Whether the vanishing pairs counted at the last three checks are positive and grew
    at each: fitted probabilities still heading to zero after 50 iterations mean
    coefficients heading to infinity (at a finite maximum they settle)."""
    return len(counts) >= 3 and 0 < counts[-3] < counts[-2] < counts[-1]


def _check_penalty(value: float, name: str) -> float:
    """``value`` as a float if it is finite and >= 0, else a ValueError naming ``name``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


class _Likelihood:
    """The MNLogit log-likelihood on a structured design, with analytic derivatives.

    Parameters are ``(p, J - 1)`` coefficients (outcome 0 is the base), flattened outcome by
    outcome (Fortran order), as statsmodels' ``MNLogit`` does.
    """

    def __init__(
        self, x: DesignMatrix, y: np.ndarray, n_outcomes: int, allowed: np.ndarray | None = None
    ) -> None:
        self.x = x
        self.y = np.asarray(y, dtype=np.intp)
        self.n_outcomes = n_outcomes
        self._rows = np.flatnonzero(self.y > 0)
        self._cols = self.y[self._rows] - 1
        #: ``(n, J)`` outcomes each row can take (None: all); see :func:`_allowed_outcomes`.
        self.allowed = None if allowed is None or allowed.all() else allowed

    @property
    def shape(self) -> tuple[int, int]:
        return (self.x.n_cols, self.n_outcomes - 1)

    def _coef(self, params: np.ndarray) -> np.ndarray:
        return np.asarray(params, dtype=np.float64).reshape(self.shape, order="F")

    def _softmax_parts(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear predictors (``-inf`` where an outcome is not allowed) and normalizers."""
        eta = self.x.dot(self._coef(params))
        base = np.zeros(len(eta))
        if self.allowed is not None:
            eta[~self.allowed[:, 1:]] = -np.inf
            base[~self.allowed[:, 0]] = -np.inf
        # torch's vectorized, multi-threaded log-sum-exp: numpy's exp over the n x J array
        # is most of an evaluation's time (0.32 s against 0.03 s at n = 30,000, J = 389).
        lse = torch.logaddexp(torch.logsumexp(torch.from_numpy(eta), dim=1), torch.from_numpy(base))
        return eta, lse.numpy()

    @staticmethod
    def _softmax(eta: np.ndarray, lse: np.ndarray) -> np.ndarray:
        """``exp(eta - lse[:, None])``, with torch for the same reason."""
        return torch.exp(torch.from_numpy(eta) - torch.from_numpy(lse)[:, None]).numpy()

    def probabilities(self, params: np.ndarray) -> np.ndarray:
        """``(n, J)`` probabilities of the outcomes, base first."""
        eta, lse = self._softmax_parts(params)
        out = np.empty((len(eta), self.n_outcomes))
        out[:, 0] = np.exp(-lse)
        if self.allowed is not None:
            out[~self.allowed[:, 0], 0] = 0.0
        out[:, 1:] = self._softmax(eta, lse)
        return out

    def loglike_and_score(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Log-likelihood and its gradient (flattened like ``params``)."""
        eta, lse = self._softmax_parts(params)
        llf = float(eta[self._rows, self._cols].sum() - lse.sum())
        resid = self._softmax(eta, lse)
        np.negative(resid, out=resid)
        resid[self._rows, self._cols] += 1.0
        return llf, self.x.tdot(resid).ravel(order="F")

    def information_diagonal(self, params: np.ndarray) -> np.ndarray:
        """Diagonal of the information ``-hessian`` (flattened like ``params``)."""
        prob = self.probabilities(params)[:, 1:]
        return self.x.square_tdot(prob * (1.0 - prob)).ravel(order="F")

    def _resid(self, params: np.ndarray) -> np.ndarray:
        resid = -self.probabilities(params)[:, 1:]
        resid[self._rows, self._cols] += 1.0
        return resid

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Dense Hessian: block ``(j, l)`` is ``-X' diag(p_j (1[j = l] - p_l)) X``."""
        prob = self.probabilities(params)[:, 1:]
        p, m = self.shape
        out = np.empty((p * m, p * m))
        for j in range(m):
            for ell in range(j, m):
                w = prob[:, j] * ((j == ell) - prob[:, ell])
                block = -self.x.weighted_gram(w)
                out[j * p : (j + 1) * p, ell * p : (ell + 1) * p] = block
                out[ell * p : (ell + 1) * p, j * p : (j + 1) * p] = block.T
        return out

    def meat(self, params: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        """``sum_g s_g s_g'`` over groups (each row its own group when ``groups`` is None),
        times ``G / (G - 1)`` for groups, without forming the ``(n, k)`` score matrix."""
        resid = self._resid(params)
        n = len(resid)
        codes = np.arange(n) if groups is None else np.unique(groups, return_inverse=True)[1]
        n_groups = int(codes.max()) + 1
        member = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
        p, m = self.shape
        out = np.zeros((p * m, p * m))
        step = max(1, int(2**24 // (p * m)))  # about 128 MiB of group sums at a time
        for start in range(0, n_groups, step):
            part = member[start : start + step]
            sums = np.hstack([self.x.group_sums(part, resid[:, j]) for j in range(m)])
            out += sums.T @ sums
        if groups is not None and n_groups > 1:
            out *= n_groups / (n_groups - 1)
        return out


class _PairLikelihood(_Likelihood):
    """The log-likelihood over the allowed (row, outcome) pairs only.

    Under quasi-separation at NLSY scale most pairs are excluded (5% allowed at K = 389 and
    30,000 transitions), so the log-likelihood and its gradient are computed on the list of
    allowed pairs, never on ``n x J`` arrays. The Hessian, the meat and the probabilities
    are the dense parent's (used where the Hessian is affordable, or for prediction).
    """

    def __init__(self, x: DesignMatrix, y: np.ndarray, n_outcomes: int, allowed: np.ndarray):
        super().__init__(x, y, n_outcomes, allowed)
        row, outcome = np.nonzero(allowed)  # row-major: sorted by row
        self._pair_row, self._pair_outcome = row, outcome
        self._row_start = np.searchsorted(row, np.arange(x.n_rows))
        self._observed = np.flatnonzero(outcome == self.y[row])
        slope = np.flatnonzero(outcome > 0)  # the base outcome's linear predictor is 0
        self._slope, self._slope_col = slope, outcome[slope] - 1
        # Each non-zero (row i, sparse column c, value v) of a slope pair's row, flattened:
        # eta[pair] += v * coef[c, j - 1]
        csr = x.sparse.tocsr()
        nnz = np.diff(csr.indptr)[row[slope]]
        self._nz_pair = np.repeat(np.arange(len(slope)), nnz)
        first = csr.indptr[row[slope]]
        offset = np.arange(nnz.sum()) - np.repeat(np.cumsum(nnz) - nnz, nnz)
        nz = np.repeat(first, nnz) + offset
        self._nz_value = csr.data[nz]
        m = n_outcomes - 1
        self._nz_flat = x.sparse_pos[csr.indices[nz]] * m + np.repeat(self._slope_col, nnz)
        self._dense_rows = x.dense[row[slope]]

    def _pair_probabilities(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Linear predictor and probability of each allowed pair, and the log-likelihood."""
        coef = self._coef(params)
        x = self.x
        eta = np.zeros(len(self._pair_row))
        dense_coef = coef[x.dense_pos]  # (d, m)
        eta_slope = np.einsum("pd,dp->p", self._dense_rows, dense_coef[:, self._slope_col])
        if len(self._nz_pair):
            flat = np.asarray(coef, order="C").ravel()
            eta_slope += np.bincount(
                self._nz_pair,
                weights=self._nz_value * flat[self._nz_flat],
                minlength=len(self._slope),
            )
        eta[self._slope] = eta_slope
        start = self._row_start
        top = np.maximum.reduceat(eta, start)[self._pair_row]
        expo = np.exp(eta - top)
        total = np.add.reduceat(expo, start)
        lse = top[start] + np.log(total)
        llf = float(eta[self._observed].sum() - lse.sum())
        return eta, expo / total[self._pair_row], llf

    def _slope_tdot(self, weights: np.ndarray, square: bool = False) -> np.ndarray:
        """``X.T @ W`` (or ``(X**2).T @ W``) for W non-zero on the slope pairs only,
        flattened like ``params``."""
        x, m = self.x, self.n_outcomes - 1
        out = np.zeros((x.n_cols, m))
        rows = self._pair_row[self._slope]
        by_outcome = sp.csr_matrix((weights, (self._slope_col, rows)), shape=(m, x.n_rows))
        out[x.dense_pos] = (by_outcome @ (x.dense**2 if square else x.dense)).T
        if len(self._nz_pair):
            value = self._nz_value**2 if square else self._nz_value
            out.ravel()[:] += np.bincount(
                self._nz_flat, weights=value * weights[self._nz_pair], minlength=out.size
            )
        return out.ravel(order="F")

    def loglike_and_score(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Log-likelihood and its gradient (flattened like ``params``)."""
        _, prob, llf = self._pair_probabilities(params)
        resid = -prob
        resid[self._observed] += 1.0
        return llf, self._slope_tdot(resid[self._slope])

    def vanishing_pairs(self, params: np.ndarray) -> int:
        """Number of allowed pairs whose fitted probability is below ``_VANISHING``: under
        quasi-separation beyond the excluded cells, those go to zero as L-BFGS goes on."""
        return int((self._pair_probabilities(params)[1] < _VANISHING).sum())

    def information_diagonal(self, params: np.ndarray) -> np.ndarray:
        """Diagonal of the information ``-hessian`` (flattened like ``params``)."""
        prob = self._pair_probabilities(params)[1][self._slope]
        return self._slope_tdot(prob * (1.0 - prob), square=True)


def _progress_bar(enabled: bool | None, total: int, desc: str):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if enabled is None else bool(enabled)
    return tqdm(total=total, desc=desc, unit="it", disable=not show, leave=False)


# -- model --------------------------------------------------------------------------------------
class MNLogitModel:
    """Multinomial logit of the next occupation on the career so far.

    The estimator of statsmodels' ``MNLogit``, fit with the sparse structure of the design.

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
    the quasi-Newton fits well conditioned (with raw years, hours or wages, quasi-Newton
    steps overflow). Columns that are constant or exactly collinear with earlier columns
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
    it), never zero. The MNLogit part is the maximum-likelihood estimate of statsmodels'
    ``MNLogit`` on the same design (tested to agree in log-likelihood):
    ``results.mnl_llf`` is its log-likelihood; ``results.llf`` is that of the reported
    (floored) probabilities.

    **Empty cells (quasi-separation).** When an outcome is never observed with some level
    of a dummy factor (a previous occupation, the one before, a 0/1 or categorical
    covariate) in the estimation sample, the likelihood keeps rising as that cell's
    coefficient goes to minus infinity: there is no finite maximum (statsmodels' Newton
    returns NaN; quasi-Newton methods crawl). The maximum is reached in the limit, where
    that outcome has probability 0 at that level. The fit computes that limit exactly:
    each transition's outcome set excludes the outcomes that some level of its dummies
    never had, and the remaining coefficients are estimated on it. The excluded cells'
    coefficients are reported as NaN (their standard errors too); the others get
    standard errors. Prediction applies the same exclusions (then the floor), so an
    unseen previous-to-next move gets probability ``floor / K``. With
    :meth:`fit_regularized` (the ridge) nothing is excluded and every coefficient is finite.

    **Omitted coefficients.** Beyond the empty cells, the log-likelihood can be flat along
    a combination of coefficients (on the wage panel's career design, the level
    ``prev2=8`` is never seen with the base outcome: one constant added to its coefficient
    in every equation changes no probability). As Stata's ``mlogit`` does, one coefficient
    per flat direction is then omitted (set to 0, no standard error, marked in the
    summary and in :attr:`MNLogitResults.omitted`); every other coefficient gets
    a standard error, and a test on an omitted one raises.

    **Scale.** The design is stored as dense numeric columns plus sparse dummies
    (:class:`~labor_econ.models.design.DesignMatrix`). Fits use L-BFGS with the analytic
    gradient, a diagonal preconditioner and a start at the smoothed Markov chain's log
    odds, and form the Hessian only when it is affordable. The maximum-likelihood fit
    works on the list of allowed (transition, outcome) pairs (5% of them at K = 389 with
    30,000 transitions). At NLSY scale, use the ridge (:meth:`fit_regularized`): with
    hundreds of codes, rare combinations of the previous occupation and the one before
    separate outcomes beyond the empty cells, so the unpenalized maximum usually does not
    exist; :meth:`fit` then raises :class:`NoMaximumError` once the fitted probabilities
    of allowed pairs keep vanishing (it used to crawl for thousands of iterations).
    Measured on 2 CPU cores (``benchmarks/bench_mnlogit.py``, simulated NLSY-like panels,
    ``"career"`` features):

    - K = 389, 30,000 transitions, ``fit_regularized(alpha=1)``: converged in 124
      iterations, 66 s; test perplexity 6.10 (add-one Markov: 11.23);
    - the same with :meth:`fit`: ``NoMaximumError`` after 75 iterations, 28 s (load
      average 5; the old fit ran 800 iterations to a test perplexity of 37.43);
    - K = 330, 100,000 transitions, ``fit_regularized(alpha=1)``: converged in 154
      iterations, 177 s; test perplexity 5.28 (Markov: 6.71).

    See Also
    --------
    MNLogitModel.fit
    labor_econ.models.markov.MarkovModel

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = MNLogitModel(wage_panel(), features=["prev_occupation", "static"]).fit()
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
            raise PanelError(
                "the panel has no transitions (every person has a single wave): nothing to fit"
            )
        self.panel = panel
        self.taxonomy = panel.taxonomy
        k = len(panel.taxonomy)
        self.floor = k / (panel.n_transitions + k) if floor is None else float(floor)
        if not 0 < self.floor < 1:
            raise ValueError(
                f"floor must be in (0, 1), got {floor}: MNLogit gives no probability to codes "
                "absent from the estimation sample, and zero probabilities are not allowed"
            )
        self.features = resolve_features(panel, features)
        self._design = CareerDesign(panel, self.features)
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
        ordinal = np.searchsorted(self._observed, outcomes)
        self.endog = pd.Series(
            pd.Categorical.from_codes(ordinal, categories=self.observed_codes),
            index=self._design.index,
            name="occupation",
        )
        x, n_outcomes = self._design.matrix, len(self._observed)
        self._likelihood = _Likelihood(x, ordinal, n_outcomes)
        # Empty cells of each factor's level-by-outcome table (see Notes): the maximum
        # likelihood gives those outcomes probability 0 at those levels.
        levels = self._design.factor_levels(x)
        sizes = [len(pos) + 1 for _, pos in self._design.factors]
        self._blocked = _blocked_cells(_level_counts(levels, sizes, ordinal, n_outcomes))
        allowed = _allowed_outcomes(levels, self._blocked, n_outcomes)
        self._mle_likelihood = _PairLikelihood(x, ordinal, n_outcomes, allowed)
        #: ``(p, J - 1)``: coefficients with no effect on any allowed outcome of the sample.
        self._unidentified = x.abs_tdot(allowed[:, 1:].astype(float)) == 0

    @property
    def names(self) -> list[str]:
        """Names of the design columns (``const`` first)."""
        return self._design.names

    @property
    def exog(self) -> pd.DataFrame:
        """The estimation sample's design as a dense DataFrame (rows (id, time))."""
        return self.design()

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
            Rows (id, time) as in ``panel.transitions()``, columns :attr:`names` (dense:
            meant for inspection; the fit uses the sparse form).
        """
        if panel is None:
            x, index = self._design.matrix, self._design.index
        else:
            x, index = self._design.transform(panel), panel.transitions().index
        return pd.DataFrame(x.toarray(), index=index, columns=self.names)

    def loglike(self, params: np.ndarray) -> float:
        """Log-likelihood of the (unfloored) MNLogit at flattened ``params``."""
        return self._likelihood.loglike_and_score(params)[0]

    def score(self, params: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`loglike`."""
        return self._likelihood.loglike_and_score(params)[1]

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Analytic Hessian of :meth:`loglike` (dense ``k x k``: mind :attr:`k_params`)."""
        return self._likelihood.hessian(params)

    def _hessian_ok(self) -> bool:
        k = self.k_params
        n = len(self.endog)
        return 8.0 * k * k <= _MAX_HESSIAN_BYTES and n * k * k <= _MAX_HESSIAN_WORK

    def _start_params(self) -> np.ndarray:
        """Intercepts at the log odds of the outcome shares; with previous-occupation dummies,
        those at the smoothed log odds of the previous-to-next table (a Markov chain,
        shrunk toward the shares by one transition per row); zero elsewhere.

        The Markov start matters at NLSY scale: with the ridge at ``alpha=1``, K = 389 and 30,000
        transitions, L-BFGS converges in about 120 iterations from it and is still 30
        log-likelihood units short after 150 from zero slopes.
        """
        n_out = len(self._observed)
        start = np.zeros((len(self.names), n_out - 1))
        y = self.endog.cat.codes.to_numpy()
        shares = np.bincount(y, minlength=n_out) / len(y)
        start[0] = np.log(shares[1:] / shares[0])
        factors = self._design.factors
        names = [name for name, _ in factors]
        if "prev_occupation" in names:
            f = names.index("prev_occupation")
            pos = factors[f][1]
            level = self._design.factor_levels(self._likelihood.x)[f]
            table = np.bincount(level * n_out + y, minlength=(len(pos) + 1) * n_out)
            smoothed = table.reshape(len(pos) + 1, n_out) + shares
            log_odds = np.log(smoothed[:, 1:] / smoothed[:, :1])
            start[0] = log_odds[0]  # the reference level's
            start[pos] = log_odds[1:] - log_odds[0]
        return start.ravel(order="F")

    def fit(
        self,
        method: str | None = None,
        maxiter: int | None = None,
        *,
        cov_type: str = "cluster",
        hessian: bool | Literal["auto"] = "auto",
        start_params: np.ndarray | None = None,
        gtol: float = 1e-6,
        ftol: float = 1e-10,
        progress: bool | None = None,
        disp: bool = False,
        penalty: float | None = None,
    ) -> MNLogitResults:
        """Fit by maximum likelihood (for the ridge, see :meth:`fit_regularized`).

        The default, L-BFGS with the analytic gradient on the sparse design, works at any
        size and on designs with quasi-separation (the wage panel's career design has
        empty previous-by-next occupation cells, whose coefficients diverge: Newton's
        method fails there, statsmodels' ``MNLogit.fit()`` returns NaN). If the chosen
        method ends with a non-finite log-likelihood, L-BFGS is tried next, with a warning.

        Where the maximum does not exist even with the empty cells excluded (see Notes), the
        fit says so early: every 25 iterations it counts the allowed (transition, outcome)
        pairs whose fitted probability is below 1e-8; when that count is positive and has
        grown at two checks in a row, coefficients are running off to infinity and
        :class:`NoMaximumError` is raised (at NLSY scale, 389 codes and 30,000 transitions,
        after 75 iterations and about 20 s on 2 CPU cores, where the fit used to crawl for
        37 minutes).

        Parameters
        ----------
        method : {"lbfgs", "bfgs", "newton"}, optional
            Default ``"lbfgs"`` (:func:`scipy.optimize.minimize`, L-BFGS-B). ``"bfgs"``
            keeps a dense ``k x k`` inverse-Hessian approximation and ``"newton"`` (a
            trust-region Newton method) forms the Hessian: both only when the Hessian is
            affordable (see ``hessian``).
        maxiter : int, optional
            Iteration limit; default 5000 for L-BFGS, 2000 for BFGS, 100 for Newton.
        cov_type : {"cluster", "HC0", "nonrobust"}, default "cluster"
            Covariance of the coefficients (see
            :data:`labor_econ.models.base.COV_TYPES`): the sandwich clustered by person
            with G / (G - 1) (the default of every model of the package: a person's
            transitions are dependent), the robust sandwich, or the inverse observed
            information (statsmodels' ``MNLogit`` default).
        hessian : bool or "auto"
            Whether to form the dense ``k x k`` Hessian (``k`` = :attr:`k_params`) for
            standard errors. ``"auto"`` does so when it takes at most 256 MiB and about
            ``nobs * k**2 <= 1e11`` operations; otherwise there are no standard errors
            (a warning and the summary say so).
        start_params : ndarray, optional
            Flattened ``(p, J - 1)`` coefficients, outcome by outcome. Default: the
            smoothed Markov chain's log odds for the previous-occupation dummies and the
            intercepts, zero for the other slopes.
        gtol, ftol : float
            Convergence: the largest gradient entry per transition below ``gtol``, or
            the relative increase of the log-likelihood below ``ftol`` per iteration,
            averaged over 10 iterations (under quasi-separation the gradient never
            vanishes: the coefficients of empty cells drift to minus infinity while the
            log-likelihood has converged).
        progress : bool, optional
            A tqdm progress bar over iterations, with the current log-likelihood; default
            when stderr is a terminal.
        disp : bool
            Print the optimizer's messages.
        penalty : float, optional
            Deprecated (a ``DeprecationWarning``): ``fit(penalty=a)`` with ``a > 0`` is
            ``fit_regularized(alpha=a)``; ``penalty=0`` is ``fit()``.

        Returns
        -------
        MNLogitResults
            Every identified coefficient has a standard error (when the Hessian is
            formed); see :attr:`MNLogitResults.omitted`.

        Raises
        ------
        NoMaximumError
            When the maximum likelihood does not exist (see above); use
            :meth:`fit_regularized`.
        ValueError
            For an unknown ``method`` or ``cov_type``, or a Hessian-based method when the
            Hessian is not formed.
        RuntimeError
            If every optimizer tried ends with a non-finite log-likelihood.

        Warns
        -----
        ConvergenceWarning
            When the iteration limit is reached before convergence, or a method fails and
            L-BFGS is tried next.
        UserWarning
            When the Hessian is not formed (no standard errors).
        """
        settings = dict(
            method=method,
            maxiter=maxiter,
            cov_type=cov_type,
            hessian=hessian,
            start_params=start_params,
            gtol=gtol,
            ftol=ftol,
            progress=progress,
            disp=disp,
        )
        if penalty is not None:
            warnings.warn(
                "MNLogitModel.fit(penalty=...) is deprecated: use fit() for maximum "
                "likelihood and fit_regularized(alpha=...) for the ridge",
                DeprecationWarning,
                stacklevel=2,
            )
            return self._fit(_check_penalty(penalty, "penalty"), **settings)
        return self._fit(0.0, **settings)

    def fit_regularized(
        self,
        alpha: float = 1.0,
        method: str | None = None,
        maxiter: int | None = None,
        *,
        cov_type: str = "cluster",
        hessian: bool | Literal["auto"] = "auto",
        start_params: np.ndarray | None = None,
        gtol: float = 1e-6,
        ftol: float = 1e-10,
        progress: bool | None = None,
        disp: bool = False,
    ) -> MNLogitResults:
        """Fit the ridge: maximize ``llf - alpha / 2 * sum(b**2)`` over the slopes.

        The penalty falls on every coefficient except the outcome intercepts (``const``).
        Nothing is excluded and every coefficient is finite, so the estimate exists where
        the maximum likelihood does not (see :meth:`fit`); at NLSY scale (hundreds of
        codes) it is the practical choice and predicts better out of sample (see the class
        Notes, **Scale**). With standardized numeric features, ``alpha=1`` is a standard
        normal prior on each slope (a log odds ratio). It is the plain ridge on the columns
        of :attr:`exog`, so dummies are shrunk toward their reference level (for the
        previous occupation: the first code), as in any ridge on a reference-coded design.

        The covariance is the inverse of the penalized information (or the sandwich
        around it), an approximation; inference goes through the same Wald layer as
        :meth:`fit`'s.

        Parameters
        ----------
        alpha : float, default 1
            The penalty weight (statsmodels' name in ``fit_regularized``), > 0.
        method, maxiter, cov_type, hessian, start_params, gtol, ftol, progress, disp
            As for :meth:`fit`.

        Returns
        -------
        MNLogitResults
            With ``penalty`` equal to ``alpha``.
        """
        alpha = _check_penalty(alpha, "alpha")
        if alpha == 0:
            raise ValueError("alpha must be > 0 for the ridge; fit() is the maximum likelihood")
        return self._fit(
            alpha,
            method=method,
            maxiter=maxiter,
            cov_type=cov_type,
            hessian=hessian,
            start_params=start_params,
            gtol=gtol,
            ftol=ftol,
            progress=progress,
            disp=disp,
        )

    def _fit(
        self,
        penalty: float,
        *,
        method: str | None,
        maxiter: int | None,
        cov_type: str,
        hessian: bool | Literal["auto"],
        start_params: np.ndarray | None,
        gtol: float,
        ftol: float,
        progress: bool | None,
        disp: bool,
    ) -> MNLogitResults:
        """The maximum likelihood (``penalty`` 0) or the ridge; warnings name the caller of
        :meth:`fit` or :meth:`fit_regularized` (stack level 3)."""
        check_cov_type(cov_type)
        method = "lbfgs" if method is None else method
        if method not in _METHODS:
            raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
        use_hessian = self._hessian_ok() if hessian == "auto" else bool(hessian)
        k = self.k_params
        size = (
            f"{k} x {k} Hessian ({8 * k * k / 2**20:,.0f} MiB, about "
            f"{len(self.endog) * k * k:.1g} operations to form)"
        )
        if method in ("newton", "bfgs") and not use_hessian:
            raise ValueError(
                f"method={method!r} needs the dense {size}; use method='lbfgs' or pass hessian=True"
            )
        if not use_hessian:
            advice = (
                ""
                if penalty
                else " Without a penalty a design this large usually has no finite maximum "
                "(combinations of rare previous occupations separate outcomes): the fit then "
                "stops early with NoMaximumError; fit_regularized(alpha=1) converges in "
                "minutes at NLSY scale and predicts better out of sample (see the class Notes)."
            )
            warnings.warn(
                f"MNLogit with {k} coefficients: the {size} is not formed; fitting by "
                "L-BFGS with the analytic gradient, without standard errors (bse are NaN). "
                f"Pass hessian=True to force it.{advice}",
                UserWarning,
                stacklevel=3,
            )
        start = self._start_params() if start_params is None else np.asarray(start_params)
        if start.shape != (k,):
            raise ValueError(f"start_params must have {k} entries, got shape {start.shape}")
        if not np.isfinite(start).all():
            raise ValueError("start_params must be finite (NaN or infinite entries given)")
        history: list[str] = []
        chain = [method] if method == "lbfgs" else [method, "lbfgs"]
        for attempt, name in enumerate(chain):
            params, llf, converged, steps, problem = self._optimize(
                name, maxiter, start, penalty, gtol, ftol, progress, disp
            )
            if problem is None:
                break
            history.append(f"{name}: {problem}")
            if attempt + 1 < len(chain):
                warnings.warn(
                    f"MNLogit fit with method={name!r} failed: {problem}; "
                    f"refitting with method={chain[attempt + 1]!r}",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        else:
            raise RuntimeError(
                "MNLogit could not be fit: " + "; ".join(history) + ". Check the design "
                "(model.design()) for extreme values or use fewer features."
            )
        history.append(f"{name}: {'converged' if converged else 'NOT converged'} after {steps}")
        cov, cov_note = None, None
        if use_hessian:
            params, cov, cov_note = self._covariance(params, penalty, cov_type)
        else:
            cov_note = f"the {size} was not formed"
        if not converged:
            count = self._mle_likelihood.vanishing_pairs(params) if penalty == 0 else 0
            vanishing = (
                f"; {count:,} (transition, outcome) pairs have fitted probability below "
                f"{_VANISHING:g}, the mark of quasi-separation: the maximum likelihood may "
                "not exist, and fit_regularized(alpha=1) gives a finite estimate"
                if count
                else ""
            )
            warnings.warn(
                f"MNLogit fit with method={name!r} did not converge after {steps}; "
                "increase maxiter, or look for quasi-separation (an outcome never seen "
                f"with some dummy's level: its coefficient diverges){vanishing}",
                ConvergenceWarning,
                stacklevel=3,
            )
        return MNLogitResults(
            self,
            params,
            llf,
            cov,
            method=name,
            converged=converged,
            history=tuple(history),
            cov_type=cov_type if cov is not None else None,
            cov_note=cov_note,
            penalty=penalty,
        )

    def _fit_likelihood(self, penalty: float) -> _Likelihood:
        """The maximum likelihood's (empty cells' outcomes excluded) or the ridge's (all)."""
        return self._mle_likelihood if penalty == 0 else self._likelihood

    def _slope_mask(self) -> np.ndarray:
        """1 for the coefficients the ridge penalizes, 0 for the outcome intercepts."""
        mask = np.ones(self.k_params)
        mask[:: len(self.names)] = 0.0  # const is position 0 of each outcome's block of p
        return mask

    def _penalized(self, penalty: float):
        """Objective ``-(llf - penalty/2 |b_slopes|^2) / n`` and its gradient."""
        likelihood = self._fit_likelihood(penalty)
        n = len(self.endog)
        mask = self._slope_mask()

        def objective(b: np.ndarray) -> tuple[float, np.ndarray]:
            llf, grad = likelihood.loglike_and_score(b)
            if penalty:
                llf -= 0.5 * penalty * float(((b * mask) ** 2).sum())
                grad = grad - penalty * mask * b
            return -llf / n, -grad / n

        return objective, mask

    def _optimize(
        self,
        method: str,
        maxiter: int | None,
        start: np.ndarray,
        penalty: float,
        gtol: float,
        ftol: float,
        progress: bool | None,
        disp: bool,
    ) -> tuple[np.ndarray, float, bool, str, str | None]:
        """One optimizer run: (params, llf, converged, steps, problem or None)."""
        objective, mask = self._penalized(penalty)
        n = len(self.endog)
        scale = np.ones(self.k_params)
        if method == "lbfgs":
            # Diagonal preconditioning: optimize over b / scale with scale = the inverse
            # square root of the information's diagonal at the start. The coefficients of
            # a dummy seen 3 times and of one seen 3,000 times then take comparable steps;
            # unscaled, L-BFGS needs thousands of iterations at NLSY scale.
            info = self._fit_likelihood(penalty).information_diagonal(start) + penalty * mask
            scale[info > 0] = np.sqrt(n / info[info > 0])
            plain = objective

            def objective(c: np.ndarray) -> tuple[float, np.ndarray]:
                f, g = plain(c * scale)
                return f, g * scale

            start = start / scale
        iters = maxiter if maxiter is not None else _DEFAULT_MAXITER[method]
        bar = _progress_bar(progress, iters, f"MNLogit ({method}, {self.k_params} coef.)")
        trail: list[float] = []
        window = 10
        #: (iteration, vanishing pairs) at each check of the maximum likelihood's existence.
        vanishing: list[tuple[int, int]] = []
        started = time.perf_counter()

        def callback(intermediate_result: Any) -> None:
            f = float(intermediate_result.fun)
            trail.append(f)
            bar.update(1)
            bar.set_postfix(llf=f"{-f * n:.2f}", refresh=False)
            # Under quasi-separation some coefficients drift to -inf for ever while the
            # log-likelihood has converged: stop on its relative change over a window.
            if len(trail) > window and trail[-window - 1] - f <= window * ftol * max(abs(f), 1):
                raise StopIteration
            if penalty == 0 and len(trail) % _CHECK_EVERY == 0:
                b = np.asarray(intermediate_result.x) * scale
                vanishing.append((len(trail), self._mle_likelihood.vanishing_pairs(b)))
                if _diverging([c for _, c in vanishing]):
                    raise StopIteration

        options: dict[str, Any] = {"maxiter": iters, "disp": disp}
        kwargs: dict[str, Any] = {}
        if method == "lbfgs":
            scipy_method = "L-BFGS-B"
            options.update(gtol=gtol, ftol=ftol, maxcor=20)
            options.pop("disp")
        elif method == "bfgs":
            scipy_method = "BFGS"
            options.update(gtol=gtol)
        else:
            scipy_method = "trust-exact"
            options.update(gtol=gtol)
            options.pop("disp")
            hessian = self._fit_likelihood(penalty).hessian
            kwargs["hess"] = lambda b: -(hessian(b) - penalty * np.diag(mask)) / n
        try:
            with np.errstate(over="ignore", under="ignore"):
                opt = minimize(
                    objective,
                    start,
                    jac=True,
                    method=scipy_method,
                    options=options,
                    callback=callback,
                    **kwargs,
                )
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            return start * scale, np.nan, False, "?", f"{type(exc).__name__}: {exc}"
        finally:
            bar.close()
        if _diverging([c for _, c in vanishing]):
            checks = ", ".join(f"{c:,} at iteration {i}" for i, c in vanishing[-3:])
            raise NoMaximumError(
                f"the maximum likelihood of this MNLogit ({self.k_params:,} coefficients, "
                f"{n:,} transitions) does not exist: the number of (transition, outcome) "
                f"pairs with fitted probability below {_VANISHING:g} keeps growing ({checks}; "
                f"stopped after {time.perf_counter() - started:.0f} s), so coefficients run "
                "off to infinity beyond the empty cells (combinations of rare previous "
                "occupations and covariates separate outcomes). Use "
                "model.fit_regularized(alpha=1) (the ridge), or fewer features."
            )
        params = np.asarray(opt.x) * scale
        objective = self._penalized(penalty)[0]
        llf = self._fit_likelihood(penalty).loglike_and_score(params)[0]
        steps = f"{opt.nit} iterations"
        if not np.isfinite(llf) or not np.isfinite(params).all():
            what = "log-likelihood" if not np.isfinite(llf) else "parameters"
            return params, llf, False, steps, f"non-finite {what} after {steps}"
        grad = np.abs(objective(params)[1]).max()
        # scipy's trust-region and BFGS may stop at the optimum on a rounding-level
        # "precision loss"; judge those by the gradient itself.
        stalled = len(trail) > window and trail[-window - 1] - trail[-1] <= window * ftol * max(
            abs(trail[-1]), 1
        )
        converged = bool(opt.success) or stalled or grad <= gtol
        return params, llf, converged, steps, None

    def _covariance(
        self, params: np.ndarray, penalty: float, cov_type: str
    ) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """The estimate, its covariance (or None) and the reason there is none.

        Under maximum likelihood the coefficients of empty cells (see
        :meth:`MNLogitModel.fit`) have no variance: the covariance is that of the
        others, with NaN rows and columns for them. Beyond those, the log-likelihood may be
        flat along some directions (a level never observed with the base outcome: adding
        one constant to that dummy's coefficient in every equation leaves every
        probability unchanged). As Stata's ``mlogit`` does, one coefficient per flat
        direction is then omitted: set to 0 (the estimate is moved along the flat
        direction, which leaves the log-likelihood unchanged) and given no standard error,
        the last such in ``outcome:feature`` order; every other coefficient keeps its
        standard error.
        """
        likelihood = self._fit_likelihood(penalty)
        hess = likelihood.hessian(params)
        if penalty:
            hess = hess - penalty * np.diag(self._slope_mask())
        keep = np.ones(self.k_params, dtype=bool)
        if penalty == 0:
            keep = ~self._unidentified.ravel(order="F")
        values, vectors = np.linalg.eigh(-hess[np.ix_(keep, keep)])
        flat = values <= _MIN_CURVATURE * max(values.max(), 1e-300)
        if flat.any() and penalty == 0:
            basis = vectors[:, flat]
            rows = np.flatnonzero(keep)
            pivots = _trailing_pivots(basis)
            # Normalize: the omitted coefficients to 0 by a move along the flat directions.
            moved = params.copy()
            moved[rows] -= basis @ np.linalg.solve(basis[pivots], params[rows[pivots]])
            moved[rows[pivots]] = 0.0
            before = likelihood.loglike_and_score(params)[0]
            if abs(likelihood.loglike_and_score(moved)[0] - before) <= 1e-9 * max(1, abs(before)):
                params = moved  # an exact invariance (else only locally flat: kept as is)
            keep[rows[pivots]] = False
            values = np.linalg.eigvalsh(-hess[np.ix_(keep, keep)])
        hess = hess[np.ix_(keep, keep)]
        if not (values.min() > _MIN_CURVATURE * max(values.max(), 1e-300)):
            return (
                params,
                None,
                (
                    "the information matrix at the estimate is singular (some combination of "
                    "the coefficients is not identified); use fewer features for standard errors"
                ),
            )
        groups = np.asarray(self.endog.index.get_level_values(0))
        meat = None
        if cov_type != "nonrobust":
            meat = likelihood.meat(params, groups if cov_type == "cluster" else None)
            meat = meat[np.ix_(keep, keep)]
        cov = np.full((self.k_params, self.k_params), np.nan)
        cov[np.ix_(keep, keep)] = sandwich_covariance(hess, None, None, cov_type, meat=meat)
        return params, cov, None


def _trailing_pivots(basis: np.ndarray) -> np.ndarray:
    """For a ``(m, r)`` basis of flat directions, ``r`` rows (coefficients) such that
    fixing them removes every flat direction: Gaussian elimination on ``basis.T`` choosing
    pivots from the last row backwards (so the omitted coefficients are the last ones)."""
    work = basis.T.copy()  # (r, m)
    free = list(range(work.shape[0]))
    pivots: list[int] = []
    for col in range(work.shape[1] - 1, -1, -1):
        if not free:
            break
        best = max(free, key=lambda i: abs(work[i, col]))
        if abs(work[best, col]) <= 1e-8:
            continue
        pivots.append(col)
        free.remove(best)
        for i in free:
            work[i] -= work[i, col] / work[best, col] * work[best]
    return np.asarray(pivots[::-1], dtype=int)


def _level_counts(
    levels: np.ndarray, sizes: Sequence[int], y: np.ndarray, n_outcomes: int
) -> list[np.ndarray]:
    """For each factor (a row of ``levels``, with ``sizes`` levels), the ``(n_levels, J)``
    table of level-by-outcome counts."""
    return [
        np.bincount(codes * n_outcomes + y, minlength=size * n_outcomes).reshape(size, n_outcomes)
        for codes, size in zip(levels, sizes, strict=True)
    ]


def _blocked_cells(counts: list[np.ndarray]) -> list[np.ndarray]:
    """For each factor, True where a level occurs in the sample but never with the outcome."""
    return [(c == 0) & (c.sum(axis=1) > 0)[:, None] for c in counts]


def _allowed_outcomes(levels: np.ndarray, blocked: list[np.ndarray], n_outcomes: int) -> np.ndarray:
    """``(n, J)``: the outcomes no factor level of the row excludes. A level absent from the
    estimation sample excludes nothing; a row whose levels exclude every outcome between
    them (possible only outside the estimation sample) keeps them all."""
    allowed = np.ones((levels.shape[1], n_outcomes), dtype=bool)
    for codes, cells in zip(levels, blocked, strict=True):
        seen = codes < len(cells)
        allowed[seen] &= ~cells[codes[seen]]
    allowed[~allowed.any(axis=1)] = True
    return allowed


# -- results ------------------------------------------------------------------------------------
def _label(code: Any, title: str, width: int = 32) -> str:
    text = f"{code} {title}" if str(code) != title else str(code)
    return text if len(text) <= width else text[: width - 3] + "..."


class MNLogitResults(WaldInference, TransitionResults):
    """Results of :class:`MNLogitModel`: the common protocol plus Wald inference.

    Attributes
    ----------
    model : MNLogitModel
    method : str
        The optimizer whose fit was kept.
    converged : bool
    fit_history : tuple of str
        One line per optimizer tried.
    k_params : int
        Design columns times (observed outcome codes - 1).
    floor : float
        Weight of the uniform distribution in the reported probabilities.
    cov_type : str or None
        The covariance type of :attr:`bse`; None without standard errors.
    cov_note : str or None
        Why there are no standard errors, if there are none.
    penalty : float
        The ridge penalty of the fit: ``alpha`` of :meth:`MNLogitModel.fit_regularized`
        (0: :meth:`MNLogitModel.fit`, maximum likelihood).
    omitted : pandas.DataFrame
        True for coefficients omitted as not identified (0, no standard error).

    Examples
    --------
    >>> import warnings
    >>> from statsmodels.iolib.summary2 import summary_col
    >>> from labor_econ import MNLogitModel
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # gap and year carry no information here
    ...     res = MNLogitModel(train).fit()
    >>> res.params.shape, res.bse.shape == res.params.shape, res.k_params
    ((29, 8), True, 232)
    >>> res.evaluate(test).nobs
    763

    An esttab-style table (one column ``outcome:feature``) through ``results.flat``:

    >>> table = summary_col([res.flat], stars=True)

    """

    _saved_as = ("TransitionMNLogitResults",)

    name = "MNLogit"

    def __init__(
        self,
        model: MNLogitModel,
        params: np.ndarray,
        mnl_llf: float,
        cov: np.ndarray | None,
        *,
        method: str,
        converged: bool,
        history: tuple[str, ...],
        cov_type: str | None,
        cov_note: str | None = None,
        penalty: float = 0.0,
    ) -> None:
        self.model = model
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.method = method
        self.converged = converged
        self.fit_history = history
        self.k_params = model.k_params
        self.floor = model.floor
        self.cov_type = cov_type
        self.cov_note = cov_note
        self.penalty = float(penalty)
        self.mnl_llf = float(mnl_llf)
        self._flat = np.asarray(params, dtype=float)
        self._cov = cov
        self._coef = self._flat.reshape(model._likelihood.shape, order="F")
        #: Coefficients of empty cells (maximum likelihood only): reported as NaN.
        self._unidentified = (
            model._unidentified if self.penalty == 0 else np.zeros_like(self._coef, dtype=bool)
        )
        #: Flattened: coefficients omitted along a flat direction (set to 0, no variance).
        self._omitted = np.zeros(self._flat.size, dtype=bool)
        if cov is not None:
            self._omitted = np.isnan(np.diag(cov)) & ~self._unidentified.ravel(order="F")

    @property
    def params(self) -> pd.DataFrame:
        """Coefficients: rows design columns, columns the non-base outcome codes.

        Under maximum likelihood, the coefficient of an outcome never observed with a
        dummy's level (its estimate is minus infinity: probability 0) is NaN.
        """
        return pd.DataFrame(
            np.where(self._unidentified, np.nan, self._coef),
            index=pd.Index(self.model.names, name="feature"),
            columns=pd.Index(self.model.observed_codes[1:], name="occupation"),
        )

    @property
    def omitted(self) -> pd.DataFrame:
        """True for the coefficients omitted as not identified (shape of :attr:`params`).

        Under maximum likelihood the log-likelihood may be flat along a combination of
        coefficients (a level never observed with the base outcome); one coefficient per
        such direction is set to 0 and has no standard error, as Stata's ``mlogit`` marks
        terms ``(omitted)``. Empty cells' coefficients (NaN in :attr:`params`) are not
        counted here.
        """
        shape = self._coef.shape
        return pd.DataFrame(
            self._omitted.reshape(shape, order="F"),
            index=pd.Index(self.model.names, name="feature"),
            columns=pd.Index(self.model.observed_codes[1:], name="occupation"),
        )

    def _wald_params(self) -> pd.Series:
        names = [f"{c}:{f}" for c in self.model.observed_codes[1:] for f in self.model.names]
        flat = np.where(self._unidentified.ravel(order="F"), np.nan, self._flat)
        return pd.Series(flat, index=pd.Index(names, name="outcome:feature"))

    def _wald_cov(self) -> np.ndarray | None:
        return self._cov

    def _not_estimable(self, r: np.ndarray) -> str | None:
        """Why ``R params`` has no variance (None when it has one)."""
        if self._cov is None:
            return f"no standard errors: {self.cov_note or 'no covariance'}"
        used = np.abs(np.atleast_2d(r)).sum(axis=0) > 0
        missing = used & np.isnan(np.diag(self._cov))
        if not missing.any():
            return None
        names = self._wald_params().index[missing]
        what = []
        for name, pos in zip(names, np.flatnonzero(missing), strict=True):
            kind = "omitted (not identified)" if self._omitted[pos] else "an empty cell"
            what.append(f"{name!r} is {kind}")
        more = f" and {len(what) - 5} more" if len(what) > 5 else ""
        return (
            "the restriction involves coefficients without a variance: "
            + "; ".join(what[:5])
            + more
        )

    def t_test(self, r_matrix: Any, q_matrix: Any = None):
        """z tests of ``R params = q`` (see :meth:`WaldInference.t_test`).

        Only the coefficients a restriction involves enter it, so the NaN of empty cells
        elsewhere do not spread into every test.

        Raises
        ------
        ValueError
            If a restriction involves a coefficient without a standard error (an empty
            cell, an omitted coefficient) or there is no covariance at all.
        """
        sub, r, q = self._restricted(r_matrix, q_matrix)
        return sub.t_test(r, q)

    def wald_test(self, r_matrix: Any, q_matrix: Any = None, *, scalar: bool = True):
        """Joint Wald test of ``R params = q`` (see :meth:`WaldInference.wald_test`).

        Raises
        ------
        ValueError
            As :meth:`t_test`.
        """
        sub, r, q = self._restricted(r_matrix, q_matrix)
        return sub.wald_test(r, q, scalar=scalar)

    def _restricted(
        self, r_matrix: Any, q_matrix: Any
    ) -> tuple[_SubsetWald, np.ndarray, np.ndarray]:
        """The coefficients the restrictions involve (checked to have a variance), as a
        shared Wald layer of their own, and ``R`` on them."""
        from .base import _constraints

        b = self._wald_params()
        r, q = _constraints(list(b.index), r_matrix, q_matrix)
        problem = self._not_estimable(r)
        if problem is not None:
            raise ValueError(f"MNLogit test not possible: {problem}")
        used = np.abs(r).sum(axis=0) > 0
        return _SubsetWald(b[used], self._cov[np.ix_(used, used)]), r[:, used], q

    @property
    def flat(self) -> _FlatCoefficients:
        """The coefficients as one column (``outcome:feature``), for ``summary_col``."""
        return _FlatCoefficients(self)

    @property
    def cov_params_available(self) -> bool:
        """Whether standard errors exist (see ``hessian`` in :meth:`MNLogitModel.fit`)."""
        return self._cov is not None

    @property
    def iterations(self) -> int:
        """Optimizer iterations over every run of the fit (the common convergence record).

        Read from ``fit_history``, where each run records ``"... after N iterations"``
        (kept in one place, so the fit's record and this count cannot disagree).
        """
        runs = (re.findall(r"after (\d+) iterations", step) for step in self.fit_history)
        return sum(int(n) for found in runs for n in found)

    @property
    def df_model(self) -> int:
        """Coefficients beyond the outcome intercepts."""
        return self.k_params - (len(self.model.observed_codes) - 1)

    @property
    def base_outcome(self) -> Any:
        """The outcome code whose coefficients are normalized to zero."""
        return self.model.observed_codes[0]

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        return self._design_proba(self.model._design.transform(panel))

    @property
    def _simulation_keys(self) -> tuple[str, ...]:
        """The simulated state the prediction reads (``models.simulate``)."""
        sources = self.model._design.sources
        parts = {"prev_occupation": "occupation", "prev2_occupation": "prev", "tenure": "tenure"}
        keys = tuple(parts[s] for s in parts if s in sources)
        personal = [s for s in sources if s not in parts and s != "year"]
        return (("person",) if personal else ()) + keys

    def _step_proba(self, states) -> np.ndarray:
        if self.penalty > 0:  # no excluded cells: the additive tables (models.mnlogit_steps)
            if "_step_tables" not in self.__dict__:
                self._step_tables = StepTables.from_results(self)
            return step_proba(self, self._step_tables, states)
        design = self.model._design
        return self._design_proba(_design_matrix(states.raw(design.sources), design.columns))

    def _step_factors(self, persons):
        """The ridge fit's next-wave distributions as tables (``models.simulate``); None for
        a maximum-likelihood fit, whose excluded cells need the design row by row."""
        if self.penalty <= 0:
            return None
        if "_step_tables" not in self.__dict__:
            self._step_tables = StepTables.from_results(self)
        return self._step_tables.factors(persons, self.floor)

    def _design_proba(self, x) -> np.ndarray:
        model = self.model
        n_outcomes = len(model._observed)
        allowed = None
        if self.penalty == 0:
            levels = model._design.factor_levels(x)
            allowed = _allowed_outcomes(levels, model._blocked, n_outcomes)
        observed = _Likelihood(x, np.zeros(x.n_rows), n_outcomes, allowed).probabilities(self._flat)
        probs = np.zeros((x.n_rows, len(self.taxonomy)))
        probs[:, self.model._observed] = observed
        return (1.0 - self.floor) * probs + self.floor / len(self.taxonomy)

    def _notes(self) -> list[str]:
        model = self.model
        notes = [f"Features: {', '.join(model.features)}. Fit: {'; '.join(self.fit_history)}."]
        if self.penalty:
            notes.append(
                f"Ridge penalty {self.penalty:g}/2 * sum(b^2) on the slopes (not the intercepts)."
            )
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
            f"the MNLogit part's is {self.mnl_llf:.2f})."
        )
        n_empty = int(self._unidentified.sum())
        if n_empty:
            notes.append(
                f"{n_empty} coefficients are NaN (marked 'empty cell'): their outcome was never "
                "observed with that level of the dummy (an empty cell), so the maximum "
                "likelihood gives the outcome probability 0 there (coefficient minus "
                "infinity). fit_regularized() gives finite ridge estimates."
            )
        n_omitted = int(self._omitted.sum())
        if n_omitted:
            notes.append(
                f"{n_omitted} coefficients are omitted (set to 0, no standard error): the "
                "log-likelihood is flat along a combination of coefficients (e.g. a level "
                "never observed with the base outcome), so one coefficient of each such "
                "combination is fixed, as Stata's mlogit does."
            )
        if self.cov_params_available:
            if self.cov_type == "cluster":
                notes.append(
                    f"Standard errors clustered by person ({self.panel.n_persons} clusters, "
                    "factor G / (G - 1))."
                )
        else:
            notes.append(f"No standard errors: {self.cov_note or 'no covariance'}.")
        return notes

    def summary(self, alpha: float = 0.05) -> Summary:
        """Fit statistics, then the coefficients of each outcome equation.

        With standard errors each coefficient has its standard error, z, p-value and
        confidence interval; without, the table has the coefficients only (a note says
        why).

        Parameters
        ----------
        alpha : float
            Significance level of the confidence intervals, in (0, 1).

        Returns
        -------
        labor_econ.models.render.Summary
            Renders with ``as_text()``, ``as_html()``, ``as_latex()`` (escaped).
        """
        from .render import header, info_summary

        alpha = check_alpha(alpha)
        codes = self.model.observed_codes
        info = header(
            self,
            model="MNLogit",
            cov_type=cov_type_label(self.cov_type, self.panel.n_persons)
            if self.cov_params_available
            else "none (no standard errors)",
            extra={
                "Outcomes estimated:": str(len(codes)),
                "Method:": self.method,
                "Converged:": str(self.converged),
            },
        )
        title = "Multinomial logit of the next occupation"
        if not self.cov_params_available:
            title += " (no standard errors)"
        smry = info_summary(title, info)
        if self._flat.size <= _MAX_PRINTED_PARAMS:
            smry.add_df(self._coefficient_table(alpha), index=True)
        else:
            smry.add_text(f"{self._flat.size} coefficients: see .params.")
        for note in self._notes():
            smry.add_text(note)
        return smry

    def _coefficient_table(self, alpha: float) -> pd.DataFrame:
        codes = self.model.observed_codes
        names = self.model.names
        coef = self._wald_params().to_numpy()
        with_se = self.cov_params_available
        if with_se:  # the shared Wald layer's statistics, flattened like coef
            se = self.bse.to_numpy().ravel(order="F")
            z = self.tvalues.to_numpy().ravel(order="F")
            pv = self.pvalues.to_numpy().ravel(order="F")
            ci = self.conf_int(alpha).to_numpy()
        empty = self._unidentified.ravel(order="F")
        width = 6 if with_se else 1
        rows, index = [], []
        for j, code in enumerate(codes[1:]):
            index.append(f"occupation = {_label(code, self.taxonomy.title(code))}")
            rows.append([""] * width)
            for r, feat in enumerate(names):
                i = j * len(names) + r
                index.append(feat)
                if empty[i]:
                    rows.append(["(empty cell)"] + [""] * (width - 1))
                elif self._omitted[i]:
                    rows.append(["0 (omitted)"] + [""] * (width - 1))
                elif with_se:
                    rows.append(
                        [
                            f"{coef[i]:.4f}",
                            f"{se[i]:.4f}",
                            f"{z[i]:.3f}",
                            f"{pv[i]:.3f}",
                            f"{ci[i, 0]:.4f}",
                            f"{ci[i, 1]:.4f}",
                        ]
                    )
                else:
                    rows.append([f"{coef[i]:.4f}"])
        columns = (
            ["coef", "std err", "z", "P>|z|", f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"]
            if with_se
            else ["coef"]
        )
        return pd.DataFrame(rows, index=index, columns=columns)

    def _state(self) -> tuple[dict, dict, list]:
        state = {
            "features": list(self.model.features),
            "floor": self.floor,
            "method": self.method,
            "converged": self.converged,
            "fit_history": list(self.fit_history),
            "cov_type": self.cov_type,
            "cov_note": self.cov_note,
            "penalty": self.penalty,
            "mnl_llf": self.mnl_llf,
        }
        arrays = {"params": self._flat}
        if self._cov is not None:
            arrays["cov"] = self._cov
        return state, arrays, []

    @classmethod
    def _from_state(cls, panel, state, arrays, components) -> MNLogitResults:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)  # warned when first built
            model = MNLogitModel(panel, features=state["features"], floor=state["floor"])
        return cls(
            model,
            arrays["params"],
            state["mnl_llf"],
            arrays.get("cov"),
            method=state["method"],
            converged=state["converged"],
            history=tuple(state["fit_history"]),
            cov_type=state["cov_type"],
            cov_note=state["cov_note"],
            penalty=state["penalty"],
        )

    def __repr__(self) -> str:
        return (
            f"<MNLogitResults: {len(self.model.names)} features x "
            f"{len(self.model.observed_codes) - 1} outcomes, N={self.nobs}, "
            f"llf={self.llf:.2f}, method={self.method!r}, converged={self.converged}>"
        )


class _FlatCoefficients(WaldInference):
    """MNLogit coefficients as a single column named ``outcome:feature`` (what
    ``statsmodels.iolib.summary2.summary_col`` and hypothesis tests by name expect)."""

    def __init__(self, results: MNLogitResults) -> None:
        self._results = results
        self.name = results.name
        names = list(results._wald_params().index)
        self.model = _ColumnModel(results.name, names)

    @property
    def params(self) -> pd.Series:
        return self._results._wald_params()

    def _wald_params(self) -> pd.Series:
        return self._results._wald_params()

    def _wald_cov(self) -> np.ndarray | None:
        return self._results._cov

    def t_test(self, r_matrix: Any, q_matrix: Any = None):
        """As :meth:`MNLogitResults.t_test` (raises on coefficients without a
        standard error)."""
        return self._results.t_test(r_matrix, q_matrix)

    def wald_test(self, r_matrix: Any, q_matrix: Any = None, *, scalar: bool = True):
        """As :meth:`MNLogitResults.wald_test`."""
        return self._results.wald_test(r_matrix, q_matrix, scalar=scalar)


class _SubsetWald(WaldInference):
    """Some of the coefficients and their covariance, for tests on those only."""

    def __init__(self, params: pd.Series, cov: np.ndarray) -> None:
        self.params = params
        self._cov = cov

    def _wald_params(self) -> pd.Series:
        return self.params

    def _wald_cov(self) -> np.ndarray:
        return self._cov


class _ColumnModel:
    """What ``summary_col`` reads from ``results.model``: the column and parameter names."""

    def __init__(self, endog_name: str, param_names: list[str]) -> None:
        from types import SimpleNamespace

        self.endog_names = endog_name
        self.exog_names = param_names
        self.data = SimpleNamespace(param_names=param_names)


#: Old names, importable with a FutureWarning (see :mod:`labor_econ.models.renamed`).
__getattr__ = renamed_getattr(__name__, ("TransitionMNLogit", "TransitionMNLogitResults"))
