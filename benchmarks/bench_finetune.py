"""Training throughput of `finetune` against a plain PyTorch loop, at equal tokens per step.

Both run on the same device in one process, for LoRA (r = 16, all linear layers) and full
fine-tuning, and are timed after a few warm-up steps: tokens per step over the median step
time (robust to other processes sharing the machine). The plain loop trains on fixed
``batch x seq`` blocks of random tokens (no padding, nothing else to do); ``finetune``
trains on simulated resumes in batches of at most ``batch x seq`` tokens (``batch_tokens``:
packed with flash attention, length-grouped and padded otherwise; ``--packing`` forces
either). Both figures count real (non-padding) tokens.

Run ``python benchmarks/bench_finetune.py --tiny`` for a tiny Llama on CPU, or without
``--tiny`` on a CUDA GPU for a random-init Llama-2-7B shape in bfloat16 with gradient
checkpointing (``--13b`` for the 13B shape).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labor_econ import ResumeTemplate
from labor_econ.datasets.simulate import nlsy79_waves, simulate_panel
from labor_econ.lm.finetune import _lora, finetune
from labor_econ.lm.loading import CausalLM
from labor_econ.lm.testing import train_tokenizer

__all__ = ["finetune_tokens_per_second", "main", "plain_tokens_per_second"]

_SHAPES = {
    "tiny": {"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
             "num_attention_heads": 4},
    "7b": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
           "num_attention_heads": 32},
    "13b": {"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
            "num_attention_heads": 40},
}  # fmt: skip


def _model(
    shape: str, vocab_size: int, device: torch.device, dtype: torch.dtype, attn: str = "sdpa"
) -> Any:
    """A random-init Llama of the given shape, built directly on the device."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size, max_position_embeddings=4096, use_cache=False, **_SHAPES[shape]
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    model.set_attn_implementation(attn)
    return model.train()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_tokens_per_second(
    model: Any,
    *,
    method: str,
    batch: int,
    seq: int,
    steps: int,
    warmup: int,
    gradient_checkpointing: bool,
    lr: float = 1e-5,
) -> float:
    """Tokens per second of forward, backward and AdamW step on ``batch x seq`` blocks."""
    device = next(model.parameters()).device
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if method == "lora":
        model = _lora(model, 16, 32, 0.05)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, fused=device.type == "cuda")
    gen = torch.Generator(device="cpu").manual_seed(0)
    vocab = model.config.vocab_size
    marks = []
    for step in range(warmup + steps + 1):
        if step >= warmup:
            _sync(device)
            marks.append(time.perf_counter())
        if step == warmup + steps:
            break
        ids = torch.randint(0, vocab, (batch, seq), generator=gen).to(device)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return batch * seq / statistics.median(np.diff(marks))


