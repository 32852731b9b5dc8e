"""Test results and the tests below the diagnostics: ``TestResult``, ``lr_test``, Wald tests.

These sit on the results floor (below the estimators' modules and the diagnostics), so the
log-linear pool's encompassing test and the LLM's calibration test can build test results
without importing the diagnostics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..errors import LaborEconWarning
from .base import TransitionResults, check_alpha, cov_type_label
from .render import Summary, SummaryStr

__all__ = [
    "ROBUST_COV_TYPES",
    "RobustCovarianceWarning",
    "TestResult",
    "lr_test",
    "wald_result",
]

#: Covariance types under which a likelihood-ratio statistic is not chi-squared.
ROBUST_COV_TYPES = ("cluster", "HC0")


class RobustCovarianceWarning(LaborEconWarning):
    """A likelihood-ratio test was asked of results fitted with a robust covariance."""


@dataclass(frozen=True, repr=False)
class TestResult(SummaryStr):
    """The outcome of a model-comparison test, in the manner of linearmodels' test statistics.

    ``str()`` gives one line per field; ``summary()``, ``to_html()`` and ``to_latex()`` the
    same fields through the common renderer (:mod:`labor_econ.models.render`).

    Attributes
    ----------
    name : str
        The test ("Vuong", "Clarke", "Likelihood ratio", ...).
    statistic : float
        The test statistic (NaN when undefined).
    pvalue : float
        Two-sided p-value for Vuong and Clarke; upper tail for likelihood ratio.
    df : int or None
        Degrees of freedom of the reference distribution, if it has any.
    dist : str
        The reference distribution under the null.
    null : str
        The null hypothesis in words.
    conclusion : str
        One line: which model the data prefer at ``alpha``, or that they cannot tell.
    correction : {"aic", "bic"} or None
        The parameter-count correction applied.
    nobs : int
        Number of transitions (Vuong, Clarke) or of the estimation sample (LR).
    alpha : float
        The significance level of the conclusion.

    Examples
    --------
    Returned by the model-comparison tests, e.g. :func:`~labor_econ.diagnostics.vuong_test`:

    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.diagnostics import vuong_test
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> result = vuong_test(MarkovModel(train).fit(), MarginalModel(train).fit(), test)
    >>> print(result)
    Vuong test
    H0: 'Markov' and 'Marginal' are equally close to the true process
    Statistic: 10.5929
    P-value: 0.0000
    Distribution: normal (person-clustered variance)
    N: 763
    Conclusion: 'Markov' preferred at 5%
    >>> round(result.statistic, 2), result.df
    (10.59, None)
    """

    __test__ = False  # a result, not a pytest test class

    name: str
    statistic: float
    pvalue: float
    df: int | None
    dist: str
    null: str
    conclusion: str
    correction: str | None
    nobs: int
    alpha: float = 0.05

    def __str__(self) -> str:
        corr = f" ({self.correction.upper()} correction)" if self.correction else ""
        df = f"\nDegrees of freedom: {self.df}" if self.df is not None else ""
        return (
            f"{self.name} test{corr}\n"
            f"H0: {self.null}\n"
            f"Statistic: {self.statistic:.4f}\n"
            f"P-value: {self.pvalue:.4f}\n"
            f"Distribution: {self.dist}{df}\n"
            f"N: {self.nobs}\n"
            f"Conclusion: {self.conclusion}"
        )

    def summary(self) -> Summary:
        """The test's fields as a two-column table (text, HTML and LaTeX)."""
        corr = f" ({self.correction.upper()} correction)" if self.correction else ""
        smry = Summary()
        smry.add_title(f"{self.name} test{corr}")
        fields = {
            "H0:": self.null,
            "Statistic:": f"{self.statistic:.4f}",
            "P-value:": f"{self.pvalue:.4f}",
            "Distribution:": self.dist,
        }
        if self.df is not None:
            fields["Degrees of freedom:"] = str(self.df)
        fields.update({"N:": str(self.nobs), "Conclusion:": self.conclusion})
        smry.add_dict(fields, ncols=1)
        return smry

    def __repr__(self) -> str:
        return (
            f"<TestResult {self.name}: statistic={self.statistic:.4f}, "
            f"pvalue={self.pvalue:.4f}, {self.conclusion!r}>"
        )


