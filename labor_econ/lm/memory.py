"""Estimate the device memory a fine-tuning run needs, and refuse one that cannot fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["TrainingMemory", "check_training_memory", "estimate_training_memory"]

GIB = 2**30


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes a training step holds on one device, by kind.

    Attributes
    ----------
    weights : int
        All weights, frozen or not, in their dtype.
    gradients : int
        One gradient per trainable weight, in its dtype.
    optimizer : int
        AdamW's two moments per trainable weight, in its dtype.
    activations : int
        Tensors kept for the backward pass of the largest micro-batch, plus the logits and
        their float32 copies in the loss.

    Examples
    --------
    >>> from labor_econ.lm import TrainingMemory
    >>> need = TrainingMemory(weights=2**30, gradients=2**30, optimizer=2**31, activations=2**29)
    >>> print(need)
    4.5 GiB (weights 1.0, gradients 1.0, optimizer 2.0, activations 0.5)
    """

    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        """Sum of all parts."""
        return self.weights + self.gradients + self.optimizer + self.activations

    def __str__(self) -> str:
        parts = ", ".join(
            f"{name} {getattr(self, name) / GIB:.1f}"
            for name in ("weights", "gradients", "optimizer", "activations")
        )
        return f"{self.total / GIB:.1f} GiB ({parts})"


def estimate_training_memory(
    model: Any,
    *,
    rows: list[int],
    gradient_checkpointing: bool,
    compute_dtype: torch.dtype | None = None,
    lora: bool = False,
) -> TrainingMemory:
    """Estimate the memory of one training step of a Llama-style decoder on one device.

    Weights, gradients and optimizer state are counted exactly from the model's parameters
    (after LoRA adapters are added: only trainable weights have gradients and AdamW
    moments). Activations follow the tensors a decoder layer keeps for the backward pass
    (Korthikanti et al. 2022, adapted to RMSNorm, SwiGLU and grouped-query attention):
    per token and layer about ``5 h + 2 kv + 4 i`` values in the compute dtype plus two
    float32 norm inputs; with gradient checkpointing only each layer's input is kept, plus
    one layer recomputed during the backward pass. The logits cost ``vocab`` values per
    token in the compute dtype and in float32 twice (the loss upcasts them), plus their
    gradient. Eager attention adds the attention matrix (``heads x length^2`` per
    sequence); sdpa and flash attention do not keep it.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The model as it will be trained (with adapters when LoRA is used).
    rows : list of int
        Length of every sequence in the largest micro-batch (one entry per padded row, or
        the resumes of one packed row).
    gradient_checkpointing : bool
        Whether layer activations are recomputed in the backward pass.
    compute_dtype : torch.dtype, optional
        The autocast dtype; default the weights' dtype.
    lora : bool
        Whether LoRA adapters with dropout are trained (each adapted layer keeps a dropped
        copy of its input).

    Returns
    -------
    TrainingMemory

    Examples
    --------
    The Llama-2 7B shape, built on PyTorch's meta device (no memory, no weights):

    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> from labor_econ.lm import estimate_training_memory
    >>> config = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    ...                      num_attention_heads=32, vocab_size=32000)
    >>> config._attn_implementation = "sdpa"
    >>> with torch.device("meta"):
    ...     model = LlamaForCausalLM(config).to(torch.bfloat16)
    >>> print(estimate_training_memory(model, rows=[512] * 8, gradient_checkpointing=True))
    53.3 GiB (weights 12.6, gradients 12.6, optimizer 25.1, activations 3.1)
    """
    config = model.config
    params = list(model.parameters())
    weights = sum(p.numel() * p.element_size() for p in params)
    trainable = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    if compute_dtype is None:
        floats = [p.dtype for p in params if p.is_floating_point()]
        compute_dtype = floats[0] if floats else torch.float32
    a = torch.tensor([], dtype=compute_dtype).element_size()
    h = config.hidden_size
    i = getattr(config, "intermediate_size", 4 * h)
    heads = config.num_attention_heads
    kv = h * getattr(config, "num_key_value_heads", heads) // heads
    layers = config.num_hidden_layers
    tokens = sum(rows)

    per_token_layer = a * (5 * h + 2 * kv + 4 * i) + 2 * 4 * h
    if lora:
        per_token_layer += a * (6 * h + i)
    attention = getattr(config, "_attn_implementation", None)
    per_layer_attention = a * heads * sum(n * n for n in rows) if attention == "eager" else 0
    layer_full = tokens * per_token_layer + per_layer_attention
    if gradient_checkpointing:
        decoder = layers * tokens * a * h + layer_full
    else:
        decoder = layers * layer_full
    logits = tokens * config.vocab_size * (2 * a + 8)
    return TrainingMemory(
        weights=weights,
        gradients=trainable,
        optimizer=2 * trainable,
        activations=decoder + logits,
    )


def check_training_memory(need: TrainingMemory, available: int | None, where: str) -> None:
    """Raise before training when the estimate exceeds the memory available.

    Parameters
    ----------
    need : TrainingMemory
        The estimate.
    available : int or None
        Bytes available for the run on the device (free memory plus the weights already
        there); None skips the check (CPU).
    where : str
        The device, for the message.

    Raises
    ------
    MemoryError
        If ``need.total > available``.
    """
    if available is None or need.total <= available:
        return
    raise MemoryError(
        f"fine-tuning needs about {need} on {where}, but {available / GIB:.1f} GiB are "
        "available. Use method='lora', gradient_checkpointing=True, a smaller batch_size "
        "or batch_tokens (with gradient_accumulation_steps to keep the effective batch), "
        "or pass check_memory=False to try anyway."
    )


def available_memory(device: torch.device, model: Any) -> int | None:
    """Bytes a run can use on ``device``: free memory plus the model's weights already there.

    None on devices without a memory query (CPU).
    """
    if device.type != "cuda":
        return None
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    free, _ = torch.cuda.mem_get_info(device)
    here = sum(p.numel() * p.element_size() for p in model.parameters() if p.device == device)
    return free + here
