"""finetune: loss falls, the best-validation checkpoint is returned and loads with load_lm."""

import json

import numpy as np
import pytest
import torch

from labor_econ import ResumeTemplate
from labor_econ.lm import load_lm
from labor_econ.lm.finetune import IGNORE, ResumeDataset, _collate, finetune
from labor_econ.lm.testing import tiny_lm


@pytest.fixture(scope="module")
def parts(wage):
    """Training careers only in crafts and operatives, validation careers never in them: the
    validation loss first falls (the resume format is learned) and then rises (the model
    learns that every career is in crafts or operatives), so the best checkpoint is early."""
    occ = wage.data.groupby("nr")["occupation"]
    inside = occ.apply(lambda s: s.isin([5, 6]).all())
    outside = occ.apply(lambda s: ~s.isin([5, 6]).any())
    return wage.subset(inside[inside].index[:24]), wage.subset(outside[outside].index[:12])


def val_loss(lm, panel, template):
    ds = ResumeDataset(panel, lm.tokenizer, template)
    batch = _collate(lm.tokenizer.eos_token_id)(ds.examples)
    with torch.no_grad():
        return float(lm.model(**{k: v.to(lm.device) for k, v in batch.items()}).loss)


def test_finetune_keeps_best_validation_checkpoint(tmp_path, parts):
    train, val = parts
    template = ResumeTemplate.preset("labor_llm")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=600, hidden_size=32)
    before = val_loss(lm, val, template)
    tuned = finetune(
        lm,
        train,
        template=template,
        val=val,
        epochs=6,
        learning_rate=1e-2,
        batch_size=4,
        output_dir=tmp_path / "ft",
        progress=False,
        per_device_eval_batch_size=64,
    )
    history = json.loads((tmp_path / "ft" / "best" / "training_history.json").read_text())
    evals = [h["eval_loss"] for h in history["log_history"] if "eval_loss" in h]
    assert len(evals) == 6
    assert min(evals) < before
    assert history["best_metric"] == pytest.approx(min(evals))
    assert np.argmin(evals) < len(evals) - 1, "the schedule did not overfit; adjust the test"
    after = val_loss(tuned, val, template)
    assert after == pytest.approx(min(evals), rel=1e-4)
    reloaded = load_lm(tmp_path / "ft" / "best")
    assert val_loss(reloaded, val, template) == pytest.approx(after, rel=1e-5)


def test_title_only_labels(wage, tmp_path):
    panel = wage.subset(wage.persons[:3])
    template = ResumeTemplate.preset("labor_llm")
    lm = tiny_lm(tmp_path / "tok", template.resumes(panel), vocab_size=400, hidden_size=16)
    ds = ResumeDataset(panel, lm.tokenizer, template, loss_on="titles")
    ex = ds[0]
    kept = [t for t, label in zip(ex["input_ids"], ex["labels"], strict=True) if label != IGNORE]
    text = lm.tokenizer.decode(kept)
    assert "Service workers" in text and "Characteristics" not in text and "1981" not in text
    full = ResumeDataset(panel, lm.tokenizer, template, loss_on="all")[0]
    assert full["labels"] == full["input_ids"]
    with pytest.raises(ValueError, match="more than max_length=10"):
        ResumeDataset(panel, lm.tokenizer, template, max_length=10)
    with pytest.raises(ValueError, match="loss_on"):
        ResumeDataset(panel, lm.tokenizer, template, loss_on="words")


def test_finetune_rejects_overlapping_parts(wage, tmp_path):
    panel = wage.subset(wage.persons[:4])
    lm = tiny_lm(
        tmp_path / "m",
        ResumeTemplate.preset("plain").resumes(panel),
        vocab_size=300,
        hidden_size=16,
    )
    with pytest.raises(ValueError, match="share persons"):
        finetune(lm, panel, val=panel, output_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="method"):
        finetune(lm, panel, method="qlora", output_dir=tmp_path / "x")


def test_lora_adapters_are_merged(wage, tmp_path):
    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:16]), val.subset(val.persons[:8])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=400, hidden_size=32)
    before = val_loss(lm, val, template)
    tuned = finetune(
        lm,
        train,
        template=template,
        val=val,
        epochs=2,
        method="lora",
        learning_rate=5e-2,
        batch_size=4,
        output_dir=tmp_path / "lora",
        progress=False,
    )
    assert type(tuned.model).__name__ == "LlamaForCausalLM"  # merged: no adapter wrapper
    assert not any("lora" in name for name, _ in tuned.model.named_parameters())
    assert val_loss(tuned, val, template) < before


def test_from_finetuned_one_liner(wage, tmp_path):
    from labor_econ import LLMTransitionModel

    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:16]), val.subset(val.persons[:6])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=300, hidden_size=16)
    model = LLMTransitionModel.from_finetuned(
        lm,
        train,
        val=val,
        template=template,
        epochs=1,
        learning_rate=1e-2,
        output_dir=tmp_path / "ft",
        progress=False,
    )
    assert model.panel is val and model.template == template
    assert model.lm.name.endswith("best")
    res = model.fit()
    assert res.nobs == val.n_transitions and np.isfinite(res.llf)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_gradient_checkpointing_path_runs(wage, tmp_path, method):
    """The settings used on GPUs (gradient checkpointing, with full weights or LoRA) train
    and give a model that loads for scoring with its cache on."""
    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:12]), val.subset(val.persons[:4])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=300, hidden_size=16)
    tuned = finetune(
        lm,
        train,
        template=template,
        val=val,
        epochs=1,
        method=method,
        gradient_checkpointing=True,
        learning_rate=1e-2,
        output_dir=tmp_path / "ft",
        progress=False,
    )
    assert tuned.model.config.use_cache
    assert np.isfinite(val_loss(tuned, val, template))
