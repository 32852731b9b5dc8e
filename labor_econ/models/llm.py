"""LLMModel: a statsmodels likelihood model whose probabilities come from a causal LM."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.special import log_softmax, logsumexp
from statsmodels.base.model import LikelihoodModel, LikelihoodModelResults
from statsmodels.iolib import summary2

from ..errors import CheckpointMismatchWarning
from ..panel import CareerPanel, PanelError, _scalar
from ..templates import ResumeTemplate
from .base import (
    TransitionEvaluation,
    TransitionResults,
    WaldInference,
    check_alpha,
    check_cov_type,
    check_taxonomy,
    cov_type_label,
    marginal_loglike,
)
from .clogit import ConditionalLogit, utilities
from .inference import TestResult, wald_result
from .renamed import renamed_getattr
from .render import Summary, taxonomy_label

if TYPE_CHECKING:
    from ..lm.loading import CausalLM
    from ..lm.observed import RawMetrics
    from ..lm.scoring import CandidateScorer
    from ..taxonomy import Taxonomy

__all__ = ["CALIBRATION_PERSONS", "LLMModel", "LLMResults", "PARAM_NAMES", "calibration_panel"]

PARAM_NAMES = ("scale", "stay")
#: Default ``calibration_persons`` of ``fit(calibrate=True)``: the persons whose transitions
#: are scored to estimate ``scale`` and ``stay``. Chosen from benchmarks/bench_calibration.py
#: (its table is in docs/tutorials/scaling.md): on an NLSY79-like panel (K = 389, 26
#: transitions per person) 500 persons give standard errors of about 0.008 (scale, 1.6% of
#: it) and 0.09 (stay), sqrt(N / n) times those of all persons as theory says; the expected
#: loss in held-out log-likelihood from estimating 2 parameters on n transitions is about
#: 1 / n nats per transition (8e-5 here), far below the gaps between models; and scoring
#: them takes 13 minutes for a 7B checkpoint on one GPU, against 4.5 hours for all 10,000
#: NLSY79 training persons.
CALIBRATION_PERSONS = 500
#: Rounding allowed above a total probability of 1 in a row of scores (float32 scoring).
_MASS_TOLERANCE = 1e-4
CovType = Literal["nonrobust", "HC0", "cluster"]


@dataclasses.dataclass
class LMScorings:
    """How the LM's distributions of simulated waves were obtained, counted in prompts.

    Kept on the model (``results.model.lm_scorings``) and summed over its simulations;
    subtract a copy taken before a simulation for that simulation's counts. Every prompt
    asked for is one of: ``shared`` (the same text as another prompt of the same step,
    scored once: two persons with identical headers and careers), ``scored`` (by the LM)
    or ``from_store`` (read from the model's score store, scored by an earlier run).

    Attributes
    ----------
    prompts : int
        Prompts asked for: one per distinct simulated state (draws whose simulated
        histories are identical so far already share one).
    shared : int
        Prompts identical to another one asked for at the same step.
    scored : int
        Prompts the LM scored (each a K-way distribution).
    from_store : int
        Prompts whose scores were read from the score store.
    tokens_fed : int
        Tokens the LM was fed for the scored prompts (prompts and candidate tries); a
        simulation feeds the text its prompts of one person share once per step (see
        `LLMModel.simulated_logq`).
    tokens_whole : int
        Tokens scoring each of those prompts whole would have fed (``CandidateScorer.score``).
        The two token counts depend on the tokenizer and the scorer's route; ``==`` compares
        the prompt counts only.

    Examples
    --------
    >>> from labor_econ.models.llm import LMScorings
    >>> before, after = LMScorings(), LMScorings(prompts=12, shared=1, scored=4, from_store=7)
    >>> after - before
    LMScorings(prompts=12, shared=1, scored=4, from_store=7, tokens_fed=0, tokens_whole=0)
    """

    prompts: int = 0
    shared: int = 0
    scored: int = 0
    from_store: int = 0
    tokens_fed: int = dataclasses.field(default=0, compare=False)
    tokens_whole: int = dataclasses.field(default=0, compare=False)

    def __sub__(self, other: LMScorings) -> LMScorings:
        return LMScorings(
            *(getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self))
        )

    def copy(self) -> LMScorings:
        """A snapshot (the model's own counter keeps counting)."""
        return dataclasses.replace(self)


class LLMModel(LikelihoodModel):
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
    template : str, path, dict or ResumeTemplate, optional
        How careers are written; must match how the checkpoint was trained. Default: the
        template saved with the checkpoint (``lm.template``, written by
        :func:`labor_econ.finetune`), else the ``"labor_llm"`` preset with a
        :class:`~labor_econ.DefaultTemplateWarning`. A template that differs from the saved
        one is used, with a :class:`~labor_econ.CheckpointMismatchWarning`. Resolved by
        :func:`labor_econ.lm.resolve.resolve_template`, as :func:`labor_econ.score_panel`
        resolves it.
    taxonomy : Taxonomy, optional
        The titles to write for the panel's codes, passed on purpose (a
        :class:`~labor_econ.CheckpointMismatchWarning` says where they differ from the
        checkpoint's). Default: the titles saved with the checkpoint (``lm.taxonomy``) for
        the codes it knows, the panel's for the rest.
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
    tolerance : float, default 0.0
        Certified pruning of the candidate trie (``CandidateScorer.score(..., tolerance=)``):
        the observed title's log q stays exact; 0 scores every title exactly.

    See Also
    --------
    LLMModel.from_scores : the model on precomputed log q scores.
    LLMModel.from_store : the model on a score store, without an LM.

    Examples
    --------
    >>> model = LLMModel(panel, lm)  # the checkpoint's template  # doctest: +SKIP
    >>> res = model.fit(calibrate=True)                                # doctest: +SKIP
    >>> print(res.summary())                                           # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> res = LLMModel(val, lm).fit(calibrate=True)  # template saved with the checkpoint
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
        template: str | os.PathLike | Mapping[str, Any] | ResumeTemplate | None = None,
        taxonomy: Taxonomy | None = None,
        scorer: CandidateScorer | None = None,
        include_first: bool = False,
        name: str | None = None,
        store: str | os.PathLike | None = None,
        tolerance: float = 0.0,
    ) -> None:
        from ..lm.resolve import resolve_template, resolve_titles

        if not isinstance(panel, CareerPanel):
            raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
        self.panel = panel
        self.lm = lm
        # Resolved here to report them; score_panel, given them, writes exactly these.
        self.template = resolve_template(lm, template)
        self._titles = taxonomy
        #: The taxonomy whose titles are written: the panel's codes, the checkpoint's spellings.
        self.written_taxonomy = resolve_titles(lm, panel.taxonomy, taxonomy, self.template)
        self._scorer = scorer
        self.include_first = include_first
        self._name = name
        self.store = store
        self.tolerance = tolerance  # certified trie pruning: see CandidateScorer.score
        self.pruning = None  # what pruning left out, once scored (see Pruning)
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
        self._other_panels: dict[int, LLMModel] = {}
        #: Prompts of simulated careers scored by the LM or read from the store (see
        #: :class:`~labor_econ.models.llm.LMScorings`), summed over this model's simulations.
        self.lm_scorings = LMScorings()
        self._simulated_store: Any = None  # the store's simulated kind, opened on first use

    # -- construction from scores -------------------------------------------------------------
    @classmethod
    def from_scores(
        cls,
        panel: CareerPanel,
        logq: np.ndarray | pd.DataFrame,
        *,
        name: str = "precomputed scores",
        include_first: bool = False,
    ) -> LLMModel:
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
    ) -> LLMModel:
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
            As for :class:`LLMModel`.
        name : str, optional
            Default: the stored checkpoint's name.

        Raises
        ------
        ValueError
            When the store lacks transitions of the panel, was scored on another taxonomy, or
            on other prompts for the same (id, time).

        Examples
        --------
        >>> model = LLMModel.from_store(panel, "scores/")  # doctest: +SKIP
        """
        from ..lm.store import read_store

        frame, meta = read_store(path, panel, include_first=include_first)
        model = cls.from_scores(
            panel, frame.to_numpy(), name=name or meta["model"], include_first=include_first
        )
        model.template = ResumeTemplate.coerce(meta["template"])
        titles = meta["taxonomy"].get("titles")
        if titles:  # scored with the checkpoint's titles: a simulation writes the same
            by_repr = {repr(c): c for c in panel.taxonomy.codes}
            model.written_taxonomy = panel.taxonomy.with_titles(
                {by_repr[c]: t for c, t in titles if c in by_repr}
            )
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
    ) -> LLMModel:
        """Fine-tune ``lm`` on ``train``'s resumes, then build the model on its output.

        The one-liner for ``LLMModel(panel, finetune(lm, train, ...), ...)``:
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
            As for :class:`LLMModel`.
        **finetune_kwargs
            Passed to :func:`labor_econ.finetune` (``epochs``, ``method``,
            ``learning_rate``, ``output_dir``, ...).

        Examples
        --------
        >>> model = LLMModel.from_finetuned(lm, train, val=val, epochs=5,
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
                "scores. Build LLMModel.from_scores(new_panel, logq) with that "
                "panel's log q, or LLMModel(new_panel, lm, ...) to score it"
            )

    @property
    def scorer(self) -> CandidateScorer:
        """The candidate scorer (built on first use)."""
        if self._scorer is None:
            self._require_lm()
            from ..lm.scoring import CandidateScorer

            self._scorer = CandidateScorer(self.lm)
        return self._scorer

    def raw_metrics(self) -> RawMetrics:
        """The paper's raw log-likelihood and perplexity, and log q of every observed
        title, from observed-only scoring (no K-way distribution; see
        :func:`labor_econ.lm.observed.raw_metrics`)."""
        from ..lm.observed import raw_metrics

        self._require_lm()
        return raw_metrics(
            self.lm, self.panel, template=self.template, store=self.store, scorer=self.scorer,
            include_first=self.include_first, progress=self.scorer.progress,
        )  # fmt: skip

    @cached_property
    def prompts(self) -> pd.Series:
        """The prompt of every transition, indexed by (id, time)."""
        panel = self.panel
        if self.written_taxonomy != self.taxonomy:
            panel = panel.with_taxonomy(self.written_taxonomy)
        return self.template.prompts(panel, include_first=self.include_first)

    @cached_property
    def candidates(self) -> list[str]:
        """The continuation of every taxonomy entry (title or code plus terminator)."""
        from ..lm.inputs import check_no_prefix_candidates

        written = self.written_taxonomy
        out = self.template.continuations(written)
        title = self.template.outcome == "title"
        check_no_prefix_candidates(out, written.titles if title else written.codes)
        return out

    @cached_property
    def logq(self) -> np.ndarray:
        """``log P(continuation_k | prompt_i)``, shape (n_transitions, K), computed once
        by :func:`labor_econ.score_panel` (in memory, or in the model's `store`)."""
        from ..lm.panel_scores import score_panel

        self._require_lm()
        with warnings.catch_warnings():
            # A template or titles that differ from the checkpoint's warned at construction.
            warnings.simplefilter("ignore", CheckpointMismatchWarning)
            scores = score_panel(
                self.lm,
                self.panel,
                template=self.template,
                taxonomy=self.written_taxonomy,
                store=self.store,
                scorer=self.scorer,
                include_first=self.include_first,
                progress=self.scorer.progress,
                tolerance=self.tolerance,
            )
        self.pruning = scores.attrs.get("pruning")
        return self._check_scores(scores.to_numpy(dtype=np.float64))

    def for_panel(self, panel: CareerPanel) -> LLMModel:
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
                taxonomy=self._titles,
                scorer=self.scorer,
                include_first=self.include_first,
                name=self._name,
                store=self.store,
            )
        self._other_panels[id(panel)] = cached
        return cached

    # -- simulated careers: prompts scored once, kept in the store ----------------------------
    def simulated_logq(
        self, prompts: Sequence[str], *, year: Any = None, groups: Sequence[Any] | None = None
    ) -> np.ndarray:
        """log q of every code after each prompt (resumes of simulated careers).

        Identical prompts are scored once. With `groups` (a simulation passes each state's
        person), the prompts to score of one group are scored with their longest common
        text, cut at a wave start, fed to the LM once (``CandidateScorer.score_prefixed``:
        the same scores, fewer tokens; on CUDA, or where the scorer's ``score`` is replaced
        by a subclass or wrapper, each prompt is fed whole to ``score``). With a `store`,
        the prompts it holds are read from it (the store's ``simulated`` kind, keyed by the
        prompt's text), only the others are scored, and they are written to the store at
        once, so an interrupted simulation keeps what it scored. `lm_scorings` counts each
        kind. The scores are exact whatever the model's `tolerance` (the candidate trie is
        not pruned).

        Parameters
        ----------
        prompts : sequence of str
            Resumes up to the wave to predict, as ``template.prompts`` writes them.
        year : optional
            The wave's year, named in errors.
        groups : sequence, optional
            One key per prompt (e.g. its person): prompts of a key share their common
            prefix's forward pass. Default: every prompt fed whole.

        Returns
        -------
        ndarray, (len(prompts), K)

        Raises
        ------
        ValueError
            Without an LM (built from a store or loaded from saved results): when the model
            has no store, or the store lacks some of the prompts (the message says how many).
        StoreMismatchError
            When the store holds scores of another model, template, taxonomy or scorer.

        Examples
        --------
        >>> from labor_econ.datasets import wage_panel
        >>> from labor_econ.demo import demo_lm
        >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
        >>> train, val = fit_panel.split(test_size=0.1, seed=0)
        >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
        >>> import tempfile
        >>> model = LLMModel(val, lm, store=tempfile.mkdtemp())
        >>> prompts = list(model.prompts.iloc[:2])
        >>> logq = model.simulated_logq(prompts + prompts[:1])  # each text scored once, stored
        >>> counts = model.lm_scorings
        >>> counts.prompts, counts.shared, counts.scored, counts.from_store
        (3, 1, 2, 0)
        >>> counts.tokens_fed == counts.tokens_whole > 0  # no groups: each prompt fed whole
        True
        >>> again = model.simulated_logq(prompts)  # read from the store
        >>> model.lm_scorings.from_store, bool((again == logq[:2]).all())
        (2, True)
        """
        import contextlib

        from ..lm.store import store_lock

        prompts = list(prompts)
        if groups is not None:
            groups = list(groups)
            if len(groups) != len(prompts):
                raise ValueError(
                    f"got {len(groups)} groups for {len(prompts)} prompts; pass one per prompt"
                )
            key_of = dict(zip(prompts, groups, strict=True))  # identical texts: any key
        unique = list(dict.fromkeys(prompts))
        where = {p: i for i, p in enumerate(unique)}
        inverse = np.fromiter((where[p] for p in prompts), dtype=np.int64, count=len(prompts))
        codes = list(self.taxonomy.codes)
        logq = np.empty((len(unique), len(codes)))
        todo = np.ones(len(unique), dtype=bool)
        writing = bool(self.store) and self.lm is not None
        with store_lock(self.store) if writing else contextlib.nullcontext():
            db = self._simulation_store() if self.store else None
            if db is not None:
                found, stored = db.read_prompts(unique, codes)
                logq[found] = stored
                todo = ~found
            missing = [unique[i] for i in np.flatnonzero(todo)]
            if missing:
                if self.lm is None and db is not None:
                    at = f" for year {_scalar(year)!r}" if year is not None else ""
                    raise ValueError(
                        f"the score store {db.path} lacks {len(missing)} of the "
                        f"{len(unique)} distinct prompts of this simulation step{at}, and this "
                        "model has no LM to score them (it was built from the store, or "
                        "loaded from saved results). Simulate with the LM: "
                        f"LLMModel(panel, lm, store={str(db.path)!r}) reads what the store "
                        "holds and scores only the rest"
                    )
                self._require_lm()
                scorer = self.scorer
                fed_before = sum(scorer.tokens_fed.values())
                starts = self.template.wave_starts(missing)
                # A scorer whose `score` is replaced (a subclass or a wrapper) sees every
                # prompt whole: the shared-prefix route would bypass it.
                from ..lm.scoring import CandidateScorer

                own = getattr(scorer.score, "__func__", None) is CandidateScorer.score
                if groups is None or not own:
                    scored = scorer.score(missing, self.candidates, starts=starts)
                    whole = sum(scorer.tokens_fed.values()) - fed_before
                else:
                    cuts = _shared_cuts(missing, [key_of[p] for p in missing], self.template)
                    scored = scorer.score_prefixed(
                        [p[:c] for p, c in zip(missing, cuts, strict=True)],
                        [p[c:] for p, c in zip(missing, cuts, strict=True)],
                        self.candidates,
                        starts=starts,
                    )
                    whole = scorer.last_whole_tokens
                scored = np.asarray(scored, dtype=np.float64)
                self.lm_scorings.tokens_fed += sum(scorer.tokens_fed.values()) - fed_before
                self.lm_scorings.tokens_whole += whole
                if db is not None:
                    db.write_prompts(missing, scored, codes)
                logq[todo] = scored
        counts = self.lm_scorings
        counts.prompts += len(prompts)
        counts.shared += len(prompts) - len(unique)
        counts.scored += len(missing)
        counts.from_store += len(unique) - len(missing)
        return logq[inverse]

    def _simulation_store(self):
        """The store's ``simulated`` kind: with an LM, checked against (and created with)
        this model's metadata, as ``score_panel`` checks it; without, opened to read and
        checked against the model's template and titles."""
        from ..errors import StoreMismatchError
        from ..lm.store import ScoreStore, run_metadata, taxonomy_hash

        db = self._simulated_store
        if db is not None and str(db.path) == str(Path(self.store)):
            return db
        if self.lm is not None:
            metadata = run_metadata(
                self.lm,
                self.template,
                self.written_taxonomy,
                self.scorer,
                panel_taxonomy=self.taxonomy,
                tolerance=self.tolerance,
            )
            db = ScoreStore(self.store, metadata, kind="simulated")
        else:
            db = ScoreStore(self.store, kind="simulated")
            meta = db.metadata
            differ = []
            if ResumeTemplate.coerce(meta["template"]) != self.template:
                differ.append(f"template (stored {meta['template'].get('name')!r})")
            if meta["taxonomy"].get("sha256") != taxonomy_hash(self.written_taxonomy):
                differ.append(
                    f"taxonomy (stored {meta['taxonomy'].get('name')!r}, "
                    f"{meta['taxonomy'].get('size')} codes)"
                )
            if differ:
                raise StoreMismatchError(
                    f"the score store {db.path} holds scores of other inputs than this "
                    f"model's; differs in: {'; '.join(differ)}"
                )
        self._simulated_store = db
        return db

    # -- likelihood: the shared conditional logit (labor_econ.models.clogit) -------------------
    @cached_property
    def _clogit(self) -> ConditionalLogit:
        # q = 0 stays impossible for any scale: those occupations are unavailable.
        persons = np.asarray(self.transitions.index.get_level_values(0))
        return ConditionalLogit(
            _features(self.logq, self._prev), self._obs, persons, available=~np.isneginf(self.logq)
        )

    def _log_probs(self, params: Sequence[float]) -> np.ndarray:
        return self._clogit.log_probs(np.asarray(params, dtype=np.float64))

    def loglikeobs(self, params: Sequence[float]) -> np.ndarray:
        """Log-probability of each observed transition at ``params`` (scale, stay)."""
        return self._clogit.loglikeobs(np.asarray(params, dtype=np.float64))

    def loglike(self, params: Sequence[float]) -> float:
        """Log-likelihood at ``params``."""
        return float(self.loglikeobs(params).sum())

    def score_obs(self, params: Sequence[float]) -> np.ndarray:
        """Per-transition score, (n, 2): x_i,observed - E_p[x_i]."""
        return self._clogit.score_obs(np.asarray(params, dtype=np.float64))

    def score(self, params: Sequence[float]) -> np.ndarray:
        """Gradient of the log-likelihood (analytic)."""
        return self.score_obs(params).sum(axis=0)

    def hessian(self, params: Sequence[float]) -> np.ndarray:
        """Hessian of the log-likelihood (analytic): minus the summed covariance of x under p."""
        return self._clogit.hessian(np.asarray(params, dtype=np.float64))

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
        calibration_persons: int | Literal["all"] = CALIBRATION_PERSONS,
        seed: int = 0,
    ) -> LLMResults:
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
        calibration_persons : int or "all", default :data:`CALIBRATION_PERSONS`
            With ``calibrate=True``: estimate ``scale`` and ``stay`` on this many persons,
            drawn without replacement with `seed` (every person when the panel has no more),
            and score only their transitions. Two parameters need few transitions, and
            scoring is the cost (on one GPU, about 60 ms per transition for a 7B
            checkpoint). The results are those of the subsample: ``nobs``, ``llf`` and
            ``predict()`` are the subsample's, and the summary says so. ``"all"``: every
            person. See :data:`CALIBRATION_PERSONS` for how the default was chosen.
        seed : int, default 0
            Seed of the subsample of persons.

        Raises
        ------
        RuntimeError
            If the optimizer does not converge.

        Returns
        -------
        LLMResults
        """
        check_cov_type(cov_type)
        if calibrate:
            sample = self._calibration_sample(calibration_persons, seed)
            if sample is not self:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    res = sample.fit(
                        True,
                        cov_type=cov_type,
                        start_params=start_params,
                        maxiter=maxiter,
                        gtol=gtol,
                        calibration_persons="all",
                    )
                for w in caught:  # pointed at the caller, as from a fit on every person
                    warnings.warn(w.message, w.category, stacklevel=2)
                res.calibration_sample = {
                    "persons": sample.panel.n_persons,
                    "of": self.panel.n_persons,
                    "seed": seed,
                }
                return res
        if not calibrate:
            params = np.array([1.0, 0.0])
            cov = np.full((2, 2), np.nan)
            return _checked(LLMResults(self, params, cov, calibrated=False, cov_type=None))
        start = np.array([1.0, 0.0] if start_params is None else start_params, dtype=float)
        # Plain Newton (statsmodels' "newton") has no step control and overshoots from
        # (1, 0) when the LM is far from calibrated; the shared conditional logit's
        # trust-region Newton with the same analytic Hessian converges on this concave problem.
        opt = self._clogit.fit(start, maxiter=maxiter, gtol=gtol)
        params = opt.params
        if not opt.converged:
            raise RuntimeError(
                f"calibration did not converge after {opt.iterations} iterations "
                f"({opt.message}): params {params}, log-likelihood {self.loglike(params)}"
            )
        cov = self._covariance(params, cov_type)
        res = LLMResults(self, params, cov, calibrated=True, cov_type=cov_type)
        res.mle_retvals = {
            "converged": True,
            "iterations": opt.iterations,
            "max_mean_score": opt.max_mean_score,
            "message": opt.message,
        }
        return _checked(res)

    def _calibration_sample(self, persons: int | str, seed: int) -> LLMModel:
        """This model on a seeded subsample of `persons` persons (itself when it has no more)."""
        panel = calibration_panel(self.panel, persons, seed)
        if panel is self.panel:
            return self
        if "logq" not in self.__dict__:  # not scored yet: score only the subsample
            return self.for_panel(panel)
        # Scored already (from_scores, from_store, or used before): take the subsample's rows.
        wanted = panel.transitions(include_first=self.include_first).index
        rows = self.transitions.index.get_indexer(wanted)
        sample = type(self).from_scores(
            panel, self.logq[rows], name=self.name, include_first=self.include_first
        )
        sample.lm, sample._scorer, sample.store = self.lm, self._scorer, self.store
        sample.template, sample.written_taxonomy = self.template, self.written_taxonomy
        return sample

    def _covariance(self, params: np.ndarray, cov_type: CovType) -> np.ndarray:
        return self._clogit.covariance(np.asarray(params, dtype=np.float64), cov_type)


def calibration_panel(
    panel: CareerPanel, persons: int | Literal["all"] = CALIBRATION_PERSONS, seed: int = 0
) -> CareerPanel:
    """The persons :meth:`LLMModel.fit` calibrates on: a seeded subsample.

    Parameters
    ----------
    panel : CareerPanel
        The estimation sample.
    persons : int or "all", default :data:`CALIBRATION_PERSONS`
        How many persons, drawn without replacement; `panel` itself when it has no more, or
        for ``"all"``.
    seed : int, default 0
        Seed of the draw (``numpy.random.default_rng``).

    Raises
    ------
    ValueError
        If `persons` is neither a positive int nor ``"all"``.
    """
    if isinstance(persons, str) and persons == "all":
        return panel
    if isinstance(persons, bool) or not isinstance(persons, int | np.integer) or persons < 1:
        raise ValueError(f"calibration_persons must be a positive int or 'all', got {persons!r}")
    everyone = panel.persons
    if len(everyone) <= persons:
        return panel
    chosen = np.random.default_rng(seed).choice(len(everyone), size=int(persons), replace=False)
    return panel.subset([everyone[i] for i in np.sort(chosen)])


class LLMResults(TransitionResults, WaldInference, LikelihoodModelResults):
    """Results of :class:`LLMModel`: statsmodels results plus the transition protocol.

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
    calibration_sample : dict or None
        ``{"persons", "of", "seed"}`` when calibrated on a subsample of the model's persons
        (see ``calibration_persons`` of :meth:`LLMModel.fit`), else None.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ import LLMModel
    >>> res = LLMModel(val, lm).fit(calibrate=True)
    >>> list(res.params.index), res.nobs
    (['scale', 'stay'], 308)
    >>> res.conf_int().shape
    (2, 2)
    >>> bool(res.valid_mass.mean() > 0.8)
    True
    >>> res.evaluate(test).nobs  # the test persons, scored once
    763
    """

    _saved_as = ("LLMTransitionResults",)
    calibration_sample: dict[str, int] | None = None

    def __init__(
        self,
        model: LLMModel,
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
        self.cov_type = cov_type
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
    def _model_for(self, panel: CareerPanel | None) -> LLMModel:
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

    #: Simulation (``models.simulate``): the prompt is the whole career, so only draws with
    #: the same simulated history so far share a scoring.
    _simulation_keys = ("person", "path")

    def _step_proba(self, states) -> np.ndarray:
        model = self.model
        if not model.store:
            model._require_lm()
        careers, rows = states.careers()
        if model.written_taxonomy != model.taxonomy:  # the titles the LM was scored on
            careers = careers.with_taxonomy(model.written_taxonomy)
        prompts = model.template.prompts(careers).loc[rows].tolist()
        # A person's states share the header and observed waves: fed once per step.
        logq = model.simulated_logq(prompts, year=states.time, groups=states.person)
        u = utilities(_features(logq, states.occupation), self.params, ~np.isneginf(logq))
        return np.exp(log_softmax(u, axis=1))

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
            ("Model:", "LLMModel"),
            ("Checkpoint:", _clip(self.name)),
            ("Template:", m.template.name),
            ("Taxonomy:", taxonomy_label(self.taxonomy)),
            ("Method:", "MLE (calibrated)" if self.calibrated else "none (LM probabilities)"),
            ("Covariance Type:", _clip(cov_type_label(self.cov_type))),
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
        pruning = getattr(self.model, "pruning", None)
        if pruning is not None:
            notes.append(
                f"Trie pruned at tolerance {pruning.tolerance:g}: observed titles exact; a "
                "title not expanded gets its subtree's prefix probability split evenly. The "
                "LM's normalized log p of an observed title is at most its bound above the "
                f"one from these scores: largest bound {pruning.max_bound:.3g}, total "
                f"{pruning.total_bound:.3g}."
            )
        written = self.model.written_taxonomy
        retitled = sum(a != b for a, b in zip(written.titles, self.taxonomy.titles, strict=True))
        if retitled:
            notes.append(
                f"Titles of {retitled} code(s) written as saved with the checkpoint "
                "(lm.taxonomy), not as in the panel's taxonomy."
            )
        sample = self.calibration_sample
        if sample is not None:
            notes.append(
                f"Calibrated on a seeded subsample of {sample['persons']} of {sample['of']} "
                f"persons (seed {sample['seed']}): N and the log-likelihood are the "
                "subsample's; fit(calibrate=True, calibration_persons='all') uses every person."
            )
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

    def summary(self, alpha: float = 0.05, float_format: str = "%.4f") -> Summary:
        """Model header, then the ``scale``/``stay`` table, then notes.

        Returns
        -------
        labor_econ.models.render.Summary
            A statsmodels ``summary2.Summary`` rendering as text, HTML and LaTeX (escaped).
        """
        alpha = check_alpha(alpha)
        smry = Summary()
        left, right = self._info()
        pairs = zip_longest(left[:-1], right, fillvalue=("", ""))  # left's last is the date
        info = pd.DataFrame([[a, b or "", c, d] for (a, b), (c, d) in pairs])
        smry.add_df(info, header=False, index=False)
        params = summary2.summary_params(
            self, xname=list(PARAM_NAMES), alpha=alpha, use_t=False, float_format=float_format
        )
        smry.add_df(params, float_format=float_format)
        smry.add_title("LLM Transition Model Results")
        for note in self._notes():
            smry.add_text(note)
        return smry

    def summary2(self, alpha: float = 0.05, float_format: str = "%.4f") -> Summary:
        """The same as :meth:`summary` (kept for statsmodels users who ask for summary2)."""
        return self.summary(alpha, float_format)

    def calibration_test(self, *, alpha: float = 0.05) -> TestResult:
        """Wald test of ``scale = 1, stay = 0``: are the checkpoint's probabilities calibrated?

        Uses the fit's own covariance, person-clustered by default (``cov_type="cluster"``),
        so a person's dependent transitions do not overstate the evidence as the
        likelihood-ratio test against the uncalibrated fit does (which treats them as
        independent). Chi-squared with 2 degrees of freedom.

        Raises
        ------
        ValueError
            If the results are not calibrated (``fit(calibrate=True)``).
        """
        if not self.calibrated:
            raise ValueError(
                "calibration_test needs calibrated results: fit(calibrate=True) estimates "
                "scale and stay, and their covariance"
            )
        test = wald_result(
            self,
            np.eye(2),
            np.array([1.0, 0.0]),
            null="scale = 1, stay = 0 (the LM's probabilities are calibrated)",
            alpha=alpha,
        )
        return dataclasses.replace(test, name=f"Calibration {test.name}")

    def _state(self) -> tuple[dict, dict, list]:
        state = {
            "name": self.name,
            "include_first": self.model.include_first,
            "calibrated": self.calibrated,
            "cov_type": self.cov_type,
            "template": self.model.template.to_dict(),
            # the titles written, where the checkpoint's differ from the panel's
            "titles": list(self.model.written_taxonomy.titles),
            "mle_retvals": self.mle_retvals if self.calibrated else None,
            "calibration_sample": self.calibration_sample,
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
    def _from_state(cls, panel, state, arrays, components) -> LLMResults:
        model = LLMModel.from_scores(
            panel, arrays["logq"], name=state["name"], include_first=state["include_first"]
        )
        # to_dict's dict; results saved before it held the same keys without format/version.
        model.template = ResumeTemplate.coerce(state["template"])
        if state.get("titles") is not None:
            codes = model.taxonomy.codes
            model.written_taxonomy = model.taxonomy.with_titles(
                dict(zip(codes, state["titles"], strict=True))
            )
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
        if state.get("calibration_sample") is not None:
            res.calibration_sample = state["calibration_sample"]
        return res

    def __repr__(self) -> str:
        return (
            f"<LLMResults {self.name!r}: N={self.nobs}, llf={self.llf:.3f}, "
            f"perplexity={self.perplexity:.4f}, calibrated={self.calibrated}>"
        )


def _shared_cuts(prompts: list[str], keys: list[Any], template: ResumeTemplate) -> list[int]:
    """Where each prompt's shared prefix ends: the longest text common to the prompts of its
    key, cut back to a wave start (after a line break or the template's wave boundary) so
    that no token spans the cut; a prompt alone in its key is cut at its last wave."""
    members: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    cuts = [0] * len(prompts)
    for rows in members.values():
        texts = [prompts[i] for i in rows]
        common = os.path.commonprefix(texts)
        # A prefix must leave every prompt a last wave of its own (the candidates' context).
        stop = min(len(common), *(len(t) - 1 for t in texts))
        line = common.rfind("\n", 0, stop) + 1
        at = common.rfind(template.boundary, 0, stop) if template.boundary.strip() else -1
        cut = max(line, at + len(template.terminator) if at >= 0 else 0)
        for i in rows:
            cuts[i] = cut
    return cuts


def _features(logq: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """The calibration's features x_ik = (log q_ik, 1[k = prev_i]) as an (n, K, 2) array,
    -inf set to 0 (those occupations are unavailable); ``prev`` -1: no previous occupation."""
    x = np.zeros((*logq.shape, 2))
    x[..., 0] = np.where(np.isneginf(logq), 0.0, logq)
    has_prev = prev >= 0
    x[np.flatnonzero(has_prev), prev[has_prev], 1] = 1.0
    return x


def _checked(results: LLMResults) -> LLMResults:
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


#: Old names, importable with a FutureWarning (see :mod:`labor_econ.models.renamed`).
__getattr__ = renamed_getattr(__name__, ("LLMTransitionModel", "LLMTransitionResults"))
