"""finetune against references: gradient checkpointing against none, and a resumed run
against an uninterrupted one (same losses, same weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from labor_econ import ResumeTemplate
from labor_econ.lm import load_lm
from labor_econ.lm.finetune import finetune
from labor_econ.lm.testing import tiny_lm

TEMPLATE = ResumeTemplate.preset("plain")


@pytest.fixture(scope="module")
def setup(wage, tmp_path_factory):
    """16 training persons (4 steps of 4 per epoch), 4 validation persons, a saved base LM."""
    train, val, _ = wage.split(test_size=0.2, val_size=0.05, seed=0)
    train, val = train.subset(train.persons[:16]), val.subset(val.persons[:4])
    base = tmp_path_factory.mktemp("base")
    tiny_lm(base, TEMPLATE.resumes(train), vocab_size=300, hidden_size=16, initializer_range=0.1)
    return train, val, base


def run(setup, out, **kwargs):
    train, val, base = setup
    settings = dict(
        template=TEMPLATE, val=val, epochs=2, batch_size=4, learning_rate=1e-2,
        output_dir=out, progress=False,
    )  # fmt: skip
    tuned = finetune(load_lm(base, device="cpu"), train, **{**settings, **kwargs})
    history = json.loads((out / "best" / "training_history.json").read_text())
    return tuned, history


def losses(history, key):
    return [h[key] for h in history["log_history"] if key in h]


def assert_same_weights(a, b, rtol=0.0, atol=0.0):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        torch.testing.assert_close(sa[name], sb[name], rtol=rtol, atol=atol, msg=name)


@pytest.fixture(scope="module")
def plain_run(setup, tmp_path_factory):
    return run(setup, tmp_path_factory.mktemp("plain"))


def test_gradient_checkpointing_gives_the_same_training(setup, plain_run, tmp_path):
    tuned, history = plain_run
    checkpointed, history_gc = run(setup, tmp_path / "gc", gradient_checkpointing=True)
    assert len(losses(history, "loss")) == 2 and len(losses(history, "eval_loss")) == 2
    # Recomputing activations in the backward pass changes nothing but float rounding order.
    for key in ("loss", "eval_loss"):
        assert losses(history_gc, key) == pytest.approx(losses(history, key), rel=1e-5)
    assert_same_weights(checkpointed, tuned, rtol=1e-4, atol=1e-6)
    base = load_lm(setup[2], device="cpu")
    moved = max(
        (p - q).abs().max().item()
        for p, q in zip(tuned.model.parameters(), base.model.parameters(), strict=True)
    )
    assert moved > 1e-3  # the runs did train


def test_resume_after_interruption_ends_where_an_uninterrupted_run_ends(setup, plain_run, tmp_path):
    tuned, history = plain_run
    root = Path(tuned.name).parent  # the run's output_dir (tuned is output_dir/best)
    # The second epoch is the best, so the weights compared below were trained after the
    # resume point, not copied from it.
    assert history["best_model_checkpoint"].endswith("checkpoint-8")
    epoch1 = root / "checkpoint-4"
    assert epoch1.is_dir()
    # What a run killed after its first epoch leaves on disk: the first epoch's checkpoint.
    interrupted = tmp_path / "interrupted"
    shutil.copytree(epoch1, interrupted / epoch1.name)
    resumed, history_resumed = run(setup, interrupted, resume=True)
    assert (
        json.loads((interrupted / "checkpoint-8" / "trainer_state.json").read_text())["global_step"]
        == 8
    )
    # The resumed run's second epoch matches the uninterrupted run's.
    assert history_resumed["best_model_checkpoint"].endswith("checkpoint-8")
    for key in ("loss", "eval_loss"):
        assert losses(history_resumed, key)[-1] == pytest.approx(losses(history, key)[-1], rel=1e-6)
    assert history_resumed["best_metric"] == pytest.approx(history["best_metric"], rel=1e-6)
    assert_same_weights(resumed, tuned, rtol=1e-6, atol=1e-7)
    # Without resume the same directory trains from the start again (and differs).
    fresh, _ = run(setup, interrupted, resume=False, epochs=1)
    assert any(
        not torch.equal(p, q)
        for p, q in zip(fresh.model.parameters(), tuned.model.parameters(), strict=True)
    )
