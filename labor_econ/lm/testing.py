"""Testing helpers: tiny Llama models with Llama-2-style tokenizers trained locally, and the
reference scorer `naive_score` that `CandidateScorer` is checked against."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from labor_econ.lm.inputs import _check_candidates, _check_texts
from labor_econ.lm.loading import CausalLM, load_lm
from labor_econ.lm.scorer import _eval_mode
from labor_econ.lm.tokenization import _common_prefix

__all__ = ["BYTE_TOKENS", "SPECIAL_TOKENS", "naive_score", "tiny_lm", "train_tokenizer"]

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>")
BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, *, min_frequency: int = 2):
    """Train a Llama-2-style BPE tokenizer on `texts`.

    The layout follows Llama-2's SentencePiece model as transformers 5 loads it: ids 0-2 are
    ``<unk>``, ``<s>``, ``</s>``; ids 3-258 the byte-fallback tokens ``<0x00>``...``<0xFF>``; then
    the learned pieces. Words carry a ``▁`` prefix (the first word too), spaces become ``▁``,
    pieces never cross a word boundary, and ``"\\n"`` is never part of a learned piece: it is
    encoded as ``<0x0A>``, like any character not seen in training. A BOS token is added.

    Parameters
    ----------
    texts : iterable of str
        Training corpus.
    vocab_size : int, default 2048
        Upper bound on the vocabulary size, special and byte tokens included; training stops
        earlier when no pair occurs `min_frequency` times.
    min_frequency : int, default 2
        Minimum count of a pair to be merged.

    Returns
    -------
    transformers.LlamaTokenizer
        A fast (``tokenizers``-backed) tokenizer; ``save_pretrained`` writes it.

    Raises
    ------
    ValueError
        If `vocab_size` leaves no room for learned pieces.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    reserved = len(SPECIAL_TOKENS) + len(BYTE_TOKENS)
    if vocab_size <= reserved:
        raise ValueError(
            f"vocab_size={vocab_size} leaves no room for learned pieces: the special and byte "
            f"tokens take {reserved} ids; use vocab_size > {reserved}"
        )
    bpe = Tokenizer(models.BPE())
    # Training splits words exactly as Llama-2's SentencePiece does (a piece starts a word or
    # continues one), and drops "\n" so that it never enters the alphabet or a merge.
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n", behavior="removed"),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - reserved, min_frequency=min_frequency, show_progress=False
    )
    bpe.train_from_iterator(texts, trainer)
    learned = json.loads(bpe.to_str())["model"]
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + BYTE_TOKENS)}
    for piece, _ in sorted(learned["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    # LlamaTokenizer rebuilds the backend as transformers 5 does for real Llama-2 checkpoints:
    # Metaspace(prepend_scheme="first", split=False) over a byte-fallback BPE.
    return LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=SPECIAL_TOKENS[0],
        bos_token=SPECIAL_TOKENS[1],
        eos_token=SPECIAL_TOKENS[2],
        add_bos_token=True,
        add_eos_token=False,
    )


def tiny_lm(
    path: str | os.PathLike,
    texts: Iterable[str],
    *,
    vocab_size: int = 2048,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 2048,
    initializer_range: float = 0.02,
    seed: int = 0,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device = "auto",
) -> CausalLM:
    """Build, save and load a tiny randomly initialised ``LlamaForCausalLM``.

    The tokenizer is trained on `texts` with `train_tokenizer`; model (safetensors) and
    tokenizer are written to `path` with ``save_pretrained``, and the checkpoint is read back
    with `load_lm`, so everything downstream sees exactly what a real checkpoint gives.

    Parameters
    ----------
    path : str or os.PathLike
        Directory to write (created if needed; existing checkpoint files are overwritten).
    texts : iterable of str
        Corpus for the tokenizer.
    vocab_size : int, default 2048
        Upper bound on the tokenizer's vocabulary; the model gets the trained size.
    hidden_size, num_layers, num_heads : int
        Model shape (defaults 64, 2, 4).
    num_kv_heads : int, optional
        Key/value heads (grouped-query attention); defaults to `num_heads`.
    intermediate_size : int, optional
        MLP width; defaults to about 8/3 of `hidden_size`, as in Llama.
    max_position_embeddings : int, default 2048
        Longest sequence the model (and the tokenizer's ``model_max_length``) accepts.
    initializer_range : float, default 0.02
        Standard deviation of the random weights. Tests use larger values (0.2 to 0.5) so that
        a wrong attention mask or position changes the scores by far more than rounding.
    seed : int, default 0
        Seed of the initialisation; the global torch RNG state is left untouched.
    dtype, device : see `load_lm`.

    Returns
    -------
    CausalLM
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = list(texts)
    tokenizer = train_tokenizer(texts, vocab_size)
    tokenizer.model_max_length = max_position_embeddings
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or -(-hidden_size * 8 // 3 // 8) * 8,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        max_position_embeddings=max_position_embeddings,
        initializer_range=initializer_range,
        rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    os.makedirs(path, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return load_lm(path, dtype=dtype, device=device)


def naive_score(
    lm: CausalLM, prompts: Sequence[str], candidates: Sequence[str], *, batch_size: int = 32
) -> np.ndarray:
    """Reference scorer: one row per prompt + candidate, a plain causal forward each.

    Each pair is tokenized as one text with the tokenizer's defaults; the candidate's tokens
    are those after the longest prefix shared with the prompt's own tokenization (see
    `CandidateScorer`). Log-softmax in float32 over full logits. Slow (n * K rows); kept to
    check `CandidateScorer`.

    Parameters
    ----------
    lm : CausalLM
        Model and tokenizer.
    prompts : sequence of str
        The n prompts.
    candidates : sequence of str
        The K candidate continuations.
    batch_size : int, default 32
        Rows per forward pass.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape (n, K).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import numpy as np
    >>> from labor_econ import CandidateScorer, ResumeTemplate
    >>> from labor_econ.lm import naive_score
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> prompts = template.prompts(val).iloc[:2].tolist()
    >>> candidates = template.continuations(val.taxonomy)
    >>> slow = naive_score(lm, prompts, candidates)
    >>> slow.shape
    (2, 9)
    >>> bool(np.allclose(slow, CandidateScorer(lm).score(prompts, candidates), atol=1e-4))
    True
    """
    candidates = _check_candidates(candidates)
    prompts = _check_texts(prompts, "prompts")
    tokenizer, model = lm.tokenizer, lm.model
    special = set(tokenizer.all_special_ids)

    def encode(text: str) -> list[int]:
        # Data is text: "</s>" in a title is three characters, not the end-of-text token.
        ids = list(tokenizer(text, split_special_tokens=True)["input_ids"])
        while ids and ids[-1] in special:
            ids.pop()
        return ids

    rows = []
    for p in prompts:
        prompt_ids = encode(p)
        for c in candidates:
            joint = encode(p + c)
            m = _common_prefix(prompt_ids, joint)
            if m == 0 or m == len(joint):
                raise ValueError(f"cannot score {c!r} after {p!r}: no context or no new tokens")
            rows.append((joint, m))
    scores = np.empty(len(rows), dtype=np.float64)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with _eval_mode(model), torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for b, (ids, _) in enumerate(chunk):
                input_ids[b, : len(ids)] = torch.tensor(ids)
                attention[b, : len(ids)] = 1
            logits = model(
                input_ids=input_ids.to(lm.device), attention_mask=attention.to(lm.device)
            ).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            row_of = torch.tensor([b for b, (ids, m) in enumerate(chunk) for _ in ids[m:]])
            positions = torch.tensor([t for ids, m in chunk for t in range(m - 1, len(ids) - 1)])
            targets = torch.tensor([t for ids, m in chunk for t in ids[m:]])
            picked = log_probs[row_of.to(lm.device), positions.to(lm.device), targets.to(lm.device)]
            scores[start : start + len(chunk)] = np.bincount(
                row_of.numpy(), weights=picked.double().cpu().numpy(), minlength=len(chunk)
            )
    return scores.reshape(len(prompts), len(candidates))
