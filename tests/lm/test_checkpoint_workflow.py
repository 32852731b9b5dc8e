"""A checkpoint's format is recovered from the checkpoint itself (issue 10, "Done when").

A tiny LM is fine-tuned on resumes in a format unlike every preset, with lowercased titles,
and its saved template and taxonomy are removed (as for a released checkpoint). Through the
public API only: the preset's check fails; sampled resumes give back the training template
byte for byte; the sampled titles map onto our codes; and the check then passes.
"""

import pytest

from labor_econ import ResumeTemplate, check_format, finetune, load_lm
from labor_econ.datasets import simulate_panel
from labor_econ.lm import sample_resumes
from labor_econ.lm.testing import tiny_lm
from labor_econ.taxonomies import wage_panel_1970

TRAINING_FORMAT = ResumeTemplate(
    header=("<resume of a worker born {birth_year}>",),
    line="At age {age} ({year}) worked as {title};",
    separator="\n",
    footer="\n</resume>",
    name="training format",
)
YEARS = range(1980, 1988)


@pytest.fixture(scope="module")
def ours():
    return wage_panel_1970()


@pytest.fixture(scope="module")
def training(ours):
    """The checkpoint's training careers, with its own (lowercased) spelling of the titles.

    Interviews are never missed (miss_rate=0): consecutive years make the ages easy for a
    tiny model to continue, so its samples are mostly well-formed.
    """
    spelled = ours.with_titles({c: t.lower() for c, t in zip(ours.codes, ours.titles, strict=True)})
    return simulate_panel(48, taxonomy=spelled, years=YEARS, seed=0, miss_rate=0)


@pytest.fixture(scope="module")
def released(tmp_path_factory, training):
    """Fine-tuned (about a minute on two CPU cores), then stripped of its saved format."""
    root = tmp_path_factory.mktemp("released")
    base = tiny_lm(
        root / "base", TRAINING_FORMAT.resumes(training), vocab_size=1000, hidden_size=64
    )
    finetune(
        base,
        training,
        template=TRAINING_FORMAT,
        epochs=20,
        learning_rate=2e-2,
        batch_size=4,
        output_dir=root / "ft",
        progress=False,
        save_strategy="no",
    )
    best = root / "ft" / "best"
    for name in ("labor_econ_template.json", "labor_econ_taxonomy.csv"):
        (best / name).unlink()
    lm = load_lm(best)
    assert lm.template is None and lm.taxonomy is None
    return lm


@pytest.fixture(scope="module")
def panel(ours):
    """The user's careers: other persons, our taxonomy's spelling of the titles."""
    return simulate_panel(30, taxonomy=ours, years=YEARS, seed=1, miss_rate=0)


@pytest.fixture(scope="module")
def guess(released):
    # Temperature 0.7: at 1.0 the tiny model blends two titles into one ("farm laborers and
    # farmers") often enough that the mapped share below ranged 0.935-0.996 over finetune
    # seeds 0/1 and torch's native (AVX512), default and avx2 CPU kernels (and 0.941-0.950 on
    # other CPUs). At 0.7, finetune seeds 0-3 (AMD EPYC, torch 2.13.0+cpu):
    #   native  1.000 0.973 0.996 1.000
    #   default 0.969 1.000 0.949 0.994   (ATEN_CPU_CAPABILITY=default)
    #   avx2    0.996 0.996 0.988 0.998   (ATEN_CPU_CAPABILITY=avx2)
    # parsing 52-60 of 60 samples. CI runs this file under the default kernels as well.
    texts = sample_resumes(released, 60, max_new_tokens=200, temperature=0.7, progress=False)
    return ResumeTemplate.infer(texts)


def test_preset_is_flagged(released, panel):
    check = check_format(released, panel, "labor_llm", n=60, progress=False)
    assert check.mean_valid_mass < 0.3
    assert check.verdict == "wrong format"


def test_inferred_template_renders_training_resumes_byte_for_byte(guess, training):
    assert guess.n_parsed >= 0.5 * guess.n_texts
    rendered = guess.template.resumes(training)
    assert rendered.equals(TRAINING_FORMAT.resumes(training))


def test_observed_titles_map_to_the_right_codes(guess, ours):
    matches = ours.match_titles(guess.observed_titles)
    right = matches["code"].notna() & (matches["checkpoint_title"] == matches["title"].str.lower())
    share = matches.loc[right, "count"].sum() / matches["count"].sum()
    # measured 0.949-1.000 over 12 seed x kernel runs (see `guess`); the bound sits 0.02
    # below the least, for CPUs not measured
    assert share >= 0.93


def test_valid_mass_recovered(released, panel, guess, ours):
    before = check_format(released, panel, "labor_llm", n=60, progress=False)
    matches = ours.match_titles(guess.observed_titles)
    spelled = panel.with_taxonomy(ours.with_titles(matches))
    after = check_format(released, spelled, guess.template, n=60, progress=False)
    assert before.mean_valid_mass < 0.3
    assert after.mean_valid_mass >= 0.9
    assert after.verdict == "ok"
