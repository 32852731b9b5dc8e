"""Check that a template and taxonomy match what a checkpoint writes, before trusting it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from labor_econ.errors import CheckpointMismatchWarning, LowValidMassWarning
from labor_econ.lm.loading import CausalLM
from labor_econ.lm.ranking import Candidate, _named, rank_templates
from labor_econ.lm.sampling import generate
from labor_econ.lm.scoring import CandidateScorer
from labor_econ.panel import CareerPanel
from labor_econ.templates import ResumeTemplate

__all__ = [
    "CheckpointMismatchWarning",
    "FormatCheck",
    "LowValidMassWarning",
    "OK_TITLE_SHARE",
    "OK_VALID_MASS",
    "RANK_MARGIN",
    "WARN_VALID_MASS",
    "WRONG_TITLE_SHARE",
    "WRONG_VALID_MASS",
    "check_format",
]

OK_VALID_MASS = 0.8
"""Least mean valid mass of an ``ok`` verdict."""
OK_TITLE_SHARE = 0.9
"""Least share of greedy continuations that are titles for an ``ok`` verdict."""
WRONG_VALID_MASS = 0.3
"""Mean valid mass below which the verdict is ``wrong format``."""
WRONG_TITLE_SHARE = 0.5
"""Share of greedy continuations that are titles below which the verdict is ``wrong format``."""
WARN_VALID_MASS = 0.5
"""Mean valid mass below which :class:`~labor_econ.LLMResults` warn."""
RANK_MARGIN = 0.05
"""Log-likelihood per career-line token (nats) by which another candidate template must beat
the checked one to make an otherwise ``ok`` verdict ``suspicious``."""

_ADVICE = (
    "the checkpoint expects another resume format or other title spellings. Let it write "
    "resumes (labor_econ.lm.sample_resumes), infer their template (ResumeTemplate.infer), map "
    "its titles onto your codes (Taxonomy.match_titles, Taxonomy.with_titles), let the "
    "checkpoint's likelihood rank the candidates (labor_econ.rank_templates) and check again "
    "with labor_econ.check_format(..., candidates=...)"
)


@dataclass(frozen=True)
class FormatCheck:
    """How well a template and a taxonomy match what a checkpoint writes.

    Made by :func:`check_format`. The verdict:

    - ``ok``: mean valid mass at least ``OK_VALID_MASS`` (0.8) and at least
      ``OK_TITLE_SHARE`` (90%) of the greedy continuations are titles;
    - ``wrong format``: mean valid mass below ``WRONG_VALID_MASS`` (0.3) or fewer than
      ``WRONG_TITLE_SHARE`` (50%) of the greedy continuations are titles;
    - ``suspicious``: in between.

    Attributes
    ----------
    lm_name : str
        The checkpoint.
    template : ResumeTemplate
        The template checked.
    titles : tuple of str
        The outcomes the template writes (titles, or codes for a numeric template).
    valid_mass : pandas.Series
        Per checked transition (indexed by (id, time)), ``sum_k q_k``: the probability the
        model writes one of the taxonomy's continuations after the prompt.
    greedy : pandas.Series
        Per checked transition, the model's greedy continuation: the text after the
        prompt's lead spaces up to the template's terminator (or all that was generated
        when no terminator came).
    terminated : pandas.Series
        Whether the greedy continuation reached the terminator.
    ranking : pandas.DataFrame or None
        With ``check_format(..., candidates=...)``: :func:`labor_econ.rank_templates` of the
        checked template (named ``"checked"``) and the candidates. A candidate likelier by
        more than ``RANK_MARGIN`` nats per career-line token makes an ``ok`` verdict
        ``suspicious``, and the advice names it.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ import check_format
    >>> check = check_format(lm, val, "labor_llm")
    >>> check.verdict, check.n
    ('ok', 200)
    >>> check.mean_valid_mass > 0.8, check.title_share
    (True, 1.0)
    """

    lm_name: str
    template: ResumeTemplate
    titles: tuple[str, ...]
    valid_mass: pd.Series
    greedy: pd.Series
    terminated: pd.Series
    ranking: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        """Number of transitions checked."""
        return len(self.valid_mass)

    @property
    def mean_valid_mass(self) -> float:
        """Mean over the checked transitions of the valid mass."""
        return float(self.valid_mass.mean())

    @property
    def median_valid_mass(self) -> float:
        """Median valid mass."""
        return float(self.valid_mass.median())

    @property
    def p10_valid_mass(self) -> float:
        """10th percentile of the valid mass: how bad the worst tenth of prompts is."""
        return float(self.valid_mass.quantile(0.1))

    @cached_property
    def is_title(self) -> pd.Series:
        """Per transition, whether the greedy continuation is a title followed by the terminator."""
        known = set(self.titles)
        return (self.greedy.isin(known) & self.terminated).rename("is_title")

    @property
    def title_share(self) -> float:
        """Share of greedy continuations that are a taxonomy title (with the terminator)."""
        return float(self.is_title.mean())

    @cached_property
    def non_titles(self) -> pd.Series:
        """The ten most frequent greedy continuations that are not titles, with counts.

        Continuations that never reached the terminator end with ``…``.
        """
        shown = self.greedy.where(self.terminated, self.greedy + "…")[~self.is_title]
        return shown.value_counts().head(10).rename("count").rename_axis("continuation")

    @property
    def better(self) -> pd.Series:
        """Candidates likelier than the checked template by more than ``RANK_MARGIN`` nats per
        career-line token, with their lead (empty without a ranking)."""
        if self.ranking is None:
            return pd.Series(dtype=float, name="lead")
        per_token = self.ranking["line_logp_per_token"]
        lead = per_token - per_token["checked"]
        return lead[lead > RANK_MARGIN].rename("lead")

    @property
    def verdict(self) -> str:
        """``"ok"``, ``"suspicious"`` or ``"wrong format"`` (thresholds in the class docs)."""
        mass, share = self.mean_valid_mass, self.title_share
        if mass < WRONG_VALID_MASS or share < WRONG_TITLE_SHARE:
            return "wrong format"
        if mass >= OK_VALID_MASS and share >= OK_TITLE_SHARE and self.better.empty:
            return "ok"
        return "suspicious"

    @property
    def advice(self) -> str:
        """What to do when the verdict is not ``ok``: the likelier candidate when a ranking
        found one, else the workflow that recovers the checkpoint's format."""
        better = self.better
        if not better.empty:
            name = better.idxmax()
            return (
                f"the checkpoint finds candidate {name!r} likelier than the checked template "
                f"by {better.max():.3f} nats per career-line token: check it "
                "(labor_econ.check_format) and use it"
            )
        return _ADVICE

    @property
    def message(self) -> str:
        """The verdict in one line, with what to do when it is not ``ok``."""
        facts = (
            f"mean valid mass {self.mean_valid_mass:.3f}, {self.title_share:.0%} of greedy "
            "continuations are titles"
        )
        if self.verdict == "ok":
            return f"ok: {facts}"
        return f"{self.verdict}: {facts}; {self.advice}"

    def summary(self) -> str:
        """A readable report: the numbers, the verdict and the most frequent non-titles."""
        width = 78
        rows = [
            ("Checkpoint:", self.lm_name),
            ("Template:", self.template.name),
            ("Transitions checked:", f"{self.n}"),
            ("Valid mass, mean:", f"{self.mean_valid_mass:.4f}"),
            ("Valid mass, median:", f"{self.median_valid_mass:.4f}"),
            ("Valid mass, 10th percentile:", f"{self.p10_valid_mass:.4f}"),
            ("Greedy continuations that are titles:", f"{self.title_share:.1%}"),
            ("Verdict:", self.verdict),
        ]
        lines = ["Format check".center(width), "=" * width]
        lines += [f"{k:<40}{v}" for k, v in rows]
        lines.append("-" * width)
        if len(self.non_titles):
            lines.append("Most frequent greedy continuations that are not titles:")
            lines += [f"  {n:>5}  {_clip(text)!r}" for text, n in self.non_titles.items()]
        else:
            lines.append("Every greedy continuation is a title.")
        if self.ranking is not None:
            lines.append("-" * width)
            lines.append("Candidates by log-likelihood per token (career lines, whole resume):")
            for name, row in self.ranking.iterrows():
                lines.append(
                    f"  {int(row['rank']):>2}. {_clip(str(name), 40):<40} "
                    f"{row['line_logp_per_token']:>9.4f} {row['logp_per_token']:>9.4f}"
                )
        lines.append("=" * width)
        lines.append(
            f"ok: mean valid mass >= {OK_VALID_MASS} and titles >= {OK_TITLE_SHARE:.0%}; "
            f"wrong format: mean valid mass < {WRONG_VALID_MASS} or titles < "
            f"{WRONG_TITLE_SHARE:.0%}; else suspicious."
        )
        if self.verdict != "ok":
            lines.append(f"What to do: {self.advice}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<FormatCheck {self.lm_name!r}, template {self.template.name!r}: {self.verdict} "
            f"(n={self.n}, mean valid mass {self.mean_valid_mass:.3f}, "
            f"titles {self.title_share:.0%})>"
        )


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def check_format(
    lm: CausalLM,
    panel: CareerPanel,
    template: str | ResumeTemplate,
    *,
    n: int = 200,
    seed: int = 0,
    scorer: CandidateScorer | None = None,
    batch_size: int = 16,
    progress: bool = True,
    candidates: Mapping[str, Candidate] | Sequence[Candidate] | None = None,
) -> FormatCheck:
    """Check a template and the panel's titles against what a checkpoint writes.

    On `n` transitions drawn at random from the panel, two measures: the *valid mass*
    (``sum_k q_k``, the probability the model writes one of the K continuations after the
    prompt), and the model's greedy continuation decoded up to the template's terminator,
    which should be one of the taxonomy's titles. A checkpoint given prompts in its
    training format and titles in its training spelling puts most of its mass on them; see
    :class:`FormatCheck` for the verdict's thresholds.

    Parameters
    ----------
    lm : CausalLM
        The checkpoint.
    panel : CareerPanel
        Careers whose prompts are checked; its taxonomy gives the titles (use
        ``panel.with_taxonomy(panel.taxonomy.with_titles(...))`` for the checkpoint's
        spellings).
    template : str or ResumeTemplate
        The template, or the name of a preset.
    n : int, default 200
        Transitions checked (all of them when the panel has fewer).
    seed : int, default 0
        Seed of the draw of transitions.
    scorer : CandidateScorer, optional
        Scorer of the valid mass; default ``CandidateScorer(lm)``.
    batch_size : int, default 16
        Prompts decoded together for the greedy continuations.
    progress : bool, default True
        Show progress bars.
    candidates : dict or list of templates, optional
        Other templates (presets, :meth:`ResumeTemplate.infer` guesses, your own): the
        checkpoint's likelihood of the panel's resumes written each way and the checked way
        is ranked (:func:`labor_econ.rank_templates` on up to `n` persons), and a candidate
        likelier by more than ``RANK_MARGIN`` makes the verdict at most ``suspicious``.

    Returns
    -------
    FormatCheck

    Raises
    ------
    ValueError
        If `n` is not positive.

    Examples
    --------
    >>> check = check_format(lm, panel, "labor_llm")  # doctest: +SKIP
    >>> print(check)                                   # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> check = check_format(lm, val, "labor_llm")
    >>> check.verdict
    'ok'
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    template = ResumeTemplate.coerce(template)
    others = None if candidates is None else _named(candidates)
    if others is not None and "checked" in others:
        raise ValueError("a candidate is named 'checked', the name of the checked template")
    prompts = template.prompts(panel)
    rng = np.random.default_rng(seed)
    if len(prompts) > n:
        prompts = prompts.iloc[np.sort(rng.choice(len(prompts), size=n, replace=False))]
    taxonomy = panel.taxonomy
    candidates = template.continuations(taxonomy)
    scorer = scorer if scorer is not None else CandidateScorer(lm, progress=progress)
    texts = prompts.tolist()
    logq = scorer.score(texts, candidates, starts=template.wave_starts(texts))
    valid_mass = pd.Series(np.exp(logsumexp(logq, axis=1)), index=prompts.index, name="valid_mass")

    terminator = template.terminator
    lead = template.continuation_text("")[: -len(terminator)]
    longest = max(len(lm.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in candidates)
    texts, _ = generate(
        lm,
        prompts.tolist(),
        max_new_tokens=longest + 4,
        batch_size=batch_size,
        progress=progress,
        desc="greedy continuations",
        do_sample=False,
    )
    greedy, terminated = [], []
    for text in texts:
        text = text[len(lead) :] if text.startswith(lead) else text
        head, found, _ = text.partition(terminator)
        greedy.append(head)
        terminated.append(bool(found))
    outcomes = tuple(c[len(lead) : len(c) - len(terminator)] for c in candidates)
    ranking = None
    if others is not None:
        ranking = rank_templates(lm, panel, {"checked": template, **others}, n=n, seed=seed)
    return FormatCheck(
        lm_name=lm.name,
        template=template,
        titles=outcomes,
        valid_mass=valid_mass,
        greedy=pd.Series(greedy, index=prompts.index, name="greedy", dtype=object),
        terminated=pd.Series(terminated, index=prompts.index, name="terminated"),
        ranking=ranking,
    )