def _step_timer(warmup: int) -> Any:
    """A Trainer callback timing the steps after ``warmup``, counting real tokens."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= warmup:
                _sync(args.device)
                self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

        def tokens_per_second(self) -> float:
            n0, n1 = self.marks[0][1], self.marks[-1][1]
            steps = len(self.marks) - 1
            seconds = np.diff([t for t, _ in self.marks])
            return (n1 - n0) / steps / statistics.median(seconds)

    return StepTimer()


def finetune_tokens_per_second(
    lm: CausalLM,
    panel: Any,
    *,
    method: str,
    batch_tokens: int,
    warmup: int,
    gradient_checkpointing: bool,
    output_dir: Path,
    packing: bool | str = "auto",
) -> tuple[float, int]:
    """Real tokens per second of `finetune` (one epoch, no evaluation) and steps timed."""
    timer = _step_timer(warmup)
    finetune(
        lm,
        panel,
        template="labor_llm",
        epochs=1,
        method=method,
        batch_tokens=batch_tokens,
        gradient_checkpointing=gradient_checkpointing,
        packing=packing,
        output_dir=output_dir,
        progress=False,
        callbacks=[timer],
        save_strategy="no",
    )
    return timer.tokens_per_second(), len(timer.marks) - 1


def main(argv: Sequence[str] | None = None) -> None:
    """Print both figures and their ratio for each method."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="tiny Llama on CPU")
    parser.add_argument("--13b", dest="b13", action="store_true", help="13B shape (GPU)")
    parser.add_argument("--methods", nargs="+", default=["lora", "full"])
    parser.add_argument("--batch", type=int, default=8, help="rows of the plain loop")
    parser.add_argument("--seq", type=int, default=None, help="tokens per row (plain loop)")
    parser.add_argument("--persons", type=int, default=None, help="simulated resumes")
    parser.add_argument("--steps", type=int, default=None, help="timed plain-loop steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument(
        "--attn", default="sdpa", help="attention implementation (e.g. flash_attention_2)"
    )
    parser.add_argument(
        "--packing",
        choices=["auto", "true", "false"],
        default="auto",
        help="finetune's packing (false: length-grouped padded batches of batch_tokens)",
    )
    args = parser.parse_args(argv)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # checkpoint writing and loading bars

    if args.tiny:
        # One thread: the tiny model gains nothing from more, and on a shared machine the
        # figures are far steadier.
        torch.set_num_threads(1)
        device, dtype, shape = torch.device("cpu"), torch.float32, "tiny"
        persons, waves, vocab, seq, steps = args.persons or 96, 12, 600, args.seq or 128, 12
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA GPU: use --tiny")
        device, dtype = torch.device("cuda", torch.cuda.current_device()), torch.bfloat16
        shape = "13b" if args.b13 else "7b"
        persons, waves, vocab, seq, steps = args.persons or 400, 30, 1000, args.seq or 256, 20
    steps = args.steps or steps
    checkpointing = device.type == "cuda"
    panel = simulate_panel(persons, years=nlsy79_waves()[:waves], seed=0)
    texts = ResumeTemplate.preset("labor_llm").resumes(panel).tolist()
    tokenizer = train_tokenizer(texts, vocab)
    lengths = [len(ids) + 1 for ids in tokenizer(texts)["input_ids"]]
    budget = args.batch * seq
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"{shape} Llama on {where}, {dtype}, {args.attn}, gradient checkpointing "
        f"{checkpointing}; torch {torch.__version__}, transformers {transformers.__version__}"
    )
    print(
        f"plain loop: {args.batch} x {seq} random tokens per step; finetune: {persons} "
        f"resumes of {min(lengths)}-{max(lengths)} tokens, packing={args.packing}, "
        f"batch_tokens={budget}"
    )
    print(f"{'method':<6} {'plain tok/s':>12} {'finetune tok/s':>15} {'ratio':>7}")
    for method in args.methods:
        model = _model(shape, len(tokenizer), device, dtype, args.attn)
        plain = plain_tokens_per_second(
            model,
            method=method,
            batch=args.batch,
            seq=seq,
            steps=steps,
            warmup=args.warmup,
            gradient_checkpointing=checkpointing,
        )
        del model
        _free(device)
        model = _model(shape, len(tokenizer), device, dtype, args.attn)
        lm = CausalLM(model=model, tokenizer=tokenizer, device=device, name=f"random {shape}")
        with tempfile.TemporaryDirectory() as tmp:
            tuned, timed = finetune_tokens_per_second(
                lm,
                panel,
                method=method,
                batch_tokens=budget,
                warmup=args.warmup,
                gradient_checkpointing=checkpointing,
                output_dir=Path(tmp),
                packing={"true": True, "false": False}.get(args.packing, "auto"),
            )
        del model, lm
        _free(device)
        print(f"{method:<6} {plain:>12,.0f} {tuned:>15,.0f} {tuned / plain:>7.2f}")
    print(f"(finetune timed over {timed} steps after {args.warmup} warm-up steps)")


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