def lr_test(
    restricted: TransitionResults, full: TransitionResults, *, alpha: float = 0.05
) -> TestResult:
    """Likelihood-ratio test of a restricted model nested in a full one.

    ``LR = 2 (llf_full - llf_restricted)``, compared with a chi-squared distribution with
    ``k_full - k_restricted`` degrees of freedom, on the common estimation sample. The
    test is valid only if ``restricted`` is ``full`` with parameters fixed, both fit by
    maximum likelihood (smoothed or floored models are approximately so).

    Parameters
    ----------
    restricted, full : TransitionResults
        Models fit on the same estimation sample; ``full`` has more parameters.
    alpha : float
        Level of the conclusion.

    Returns
    -------
    TestResult

    Raises
    ------
    ValueError
        If the models were estimated on different samples (taxonomy, transitions or
        observed occupations differ) or ``full`` does not have more parameters.

    Warns
    -----
    UserWarning
        If ``LR < 0``: the models are not nested or a fit did not converge.
    RobustCovarianceWarning
        If a model was fitted with a robust covariance (``cov_type`` ``"cluster"`` or
        ``"HC0"``): the LR statistic's chi-squared reference assumes the model is correctly
        specified with independent transitions, which a clustered fit says it doubts (Stata
        refuses ``lrtest`` after ``vce(cluster)``). The warning names the alternative: a
        Wald test with that covariance (``full.wald_test``), the calibration test
        (``calibration_test()``) or the pool's encompassing test.

    Examples
    --------
    The marginal model is the Markov model with every row of the transition matrix equal:

    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.diagnostics import lr_test
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> marginal = MarginalModel(train).fit()
    >>> markov = MarkovModel(train).fit()
    >>> result = lr_test(marginal, markov)
    >>> result.df, result.nobs, bool(result.pvalue < 0.05)
    (64, 3052, True)
    >>> result.conclusion
    "'Marginal' rejected in favour of 'Markov' at 5%"
    """
    alpha = check_alpha(alpha)
    rn, fn = getattr(restricted, "name", "restricted"), getattr(full, "name", "full")
    rp, fp = restricted.panel, full.panel
    if rp is not fp:
        same = (
            rp.taxonomy == fp.taxonomy
            and rp.n_transitions == fp.n_transitions
            and rp.transitions().index.equals(fp.transitions().index)
            and rp.transitions()["occupation"].equals(fp.transitions()["occupation"])
        )
        if not same:
            raise ValueError(
                f"lr_test needs both models estimated on the same sample: {rn!r} has "
                f"N={restricted.nobs} transitions ({rp!r}), {fn!r} has N={full.nobs} "
                f"({fp!r}). Fit both on the same panel, or compare non-nested models on a "
                "common panel with vuong_test."
            )
    robust = [
        f"{n!r} ({r.cov_type})"
        for n, r in ((rn, restricted), (fn, full))
        if getattr(r, "cov_type", None) in ROBUST_COV_TYPES
    ]
    if robust:
        warnings.warn(
            f"lr_test assumes independent transitions and a correctly specified model, but "
            f"{' and '.join(robust)} {'was' if len(robust) == 1 else 'were'} fitted with a "
            "robust covariance: use a Wald test with that covariance instead "
            "(full.wald_test(...); for an LLM's calibration, full.calibration_test(); in a "
            "log-linear pool, pool.encompassing_test(name))",
            RobustCovarianceWarning,
            stacklevel=2,
        )
    df = int(full.k_params - restricted.k_params)
    if df <= 0:
        raise ValueError(
            f"the full model {fn!r} must have more parameters than the restricted {rn!r}; "
            f"got k_full={full.k_params}, k_restricted={restricted.k_params}"
        )
    stat = 2.0 * (full.llf - restricted.llf)
    if stat < 0:
        warnings.warn(
            f"LR statistic is negative ({stat:.4g}): {rn!r} fits better than {fn!r}, so they "
            "are not nested or a fit did not converge",
            UserWarning,
            stacklevel=2,
        )
    pvalue = float(stats.chi2.sf(stat, df))
    level = f"{alpha:.0%}"
    # Models often share a name (an LLM with and without calibration): say which is which.
    rl = f"the restricted model {rn!r}" if rn == fn else repr(rn)
    fl = f"the full model {fn!r}" if rn == fn else repr(fn)
    conclusion = (
        f"{rl} rejected in favour of {fl} at {level}"
        if pvalue < alpha
        else f"cannot reject {rl} against {fl} at {level}"
    )
    return TestResult(
        name="Likelihood ratio",
        statistic=float(stat),
        pvalue=pvalue,
        df=df,
        dist=f"chi2({df})",
        null=f"the restrictions of {rn!r} on {fn!r} hold",
        conclusion=conclusion,
        correction=None,
        nobs=int(full.nobs),
        alpha=alpha,
    )


def wald_result(
    results: Any,
    r_matrix: np.ndarray,
    q_matrix: np.ndarray | None = None,
    *,
    null: str | None = None,
    alpha: float = 0.05,
) -> TestResult:
    """The Wald test of ``R params = q`` with the results' own covariance, as a TestResult.

    ``W = (R b - q)' (R V R')^-1 (R b - q)``, chi-squared with ``rows(R)`` degrees of
    freedom; ``V`` is ``results.cov_params()`` (person-clustered for ``cov_type="cluster"``).

    Raises
    ------
    ValueError
        If the results have no covariance.
    """
    alpha = check_alpha(alpha)
    wald = results.wald_test(r_matrix, q_matrix)
    stat = float(np.squeeze(wald.statistic))
    df = int(np.asarray(r_matrix, dtype=float).reshape(-1, len(results.params)).shape[0])
    pvalue = float(stats.chi2.sf(stat, df))
    level = f"{alpha:.0%}"
    null = null or "the restrictions hold"
    conclusion = (
        f"{null}: rejected at {level}" if pvalue < alpha else f"{null}: not rejected at {level}"
    )
    return TestResult(
        name=f"Wald ({cov_type_label(results.cov_type, results.n_persons)})",
        statistic=stat,
        pvalue=pvalue,
        df=df,
        dist=f"chi2({df})",
        null=null,
        conclusion=conclusion,
        correction=None,
        nobs=int(results.nobs),
        alpha=alpha,
    )
