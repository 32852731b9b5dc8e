"""A fine-tuned checkpoint keeps its format: template, taxonomy and model card by the weights."""

import warnings

import pandas as pd
import pytest

from labor_econ import (
    CareerPanel,
    CheckpointMismatchWarning,
    DefaultTemplateWarning,
    LLMTransitionModel,
    ResumeTemplate,
    Taxonomy,
    finetune,
    load_lm,
)
from labor_econ.lm.testing import tiny_lm

TEMPLATE = ResumeTemplate(
    header=("Born {birth_year}.",),
    line="At {age} ({year}) was {title};",
    separator="\n",
    footer="\nEnd.",
    name="ages",
)


@pytest.fixture(scope="module")
def panels():
    """Simulated careers recoded to string codes (one with a leading zero) and a special state."""
    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import wage_panel_1970

    base = wage_panel_1970()
    codes = {c: f"{c:03d}" if c == 7 else f"occ{c}" for c in base.codes}
    tax = Taxonomy(
        [codes[c] for c in base.codes], base.titles, name="string codes", special=[codes[7]]
    )
    sim = simulate_panel(14, years=range(1980, 1985), seed=0)
    frame = sim.data.assign(occ=sim.data["occ"].map(codes))
    panel = CareerPanel(
        frame, id="pid", time="year", occupation="occ", taxonomy=tax, birth_year="birth_year"
    )
    return panel.subset(panel.persons[:10]), panel.subset(panel.persons[10:])


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, panels):
    train, val = panels
    root = tmp_path_factory.mktemp("ckpt")
    base = tiny_lm(root / "base", TEMPLATE.resumes(train), vocab_size=300, hidden_size=16)
    lm = finetune(
        base,
        train,
        template=TEMPLATE,
        val=val,
        epochs=3,
        learning_rate=1e-2,
        batch_size=4,
        output_dir=root / "ft",
        progress=False,
    )
    return base, lm, root / "ft" / "best"


def test_checkpoint_reloads_with_its_template_and_taxonomy(tuned, panels):
    base, lm, best = tuned
    train, _ = panels
    assert base.template is None and base.taxonomy is None
    assert (best / "labor_econ_template.json").is_file()
    assert (best / "labor_econ_taxonomy.csv").is_file()
    for loaded in (lm, load_lm(best)):
        assert loaded.template == TEMPLATE
        assert loaded.taxonomy == train.taxonomy  # codes, titles and special states
        assert loaded.taxonomy.codes[6] == "007" and loaded.taxonomy.special == ("007",)


def test_model_card(tuned, panels):
    base, _, best = tuned
    train, val = panels
    card = (best / "README.md").read_text()
    history = pd.read_json(best / "training_history.json", typ="series")
    evals = [h["eval_loss"] for h in history["log_history"] if "eval_loss" in h]
    best_epoch = 1 + min(range(len(evals)), key=evals.__getitem__)
    assert f"`{base.name}`" in card
    assert f"{train.n_persons} persons, {train.n_transitions} transitions" in card
    assert f"{val.n_persons} persons" in card
    assert "years 1980-1984" in card and "K = 9 occupations" in card
    assert "3 epochs scheduled" in card
    assert f"Kept: the weights after epoch {best_epoch}." in card
    assert '"line": "At {age} ({year}) was {title};"' in card
    assert TEMPLATE.render(train, train.persons[0]) in card
    rows = [line for line in card.splitlines() if line.startswith("| ") and "epoch" not in line]
    assert len(rows) == 3
    assert [f"{e:.4f}" in row for e, row in zip(evals, rows, strict=True)] == [True] * 3
    assert "(kept)" in rows[best_epoch - 1]


def test_model_uses_the_saved_template(tuned, panels):
    base, lm, _ = tuned
    _, val = panels
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointMismatchWarning)
        assert LLMTransitionModel(val, lm).template == TEMPLATE
        same = ResumeTemplate.from_dict({**TEMPLATE.to_dict(), "name": "renamed"})
        assert LLMTransitionModel(val, lm, template=same).template is same
    with pytest.warns(DefaultTemplateWarning, match="no saved template"):
        assert LLMTransitionModel(val, base).template == ResumeTemplate.preset("labor_llm")
    with pytest.warns(CheckpointMismatchWarning, match="differs from the template 'ages'"):
        model = LLMTransitionModel(val, lm, template="plain")
    assert model.template.name == "plain"


def test_model_writes_the_training_titles_and_warns_when_told_otherwise(tuned, panels):
    """The checkpoint's titles are written unless a taxonomy is passed on purpose."""
    _, lm, _ = tuned
    _, val = panels
    renamed = val.with_taxonomy(val.taxonomy.with_titles({"occ1": "Professionals"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointMismatchWarning)
        model = LLMTransitionModel(renamed, lm)
        assert model.written_taxonomy == lm.taxonomy
        LLMTransitionModel(renamed.with_taxonomy(lm.taxonomy), lm)
    with pytest.warns(CheckpointMismatchWarning, match="code 'occ1': 'Professionals' here"):
        model = LLMTransitionModel(renamed, lm, taxonomy=renamed.taxonomy)
    assert model.written_taxonomy.title("occ1") == "Professionals"


def test_hub_checkpoints_fetch_the_files_or_go_without(monkeypatch, tuned):
    """For a hub id the files are downloaded next to the weights; absent files give None."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    from labor_econ.lm.model_card import read_format

    _, _, best = tuned
    calls = []

    def download(repo, filename, subfolder=None, revision=None):
        calls.append((repo, filename, subfolder, revision))
        if filename.endswith(".json"):
            return str(best / filename)
        raise EntryNotFoundError(f"{filename} not found")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    template, taxonomy = read_format("owner/repo", subfolder="ck", revision="main", local=False)
    assert template == TEMPLATE and taxonomy is None
    assert calls[0] == ("owner/repo", "labor_econ_template.json", "ck", "main")
