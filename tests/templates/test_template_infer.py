"""ResumeTemplate.parse and ResumeTemplate.infer: reading resumes back, learning their format."""

import random

import pandas as pd
import pytest

from labor_econ import ResumeTemplate, Taxonomy, TemplateError
from labor_econ.datasets import simulate_panel
from labor_econ.taxonomies import occ1990
from labor_econ.templates import PRESETS

CUSTOM = {
    "issue_example": ResumeTemplate(
        header=("<resume of a worker born {birth_year}>",),
        line="At age {age} ({year}) worked as {title};",
        separator="\n",
        footer="\n</resume>",
    ),
    "pipes_one_line": ResumeTemplate(header=("Born {birth_year}",), line="{year} {title} |"),
    "no_separator": ResumeTemplate(line="Y{year}={title}|", separator=""),
    "blank_lines": ResumeTemplate(line="{year}: {title}\n", separator="\n"),
    "age_after_year": ResumeTemplate(
        header=("A worker born in {birth_year}.", "Data: {characteristics}"),
        line="{year} (age {age}): {title}\n",
        footer="END\n",
    ),
}
TEMPLATES = {**PRESETS, **CUSTOM}


def _lowercase(tax: Taxonomy) -> Taxonomy:
    return Taxonomy(tax.codes, [t.lower() for t in tax.titles], name="lower")


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(40, taxonomy=occ1990(), years=list(range(1980, 1996)), seed=4)


@pytest.fixture(scope="module")
def lower_panel():
    return simulate_panel(40, taxonomy=_lowercase(occ1990()), years=list(range(1980, 1996)), seed=5)


def _corrupt(texts: list[str], share: float, seed: int) -> tuple[list[str], set[int]]:
    """Truncate, garble or empty a share of the texts, as a sampled checkpoint does."""
    rng = random.Random(seed)
    texts = list(texts)
    bad = set(rng.sample(range(len(texts)), int(share * len(texts))))
    for i in bad:
        kind = rng.choice(["cut", "garble", "empty"])
        if kind == "cut":
            texts[i] = texts[i][: rng.randint(5, len(texts[i]) - 3)]
        elif kind == "garble":
            at = rng.randint(0, len(texts[i]) - 1)
            texts[i] = texts[i][:at] + "\u00a7\u00a7 garbled 2020:: \u00a7" + texts[i][at:]
        else:
            texts[i] = "lorem ipsum"
    return texts, bad


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_parse_reads_back_what_render_writes(panel, name):
    t = TEMPLATES[name]
    history = panel.history(panel.data["pid"].iloc[0])
    parsed = t.parse(t.render(panel, history["pid"].iloc[0]))
    codes = history["occ"].tolist()
    spelled = [panel.taxonomy.title(c) if t.outcome == "title" else str(c) for c in codes]
    assert parsed.pairs(t.outcome) == list(zip(history["year"].tolist(), spelled, strict=True))
    if "{birth_year}" in "".join(t.header):
        assert parsed.header["birth_year"] == str(history["birth_year"].iloc[0])


def test_parse_errors_say_where():
    t = CUSTOM["issue_example"]
    text = "<resume of a worker born 1961>\nAt age 23 (1984) worked as cashiers;\n</resume>"
    assert t.parse(text).pairs() == [(1984, "cashiers")]
    with pytest.raises(TemplateError, match="wave 1 at character 31"):
        t.parse(text.replace("At age", "Aged"))
    with pytest.raises(TemplateError, match="age 22 is not year 1984 minus birth year 1961"):
        t.parse(text.replace("age 23", "age 22"))
    with pytest.raises(TemplateError, match="wave 1"):
        t.parse(text[:-3])  # truncated: no footer
    with pytest.raises(TemplateError, match="header"):
        ResumeTemplate(header=("Resume",), line="{year}: {title}\n").parse("1990: Cooks\n")


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_infer_recovers_every_template_byte_for_byte(panel, name):
    t = TEMPLATES[name]
    resumes = t.resumes(panel)
    guess = ResumeTemplate.infer(resumes.tolist(), taxonomy=panel.taxonomy)
    assert guess.template.resumes(panel).equals(resumes)
    assert (guess.n_parsed, guess.n_texts) == (len(resumes), len(resumes))
    assert (guess.terminator, guess.separator, guess.footer) == (
        t.terminator,
        t.separator,
        t.footer,
    )
    waves = panel.data["occ"]
    spelled = waves.map(panel.taxonomy.title) if t.outcome == "title" else waves.astype(str)
    expected = spelled.value_counts()
    assert guess.observed_titles.sort_index().equals(expected.sort_index().rename("count"))
    assert guess.n_taxonomy_titles == len(expected)
    assert "year" in guess.fields and t.outcome in guess.fields


