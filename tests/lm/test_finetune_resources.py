"""finetune's resource decisions: autocast only where it helps, and the memory pre-check."""

import pytest
import torch

from labor_econ import ResumeTemplate
from labor_econ.lm import finetune as finetune_module
from labor_econ.lm.memory import (
    GIB,
    TrainingMemory,
    check_training_memory,
    estimate_training_memory,
)
from labor_econ.lm.precision import autocast_dtype
from labor_econ.lm.testing import tiny_lm


@pytest.mark.parametrize(
    ("weights", "device", "bf16_ok", "expected"),
    [
        (torch.bfloat16, "cuda", True, None),  # already the training dtype: no autocast
        (torch.float16, "cuda", True, None),
        (torch.float32, "cuda", True, torch.bfloat16),  # mixed precision helps
        (torch.float32, "cuda", False, None),  # no bfloat16 on this GPU
        (torch.float32, "cpu", True, None),
        (torch.bfloat16, "cpu", False, None),
    ],
)
def test_autocast_only_for_float32_weights_on_a_bf16_gpu(weights, device, bf16_ok, expected):
    assert autocast_dtype(weights, device, bf16_supported=bf16_ok) is expected


def saved_for_backward(model, rows):
    """Bytes of the tensors autograd keeps for the backward pass (weights excluded)."""
    ids = torch.randint(0, model.config.vocab_size, (len(rows), max(rows)))
    mask = (torch.arange(max(rows)) < torch.tensor(rows)[:, None]).long()
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, attention_mask=mask, labels=ids).loss.backward()
    return sum(n for ptr, n in seen.items() if ptr not in weights)


@pytest.fixture(scope="module")
def small_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=500,
        hidden_size=128,
        intermediate_size=344,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        use_cache=False,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config).train()


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_activation_estimate_matches_what_autograd_keeps(small_llama, attention):
    """Independent reference: the tensors autograd saves in a real forward pass."""
    small_llama.config._attn_implementation = attention
    rows = [200, 150]
    measured = saved_for_backward(small_llama, rows)
    estimate = estimate_training_memory(
        small_llama, rows=[200, 200], gradient_checkpointing=False
    ).activations
    assert 0.9 * measured < estimate < 1.3 * measured
    small_llama.config._attn_implementation = "sdpa"


def test_parameter_memory_is_exact(small_llama):
    n = sum(p.numel() for p in small_llama.parameters())
    full = estimate_training_memory(small_llama, rows=[10], gradient_checkpointing=True)
    assert full.weights == full.gradients == 4 * n and full.optimizer == 8 * n
    checkpointed = full.activations
    assert (
        checkpointed
        < estimate_training_memory(small_llama, rows=[10], gradient_checkpointing=False).activations
    )


def test_seven_billion_shape_on_an_80gb_gpu():
    """Llama-2-7B in bfloat16: full fine-tuning needs 4 x 12.6 GiB for weights, gradients
    and AdamW state; it fits 80 GiB with gradient checkpointing at 8 x 256 tokens, not
    without it at 8 x 1024, nor with float32 weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    n = 6_738_415_616  # Llama-2-7B's parameter count
    fits = estimate_training_memory(model, rows=[256] * 8, gradient_checkpointing=True)
    assert fits.weights == 2 * n and fits.optimizer == 4 * n
    check_training_memory(fits, 80 * GIB, "cuda:0")
    too_long = estimate_training_memory(model, rows=[1024] * 8, gradient_checkpointing=False)
    with pytest.raises(
        MemoryError, match=r"needs about 96.6 GiB \(weights 12.6.*activations 46.4\) on cuda:0"
    ):
        check_training_memory(too_long, 80 * GIB, "cuda:0")
    fp32 = estimate_training_memory(
        model.float(), rows=[256] * 8, gradient_checkpointing=True, compute_dtype=torch.bfloat16
    )
    assert fp32.weights == 4 * n
    with pytest.raises(MemoryError, match="method='lora'"):
        check_training_memory(fp32, 80 * GIB, "cuda:0")
    check_training_memory(TrainingMemory(1, 1, 1, 1), None, "cpu")  # no query: no check


def test_finetune_refuses_a_run_that_cannot_fit_before_training(wage, tmp_path, monkeypatch):
    train = wage.subset(wage.persons[:8])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "m", template.resumes(train), vocab_size=300, hidden_size=16)
    seen = {}

    def available(device, model):
        seen["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return 64 * 1024  # a 64 KiB "GPU"

    monkeypatch.setattr(finetune_module, "_available_memory", available)
    for method in ("full", "lora"):
        with pytest.raises(MemoryError, match=r"needs about .* on cpu, but 0.0 GiB are"):
            finetune_module.finetune(
                lm, train, template=template, method=method, output_dir=tmp_path / "ft"
            )
        assert not (tmp_path / "ft").exists()  # refused before the Trainer started
        assert not any("lora" in name for name, _ in lm.model.named_parameters())
    # LoRA: the estimate saw only the adapters (r = 16, 2 layers, 4 attention projections
    # 16 -> 16, 3 MLP projections between 16 and 48) as trainable
    assert seen["trainable"] == 2 * 16 * (4 * (16 + 16) + 3 * (16 + 48))
    # opting out trains anyway
    finetune_module.finetune(
        lm,
        train,
        template=template,
        epochs=1,
        batch_size=8,
        check_memory=False,
        output_dir=tmp_path / "ft",
        progress=False,
    )
    assert (tmp_path / "ft" / "best" / "training_history.json").exists()
