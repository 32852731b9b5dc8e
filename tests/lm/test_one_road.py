"""One road from a checkpoint to results: the saved template and titles, wherever scoring starts.

A checkpoint fine-tuned in a format that is no preset ("ages") is scored from Python
(`score_panel`, `LLMModel`, with and without a store) and from the command line
(`labor-econ fit`, `labor-econ score`, with and without `--template`): every route writes the
checkpoint's template and title spellings, warns about nothing, and gives the same log q as
the reference scorer on the prompts written by hand.
"""

import json
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from labor_econ import (
    CareerPanel,
    CheckpointMismatchWarning,
    DefaultTemplateWarning,
    LLMModel,
    ResumeTemplate,
    TransitionResults,
    finetune,
    load_lm,
    score_panel,
)
from labor_econ.cli import main
from labor_econ.datasets import simulate_panel
from labor_econ.lm.resolve import resolve_template
from labor_econ.lm.scoring import naive_score
from labor_econ.lm.store import read_store
from labor_econ.lm.testing import tiny_lm

TEMPLATE = ResumeTemplate(
    header=("Born {birth_year}.",),
    line="At {age} ({year}) was {title};",
    separator="\n",
    footer="\nEnd.",
    name="ages",
)
PANEL_ARGS = ["--id", "pid", "--time", "year", "--occupation", "occ", "--birth-year", "birth_year"]


@contextmanager
def no_format_warnings():
    """Fail on any warning that the template or titles are not the checkpoint's."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultTemplateWarning)
        warnings.simplefilter("error", CheckpointMismatchWarning)
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(base checkpoint without a saved format, fine-tuned checkpoint directory)."""
    sim = simulate_panel(16, years=range(1980, 1985), seed=0)
    train, val = sim.subset(sim.persons[:12]), sim.subset(sim.persons[12:])
    root = tmp_path_factory.mktemp("oneroad")
    base = tiny_lm(root / "base", TEMPLATE.resumes(train), vocab_size=300, hidden_size=16)
    finetune(
        base,
        train,
        template=TEMPLATE,
        val=val,
        epochs=2,
        learning_rate=1e-2,
        batch_size=4,
        output_dir=root / "ft",
        progress=False,
    )
    return root / "base", root / "ft" / "best"


@pytest.fixture(scope="module")
def careers_csv(tmp_path_factory):
    """Careers as a CSV without titles: the panel read from it titles its codes "1", "2"..."""
    path = tmp_path_factory.mktemp("data") / "careers.csv"
    simulate_panel(10, years=range(1980, 1984), seed=7).data.to_csv(path, index=False)
    return path


def read_panel(path):
    frame = pd.read_csv(path)
    return CareerPanel(frame, id="pid", time="year", occupation="occ", birth_year="birth_year")


def reference_logq(lm, panel):
    """log q by the reference scorer on prompts written by hand in the checkpoint's format."""
    titles = {c: lm.taxonomy.title(c) for c in panel.taxonomy.codes}
    written = panel.with_taxonomy(panel.taxonomy.with_titles(titles))
    prompts = TEMPLATE.prompts(written)
    assert any(f"was {t};" in "".join(prompts) for t in titles.values())
    candidates = [TEMPLATE.continuation_text(titles[c]) for c in panel.taxonomy.codes]
    return naive_score(lm, prompts.tolist(), candidates)


def test_resolve_template_order(checkpoint, tmp_path):
    base_dir, best = checkpoint
    lm, base = load_lm(best, device="cpu"), load_lm(base_dir, device="cpu")
    with no_format_warnings():
        assert resolve_template(lm) == TEMPLATE
        assert resolve_template(lm, best / "labor_econ_template.json") == TEMPLATE
        assert resolve_template(lm, TEMPLATE.to_dict()) == TEMPLATE
    with pytest.warns(CheckpointMismatchWarning, match="Omit template="):
        assert resolve_template(lm, "labor_llm") == ResumeTemplate.preset("labor_llm")
    with pytest.warns(DefaultTemplateWarning, match="check_format.*ResumeTemplate.infer"):
        assert resolve_template(base) == ResumeTemplate.preset("labor_llm")
    assert resolve_template(None) == ResumeTemplate.preset("labor_llm")  # scores given: no LM


