"""A tiny Llama with a byte-level BPE tokenizer as GPT-2's: no BOS token, and "\\n" merges
with the next line's spaces into one token, so a text's tokens at a line boundary can differ
from those of its two halves. Shared by the scoring tests that need such a tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from labor_econ.lm import CausalLM, load_lm


def byte_level_lm(path: Path, texts: Sequence[str], *, vocab_size: int) -> CausalLM:
    """Train the BPE on `texts` (`vocab_size` tokens), save a seeded tiny Llama at `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )  # fmt: skip
    bpe.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=88, num_hidden_layers=2,
        num_attention_heads=4, initializer_range=0.3, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, pad_token_id=None, tie_word_embeddings=False,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return load_lm(path, device="cpu")
