"""LLMTransitionModel: a statsmodels likelihood model whose probabilities come from a causal LM."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp
from statsmodels.base.model import LikelihoodModel, LikelihoodModelResults
from statsmodels.iolib import summary2
from statsmodels.iolib.summary import Summary

from ..panel import CareerPanel, PanelError, _scalar
from ..report import taxonomy_label
from ..templates import ResumeTemplate
from .base import (
    TransitionEvaluation,
    TransitionResults,
    WaldInference,
    check_alpha,
    check_cov_type,
    check_taxonomy,
    marginal_loglike,
    sandwich_covariance,
)

if TYPE_CHECKING:
    from ..lm.loading import CausalLM
    from ..lm.scoring import CandidateScorer

__all__ = ["LLMTransitionModel", "LLMTransitionResults", "PARAM_NAMES"]

PARAM_NAMES = ("scale", "stay")
#: Rounding allowed above a total probability of 1 in a row of scores (float32 scoring).
_MASS_TOLERANCE = 1e-4
CovType = Literal["nonrobust", "HC0", "cluster"]


class LLMTransitionModel(LikelihoodModel):
    r"""Occupational transitions predicted by a causal language model.

    Every transition's prompt (the person's resume up to the current year) is scored
    against the continuation of every occupation in the taxonomy, giving
    :math:`\log q_{ik} = \log P(\text{continuation}_k \mid \text{prompt}_i)`. The model is
    the conditional logit

    .. math:: p_{ik} \propto \exp(\text{scale} \cdot \log q_{ik}
              + \text{stay} \cdot 1[k = \text{previous occupation}_i])

    At ``scale = 1, stay = 0`` these are the checkpoint's own probabilities renormalized over
    the taxonomy (the LM also puts some mass on text that is no occupation; see
    ``valid_mass``). The scores play the role of exog: computed once, on first use, with the
    scorer, and cached on the model.

    Parameters
    ----------
    panel : CareerPanel
        Transitions to model.
    lm : CausalLM
        A loaded causal LM (:func:`labor_econ.load_lm`, or a tiny one from
        :func:`labor_econ.lm.testing.tiny_lm`).
    template : str or ResumeTemplate, optional
        How careers are written; must match how the checkpoint was trained. Default: the
        template saved with the checkpoint (``lm.template``, written by
        :func:`labor_econ.finetune`), else the ``"labor_llm"`` preset. A template that
        differs from the saved one is used, with a
        :class:`~labor_econ.CheckpointMismatchWarning`.
    scorer : CandidateScorer, optional
        Scores prompts against candidates; default ``CandidateScorer(lm)``.
    include_first : bool
        Also model each person's first observed wave (its prompt holds the header only,
        and it has no previous occupation).
    name : str, optional
        Name in summaries, tables and test conclusions; default the checkpoint's name.
    store : str or os.PathLike, optional
        A score store directory (see :func:`labor_econ.score_panel`): the scores are
        written there shard by shard as they are computed, a rerun reads them and scores
        only what is missing, and :meth:`from_store` rebuilds the model without the LM.

    See Also
    --------
    LLMTransitionModel.from_scores : the model on precomputed log q scores.
    LLMTransitionModel.from_store : the model on a score store, without an LM.

    Examples
    --------
    >>> model = LLMTransitionModel(panel, lm, template="labor_llm")  # doctest: +SKIP
    >>> res = model.fit(calibrate=True)                                # doctest: +SKIP
    >>> print(res.summary())                                           # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> res = LLMTransitionModel(val, lm).fit(calibrate=True)  # template saved with the checkpoint
    >>> list(res.params.index), res.nobs
    (['scale', 'stay'], 308)
    >>> res.predict(test).shape
    (763, 9)
    """

    def __init__(
        self,
        panel: CareerPanel,
        lm: CausalLM | None,
        *,
        template: str | ResumeTemplate | None = None,
        scorer: CandidateScorer | None = None,
        include_first: bool = False,
        name: str | None = None,
        store: str | os.PathLike | None = None,
    ) -> None:
        if not isinstance(panel, CareerPanel):
            raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
        self.panel = panel
        self.lm = lm
        self.template = _template_for(lm, template, panel)
        self._scorer = scorer
        self.include_first = include_first
        self._name = name
        self.store = store
        self.taxonomy = panel.taxonomy
        self.transitions = panel.transitions(include_first=include_first)
        if self.transitions.empty:
            raise PanelError("the panel has no transitions to model (every person has one wave)")
        endog = pd.Series(
            self.taxonomy.positions(self.transitions["occupation"]),
            index=self.transitions.index,
            name="occupation",
        )
        super().__init__(endog, None)
        self.data.param_names = list(PARAM_NAMES)
        self.k_vars = len(PARAM_NAMES)
        self.nparams = len(PARAM_NAMES)
        self.df_model = 0.0
        self.df_resid = float(len(endog))
        prev = self.transitions["prev_occupation"]
        has_prev = prev.notna().to_numpy()
        self._prev = np.full(len(prev), -1)
        self._prev[has_prev] = self.taxonomy.positions(prev[has_prev])
        self._obs = endog.to_numpy()
        self._other_panels: dict[int, LLMTransitionModel] = {}

    # -- construction from scores -------------------------------------------------------------
    @classmethod
    def from_scores(
        cls,
        panel: CareerPanel,
        logq: np.ndarray | pd.DataFrame,
        *,
        name: str = "precomputed scores",
        include_first: bool = False,
    ) -> LLMTransitionModel:
        """The model on precomputed ``log q`` scores (n_transitions x K), without an LM.

        Useful for scores computed elsewhere (another machine, a cached run) and for
        simulations. Predicting on a new panel then needs the LM and raises.

        Raises
        ------
        ValueError
            If the shape does not match the panel's transitions and taxonomy, a DataFrame's
            index or columns do not match them, or a score is NaN or positive.
        """
        model = cls(panel, None, include_first=include_first, name=name)
        if isinstance(logq, pd.DataFrame):
            if not logq.index.equals(model.transitions.index):
                raise ValueError("logq's index differs from the panel's transitions (id, time)")
            if list(logq.columns) != list(panel.taxonomy.codes):
                raise ValueError("logq's columns must be the taxonomy codes in taxonomy order")
            logq = logq.to_numpy()
        model.__dict__["logq"] = model._check_scores(np.asarray(logq, dtype=np.float64))
        return model

    @classmethod
    def from_store(
        cls,
        panel: CareerPanel,
        path: str | os.PathLike,
        *,
        include_first: bool = False,
        name: str | None = None,
    ) -> LLMTransitionModel:
        """The model on the scores in a score store (see :func:`labor_econ.score_panel`).

        No LM is loaded: the store must hold every transition of `panel`, scored on the
        panel's taxonomy with the prompts the panel gives now. Predicting on another panel
        reads that panel's scores from the same store (and raises when they are not
        there).

        Parameters
        ----------
        panel : CareerPanel
            The transitions to model.
        path : str or os.PathLike
            The store's directory.
        include_first : bool
            As for :class:`LLMTransitionModel`.
        name : str, optional
            Default: the stored checkpoint's name.

        Raises
        ------
        ValueError
            When the store lacks transitions of the panel, was scored on another taxonomy, or
            on other prompts for the same (id, time).

        Examples
        --------
        >>> model = LLMTransitionModel.from_store(panel, "scores/")  # doctest: +SKIP
        """
        from ..lm.store import read_store

        frame, meta = read_store(path, panel, include_first=include_first)
        model = cls.from_scores(
            panel, frame.to_numpy(), name=name or meta["model"], include_first=include_first
        )
        model.template = ResumeTemplate.from_dict(meta["template"])
        model.store = path
        return model

    @classmethod
    def from_finetuned(
        cls,
        lm: CausalLM,
        train: CareerPanel,
        *,
        val: CareerPanel | None = None,
        panel: CareerPanel | None = None,
        template: str | ResumeTemplate = "labor_llm",
        scorer: CandidateScorer | None = None,
        include_first: bool = False,
        **finetune_kwargs: Any,
    ) -> LLMTransitionModel:
        """Fine-tune ``lm`` on ``train``'s resumes, then build the model on its output.

        The one-liner for ``LLMTransitionModel(panel, finetune(lm, train, ...), ...)``:
        the same template is used to train and to score.

        Parameters
        ----------
        lm : CausalLM
            The starting checkpoint.
        train, val : CareerPanel
            Training persons, and validation persons for the best-epoch choice.
        panel : CareerPanel, optional
            The transitions to model; default ``val`` (persons the LM did not train on, the
            right sample to calibrate ``scale`` and ``stay`` on), else ``train``.
        template, scorer, include_first
            As for :class:`LLMTransitionModel`.
        **finetune_kwargs
            Passed to :func:`labor_econ.finetune` (``epochs``, ``method``,
            ``learning_rate``, ``output_dir``, ...).

        Examples
        --------
        >>> model = LLMTransitionModel.from_finetuned(lm, train, val=val, epochs=5,
        ...                                           output_dir="ckpt")  # doctest: +SKIP
        >>> res = model.fit(calibrate=True)                                # doctest: +SKIP
        """
        from ..lm.finetune import finetune

        tuned = finetune(lm, train, template=template, val=val, **finetune_kwargs)
        target = panel if panel is not None else (val if val is not None else train)
        return cls(target, tuned, template=template, scorer=scorer, include_first=include_first)

    def _check_scores(self, logq: np.ndarray) -> np.ndarray:
        expected = (len(self.transitions), len(self.taxonomy))
        if logq.shape != expected:
            raise ValueError(f"scores have shape {logq.shape}, expected {expected}")
        bad = np.isnan(logq) | (logq > 1e-6)
        if bad.any():
            i, k = np.argwhere(bad)[0]
            pid, year = (_scalar(v) for v in self.transitions.index[i])
            raise ValueError(
                f"log q is {logq[i, k]} (NaN or positive) for person {pid!r}, year {year!r}, "
                f"code {self.taxonomy.codes[k]!r}: scores must be log-probabilities"
            )
        mass = logsumexp(logq, axis=1)
        over = mass > np.log1p(_MASS_TOLERANCE)
        if over.any():
            i = int(np.argmax(over))
            pid, year = (_scalar(v) for v in self.transitions.index[i])
            raise ValueError(
                f"the scores of {int(over.sum())} transition(s) sum to more than 1 over the "
                f"taxonomy (first: person {pid!r}, year {year!r}: sum of q = "
                f"{float(np.exp(mass[i])):.6g}); log q must be log-probabilities of distinct "
                "continuations, whose total is at most 1"
            )
        dead = np.isneginf(logq).all(axis=1)
        if dead.any():
            pid, year = (_scalar(v) for v in self.transitions.index[np.argmax(dead)])
            raise ValueError(
                f"the LM gives probability 0 to every occupation for person {pid!r}, year "
                f"{year!r}; check the template matches the checkpoint"
            )
        return logq

    @property
    def name(self) -> str:
        """The checkpoint's name (or ``from_scores``' name)."""
        return self._name or (self.lm.name if self.lm else "LLM")

    def _require_lm(self) -> None:
        if self.lm is None:
            raise ValueError(
                "this model has no LM to score new transitions (it was built from precomputed "
                "scores, or loaded from a saved results file, which never holds the LM): a new "
                "panel needs its "
                "scores. Build LLMTransitionModel.from_scores(new_panel, logq) with that "
                "panel's log q, or LLMTransitionModel(new_panel, lm, ...) to score it"
            )

    @property
    def scorer(self) -> CandidateScorer:
        """The candidate scorer (built on first use)."""
        if self._scorer is None:
            self._require_lm()
            from ..lm.scoring import CandidateScorer

            self._scorer = CandidateScorer(self.lm)
        return self._scorer

    @cached_property
    def prompts(self) -> pd.Series:
        """The prompt of every transition, indexed by (id, time)."""
        return self.template.prompts(self.panel, include_first=self.include_first)

    @cached_property
    def candidates(self) -> list[str]:
        """The continuation of every taxonomy entry (title or code plus terminator)."""
        return self.template.continuations(self.taxonomy)

    @cached_property
    def logq(self) -> np.ndarray:
        """``log P(continuation_k | prompt_i)``, shape (n_transitions, K), computed once."""
        if self.store is not None:
            from ..lm.store import score_panel

            self._require_lm()
            scores = score_panel(
                self.lm,
                self.panel,
                template=self.template,
                store=self.store,
                scorer=self.scorer,
                include_first=self.include_first,
                progress=self.scorer.progress,
            ).to_numpy()
        else:
            from ..lm.scoring import ContextLengthError

            try:
                prompts = self.prompts.tolist()
                # The scorer caches candidate tokenizations per last wave of the template.
                starts = self.template.wave_starts(prompts)
                scores = self.scorer.score(prompts, self.candidates, starts=starts)
            except ContextLengthError as err:
                labels = [
                    f"person {_scalar(i)!r}, year {_scalar(t)!r}" for i, t in self.prompts.index
                ]
                raise err.relabel(labels) from None
        return self._check_scores(np.asarray(scores, dtype=np.float64))

    def for_panel(self, panel: CareerPanel) -> LLMTransitionModel:
        """The same LM, template, scorer and taxonomy on another panel.

        The new panel is scored on first use and remembered, so predicting and evaluating
        it repeatedly (from this model's uncalibrated and calibrated results alike) scores it
        once.
        """
        check_taxonomy(panel, self.taxonomy, f"model {self.name!r}")
        if panel is self.panel:
            return self
        cached = self._other_panels.get(id(panel))
        if cached is not None and cached.panel is panel:
            return cached
        if self.lm is None and self.store:
            # No LM (built from a store, or loaded from saved results): the store may
            # hold the other panel's scores, e.g. the test persons scored during a fit.
            cached = type(self).from_store(
                panel, self.store, include_first=self.include_first, name=self._name
            )
        else:
            self._require_lm()
            cached = type(self)(
                panel,
                self.lm,
                template=self.template,
                scorer=self.scorer,
                include_first=self.include_first,
                name=self._name,
                store=self.store,
            )
        self._other_panels[id(panel)] = cached
        return cached

    # -- likelihood ---------------------------------------------------------------------------
    def _utilities(self, params: Sequence[float]) -> np.ndarray:
        scale, stay = np.asarray(params, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            u = scale * self.logq
        u[np.isneginf(self.logq)] = -np.inf  # q = 0 stays impossible for any scale >= 0
        has_prev = self._prev >= 0
        u[np.flatnonzero(has_prev), self._prev[has_prev]] += stay
        return u

    def _log_probs(self, params: Sequence[float]) -> np.ndarray:
        return log_softmax(self._utilities(params), axis=1)

    def loglikeobs(self, params: Sequence[float]) -> np.ndarray:
        """Log-probability of each observed transition at ``params`` (scale, stay)."""
        return self._log_probs(params)[np.arange(len(self._obs)), self._obs]

    def loglike(self, params: Sequence[float]) -> float:
        """Log-likelihood at ``params``."""
        return float(self.loglikeobs(params).sum())

    def _features(self) -> np.ndarray:
        """x_ik = (log q_ik, 1[k = prev_i]) as an (n, K, 2) array, with -inf set to 0."""
        x = np.zeros((*self.logq.shape, 2))
        x[..., 0] = np.where(np.isneginf(self.logq), 0.0, self.logq)
        has_prev = self._prev >= 0
        x[np.flatnonzero(has_prev), self._prev[has_prev], 1] = 1.0
        return x

    def score_obs(self, params: Sequence[float]) -> np.ndarray:
        """Per-transition score, (n, 2): x_i,observed - E_p[x_i]."""
        p = np.exp(self._log_probs(params))
        x = self._features()
        mean = np.einsum("nk,nkj->nj", p, x)
        return x[np.arange(len(self._obs)), self._obs] - mean

    def score(self, params: Sequence[float]) -> np.ndarray:
        """Gradient of the log-likelihood (analytic)."""
        return self.score_obs(params).sum(axis=0)

    def hessian(self, params: Sequence[float]) -> np.ndarray:
        """Hessian of the log-likelihood (analytic): minus the summed covariance of x under p."""
        p = np.exp(self._log_probs(params))
        x = self._features()
        mean = np.einsum("nk,nkj->nj", p, x)
        second = np.einsum("nk,nki,nkj->ij", p, x, x)
        return -(second - mean.T @ mean)

    def predict(self, params: Sequence[float], exog: None = None, *args: Any, **kwargs: Any):
        """Probabilities (n_transitions, K) at ``params``; rows sum to one."""
        if exog is not None:
            raise ValueError("use results.predict(panel=...) to predict on another panel")
        return np.exp(self._log_probs(params))

    # -- fitting ------------------------------------------------------------------------------
    def fit(
        self,
        calibrate: bool = False,
        *,
        cov_type: CovType = "cluster",
        start_params: Sequence[float] | None = None,
        maxiter: int = 100,
        gtol: float = 1e-8,
    ) -> LLMTransitionResults:
        """Fit the model.

        Parameters
        ----------
        calibrate : bool
            False (default): keep ``scale = 1, stay = 0``, the checkpoint's own
            probabilities renormalized over the taxonomy; nothing is estimated
            (``df_model = 0``, standard errors are NaN). True: estimate both by maximum
            likelihood (trust-region Newton with the analytic score and Hessian).
        cov_type : {"cluster", "HC0", "nonrobust"}
            Covariance of the calibrated parameters. ``"cluster"`` (default) clusters by
            person, since a person's transitions share one career and one resume prefix;
            it uses the sandwich with the small-sample factor G / (G - 1), G persons (as
            Stata's ``vce(cluster)`` for ML models). ``"HC0"`` is the robust sandwich,
            ``"nonrobust"`` the inverse information.
        start_params : sequence of float, optional
            Starting (scale, stay); default (1, 0).
        maxiter, gtol : int, float
            Iteration limit and tolerance on the mean score of the optimizer
            (:func:`scipy.optimize.minimize`, ``method="trust-exact"``).

        Raises
        ------
        RuntimeError
            If the optimizer does not converge.

        Returns
        -------
        LLMTransitionResults
        """
        check_cov_type(cov_type)
        if not calibrate:
            params = np.array([1.0, 0.0])
            cov = np.full((2, 2), np.nan)
            return _checked(
                LLMTransitionResults(self, params, cov, calibrated=False, cov_type=None)
            )
        start = np.array([1.0, 0.0] if start_params is None else start_params, dtype=float)
        # Plain Newton (statsmodels' "newton") has no step control and overshoots from
        # (1, 0) when the LM is far from calibrated; a trust-region Newton with the same
        # analytic Hessian converges on this concave problem.
        n = len(self._obs)
        opt = minimize(
            lambda b: -self.loglike(b) / n,
            start,
            jac=lambda b: -self.score(b) / n,
            hess=lambda b: -self.hessian(b) / n,
            method="trust-exact",
            options={"maxiter": maxiter, "gtol": gtol},
        )
        params = opt.x
        # At the optimum scipy may stop with "failure to predict improvement" (rounding):
        # judge convergence by the mean score itself.
        mean_score = np.abs(self.score(params)).max() / n
        if not np.isfinite(self.loglike(params)) or mean_score > max(gtol, 1e-6):
            raise RuntimeError(
                f"calibration did not converge after {opt.nit} iterations ({opt.message}): "
                f"params {params}, log-likelihood {self.loglike(params)}"
            )
        cov = self._covariance(params, cov_type)
        res = LLMTransitionResults(self, params, cov, calibrated=True, cov_type=cov_type)
        res.mle_retvals = {
            "converged": True,
            "iterations": opt.nit,
            "max_mean_score": mean_score,
            "message": opt.message,
        }
        return _checked(res)

    def _covariance(self, params: np.ndarray, cov_type: CovType) -> np.ndarray:
        persons = self.transitions.index.get_level_values(0)
        return sandwich_covariance(
            self.hessian(params), self.score_obs(params), np.asarray(persons), cov_type
        )


class LLMTransitionResults(TransitionResults, WaldInference, LikelihoodModelResults):
    """Results of :class:`LLMTransitionModel`: statsmodels results plus the transition protocol.

    Attributes
    ----------
    params, bse : pandas.Series
        ``scale`` and ``stay`` and their standard errors (NaN when not calibrated).
    llf : float
        Log-likelihood, equal to ``model.loglike(params)``.
    raw_llf : float
        The paper-style unnormalized log-likelihood: sum of log q of the observed
        continuation, before renormalization over the taxonomy.
    valid_mass : pandas.Series
        Per transition, the probability the LM puts on the taxonomy's continuations
        (``sum_k q_k``); 1 means it writes only real occupations.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ import LLMTransitionModel
    >>> res = LLMTransitionModel(val, lm).fit(calibrate=True)
    >>> list(res.params.index), res.nobs
    (['scale', 'stay'], 308)
    >>> res.conf_int().shape
    (2, 2)
    >>> bool(res.valid_mass.mean() > 0.8)
    True
    >>> res.evaluate(test).nobs  # the test persons, scored once
    763
    """

    def __init__(
        self,
        model: LLMTransitionModel,
        params: np.ndarray,
        cov: np.ndarray,
        *,
        calibrated: bool,
        cov_type: CovType | None,
    ) -> None:
        index = pd.Index(PARAM_NAMES)
        LikelihoodModelResults.__init__(
            self, model, pd.Series(params, index=index), normalized_cov_params=cov, scale=1.0
        )
        self.calibrated = calibrated
        self.cov_type = cov_type or "none (not estimated)"
        self.name = model.name
        self.panel = model.panel
        self.taxonomy = model.taxonomy
        self.k_params = 2 if calibrated else 0
        self.df_model = float(self.k_params)
        self.df_resid = float(len(model.endog) - self.k_params)
        self.use_t = False

    @cached_property
    def llf(self) -> float:
        """Log-likelihood of the estimation sample at ``params``."""
        return self.model.loglike(self.params.to_numpy())

    @property
    def nobs(self) -> int:
        """Number of modelled transitions."""
        return len(self.model.endog)

    @property
    def n_persons(self) -> int:
        """Number of persons in the estimation sample."""
        return self.panel.n_persons

    def _wald_params(self) -> pd.Series:
        return self.params

    def _wald_cov(self) -> np.ndarray:
        return np.asarray(self.normalized_cov_params, dtype=float)

    # -- the transition protocol ----------------------------------------------------------------
    def _model_for(self, panel: CareerPanel | None) -> LLMTransitionModel:
        return self.model if panel is None else self.model.for_panel(panel)

    def predict(self, panel: CareerPanel | None = None) -> pd.DataFrame:
        """Predicted probabilities for a panel's transitions (default the estimation sample).

        A new panel is scored with the same LM, template and scorer; its taxonomy must be
        the model's. Rows are (id, time), columns the taxonomy codes; rows sum to one.
        """
        model = self._model_for(panel)
        return pd.DataFrame(
            model.predict(self.params.to_numpy()),
            index=model.transitions.index,
            columns=pd.Index(self.taxonomy.codes),
        )

    def evaluate(self, panel: CareerPanel | None = None) -> TransitionEvaluation:
        """Log-likelihood, perplexity and accuracy on a panel's transitions."""
        model = self._model_for(panel)
        probs = self.predict(panel)
        return TransitionEvaluation(
            self.name, probs, model.transitions["occupation"], self.k_params
        )

    def _predict_proba(self, panel: CareerPanel) -> np.ndarray:
        return self.predict(panel).to_numpy()

    @property
    def llnull(self) -> float:
        """Log-likelihood of the marginal-frequency model on the modelled transitions."""
        return marginal_loglike(self.model.transitions["occupation"])

    @cached_property
    def raw_llf(self) -> float:
        """Sum of log q of the observed continuation (unnormalized, as in the paper)."""
        m = self.model
        return float(m.logq[np.arange(len(m._obs)), m._obs].sum())

    @cached_property
    def valid_mass(self) -> pd.Series:
        """Per transition, ``sum_k q_k``: the LM's probability of writing a real occupation."""
        return pd.Series(
            np.exp(logsumexp(self.model.logq, axis=1)),
            index=self.model.transitions.index,
            name="valid_mass",
        )

    # -- reporting ------------------------------------------------------------------------------
    def _info(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        m = self.model
        left = [
            ("Dep. Variable:", "occupation"),
            ("Model:", "LLMTransitionModel"),
            ("Checkpoint:", _clip(self.name)),
            ("Template:", m.template.name),
            ("Taxonomy:", taxonomy_label(self.taxonomy)),
            ("Method:", "MLE (calibrated)" if self.calibrated else "none (LM probabilities)"),
            ("Covariance Type:", _clip(self.cov_type)),
            ("Date:", None),
        ]
        right = [
            ("No. Transitions:", f"{self.nobs}"),
            ("No. Persons:", f"{self.n_persons}"),
            ("Df Model:", f"{self.k_params}"),
            ("Log-likelihood:", f"{self.llf:#8.5g}"),
            ("LL-Null:", f"{self.llnull:#8.5g}"),
            ("Pseudo R-squ.:", f"{self.prsquared:#6.4g}"),
            ("Perplexity:", f"{self.perplexity:#6.4g}"),
            ("Mean valid mass:", f"{self.valid_mass.mean():#6.4g}"),
        ]
        return left, right

    def _notes(self) -> list[str]:
        notes = [
            "p_k ∝ exp(scale * log q_k + stay * 1[k = previous occupation]); "
            "q_k = P(continuation_k | prompt) from the LM.",
            f"Raw (unnormalized) log-likelihood: {self.raw_llf:.4f}; raw perplexity "
            f"{np.exp(-self.raw_llf / self.nobs):.4f}.",
        ]
        if self.calibrated:
            if self.cov_type == "cluster":
                notes.append(
                    f"Standard errors clustered by person ({self.n_persons} clusters, "
                    "factor G / (G - 1))."
                )
        else:
            notes.append(
                "Parameters fixed at scale = 1, stay = 0 (not estimated): the checkpoint's own "
                "probabilities renormalized over the taxonomy. Use fit(calibrate=True) to "
                "estimate them."
            )
        return notes

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels ``Summary``: model header, then the ``scale``/``stay`` table."""
        alpha = check_alpha(alpha)
        left, right = self._info()
        smry = Summary()
        smry.add_table_2cols(
            self,
            gleft=[(k, None if v is None else [v]) for k, v in left],
            gright=[(k, [v]) for k, v in right],
            yname="occupation",
            xname=list(PARAM_NAMES),
            title="LLM Transition Model Results",
        )
        smry.add_table_params(
            self, yname="occupation", xname=list(PARAM_NAMES), alpha=alpha, use_t=False
        )
        smry.add_extra_txt([f"[{i + 1}] {n}" for i, n in enumerate(self._notes())])
        return smry

    def summary2(self, alpha: float = 0.05, float_format: str = "%.4f") -> summary2.Summary:
        """A statsmodels ``summary2.Summary`` (renders as text, HTML and LaTeX)."""
        alpha = check_alpha(alpha)
        smry = summary2.Summary()
        left, right = self._info()
        info = pd.DataFrame(
            [[a, b or "", c, d] for (a, b), (c, d) in zip(left[:-1], right, strict=False)]
        )
        smry.add_df(info, header=False, index=False)
        params = summary2.summary_params(
            self, xname=list(PARAM_NAMES), alpha=alpha, use_t=False, float_format=float_format
        )
        smry.add_df(params, float_format=float_format)
        smry.add_title("LLM Transition Model Results")
        for note in self._notes():
            smry.add_text(note)
        return smry

    def _state(self) -> tuple[dict, dict, list]:
        import dataclasses

        template = self.model.template
        state = {
            "name": self.name,
            "include_first": self.model.include_first,
            "calibrated": self.calibrated,
            "cov_type": self.cov_type if self.calibrated else None,
            "template": {
                f.name: getattr(template, f.name) for f in dataclasses.fields(template) if f.init
            },
            "mle_retvals": getattr(self, "mle_retvals", None),
            # where the scores of other panels may be read (never the LM itself)
            "store": str(Path(self.model.store).resolve()) if self.model.store else None,
        }
        arrays = {
            "logq": self.model.logq,
            "params": self.params.to_numpy(),
            "cov": np.asarray(self.normalized_cov_params, dtype=float),
        }
        return state, arrays, []

    @classmethod
    def _from_state(cls, panel, state, arrays, components) -> LLMTransitionResults:
        model = LLMTransitionModel.from_scores(
            panel, arrays["logq"], name=state["name"], include_first=state["include_first"]
        )
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in state["template"].items()}
        model.template = ResumeTemplate(**fields)
        if state.get("store") and Path(state["store"]).is_dir():
            model.store = state["store"]
        res = cls(
            model,
            arrays["params"],
            arrays["cov"],
            calibrated=state["calibrated"],
            cov_type=state["cov_type"],
        )
        if state["mle_retvals"] is not None:
            res.mle_retvals = state["mle_retvals"]
        return res

    def __repr__(self) -> str:
        return (
            f"<LLMTransitionResults {self.name!r}: N={self.nobs}, llf={self.llf:.3f}, "
            f"perplexity={self.perplexity:.4f}, calibrated={self.calibrated}>"
        )


def _template_for(
    lm: CausalLM | None, template: str | ResumeTemplate | None, panel: CareerPanel
) -> ResumeTemplate:
    """The template to score with: the one given, else the checkpoint's saved one, else the
    ``labor_llm`` preset; warn where what is used differs from what the checkpoint saved."""
    from ..lm.formats import CheckpointMismatchWarning

    saved = getattr(lm, "template", None)
    if template is None:
        template = saved if saved is not None else "labor_llm"
    template = ResumeTemplate.coerce(template)
    name = getattr(lm, "name", "the checkpoint")
    if saved is not None and _format_of(template) != _format_of(saved):
        warnings.warn(
            f"template {template.name!r} differs from the template {saved.name!r} saved with "
            f"{name} (its training format): {_format_of(template)} vs {_format_of(saved)}. "
            "Omit template= to score with the saved one",
            CheckpointMismatchWarning,
            stacklevel=4,
        )
    trained = getattr(lm, "taxonomy", None)
    if trained is not None and template.outcome == "title":
        differ = [
            (c, panel.taxonomy.title(c), trained.title(c))
            for c in panel.taxonomy.codes
            if c in trained and panel.taxonomy.title(c) != trained.title(c)
        ]
        if differ:
            c, ours, theirs = differ[0]
            warnings.warn(
                f"{len(differ)} title(s) of the panel's taxonomy differ from the taxonomy saved "
                f"with {name}, e.g. code {c!r}: {ours!r} here, {theirs!r} in training. Use "
                "panel.with_taxonomy(lm.taxonomy) to score with the training spellings",
                CheckpointMismatchWarning,
                stacklevel=4,
            )
    return template


def _format_of(template: ResumeTemplate) -> dict:
    """What a template writes, without its display name."""
    return {k: v for k, v in template.to_dict().items() if k != "name"}


def _checked(results: LLMTransitionResults) -> LLMTransitionResults:
    """Warn when the LM puts little probability on the taxonomy: its numbers mislead."""
    from ..lm.formats import WARN_VALID_MASS, LowValidMassWarning

    mass = results.valid_mass.mean()
    if mass < WARN_VALID_MASS:
        warnings.warn(
            f"{results.name}: the mean valid mass is {mass:.3f} (below {WARN_VALID_MASS}): the "
            "LM mostly writes something other than the taxonomy's titles after these prompts: "
            "the template or the title spellings differ from its training resumes, or it was "
            "not trained to write them. Run "
            "labor_econ.check_format(lm, panel, template) and follow its advice (sample_resumes, "
            "ResumeTemplate.infer, Taxonomy.match_titles) before trusting these results",
            LowValidMassWarning,
            stacklevel=3,
        )
    return results


def _clip(text: str, width: int = 24) -> str:
    """Shorten long names for the fixed-width summary header (keep the informative tail)."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]
