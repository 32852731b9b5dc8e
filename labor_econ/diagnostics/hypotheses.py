"""Tests between fitted transition models: Vuong, Clarke, likelihood-ratio, encompassing.

``TestResult`` and ``lr_test`` live on the results floor (:mod:`labor_econ.models.inference`)
and ``encompassing_test`` with the pool (:mod:`labor_econ.models.pool`); they are
re-exported here, their old home.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

from ..models.base import (
    TransitionEvaluation,
    TransitionResults,
    check_alpha,
    check_same_transitions,
)
from ..models.inference import TestResult, lr_test
from ..models.pool import encompassing_test
from ..panel import CareerPanel

__all__ = ["TestResult", "clarke_test", "encompassing_test", "lr_test", "vuong_test"]

Correction = Literal["aic", "bic"] | None


def _check_correction(correction: str | None) -> str | None:
    if correction not in (None, "aic", "bic"):
        raise ValueError(f"correction must be None, 'aic' or 'bic', got {correction!r}")
    return correction


def _labels(a: TransitionResults, b: TransitionResults) -> tuple[str, str]:
    """Names for the conclusion, disambiguated when both models carry the same name."""
    na, nb = str(getattr(a, "name", "a")), str(getattr(b, "name", "b"))
    if na == nb:
        return f"model a ({na})", f"model b ({nb})"
    return repr(na), repr(nb)


def _differences(
    a: TransitionResults, b: TransitionResults, panel: CareerPanel
) -> tuple[np.ndarray, TransitionEvaluation, TransitionEvaluation]:
    """Per-transition log-likelihood differences ``l_a - l_b`` on ``panel``."""
    if panel.n_transitions == 0:
        raise ValueError("the panel has no transitions to compare the models on")
    ev_a, ev_b = a.evaluate(panel), b.evaluate(panel)
    la, lb = _labels(a, b)
    check_same_transitions({la.strip("'"): ev_a, lb.strip("'"): ev_b})
    for ev in (ev_a, ev_b):
        bad = ~np.isfinite(ev.loglikeobs.to_numpy())
        if bad.any():
            label = ev.loglikeobs.index[np.flatnonzero(bad)[0]]
            where = tuple(v.item() if isinstance(v, np.generic) else v for v in label)
            raise ValueError(
                f"model {ev.name!r} gives probability 0 to the observed occupation of "
                f"transition {where} ({int(bad.sum())} such transitions); the test needs "
                "finite log-likelihoods: smooth the model"
            )
    return ev_a.loglikeobs.to_numpy() - ev_b.loglikeobs.to_numpy(), ev_a, ev_b


def _two_sided(lean: float, pvalue: float, la: str, lb: str, alpha: float) -> str:
    """Conclusion of a two-sided test whose statistic is positive when ``a`` fits better."""
    level = f"{alpha:.0%}"
    ahead = la if lean > 0 else lb
    if pvalue < alpha:
        return f"{ahead} preferred at {level}"
    if lean == 0 or not np.isfinite(lean):
        return f"cannot discriminate at {level}"
    return f"cannot discriminate at {level} (the statistic leans to {ahead})"


def vuong_test(
    a: TransitionResults,
    b: TransitionResults,
    panel: CareerPanel,
    *,
    correction: Correction = None,
    cluster: bool = True,
    alpha: float = 0.05,
) -> TestResult:
    """Vuong's (1989) test of two non-nested models on the transitions of ``panel``.

    With ``m_i = l_a,i - l_b,i`` the difference of the models' log-likelihoods of
    transition ``i`` (from ``a.evaluate(panel).loglikeobs``) and ``n`` transitions::

        z = (sum_i m_i - c) / (sqrt(n) * omega)

    where the correction ``c`` is 0, ``k_a - k_b`` (``"aic"``) or
    ``(k_a - k_b) log(n) / 2`` (``"bic"``), ``k`` the models' ``k_params``, and
    ``omega**2 = sum_i (m_i - mean(m))**2 / n``, or with ``cluster=True`` the
    person-clustered ``omega**2 = sum_g (sum_{i in g} (m_i - mean(m)))**2 / n`` (transitions
    of one person are dependent). Under the null that both models are equally close to
    the truth (in Kullback-Leibler divergence) ``z`` is standard normal; the p-value is
    two-sided.

    Parameters
    ----------
    a, b : TransitionResults
        Fitted models coded in ``panel``'s taxonomy.
    panel : CareerPanel
        The transitions to compare the models on (usually held out).
    correction : {None, "aic", "bic"}
        Penalty for the difference in the number of parameters.
    cluster : bool, default True
        Person-clustered variance of the differences.
    alpha : float
        Level of the conclusion.

    Returns
    -------
    TestResult
        ``statistic`` is ``z``; positive values favour ``a``. If the models predict
        every transition identically, ``statistic`` is 0 (NaN if a correction makes the
        penalized difference non-zero), ``pvalue`` 1 and the conclusion says so.

    Raises
    ------
    PanelError
        If a model is coded in another taxonomy than ``panel``.
    ValueError
        If a model gives probability zero to an observed transition.

    See Also
    --------
    clarke_test : the distribution-free sign test on the same differences.

    Examples
    --------
    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.diagnostics import vuong_test
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> marginal = MarginalModel(train).fit()
    >>> markov = MarkovModel(train).fit()
    >>> result = vuong_test(markov, marginal, test)  # clustered by person
    >>> result.nobs, bool(result.statistic > 0), bool(result.pvalue < 0.05)
    (763, True, True)
    >>> result.conclusion
    "'Markov' preferred at 5%"
    """
    correction = _check_correction(correction)
    alpha = check_alpha(alpha)
    m, ev_a, ev_b = _differences(a, b, panel)
    n = len(m)
    dk = ev_a.k_params - ev_b.k_params
    penalty = {None: 0.0, "aic": float(dk), "bic": dk * np.log(n) / 2}[correction]
    total = float(m.sum()) - penalty
    dev = m - m.mean()
    if cluster:
        sums = np.bincount(ev_a.persons.factorize()[0], weights=dev)
        omega2 = float((sums**2).sum()) / n
    else:
        omega2 = float((dev**2).sum()) / n
    la, lb = _labels(a, b)
    variance = "person-clustered" if cluster else "independent"
    null = f"{la} and {lb} are equally close to the true process"
    dist = f"normal ({variance} variance)"
    scale = float(np.abs(m).max())
    if omega2 <= (1e-12 * max(scale, 1.0)) ** 2:
        identical = scale <= 1e-12
        stat = 0.0 if total == 0 else np.nan
        why = "identical predictions" if identical else "zero variance of the differences"
        return TestResult(
            name="Vuong",
            statistic=stat,
            pvalue=1.0,
            df=None,
            dist=dist,
            null=null,
            conclusion=f"cannot discriminate ({why})",
            correction=correction,
            nobs=n,
            alpha=alpha,
        )
    stat = total / (np.sqrt(n) * np.sqrt(omega2))
    pvalue = float(2 * stats.norm.sf(abs(stat)))
    return TestResult(
        name="Vuong",
        statistic=float(stat),
        pvalue=pvalue,
        df=None,
        dist=dist,
        null=null,
        conclusion=_two_sided(stat, pvalue, la, lb, alpha),
        correction=correction,
        nobs=n,
        alpha=alpha,
    )


def clarke_test(
    a: TransitionResults,
    b: TransitionResults,
    panel: CareerPanel,
    *,
    correction: Correction = None,
    alpha: float = 0.05,
) -> TestResult:
    """Clarke's (2007) distribution-free sign test of two non-nested models.

    With ``m_i = l_a,i - l_b,i`` as in :func:`vuong_test`, each difference is corrected by
    ``c = 0``, ``(k_a - k_b) / n`` (``"aic"``) or ``(k_a - k_b) log(n) / (2 n)``
    (``"bic"``), the per-transition shares of the Vuong corrections. The statistic ``B``
    counts the transitions with ``m_i - c > 0``; exact ties (``m_i - c == 0``) are dropped,
    leaving ``n'``. Under the null that the median difference is zero,
    ``B ~ Binomial(n', 1/2)``; the p-value is two-sided. The sign test treats transitions
    as independent; with long careers it overstates the evidence (the clustered
    :func:`vuong_test` does not): in the Monte Carlo of the test suite, where each difference
    is symmetric about zero (both nulls hold) but a person's transitions share a
    perturbation, it rejects in 44% of the replicates at 5%, because it counts dependent
    transitions as independent; with independent transitions its size is 4%. Its null, a
    zero *median* difference, is also not Vuong's zero mean: when the differences are
    skewed, as log-probability differences often are, it can reject although both models
    are equally close to the truth in Kullback-Leibler divergence.

    Parameters
    ----------
    a, b : TransitionResults
        Fitted models coded in ``panel``'s taxonomy.
    panel : CareerPanel
        The transitions to compare on.
    correction : {None, "aic", "bic"}
    alpha : float
        Level of the conclusion.

    Returns
    -------
    TestResult
        ``statistic`` is ``B``, ``df`` is None, ``dist`` names ``n'``.

    Raises
    ------
    PanelError
        If a model is coded in another taxonomy than ``panel``.
    ValueError
        If a model gives probability zero to an observed transition.

    Examples
    --------
    >>> from labor_econ import MarginalModel, MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.diagnostics import clarke_test
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> marginal = MarginalModel(train).fit()
    >>> markov = MarkovModel(train).fit()
    >>> result = clarke_test(markov, marginal, test)
    >>> print(result)  # Markov fits 476 of the 763 held-out transitions better
    Clarke test
    H0: the median log-likelihood difference of 'Markov' and 'Marginal' is zero
    Statistic: 476.0000
    P-value: 0.0000
    Distribution: binomial(763, 0.5)
    N: 763
    Conclusion: 'Markov' preferred at 5%
    """
    correction = _check_correction(correction)
    alpha = check_alpha(alpha)
    m, ev_a, ev_b = _differences(a, b, panel)
    n = len(m)
    dk = ev_a.k_params - ev_b.k_params
    shift = {None: 0.0, "aic": dk / n, "bic": dk * np.log(n) / (2 * n)}[correction]
    d = m - shift
    untied = d[d != 0]
    b_count = int((untied > 0).sum())
    la, lb = _labels(a, b)
    null = f"the median log-likelihood difference of {la} and {lb} is zero"
    dist = f"binomial({len(untied)}, 0.5)"
    if len(untied) == 0:
        return TestResult(
            name="Clarke",
            statistic=0.0,
            pvalue=1.0,
            df=None,
            dist=dist,
            null=null,
            conclusion="cannot discriminate (identical predictions)",
            correction=correction,
            nobs=n,
            alpha=alpha,
        )
    pvalue = float(stats.binomtest(b_count, len(untied), 0.5).pvalue)
    lean = b_count - len(untied) / 2
    return TestResult(
        name="Clarke",
        statistic=float(b_count),
        pvalue=pvalue,
        df=None,
        dist=dist,
        null=null,
        conclusion=_two_sided(lean, pvalue, la, lb, alpha),
        correction=correction,
        nobs=n,
        alpha=alpha,
    )
