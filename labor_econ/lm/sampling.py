"""Text generation from a causal LM: sampled resumes and greedy continuations of prompts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from labor_econ.lm.loading import CausalLM
from labor_econ.panel import CareerPanel
from labor_econ.templates import ResumeTemplate

__all__ = ["resume_prompts", "sample_resumes"]


def sample_resumes(
    lm: CausalLM,
    n: int,
    *,
    prompt: str | Sequence[str] = "",
    max_new_tokens: int = 512,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    **generate_kwargs: Any,
) -> list[str]:
    """Let the model write `n` resumes, to see the format it was trained on.

    A fine-tuned career LM writes resumes in its training format when asked to write one;
    :meth:`labor_econ.ResumeTemplate.infer` reads the format back from these texts.
    Generation samples from the model's own distribution (no top-k or nucleus cut), stops at
    the end-of-sequence token or after `max_new_tokens`, and runs where the model is
    (the GPU when it is there).

    Samples that show the format: a checkpoint trained on sticky careers writes mostly one
    title from an empty prompt; :meth:`~labor_econ.ResumeTemplate.infer` then needs the
    taxonomy to tell title from template, and more varied samples make the guess safer.
    What each option is for:

    - ``temperature``: below 1 (e.g. 0.7) fewer blended or misspelled titles, so more of
      the observed titles map to codes; above 1 (e.g. 1.3) more distinct titles per
      sample, for a checkpoint that repeats one title.
    - ``prompt`` as a list: each candidate header (``template.header`` lines written out),
      to see which header the checkpoint continues in its format; or the first waves of
      your own persons written in the guessed format (:func:`resume_prompts`), so that
      the checkpoint continues many different careers instead of its commonest one. Also
      how to sample a checkpoint trained with the loss on the career lines alone, whose
      samples from an empty prompt need not show the header.
    - ``seed``: other samples from the same prompts.

    Parameters
    ----------
    lm : CausalLM
        The checkpoint (:func:`labor_econ.load_lm`).
    n : int
        Number of resumes.
    prompt : str or sequence of str, default ""
        Text every resume starts with (e.g. a header line you know), or one prompt per
        resume. The tokenizer's beginning-of-sequence token is put in front as in training;
        with an empty prompt, generation starts from it alone.
    max_new_tokens : int, default 512
        Most tokens generated per resume; a resume still unfinished then is cut there.
    temperature : float, default 1.0
        Sampling temperature; 0 gives greedy decoding (the same text every time for one
        prompt).
    seed : int, default 0
        Seed of the sampling: the same seed, model, prompts and `batch_size` give the same
        texts. The global random state is left untouched.
    batch_size : int, default 16
        Resumes generated together (left-padded when the prompts differ in length).
    progress : bool, default True
        Show a progress bar.
    **generate_kwargs
        Further arguments of ``model.generate`` (e.g. ``top_p=0.95``); they override the
        settings above.

    Returns
    -------
    list of str
        The resumes, each starting with its prompt, decoded without special tokens.

    Raises
    ------
    ValueError
        For ``n < 1``, a negative temperature, a prompt list whose length is not `n`, or a
        tokenizer that has neither a beginning- nor an end-of-sequence token to start an
        empty prompt from.

    Examples
    --------
    >>> texts = sample_resumes(lm, 100, seed=1)  # doctest: +SKIP
    >>> guess = ResumeTemplate.infer(texts)      # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> texts = sample_resumes(lm, 4, seed=1, max_new_tokens=200, progress=False)
    >>> len(texts), all(isinstance(t, str) for t in texts)
    (4, True)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if temperature < 0:
        raise ValueError(f"temperature must be non-negative, got {temperature}")
    if isinstance(prompt, str):
        prompts = [prompt] * n
    else:
        prompts = list(prompt)
        if len(prompts) != n:
            raise ValueError(f"got {len(prompts)} prompts for n={n} resumes; pass one per resume")
    settings: dict[str, Any] = (
        {"do_sample": True, "temperature": float(temperature), "top_k": 0, "top_p": 1.0}
        if temperature > 0
        else {"do_sample": False}
    )
    texts, _ = generate(
        lm,
        prompts,
        max_new_tokens=max_new_tokens,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        desc="sampling resumes",
        **{**settings, **generate_kwargs},
    )
    return [p + t for p, t in zip(prompts, texts, strict=True)]


