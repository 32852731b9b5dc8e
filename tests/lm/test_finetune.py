"""finetune: loss falls, the best-validation checkpoint is returned and loads with load_lm."""

import json

import numpy as np
import pytest
import torch

from labor_econ import ResumeTemplate
from labor_econ.lm import load_lm
from labor_econ.lm.batching import TokenBudgetBatchSampler, packed_collator, resolve_packing
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


@pytest.fixture(scope="module")
def best_of_six(tmp_path_factory, parts):
    """Six epochs on the overfitting split, batches of 4: the single-process reference."""
    train, val = parts
    tmp_path = tmp_path_factory.mktemp("best_of_six")
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
        train_sampling_strategy="random",  # as tests/scripts/ddp_finetune.py
    )
    return tmp_path, before, tuned


def test_finetune_keeps_best_validation_checkpoint(best_of_six, parts):
    tmp_path, before, tuned = best_of_six
    _, val = parts
    template = ResumeTemplate.preset("labor_llm")
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
    # the per-epoch summary: train and validation loss of each epoch, and the epoch kept
    assert [e["val_loss"] for e in history["epochs"]] == evals
    assert all(e["train_loss"] > 0 for e in history["epochs"])
    assert history["best_epoch"] == 1 + int(np.argmin(evals))
    assert history["best_model_checkpoint"].endswith(f"checkpoint-{6 * history['best_epoch']}")


