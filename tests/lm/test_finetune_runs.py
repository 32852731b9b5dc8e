"""A fine-tuning run owns its output folder: it resumes only its own checkpoints.

Before: ``finetune(lm, A, output_dir=X)`` then ``finetune(lm, B, output_dir=X)`` returned A's
weights (resumed A's finished run) while ``best/README.md`` said "Training panel: B".
"""

from __future__ import annotations

import json

import pytest
import torch

from labor_econ import ResumeTemplate
from labor_econ.lm import CausalLM, load_lm
from labor_econ.lm.finetune import RunMismatchError, finetune
from labor_econ.lm.run_record import RUN_FILE
from labor_econ.lm.testing import tiny_lm

TEMPLATE = ResumeTemplate.preset("plain")


@pytest.fixture(scope="module")
def setup(wage, tmp_path_factory):
    train, _ = wage.split(test_size=0.2, seed=0)
    a, b = train.subset(train.persons[:8]), train.subset(train.persons[8:16])
    base = tmp_path_factory.mktemp("base")
    tiny_lm(base, TEMPLATE.resumes(train), vocab_size=300, hidden_size=16)
    return a, b, base


def _run(setup, panel, out, **kwargs):
    settings = dict(template=TEMPLATE, epochs=1, batch_size=4, learning_rate=1e-2, progress=False)
    return finetune(
        load_lm(setup[2], device="cpu"), panel, output_dir=out, **{**settings, **kwargs}
    )


@pytest.fixture(scope="module")
def run_a(setup, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "x"
    return _run(setup, setup[0], out), out


def test_every_checkpoint_and_best_carry_the_fingerprint(run_a):
    _, out = run_a
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert checkpoints
    for folder in [*checkpoints, out / "best"]:
        record = json.loads((folder / RUN_FILE).read_text())
        assert record["train"]["persons"] == 8
        assert record["settings"]["learning_rate"] == 1e-2


def test_another_panel_is_refused_naming_what_differs(setup, run_a):
    _, out = run_a
    before = (out / "best" / "README.md").read_text()
    with pytest.raises(
        RunMismatchError, match=r"differs in: train panel \(8 persons.*then, 8 pers"
    ):
        _run(setup, setup[1], out)
    assert (out / "best" / "README.md").read_text() == before  # nothing touched


def test_other_settings_are_refused(setup, run_a):
    _, out = run_a
    with pytest.raises(
        RunMismatchError, match=r"settings\.learning_rate \(0\.01 then, 0\.001 now\)"
    ):
        _run(setup, setup[0], out, learning_rate=1e-3)
    with pytest.raises(RunMismatchError, match=r"template\.name"):
        _run(setup, setup[0], out, template=ResumeTemplate.preset("labor_llm"))


def test_other_starting_weights_are_refused(setup, run_a, tmp_path):
    tuned, out = run_a
    with pytest.raises(RunMismatchError, match=r"model \(other starting weights\)"):
        # the fine-tuned weights under the base model's name
        other = CausalLM(tuned.model, tuned.tokenizer, torch.device("cpu"), str(setup[2]))
        finetune(other, setup[0], template=TEMPLATE, epochs=1, batch_size=4, output_dir=out,
                 learning_rate=1e-2, progress=False)  # fmt: skip


def test_a_checkpoint_without_fingerprint_is_refused(run_a, setup, tmp_path):
    import shutil

    _, out = run_a
    copy = tmp_path / "copy"
    last = sorted(out.glob("checkpoint-*"))[-1]
    shutil.copytree(last, copy / last.name)
    (copy / last.name / RUN_FILE).unlink()
    with pytest.raises(RunMismatchError, match=rf"{last.name} has no {RUN_FILE}.*resume=False"):
        _run(setup, setup[0], copy)


def test_resume_false_starts_fresh_and_clears_the_old_run(setup, run_a, tmp_path):
    import shutil

    tuned_a, out = run_a
    copy = tmp_path / "x"
    shutil.copytree(out, copy)
    (copy / "notes.txt").write_text("the user's own file")
    tuned_b = _run(setup, setup[1], copy, resume=False)
    assert "notes.txt" in {p.name for p in copy.iterdir()}
    record = json.loads((copy / "best" / RUN_FILE).read_text())
    assert record["train"] != json.loads((out / "best" / RUN_FILE).read_text())["train"]
    for folder in copy.glob("checkpoint-*"):
        assert json.loads((folder / RUN_FILE).read_text())["train"] == record["train"]
    assert any(
        not torch.equal(p, q)
        for p, q in zip(tuned_a.model.parameters(), tuned_b.model.parameters(), strict=True)
    )
    fresh_b = _run(setup, setup[1], tmp_path / "fresh")
    for p, q in zip(fresh_b.model.parameters(), tuned_b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)  # B trained from the start, as in a new folder


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(epochs="3"), r"epochs must be a positive integer, got '3'"),
        (dict(batch_size=0), r"batch_size must be a positive integer, got 0"),
        (dict(gradient_accumulation_steps=0), r"gradient_accumulation_steps must be a positive"),
        (dict(learning_rate=float("nan")), r"learning_rate must be a positive number, got nan"),
        (dict(learning_rate=-1e-3), r"learning_rate must be a positive number"),
        (dict(warmup_ratio=2.0), r"warmup_ratio must be a number in \[0, 1\], got 2\.0"),
        (dict(resume="yes"), r"resume must be True or False, got 'yes'"),
    ],
)
def test_malformed_settings_are_refused_before_any_work(setup, tmp_path, kwargs, message):
    """Were a ZeroDivisionError, torch's "Invalid learning rate" or '<' between str and int."""
    with pytest.raises(ValueError, match=message):
        _run(setup, setup[0], tmp_path / "ft", **kwargs)
    assert not (tmp_path / "ft").exists()


def test_a_train_panel_that_is_not_one(setup, tmp_path):
    with pytest.raises(TypeError, match=r"train must be a CareerPanel, got DataFrame"):
        _run(setup, setup[0].data, tmp_path / "ft")
