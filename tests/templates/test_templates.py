"""Resume templates: prompts, continuations and the prefix invariant (property-tested)."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labor_econ import CareerPanel, ResumeTemplate, Taxonomy, TemplateError
from labor_econ.datasets import simulate_panel
from labor_econ.taxonomies import occ1990, wage_panel_1970
from labor_econ.templates import PRESETS

PRESET_NAMES = ["labor_llm", "labor_llm_numeric", "plain"]


def test_continuations_include_terminator(toy_panel):
    t = ResumeTemplate.preset("labor_llm")
    cont = t.continuations(toy_panel.taxonomy)
    assert cont == [" Cashiers\n", " Cashiers and clerks\n", " Cooks\n"]
    numeric = ResumeTemplate.preset("labor_llm_numeric").continuations(toy_panel.taxonomy)
    assert numeric == [" 1\n", " 2\n", " 3\n"]


def test_labor_llm_resume_text(toy_panel):
    text = ResumeTemplate.preset("labor_llm").render(toy_panel, 7)
    assert text == (
        "The following information is available about the work history of a US worker.\n"
        "The worker was born in 1960.\n"
        "Characteristics: female 1.\n"
        "The worker has the following records of work experience, one entry per line, with "
        "the year and the job title:\n"
        "1990: Cashiers\n1991: Cashiers and clerks\n1993: Cashiers and clerks\n<END OF DATA>\n"
    )


def test_prompts_align_with_transitions(toy_panel):
    t = ResumeTemplate.preset("plain")
    prompts = t.prompts(toy_panel)
    assert prompts.index.equals(toy_panel.transitions().index)
    assert prompts.loc[(7, 1993)] == "1990: Cashiers\n1991: Cashiers and clerks\n1993:"
    first = t.prompts(toy_panel, include_first=True)
    assert first.loc[(9, 1990)] == "1990:"
    assert first.index.equals(toy_panel.transitions(include_first=True).index)


def test_fields_left_out_when_panel_lacks_them(wage):
    text = ResumeTemplate.preset("labor_llm").render(wage, 13)
    assert "born" not in text
    assert "Characteristics: black 0, hisp 0, educ 14.\n" in text


def test_custom_template_with_covariates(toy_panel):
    t = ResumeTemplate(
        header=("Female: {female}.",),
        line="{year} (age {age}, {hours} hours/week):  {title}.\n",
        footer="END\n",
    )
    text = t.render(toy_panel, 9)
    assert text == (
        "Female: 0.\n1990 (age 25, 50 hours/week):  Cooks.\n"
        "1992 (age 27, 45 hours/week):  Cashiers.\nEND\n"
    )
    assert t.continuation(1, toy_panel.taxonomy) == "  Cashiers.\n"
    assert t.prompts(toy_panel).loc[(9, 1992)].endswith("1992 (age 27, 45 hours/week):")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"line": "{year}: \n"}, "exactly one of"),
        ({"line": "{year}: {title} {code}\n"}, "exactly one of"),
        ({"line": "{year}: {title}"}, "must end with a line break"),
        ({"line": "{year}: {title} {hours}\n"}, "no fields may follow"),
        ({"line": "{year}:\n {title}\n"}, "single line"),
        ({"line": "{year}: {title}\n."}, "single line"),
        ({"line": "{0}: {title}\n"}, "plain name"),
        ({"header": "one string"}, "sequence of lines"),
        ({"header": ("a\nb",)}, "line break"),
    ],
)
def test_malformed_templates(kwargs, message):
    with pytest.raises(TemplateError, match=message):
        ResumeTemplate(**kwargs)


def test_unavailable_fields(wage, toy_panel):
    with pytest.raises(TemplateError, match=r"\['age'\].*needs a birth_year"):
        ResumeTemplate(line="{year} {age}: {title}\n").prompts(wage)
    with pytest.raises(TemplateError, match=r"header line 0: field\(s\) \['region'\]"):
        ResumeTemplate(header=("Region {region}",)).render(toy_panel, 7)
    with pytest.raises(TemplateError, match="unknown preset"):
        ResumeTemplate.preset("llama")


@st.composite
def panels(draw):
    tax = draw(st.sampled_from([wage_panel_1970(), occ1990()]))
    n = draw(st.integers(1, 4))
    rows = []
    for pid in range(n):
        years = sorted(draw(st.sets(st.integers(1970, 2020), min_size=1, max_size=6)))
        born = draw(st.integers(1940, 1960))
        educ = draw(st.integers(8, 20))
        for y in years:
            code = draw(st.sampled_from(tax.codes))
            rows.append(
                {
                    "id": f"p{pid}",
                    "t": y,
                    "occ": code,
                    "born": born,
                    "educ": educ,
                    "hrs": draw(st.integers(0, 80)),
                }
            )
    frame = pd.DataFrame(rows)
    with_birth = draw(st.booleans())
    with_static = draw(st.booleans())
    return CareerPanel(
        frame,
        id="id",
        time="t",
        occupation="occ",
        taxonomy=tax,
        birth_year="born" if with_birth else None,
        static=["educ"] if with_static else [],
        varying=["hrs"],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panel=panels(), preset=st.sampled_from(PRESET_NAMES), include_first=st.booleans())
def test_prompt_plus_observed_continuation_is_prefix_of_resume(panel, preset, include_first):
    t = ResumeTemplate.preset(preset)
    resumes = t.resumes(panel)
    prompts = t.prompts(panel, include_first=include_first)
    tr = panel.transitions(include_first=include_first)
    assert prompts.index.equals(tr.index)
    for (pid, year), prompt in prompts.items():
        cont = t.continuation(tr.loc[(pid, year), "occupation"], panel.taxonomy)
        assert resumes[pid].startswith(prompt + cont)
        assert cont in t.continuations(panel.taxonomy)
    for _, group in prompts.groupby(level=0):
        texts = group.tolist()  # prompts are monotone in time: each extends the previous
        assert all(
            b.startswith(a.rsplit("\n", 1)[0]) for a, b in zip(texts, texts[1:], strict=False)
        )
        assert all(len(a) < len(b) for a, b in zip(texts, texts[1:], strict=False))
    annotated = t.annotated_resumes(panel)
    for pid, row in annotated.iterrows():
        observed = panel.history(pid)["occ"]
        pieces = [row["resume"][a:b] for a, b in row["spans"]]
        assert pieces == [t.continuation(c, panel.taxonomy) for c in observed]
    if panel.birth_year is None:
        assert "born" not in "".join(resumes)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_preset_renders_every_builtin_taxonomy(preset):
    for tax in (wage_panel_1970(), occ1990()):
        panel = simulate_panel(3, taxonomy=tax, years=[2000, 2001, 2003], seed=2)
        cont = ResumeTemplate.preset(preset).continuations(tax)
        assert len(cont) == len(tax) and all(c.endswith("\n") for c in cont)
        assert len(ResumeTemplate.preset(preset).prompts(panel)) == panel.n_transitions


# -- general terminators and separators -----------------------------------------------------

TERMINATORS_SEPARATORS = [
    ("\n", None),
    ("\n", "\n"),
    (".", None),
    (".", "\n"),
    (";", "\n"),
    (";", " "),
    (" |", " "),
    (" |", "\n"),
    (".\n", ""),
]


def test_model_card_preset_renders_the_card_example():
    tax = Taxonomy([1, 2], ["Waiter", "Cook"])
    frame = pd.DataFrame({"id": [1, 1], "y": [2002, 2003], "occ": [1, 2], "born": [1980] * 2})
    panel = CareerPanel(frame, id="id", time="y", occupation="occ", taxonomy=tax, birth_year="born")
    t = ResumeTemplate.preset("model_card")
    assert "model_card" in PRESETS
    assert t.prompts(panel).loc[(1, 2003)] == (
        "Born in 1980. In 2002, works as a Waiter. In 2003, works as a"
    )
    assert (
        t.render(panel, 1) == "Born in 1980. In 2002, works as a Waiter. In 2003, works as a Cook."
    )
    assert (t.terminator, t.separator, t.header_separator) == (".", " ", " ")
    assert t.continuations(tax) == [" Waiter.", " Cook."]


def test_continuation_distinguishes_plural_through_the_terminator():
    t = ResumeTemplate(line="In {year}, works as a {title}.")
    assert t.continuation_text("Waiter") != t.continuation_text("Waiters")
    assert t.continuation_text("Waiter") == " Waiter."
    assert not t.continuation_text("Waiters").startswith(t.continuation_text("Waiter"))


def test_separator_defaults():
    assert ResumeTemplate(line="{year}: {title}\n").separator == ""
    assert ResumeTemplate(line="{year}: {title}\n").header_separator == "\n"
    sentence = ResumeTemplate(line="In {year}: {title}.")
    assert (sentence.separator, sentence.header_separator) == (" ", " ")
    listed = ResumeTemplate(line="{year} {title};", separator="\n")
    assert (listed.terminator, listed.header_separator) == (";", "\n")


def test_sentence_resume_with_header_and_footer(toy_panel):
    t = ResumeTemplate(
        header=("<resume of a worker born {birth_year}>",),
        line="At age {age} ({year}) worked as {title};",
        separator="\n",
        footer="\n</resume>",
    )
    assert t.render(toy_panel, 9) == (
        "<resume of a worker born 1965>\nAt age 25 (1990) worked as Cooks;\n"
        "At age 27 (1992) worked as Cashiers;\n</resume>"
    )
    assert t.prompts(toy_panel).loc[(9, 1992)] == (
        "<resume of a worker born 1965>\nAt age 25 (1990) worked as Cooks;\nAt age 27 (1992) "
        "worked as"
    )


@pytest.mark.parametrize(("terminator", "separator"), TERMINATORS_SEPARATORS)
def test_wave_starts_point_at_the_last_wave(toy_panel, terminator, separator):
    t = ResumeTemplate(
        header=("Born {birth_year}.",),
        line="Year {year}: {title}" + terminator,
        separator=separator,
    )
    prompts = t.prompts(toy_panel, include_first=True)
    starts = t.wave_starts(prompts)
    for prompt, start in zip(prompts, starts, strict=True):
        segment = prompt[start:]
        if t.boundary not in prompt and "\n" not in prompt:
            assert start == 0  # first wave after a one-line header: no cache key
            continue
        assert segment.lstrip(t.separator + t.header_separator).startswith("Year ")
        assert segment.count("Year ") == 1 and start > 0
        assert prompt[:start].endswith((t.terminator, "\n", "."))
    assert starts[1] > 0 and prompts.iloc[1][starts[1] :].endswith("Year 1991:")


@st.composite
def general_templates(draw):
    terminator, separator = draw(st.sampled_from(TERMINATORS_SEPARATORS))
    header = draw(
        st.sampled_from([(), ("Born in {birth_year}.",), ("<resume>", "Education: {educ}")])
    )
    line = draw(
        st.sampled_from(
            ["In {year}, works as a {title}", "{year} ({hrs} hours):  {title}", "{title}"]
        )
    )
    footer = draw(st.sampled_from(["", "</resume>", "\nEND\n"]))
    return ResumeTemplate(line=line + terminator, header=header, footer=footer, separator=separator)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panel=panels(), t=general_templates(), include_first=st.booleans())
def test_prefix_invariant_for_every_separator_and_terminator(panel, t, include_first):
    if "educ" in "".join(t.header) and not panel.static:
        return  # header field the panel lacks: covered by test_unavailable_fields
    titles = {panel.taxonomy.title(c) for c in panel.data[panel.occupation].unique()}
    if any(t.boundary in title for title in titles):
        # e.g. occ1990's "Eligibility clerks for government programs; social welfare" under
        # terminator ";" and separator " ": refused, never written as a fake wave
        with pytest.raises(TemplateError, match="wave boundary"):
            t.resumes(panel)
        return
    resumes = t.resumes(panel)
    prompts = t.prompts(panel, include_first=include_first)
    tr = panel.transitions(include_first=include_first)
    assert prompts.index.equals(tr.index)
    for (pid, year), prompt in prompts.items():
        cont = t.continuation(tr.loc[(pid, year), "occupation"], panel.taxonomy)
        assert cont.endswith(t.terminator)
        assert resumes[pid].startswith(prompt + cont)
        rest = resumes[pid][len(prompt + cont) :]
        assert rest.startswith(t.separator) or rest == t.footer
    for _, group in prompts.groupby(level=0):
        texts = group.tolist()
        assert all(len(a) < len(b) for a, b in zip(texts, texts[1:], strict=False))
    annotated = t.annotated_resumes(panel)
    for pid, row in annotated.iterrows():
        observed = panel.history(pid)["occ"]
        pieces = [row["resume"][a:b] for a, b in row["spans"]]
        assert pieces == [t.continuation(c, panel.taxonomy) for c in observed]
        assert row["resume"].endswith(t.terminator + t.footer)


# -- JSON round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [*PRESET_NAMES, "model_card"])
def test_json_round_trip(tmp_path, preset):
    t = ResumeTemplate.preset(preset)
    assert ResumeTemplate.from_dict(t.to_dict()) == t
    t.save(tmp_path / "t.json")
    loaded = ResumeTemplate.load(tmp_path / "t.json")
    assert loaded == t and loaded.to_dict() == t.to_dict()
    assert ResumeTemplate.coerce(str(tmp_path / "t.json")) == t
    assert ResumeTemplate.coerce(tmp_path / "t.json") == t
    assert ResumeTemplate.coerce(t.to_dict()) == t


def test_json_round_trip_custom(tmp_path, toy_panel):
    t = ResumeTemplate(
        header=("<resume of a worker born {birth_year}>",),
        line="At age {age} ({year}) worked as {title};",
        separator="\n",
        header_separator="\n\n",
        footer="\n</resume>",
        name="mine",
    )
    t.save(tmp_path / "mine.json")
    loaded = ResumeTemplate.load(tmp_path / "mine.json")
    assert loaded == t
    assert loaded.resumes(toy_panel).equals(t.resumes(toy_panel))


def test_json_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TemplateError, match=r"bad\.json: not a JSON template file"):
        ResumeTemplate.load(bad)
    bad.write_text('{"line": "{year}: {title}\\n", "colour": "red"}')
    with pytest.raises(TemplateError, match=r"bad\.json: unknown template keys \['colour'\]"):
        ResumeTemplate.load(bad)
    bad.write_text('["{year}: {title}\\n"]')
    with pytest.raises(TemplateError, match="must be a mapping"):
        ResumeTemplate.load(bad)
    with pytest.raises(TemplateError, match="has no 'line'"):
        ResumeTemplate.from_dict({"header": []})
    with pytest.raises(TemplateError, match="newer than this library"):
        ResumeTemplate.from_dict({"line": "{year}: {title}\n", "version": 99})
    with pytest.raises(TemplateError, match="list of lines"):
        ResumeTemplate.from_dict({"line": "{year}: {title}\n", "header": "one"})
    with pytest.raises(TemplateError, match="separator must be a string"):
        ResumeTemplate.from_dict({"line": "{year}: {title}\n", "separator": 3})
    with pytest.raises(TemplateError, match="exactly one of"):
        ResumeTemplate.from_dict({"line": "{year}\n"})
    with pytest.raises(FileNotFoundError):
        ResumeTemplate.load(tmp_path / "missing.json")


# -- security and data rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"line": "{year:{extra.token}} {extra}: {title}\n"},
        {"line": "{year:{hours}}: {title}\n"},
        {"line": "{year!r}: {title}\n"},
        {"line": "{year!s}: {title}\n"},
        {"line": "{year}: {title!r}\n"},
        {"line": "{year}: {title:>40}\n"},
        {"header": ("Born {birth_year:{extra.token}}",)},
        {"header": ("Born {birth_year!a}",)},
        {"footer": "{year:{extra.token}}"},
        {"footer": "END {year!r}"},
        {"footer": "END {year}"},
    ],
)
def test_fields_in_specs_and_conversions_are_rejected(kwargs):
    with pytest.raises(TemplateError) as info:
        ResumeTemplate(**kwargs)
    assert any(w in str(info.value) for w in ("format spec", "conversion", "fields"))


def test_literal_format_specs_still_render(toy_panel):
    t = ResumeTemplate(line="{year} ({hours:>3} h): {title}\n")
    assert t.render(toy_panel, 9) == "1990 ( 50 h): Cooks\n1992 ( 45 h): Cashiers\n"


def _panel_with(frame_updates, toy_frame, toy_taxonomy, **kwargs):
    frame = toy_frame.copy()
    for column, values in frame_updates.items():
        frame[column] = values
    spec = {
        "id": "pid",
        "time": "year",
        "occupation": "occ",
        "taxonomy": toy_taxonomy,
        "birth_year": "born",
        "static": ["female"],
        "varying": ["hours"],
    }
    spec.update(kwargs)
    return CareerPanel(frame, **spec)


@pytest.mark.parametrize("bad", ["North\nSouth", "North\r\n", "a\u2028b"])
def test_covariate_with_a_line_break_is_refused(toy_frame, toy_taxonomy, bad):
    region = ["East", "East", "East", "West", bad]
    panel = _panel_with({"region": region}, toy_frame, toy_taxonomy, varying=["region"])
    t = ResumeTemplate(line="{year} in {region}: {title}\n")
    with pytest.raises(TemplateError, match=r"person 9, year 1992, column 'region'.*line break"):
        t.prompts(panel)
    with pytest.raises(TemplateError, match="person 9, year 1992"):
        t.resumes(panel)


def test_static_covariate_with_a_line_break_is_refused_in_the_header(toy_frame, toy_taxonomy):
    school = ["A", "A", "A", "B\n1999: Cooks", "B\n1999: Cooks"]
    panel = _panel_with({"school": school}, toy_frame, toy_taxonomy, static=["school"])
    with pytest.raises(TemplateError, match=r"person 9, year 1990, column 'school'"):
        ResumeTemplate.preset("labor_llm").prompts(panel)  # via {characteristics}
    with pytest.raises(TemplateError, match=r"person 9, year 1990, column 'school'"):
        ResumeTemplate(header=("School {school}",)).render(panel, 9)
    # Not written into the text: not refused.
    assert ResumeTemplate.preset("plain").render(panel, 9).startswith("1990: Cooks\n")


@pytest.mark.parametrize(
    ("line", "separator", "bad"),
    [
        ("In {year} in {region}, works as a {title}.", " ", "St. Louis"),
        ("{year} {region} {title};", "", "a;b"),
        ("{year} {region} {title} |", " ", "x | y"),
    ],
)
def test_covariate_with_the_wave_boundary_is_refused(toy_frame, toy_taxonomy, line, separator, bad):
    region = ["East", bad, "East", "West", "West"]
    panel = _panel_with({"region": region}, toy_frame, toy_taxonomy, varying=["region"])
    t = ResumeTemplate(line=line, separator=separator)
    with pytest.raises(TemplateError, match=r"person 7, year 1991, column 'region'.*boundary"):
        t.prompts(panel)


def test_title_with_a_line_break_or_boundary_is_refused(toy_frame):
    # Taxonomy refuses "\n" and "\r" itself; other line separators reach the template.
    tax = Taxonomy([1, 2, 3], ["Cashiers", "Clerks\u20282001: Cooks", "Cooks"])
    panel = CareerPanel(toy_frame, id="pid", time="year", occupation="occ", taxonomy=tax)
    with pytest.raises(TemplateError, match=r"person 7, year 1991, column 'occ' \(code 2"):
        ResumeTemplate.preset("plain").prompts(panel)
    with pytest.raises(TemplateError, match=r"taxonomy code 2, title.*line break"):
        ResumeTemplate.preset("plain").continuations(tax)
    tax = Taxonomy([1, 2, 3], ["Cashiers", "Clerks. Or cooks", "Cooks"])
    with pytest.raises(TemplateError, match=r"taxonomy code 2, title.*boundary '\. '"):
        ResumeTemplate.preset("model_card").continuations(tax)
    assert len(ResumeTemplate.preset("plain").continuations(tax)) == 3


def test_model_card_accepts_every_occ1990_title():
    # "n.e.c." ends many titles: the terminator "." inside a title is not a wave boundary.
    cont = ResumeTemplate.preset("model_card").continuations(occ1990())
    assert len(cont) == 389 and " Managers and administrators, n.e.c.." in cont