def test_infer_the_issue_example_with_lowercased_titles_and_corrupted_samples(lower_panel):
    t = CUSTOM["issue_example"]
    resumes = t.resumes(lower_panel)
    texts, bad = _corrupt(resumes.tolist(), 0.1, seed=1)
    guess = ResumeTemplate.infer(texts, taxonomy=occ1990())
    assert guess.template.resumes(lower_panel).equals(resumes)
    assert guess.header == ("<resume of a worker born {birth_year}>",)
    assert guess.fields == ("birth_year", "year", "age", "title")
    assert (guess.terminator, guess.separator, guess.footer) == (";", "\n", "\n</resume>")
    assert guess.n_texts == len(texts) and guess.n_parsed >= len(texts) - len(bad)
    assert set(guess.unparsed) <= bad
    assert guess.n_taxonomy_titles == 0  # every title is spelled in lower case
    assert "cashiers" in guess.observed_titles.index or len(guess.observed_titles) > 10


@pytest.mark.parametrize("name", ["model_card", "labor_llm", "pipes_one_line", "age_after_year"])
def test_infer_tolerates_a_minority_of_malformed_texts(panel, name):
    t = TEMPLATES[name]
    resumes = t.resumes(panel)
    texts, bad = _corrupt(resumes.tolist(), 0.12, seed=2)
    guess = ResumeTemplate.infer(texts)
    assert guess.template.resumes(panel).equals(resumes)
    assert len(texts) - len(bad) <= guess.n_parsed < len(texts)
    assert guess.n_taxonomy_titles is None


def test_model_card_example_itself():
    guess = ResumeTemplate.infer(
        [
            "Born in 1980. In 2002, works as a Waiter. In 2003, works as a Cook.",
            "Born in 1975. In 1999, works as a Cook. In 2001, works as a Cook. In 2002, works "
            "as a Managers, n.e.c..",
        ]
    )
    assert guess.template == ResumeTemplate.preset("model_card").__class__(
        header=("Born in {birth_year}.",),
        line="In {year}, works as a {title}.",
        separator=" ",
        name="inferred",
    )
    assert guess.observed_titles.to_dict() == {"Cook": 3, "Waiter": 1, "Managers, n.e.c.": 1}
    assert "parses 2 of 2 texts" in str(guess)


def test_infer_errors():
    with pytest.raises(TemplateError, match="no text has two waves"):
        ResumeTemplate.infer(["Born in 1980. Works as a Waiter."])
    with pytest.raises(TemplateError, match="no texts"):
        ResumeTemplate.infer([])
    with pytest.raises(TypeError, match="not one string"):
        ResumeTemplate.infer("1990: Cooks\n1991: Cooks\n")
    with pytest.raises(TypeError, match=r"entries \[1\]"):
        ResumeTemplate.infer(["1990: Cooks\n1991: Cooks\n", None])
    same = "Born in 1980. In 2002, works as a Cook. In 2003, works as a Cook."
    with pytest.raises(TemplateError, match="one outcome throughout"):
        ResumeTemplate.infer([same, same])


def test_guess_reports_titles_as_a_series():
    guess = ResumeTemplate.infer(["1990: Waiters\n1991: Cooks\n", "1990: Cooks\n1992: Cooks\n"])
    assert isinstance(guess.observed_titles, pd.Series)
    assert guess.observed_titles.to_dict() == {"Cooks": 3, "Waiters": 1}
    assert guess.template == ResumeTemplate(line="{year}: {title}\n", name="inferred")
