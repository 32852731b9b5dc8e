"""Greedy decoding by hand, the reference for generation-based code in the tests."""

import torch


def greedy_reference(lm, prompt, steps):
    """`prompt` and up to `steps` greedy tokens, decoded without special tokens.

    One full forward per token: no `generate`, no cache, no padding.
    """
    ids = lm.tokenizer(prompt)["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(steps):
            logits = lm.model(torch.tensor([ids + new], device=lm.device)).logits[0, -1]
            token = int(logits.argmax())
            if token == lm.tokenizer.eos_token_id:
                break
            new.append(token)
    return lm.tokenizer.decode(ids + new, skip_special_tokens=True)
