"""Rank candidate resume templates by the checkpoint's own likelihood of the user's careers.

Samples show the format a checkpoint writes; its likelihood of the user's resumes written each
candidate way settles it, also for a checkpoint whose samples do not show the header (trained
with the loss on the career lines only). Each resume goes through one plain causal forward
(whole-resume token log-likelihood needs no candidate trie), and the per-token mean is taken
over the whole resume and over the career lines alone: from the first wave's start to the last
wave's end, so that a header the checkpoint never learned does not decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from labor_econ.lm.finetune import _encode_as_text
from labor_econ.lm.loading import CausalLM
from labor_econ.panel import CareerPanel
from labor_econ.templates import ResumeTemplate, TemplateGuess

__all__ = ["rank_templates"]

Candidate = str | ResumeTemplate | TemplateGuess


def _named(candidates: Mapping[str, Candidate] | Sequence[Candidate]) -> dict[str, ResumeTemplate]:
    """Candidates by name: a mapping's keys, else each template's name (preset names as given)."""
    if isinstance(candidates, str | ResumeTemplate | TemplateGuess):
        raise TypeError("candidates must be several templates (a list or a dict), not one")
    items = (
        list(candidates.items())
        if isinstance(candidates, Mapping)
        else [(None, c) for c in candidates]
    )
    out: dict[str, ResumeTemplate] = {}
    for name, c in items:
        template = c.template if isinstance(c, TemplateGuess) else ResumeTemplate.coerce(c)
        key = str(name) if name is not None else (c if isinstance(c, str) else template.name)
        if key in out:
            raise ValueError(f"two candidates are named {key!r}; pass a dict to name them apart")
        out[key] = template
    if len(out) < 1:
        raise ValueError("no candidate templates to rank")
    return out


def _token_logprobs(
    lm: CausalLM, texts: list[str], batch_size: int
) -> tuple[list[np.ndarray], list[list[tuple[int, int]]]]:
    """Per text, log P(token | earlier tokens) of every token after the first (float64), and
    the tokens' character offsets.

    Texts are tokenized as in fine-tuning (BOS, special-token strings read as text), run
    right-padded through the model in batches, and log-softmaxed in float32.
    """
    enc = _encode_as_text(lm.tokenizer, texts)
    ids = enc["input_ids"]
    pad = lm.tokenizer.pad_token_id
    pad = pad if pad is not None else (lm.tokenizer.eos_token_id or 0)
    model = lm.model
    training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            order = np.argsort([len(x) for x in ids])  # similar lengths batch together
            results: dict[int, np.ndarray] = {}
            for lo in range(0, len(order), batch_size):
                rows = [int(i) for i in order[lo : lo + batch_size]]
                width = max(len(ids[i]) for i in rows)
                grid = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    grid[r, : len(ids[i])] = torch.tensor(ids[i])
                    mask[r, : len(ids[i])] = 1
                logits = model(
                    input_ids=grid.to(lm.device), attention_mask=mask.to(lm.device)
                ).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                picked = logp.gather(-1, grid[:, 1:].to(lm.device).unsqueeze(-1)).squeeze(-1)
                picked = picked.double().cpu().numpy()
                for r, i in enumerate(rows):
                    results[i] = picked[r, : len(ids[i]) - 1]
            out = [results[i] for i in range(len(ids))]
    finally:
        model.train(training)
    return out, enc["offset_mapping"]


def rank_templates(
    lm: CausalLM,
    panel: CareerPanel,
    candidates: Mapping[str, Candidate] | Sequence[Candidate],
    *,
    n: int = 50,
    seed: int = 0,
    batch_size: int = 8,
) -> pd.DataFrame:
    """Rank candidate templates by the log-likelihood per token the checkpoint gives the
    panel's resumes written each way.

    The same `n` persons (drawn at random) are written with every candidate; one causal
    forward per resume gives each token's log-probability. Two means per token: over the
    whole resume (header, waves, footer) and over the career lines alone (from the first
    wave's start to the last wave's end; a header the checkpoint was never trained on, or
    trained with the loss on the lines only, then does not decide). Candidates are ranked
    by the lines' mean: the training format is the one the checkpoint finds likeliest.

    Parameters
    ----------
    lm : CausalLM
        The checkpoint.
    panel : CareerPanel
        Careers to write; titles as the panel's taxonomy spells them (give it the
        checkpoint's spellings, e.g. from ``Taxonomy.match_titles``, for a fair test).
    candidates : dict of name to template, or list of templates
        Presets by name, :class:`ResumeTemplate` objects, or :class:`TemplateGuess` results
        of :meth:`ResumeTemplate.infer`; a list names each by its template's (or preset's)
        name.
    n : int, default 50
        Persons written (all of them when the panel has fewer).
    seed : int, default 0
        Seed of the draw of persons.
    batch_size : int, default 8
        Resumes per forward pass.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first, indexed by name: ``rank``, ``line_logp_per_token``
        (mean log-probability of the career lines' tokens), ``logp_per_token`` (whole
        resume), ``line_tokens`` and ``tokens`` (token counts over the `n` resumes), and
        ``margin`` (the winner's ``line_logp_per_token`` minus the row's; 0 for the winner).
        ``attrs["winner"]`` names the best candidate and ``attrs["margin"]`` is its lead
        over the second (NaN for a single candidate).

    Raises
    ------
    ValueError
        If `n` is not positive, no candidate is given, or two share a name.
    TemplateError
        If a candidate cannot write the panel (a field the panel lacks, a title with its
        terminator).

    Examples
    --------
    >>> guess = ResumeTemplate.infer(sample_resumes(lm, 100))        # doctest: +SKIP
    >>> rank_templates(lm, panel, {"inferred": guess, "preset": "labor_llm"})  # doctest: +SKIP

    With the demo's tiny model, which was trained on the ``labor_llm`` preset:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> from labor_econ.lm import rank_templates
    >>> ranking = rank_templates(lm, val, ["labor_llm", "plain", "model_card"], n=5)
    >>> ranking.index.tolist(), ranking.attrs["winner"]  # the demo model's training format wins
    (['labor_llm', 'plain', 'model_card'], 'labor_llm')
    >>> ranking.columns.tolist()
    ['rank', 'line_logp_per_token', 'logp_per_token', 'line_tokens', 'tokens', 'margin']
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    named = _named(candidates)
    persons = panel.persons
    if len(persons) > n:
        rng = np.random.default_rng(seed)
        persons = persons[np.sort(rng.choice(len(persons), size=n, replace=False))]
    sub = panel.subset(persons)
    rows = []
    for name, template in named.items():
        annotated = template.annotated_resumes(sub)
        texts = annotated["resume"].tolist()
        logps, offsets = _token_logprobs(lm, texts, batch_size)
        total = line_total = 0.0
        tokens = line_tokens = 0
        for text, spans, logp, offs in zip(texts, annotated["spans"], logps, offsets, strict=True):
            # the lines: from the first wave's start (after the header) to the last
            # continuation's end; a token counts when it starts there (token 0 is never
            # predicted, hence offs[1:])
            start = _header_end(template, text)
            end = spans[-1][1] if spans else len(text)
            inside = np.array([start <= a < end for a, _ in offs[1:]], dtype=bool)
            total += float(logp.sum())
            tokens += len(logp)
            line_total += float(logp[inside].sum())
            line_tokens += int(inside.sum())
        rows.append(
            {
                "template": name,
                "line_logp_per_token": line_total / max(line_tokens, 1),
                "logp_per_token": total / max(tokens, 1),
                "line_tokens": line_tokens,
                "tokens": tokens,
            }
        )
    table = pd.DataFrame(rows).set_index("template")
    table = table.sort_values("line_logp_per_token", ascending=False, kind="stable")
    best = table["line_logp_per_token"].iloc[0]
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["margin"] = best - table["line_logp_per_token"]
    table.attrs["winner"] = table.index[0]
    table.attrs["margin"] = float(table["margin"].iloc[1]) if len(table) > 1 else float("nan")
    return table


def _header_end(template: ResumeTemplate, text: str) -> int:
    """Where the first wave's line begins in a resume the template wrote: after the header."""
    header_re, _ = template._parsers()
    m = header_re.match(text)
    return m.end() if m is not None else 0