def generate(
    lm: CausalLM,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "generating",
    **generate_kwargs: Any,
) -> tuple[list[str], list[bool]]:
    """The text generated after each prompt, and whether generation stopped at EOS.

    Each prompt is encoded as in training (with the tokenizer's BOS); batches are
    left-padded. The continuation is the decoded full sequence (special tokens skipped)
    minus the prompt, so that spaces at the boundary come out as the tokenizer writes them
    in context.
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    tokenizer, model = lm.tokenizer, lm.model
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else None
    if start is None:
        start = tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if pad is None:
        pad = 0
    encoded = []
    for i, p in enumerate(prompts):
        # Special-token strings in the prompt are text, as in the scorer.
        ids = tokenizer(p, add_special_tokens=True, split_special_tokens=True)["input_ids"]
        if not ids:
            if start is None:
                raise ValueError(
                    f"prompt {i} is empty and the tokenizer has no BOS or EOS token to start "
                    "generation from; pass a non-empty prompt"
                )
            ids = [start]
        encoded.append(list(ids))

    texts: list[str] = []
    finished: list[bool] = []
    devices = [lm.device] if lm.device.type == "cuda" else []
    training = model.training
    model.eval()
    try:
        with (
            torch.random.fork_rng(devices=devices),
            torch.inference_mode(),
            tqdm(
                total=len(prompts), desc=desc, unit="text", disable=None if progress else True
            ) as bar,
        ):
            torch.manual_seed(seed)
            for lo in range(0, len(encoded), batch_size):
                batch = encoded[lo : lo + batch_size]
                width = max(len(ids) for ids in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, ids in enumerate(batch):  # left padding: generation continues at the end
                    input_ids[row, width - len(ids) :] = torch.tensor(ids)
                    mask[row, width - len(ids) :] = 1
                out = model.generate(
                    input_ids=input_ids.to(lm.device),
                    attention_mask=mask.to(lm.device),
                    max_new_tokens=max_new_tokens,
                    pad_token_id=pad,
                    eos_token_id=eos,
                    **generate_kwargs,
                )
                for row, ids in enumerate(batch):
                    new = out[row, width:].tolist()
                    stopped = eos is not None and eos in new
                    if stopped:
                        new = new[: new.index(eos)]
                    texts.append(_continuation(tokenizer, ids, new))
                    finished.append(stopped)
                bar.update(len(batch))
    finally:
        model.train(training)
    return texts, finished


def _continuation(tokenizer: Any, prompt_ids: list[int], new_ids: list[int]) -> str:
    """Decode prompt + new tokens and return what follows the decoded prompt."""

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    head = decode(prompt_ids)
    full = decode(prompt_ids + new_ids)
    if full.startswith(head):
        return full[len(head) :]
    return decode(new_ids)  # pragma: no cover - tokenizers whose decoding is not prefix-stable


def resume_prompts(
    template: ResumeTemplate | str, panel: CareerPanel, *, waves: int = 1, n: int | None = None
) -> list[str]:
    """The beginnings of the panel's resumes in `template`: header, first `waves` waves, and
    the next wave up to its outcome.

    Prompts for :func:`sample_resumes` that start many different careers, so that a
    checkpoint whose own samples repeat its commonest career shows other titles too (and a
    checkpoint trained on the career lines alone continues in its format). Each prompt is
    the template's prompt of wave ``waves + 1`` (:meth:`ResumeTemplate.prompts`), or of the
    last wave for persons with fewer.

    Parameters
    ----------
    template : ResumeTemplate or str
        The guessed format (a preset's name, or ``ResumeTemplate.infer(...).template``).
    panel : CareerPanel
        Your persons.
    waves : int, default 1
        Whole waves written per prompt (0: the header and the first wave's text before its
        outcome).
    n : int, optional
        Number of prompts: persons in panel order, repeated in turn when the panel has fewer.

    Returns
    -------
    list of str

    Examples
    --------
    >>> prompts = resume_prompts(guess.template, panel, n=60)  # doctest: +SKIP
    >>> texts = sample_resumes(lm, 60, prompt=prompts)          # doctest: +SKIP

    Without a checkpoint, the prompts themselves:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.lm import resume_prompts
    >>> resume_prompts("plain", wage_panel(), n=2)
    ['1980: Service workers\\n1981:', '1980: Managers, officials and proprietors\\n1981:']
    """
    if waves < 0:
        raise ValueError(f"waves must be non-negative, got {waves}")
    if n is not None and n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    template = ResumeTemplate.coerce(template)
    prompts = template.prompts(panel, include_first=True)
    out = []
    for _, person in prompts.groupby(level=0, sort=False):
        out.append(person.iloc[min(waves, len(person) - 1)])
    if n is not None:
        out = [out[i % len(out)] for i in range(n)]
    return out
