"""The paper's raw metrics: log q of each observed continuation, without the K-way distribution.

The LABOR-LLM paper reports the checkpoint's raw (unnormalized) log-likelihood and perplexity:
``sum_i log q(observed_i | prompt_i)`` over transitions. That needs one continuation per
transition, not K: `raw_metrics` scores only the observed one, each person's resume fed once
(``score_panel(..., observed_only=True)``), about 1/100 of the tokens of the full trie.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .panel_scores import score_panel
from .store import OBSERVED

if TYPE_CHECKING:
    from ..panel import CareerPanel
    from ..templates import ResumeTemplate
    from .loading import CausalLM
    from .scorer import CandidateScorer

__all__ = ["RawMetrics", "raw_metrics"]


@dataclass(frozen=True)
class RawMetrics:
    """Raw (unnormalized) metrics of a checkpoint on a panel's transitions.

    Attributes
    ----------
    logq : pandas.Series
        ``log P(observed continuation | prompt)`` per transition, indexed by (id, time).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import numpy as np
    >>> from labor_econ.lm import raw_metrics
    >>> metrics = raw_metrics(lm, val.subset(val.persons[:3]), progress=False)
    >>> metrics.nobs, metrics.logq.index.names
    (21, FrozenList(['nr', 'year']))
    >>> bool(np.isclose(metrics.perplexity, np.exp(-metrics.logq.sum() / metrics.nobs)))
    True
    >>> print(metrics)  # doctest: +ELLIPSIS
    Raw (unnormalized) metrics on 21 transitions: log-likelihood -..., perplexity ...
    """

    logq: pd.Series

    @property
    def nobs(self) -> int:
        """Number of transitions."""
        return len(self.logq)

    @property
    def llf(self) -> float:
        """Raw log-likelihood: the sum of `logq` (the paper's metric)."""
        return float(self.logq.to_numpy(dtype=np.float64).sum())

    @property
    def perplexity(self) -> float:
        """Raw perplexity ``exp(-llf / nobs)`` (NaN for no transitions)."""
        return float(np.exp(-self.llf / self.nobs)) if self.nobs else float("nan")

    def __str__(self) -> str:
        return (
            f"Raw (unnormalized) metrics on {self.nobs} transitions: log-likelihood "
            f"{self.llf:.4f}, perplexity {self.perplexity:.4f}"
        )


def raw_metrics(
    lm: CausalLM,
    panel: CareerPanel,
    *,
    template: str | ResumeTemplate = "labor_llm",
    store: str | os.PathLike | None = None,
    scorer: CandidateScorer | None = None,
    include_first: bool = False,
    progress: bool = True,
) -> RawMetrics:
    """Raw log-likelihood, raw perplexity and per-transition log q of the observed titles.

    The paper's metrics, from one causal pass per person (see
    ``score_panel(..., observed_only=True)``); no K-way distribution is computed. Scores are
    kept in `store`'s ``observed`` folder when given.

    Parameters
    ----------
    lm, panel, template, store, scorer, include_first, progress
        As for :func:`labor_econ.score_panel`.

    Returns
    -------
    RawMetrics

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ.lm import raw_metrics
    >>> metrics = raw_metrics(lm, val.subset(val.persons[:3]), template="labor_llm", progress=False)
    >>> metrics.nobs, bool(metrics.llf < 0), bool(metrics.perplexity > 1)
    (21, True, True)
    """
    frame = score_panel(
        lm,
        panel,
        template=template,
        store=store,
        scorer=scorer,
        include_first=include_first,
        progress=progress,
        observed_only=True,
    )
    return RawMetrics(frame[OBSERVED].rename("logq"))