def test_score_panel_writes_the_checkpoints_template_and_titles(checkpoint, careers_csv, tmp_path):
    _, best = checkpoint
    lm = load_lm(best, device="cpu")
    panel = read_panel(careers_csv)
    first = panel.taxonomy.codes[0]
    assert panel.taxonomy.title(first) == str(first)  # the file has codes only
    expected = reference_logq(lm, panel)
    with no_format_warnings():
        logq = score_panel(lm, panel, progress=False)
        stored = score_panel(lm, panel, store=tmp_path / "scores", progress=False)
        model = LLMModel(panel, lm)
        on_store = LLMModel(panel, lm, store=tmp_path / "scores")
    assert list(logq.columns) == list(panel.taxonomy.codes)
    # fp32 scoring, trie vs one row per candidate: agree to rounding
    np.testing.assert_allclose(logq.to_numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(stored.to_numpy(), logq.to_numpy(), atol=1e-5)
    assert model.template == TEMPLATE
    assert model.candidates[0] == f" {lm.taxonomy.title(first)};"
    np.testing.assert_allclose(model.logq, logq.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(on_store.logq, logq.to_numpy(), atol=1e-5)
    # the store says which titles it wrote, so it is read back without the LM
    frame, meta = read_store(tmp_path / "scores", panel)
    assert meta["template"] == TEMPLATE.to_dict()
    np.testing.assert_allclose(frame.to_numpy(), logq.to_numpy(), atol=1e-5)
    rebuilt = LLMModel.from_store(panel, tmp_path / "scores")
    np.testing.assert_allclose(rebuilt.logq, logq.to_numpy(), atol=1e-5)
    res = model.fit()
    note = f"Titles of {len(panel.taxonomy)} code(s) written as saved with the checkpoint"
    assert note in str(res.summary())


def test_a_taxonomy_passed_on_purpose_is_written_with_a_warning(checkpoint, careers_csv):
    _, best = checkpoint
    lm = load_lm(best, device="cpu")
    panel = read_panel(careers_csv)
    with pytest.warns(CheckpointMismatchWarning, match="Omit taxonomy="):
        logq = score_panel(lm, panel, taxonomy=panel.taxonomy, progress=False)
    with pytest.warns(CheckpointMismatchWarning, match="Omit taxonomy="):
        model = LLMModel(panel, lm, taxonomy=panel.taxonomy)
    assert model.candidates[0] == f" {panel.taxonomy.codes[0]};"
    np.testing.assert_allclose(model.logq, logq.to_numpy(), atol=1e-5)
    assert not np.allclose(logq.to_numpy(), reference_logq(lm, panel), atol=1e-2)


def _fit(careers_csv, best, out, *extra):
    args = ["fit", str(careers_csv), *PANEL_ARGS, "--models", "llm,markov", "--lm", str(best)]
    with no_format_warnings():
        assert main([*args, *extra, "--test-size", "0.3", "--out", str(out)]) == 0
    return TransitionResults.load(out / "results_llm.zip")


def test_cli_fit_uses_the_saved_format_and_scores_as_python(checkpoint, careers_csv, tmp_path):
    _, best = checkpoint
    own = _fit(careers_csv, best, tmp_path / "own")
    named = _fit(
        careers_csv, best, tmp_path / "named", "--template", str(best / "labor_econ_template.json")
    )
    train, _ = read_panel(careers_csv).split(test_size=0.3, seed=0)
    with no_format_warnings():
        python = LLMModel(train, load_lm(best, device="cpu"), template=None)
    assert own.model.template == named.model.template == TEMPLATE
    np.testing.assert_allclose(own.model.logq, python.logq, atol=1e-5)
    np.testing.assert_allclose(named.model.logq, python.logq, atol=1e-5)
    summary = (tmp_path / "own" / "results_llm.txt").read_text()
    assert "Template:" in summary and " ages " in summary
    # the saved results keep the titles written (the checkpoint's), not the file's codes
    first = train.taxonomy.codes[0]
    assert own.model.written_taxonomy.title(first) == python.lm.taxonomy.title(first)


def test_cli_template_argument_reads_what_coerce_reads(careers_csv, checkpoint, tmp_path, capsys):
    _, best = checkpoint
    args = ["fit", str(careers_csv), *PANEL_ARGS, "--models", "llm", "--lm", str(best)]
    code = main([*args, "--template", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")])
    assert code == 2 and "--template" in capsys.readouterr().err
    inline = json.dumps(TEMPLATE.to_dict())
    with no_format_warnings():
        assert main([*args, "--template", inline, "--out", str(tmp_path / "o")]) == 0
    results = TransitionResults.load(tmp_path / "o" / "results_llm.zip")
    assert results.model.template == TEMPLATE


def test_cli_score_fills_the_store_in_the_saved_format(checkpoint, careers_csv, tmp_path):
    base_dir, best = checkpoint
    args = ["score", str(careers_csv), *PANEL_ARGS, "--lm", str(best)]
    with no_format_warnings():
        assert main([*args, "--store", str(tmp_path / "scores")]) == 0
    panel = read_panel(careers_csv)
    frame, meta = read_store(tmp_path / "scores", panel)
    assert ResumeTemplate.coerce(meta["template"]) == TEMPLATE
    with no_format_warnings():
        expected = score_panel(load_lm(best, device="cpu"), panel, progress=False)
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), atol=1e-5)
    # a checkpoint with no saved template: labor_llm, said on stderr, never silently
    base_args = ["score", str(careers_csv), *PANEL_ARGS, "--lm", str(base_dir)]
    with pytest.warns(DefaultTemplateWarning, match="no saved template"):
        assert main([*base_args, "--store", str(tmp_path / "base_scores")]) == 0


def test_calibration_on_a_subsample_scores_only_its_persons(checkpoint, careers_csv):
    _, best = checkpoint
    lm = load_lm(best, device="cpu")
    panel = read_panel(careers_csv)
    with no_format_warnings():
        model = LLMModel(panel, lm)
        res = model.fit(calibrate=True, calibration_persons=4, seed=1)
        expected = score_panel(lm, res.model.panel, progress=False)
    assert "logq" not in model.__dict__  # the other persons were never scored
    assert res.n_persons == 4 and res.calibration_sample == {"persons": 4, "of": 10, "seed": 1}
    np.testing.assert_allclose(res.model.logq, expected.to_numpy(), atol=1e-5)
    assert res.model.template == TEMPLATE


def test_cli_fit_calibrates_on_a_subsample(checkpoint, careers_csv, tmp_path, capsys):
    _, best = checkpoint
    args = ["fit", str(careers_csv), *PANEL_ARGS, "--models", "llm", "--lm", str(best)]
    args += ["--calibrate", "--calibration-persons", "3", "--test-size", "0.3"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert "seeded subsample of 3 of the 7 training persons" in capsys.readouterr().err
    res = TransitionResults.load(tmp_path / "out" / "results_llm.zip")
    assert res.calibrated and res.calibration_sample == {"persons": 3, "of": 7, "seed": 0}
    assert (
        "seeded subsample of 3 of 7 persons" in (tmp_path / "out" / "results_llm.txt").read_text()
    )
    for bad, message in [
        (["--calibration-persons", "0"], "a positive number of persons or 'all'"),
        (["--models", "markov", "--calibrate"], "options of the llm model"),
    ]:
        code = main(["fit", str(careers_csv), *PANEL_ARGS, *bad, "--out", str(tmp_path / "x")])
        assert code == 2 and message in capsys.readouterr().err


def test_saved_titles_that_clash_with_the_panels_are_refused_with_the_way_out():
    from types import SimpleNamespace

    from labor_econ import Taxonomy, TaxonomyError
    from labor_econ.lm.resolve import resolve_titles

    lm = SimpleNamespace(name="ckpt", template=None, taxonomy=Taxonomy([1], ["Clerks"]))
    panel_titles = Taxonomy([1, 2], ["Office clerks", "Clerks"])
    with pytest.raises(TaxonomyError, match="titles saved with ckpt.*Pass taxonomy="):
        resolve_titles(lm, panel_titles)
    same = resolve_titles(lm, Taxonomy([1, 3], ["Clerks", "Cooks"]))
    assert same.titles == ("Clerks", "Cooks")
    with pytest.warns(CheckpointMismatchWarning, match="'Office clerks' here, 'Clerks'"):
        assert resolve_titles(lm, panel_titles, panel_titles) is panel_titles  # on purpose