def test_two_gloo_processes_pick_the_same_best_epoch(best_of_six):
    """torch.distributed.run with 2 CPU processes (gloo), 2 resumes each per step: the same
    global batches as the single process, so the same losses and the same best epoch."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tmp_path, _, _ = best_of_six
    script = Path(__file__).resolve().parents[1] / "scripts" / "ddp_finetune.py"
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [str(script), str(tmp_path / "base"), str(tmp_path / "ddp"), "4"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-4000:]
    one, two = (
        json.loads((tmp_path / name / "best" / "training_history.json").read_text())
        for name in ("ft", "ddp")
    )
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(
            [e[key] for e in two["epochs"]], [e[key] for e in one["epochs"]], rtol=1e-4
        )
    assert two["best_epoch"] == one["best_epoch"] < 6


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
    from labor_econ import LLMModel

    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:16]), val.subset(val.persons[:6])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=300, hidden_size=16)
    model = LLMModel.from_finetuned(
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


def test_special_token_strings_in_titles_are_text(tmp_path):
    """A title holding "</s>" or "<s>" is trained on as characters, not as control tokens:
    the only BOS is the first token and the only EOS the last."""
    import pandas as pd

    from labor_econ import CareerPanel, Taxonomy

    taxonomy = Taxonomy([1, 2, 3], ["Cashiers", "Clerks </s> and tellers", "Cooks <s>"])
    frame = pd.DataFrame(
        {"pid": [7, 7, 9, 9], "year": [1990, 1991, 1990, 1992], "occ": [1, 2, 3, 1]}
    )
    panel = CareerPanel(frame, id="pid", time="year", occupation="occ", taxonomy=taxonomy)
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "m", template.resumes(panel), vocab_size=300, hidden_size=16)
    tok = lm.tokenizer
    for loss_on in ("all", "titles"):
        ds = ResumeDataset(panel, tok, template, loss_on=loss_on)
        for ex, text in zip(ds.examples, template.resumes(panel), strict=True):
            ids = ex["input_ids"]
            assert ids[0] == tok.bos_token_id and tok.bos_token_id not in ids[1:]
            assert ids[-1] == tok.eos_token_id and tok.eos_token_id not in ids[:-1]
            assert tok.decode(ids[1:-1]) == text
        kept = [t for t, label in zip(*ds[0].values(), strict=True) if label != IGNORE]
        if loss_on == "titles":
            assert "</s>" in tok.decode(kept) and "1991" not in tok.decode(kept)
    # the tokenizer's own setting is left as it was
    assert tok("a </s>")["input_ids"][-1] == tok.eos_token_id


@pytest.mark.parametrize("loss_on", ["all", "titles"])
def test_packed_batch_gives_the_padded_loss(wage, tmp_path, loss_on):
    """One packed row (position ids restarting per resume, no mask) gives the loss and the
    logits of the padded batch; with a cache transformers would not see the packing, which
    is why finetune trains without one."""
    panel = wage.subset(wage.persons[:6])
    template = ResumeTemplate.preset("labor_llm")
    lm = tiny_lm(
        tmp_path / "m",
        template.resumes(panel),
        vocab_size=400,
        hidden_size=32,
        initializer_range=0.3,
    )
    ds = ResumeDataset(panel, lm.tokenizer, template, loss_on=loss_on)
    padded = _collate(lm.tokenizer.eos_token_id)(ds.examples)
    packed = packed_collator()(ds.examples)
    assert packed["input_ids"].shape == (1, ds.n_tokens)
    model = lm.model
    model.config.use_cache = False
    with torch.no_grad():
        out_pad, out_pack = model(**padded), model(**packed)
        real = padded["attention_mask"].bool()
        assert torch.allclose(out_pack.logits[0], out_pad.logits[real], atol=1e-5)
        assert float(out_pack.loss) == pytest.approx(float(out_pad.loss), rel=1e-6)
        model.config.use_cache = True
        crossed = float(model(**packed).loss)
    assert abs(crossed - float(out_pad.loss)) > 1e-3


def test_packing_keeps_losses_and_best_epoch(tmp_path, parts):
    """The same run with and without packing (same batches, titles-only loss): per-epoch
    train and validation losses agree to rounding, and the same epoch is kept."""
    train, val = parts
    template = ResumeTemplate.preset("labor_llm")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=600, hidden_size=32)
    histories = {}
    for packing in (True, False):
        lm = load_lm(tmp_path / "base")
        finetune(
            lm,
            train,
            template=template,
            val=val,
            epochs=4,
            learning_rate=1e-2,
            batch_size=4,
            loss_on="titles",
            packing=packing,
            output_dir=tmp_path / f"ft{packing}",
            progress=False,
            train_sampling_strategy="random",  # the padded run's batches as the packed one's
        )
        path = tmp_path / f"ft{packing}" / "best" / "training_history.json"
        histories[packing] = json.loads(path.read_text())
    packed, padded = histories[True], histories[False]
    assert packed["packed"] and not padded["packed"]
    assert [e["epoch"] for e in packed["epochs"]] == [1, 2, 3, 4]
    for key in ("train_loss", "val_loss"):
        got = [e[key] for e in packed["epochs"]]
        want = [e[key] for e in padded["epochs"]]
        np.testing.assert_allclose(got, want, rtol=1e-4)
    assert packed["best_epoch"] == padded["best_epoch"]
    vals = [e["val_loss"] for e in packed["epochs"]]
    assert packed["best_epoch"] == 1 + int(np.argmin(vals))
    # packing trained on the real tokens only, and just as many as the padded run
    assert (
        packed["train_tokens"]
        == padded["train_tokens"]
        == 4 * sum(ResumeDataset(train, lm.tokenizer, template).lengths)
    )


def test_packing_needs_a_supporting_attention(wage, tmp_path):
    panel = wage.subset(wage.persons[:3])
    lm = tiny_lm(
        tmp_path / "m",
        ResumeTemplate.preset("plain").resumes(panel),
        vocab_size=300,
        hidden_size=16,
    )
    assert lm.model.config._attn_implementation == "sdpa"
    assert resolve_packing(lm.model, True)  # exact, through the block-diagonal mask
    assert not resolve_packing(lm.model, "auto") and not resolve_packing(lm.model, False)
    lm.model.config._attn_implementation = "flash_attention_2"
    assert resolve_packing(lm.model, "auto")
    lm.model.config._attn_implementation = "some_kernel"
    assert not resolve_packing(lm.model, "auto")
    with pytest.raises(ValueError, match="some_kernel"):
        resolve_packing(lm.model, True)
    with pytest.raises(ValueError, match="packing must be"):
        resolve_packing(lm.model, "yes")


@pytest.mark.parametrize("padded", [True, False])
def test_token_budget_batches(padded):
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 90, size=200).tolist()
    sampler = TokenBudgetBatchSampler(lengths, 400, padded=padded, seed=3)
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert sorted(i for b in batches for i in b) == list(range(200))  # each once
        for b in batches:
            sizes = [lengths[i] for i in b]
            cost = max(sizes) * len(b) if padded else sum(sizes)
            assert cost <= 400
        epochs.append(batches)
    assert epochs[0] != epochs[1]  # a new order every epoch
    sampler.set_epoch(0)
    assert list(sampler) == epochs[0]  # reproducible (same on every process)
    if padded:  # grouped by length: little padding
        pad = sum(max(lengths[i] for i in b) * len(b) for b in epochs[0]) - sum(lengths)
        assert pad < 0.05 * sum(lengths)
    with pytest.raises(ValueError, match="person 'b' has 90 tokens, more than batch_tokens=80"):
        TokenBudgetBatchSampler([10, 90], 80, padded=padded, ids=["a", "b"])


def test_finetune_with_a_token_budget(wage, tmp_path):
    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:16]), val.subset(val.persons[:4])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=300, hidden_size=16)
    lengths = ResumeDataset(train, lm.tokenizer, template).lengths
    budget = 3 * max(lengths)
    finetune(
        lm,
        train,
        template=template,
        val=val,
        epochs=2,
        learning_rate=1e-2,
        batch_tokens=budget,
        output_dir=tmp_path / "ft",
        progress=False,
    )
    history = json.loads((tmp_path / "ft" / "best" / "training_history.json").read_text())
    steps = len(TokenBudgetBatchSampler(lengths, budget, padded=True))
    # length-grouped padded batches of at least 3 resumes, not batch_size=8 resumes
    assert history["log_history"][-1]["step"] == 2 * steps
    assert len(lengths) / 8 < steps <= -(-len(lengths) // 3)
    assert history["train_tokens"] == 2 * sum(lengths)


def test_progress_bar_defaults_on_in_notebooks(monkeypatch):
    """Jupyter's stderr is no terminal; the bar (the Trainer's notebook callback) is shown."""
    import sys

    import transformers.utils

    from labor_econ.lm.finetune import _interactive

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.setattr(transformers.utils, "is_in_notebook", lambda: False)
    assert not _interactive()
    monkeypatch.setattr(transformers.utils, "is_in_notebook", lambda: True)
    assert _interactive()


def test_epoch_losses_are_printed(wage, tmp_path, capsys):
    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:8]), val.subset(val.persons[:4])
    template = ResumeTemplate.preset("plain")
    lm = tiny_lm(tmp_path / "base", template.resumes(train), vocab_size=300, hidden_size=16)
    finetune(lm, train, template=template, val=val, epochs=2, output_dir=tmp_path / "ft")
    out = capsys.readouterr().out
    history = json.loads((tmp_path / "ft" / "best" / "training_history.json").read_text())
    for e in history["epochs"]:
        line = f"epoch {e['epoch']}: train loss {e['train_loss']:.4f}, "
        assert line + f"validation loss {e['val_loss']:.4f}" in out
    assert "{'loss'" not in out  # no raw log dicts
