"""Templates from untrusted files are bounded (issue 23), and title-first lines (issue 21).

A checkpoint's ``labor_econ_template.json`` is read from a download: a huge width, deep JSON or
a huge file must be refused with the file named, and parsing must stay linear in the text.
"""

import json
import time

import pytest

from labor_econ import ResumeTemplate, TemplateError
from labor_econ.templates.template import MAX_JSON_BYTES, MAX_SPEC_NUMBER


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{year:>100000000}: {title}\n", "width 100000000; at most 100"),
        ("{year:.500f}: {title}\n", "precision 500"),
        ("{year:>{w}}: {title}\n", "field inside its format"),
        ("{year:%Y-%m}: {title}\n", "outside Python's format mini-language"),
    ],
)
def test_format_specs_are_bounded(line, message):
    with pytest.raises(TemplateError, match=message):
        ResumeTemplate(line=line)
    with pytest.raises(TemplateError, match=message):
        header = line.replace("year", "birth_year").rsplit(": {title}", 1)[0]
        ResumeTemplate(header=(header,), line="{title}.")


def test_reasonable_specs_still_work(toy_panel):
    t = ResumeTemplate(line=f"{{year:>{MAX_SPEC_NUMBER}}} {{hours:.1f}}: {{title}}\n")
    assert t.render(toy_panel, 9).startswith(" " * 96 + "1990 50.0: Cooks\n")


def test_hostile_template_files_are_refused_naming_the_file(tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"line": "{year}: {title}\n", "name": "x" * MAX_JSON_BYTES}))
    with pytest.raises(TemplateError, match=f"{huge}.*too large"):
        ResumeTemplate.load(huge)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TemplateError, match=f"{deep}.*nested too deeply"):
        ResumeTemplate.load(deep)
    wide = tmp_path / "labor_econ_template.json"
    ResumeTemplate(line="{year}: {title}\n").save(wide)
    wide.write_text(wide.read_text().replace("{year}", "{year:>100000000}"))
    with pytest.raises(TemplateError, match=f"{wide}.*at most {MAX_SPEC_NUMBER}"):
        ResumeTemplate.load(wide)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"line": "\xe9"}')
    with pytest.raises(TemplateError, match=f"{latin}.*not a JSON template"):
        ResumeTemplate.load(latin)


def test_parse_is_linear_in_the_text():
    """Four free-text fields on a 3,000-character line that almost parses: ran over 10 minutes
    with one lazy pattern per field; now each field stops at the text that follows it."""
    t = ResumeTemplate(line="{a}, {b}, {c}, {d}, {year}: {title}\n")
    text = "x, " * 1000 + "1990 Cooks\n"  # no ': ' after the year: never parses
    start = time.perf_counter()
    with pytest.raises(TemplateError, match="wave 1"):
        t.parse(text)
    # measured 0.01 s on 2 CPU cores (was > 600 s); 100x room for slow machines
    assert time.perf_counter() - start < 1.0
    ok = "a1, b1, c1, d1, 1990: Cooks\n"
    assert t.parse(ok).waves == [
        {"a": "a1", "b": "b1", "c": "c1", "d": "d1", "year": "1990", "title": "Cooks"}
    ]


def test_title_first_lines(toy_panel):
    """Fields after the outcome: the terminator is the text up to the next field."""
    t = ResumeTemplate(header=("Born {birth_year}.",), line="{title} ({year}, {hours}h);")
    assert (t.terminator, t.separator) == (" (", " ")
    text = t.render(toy_panel, 7)
    assert text == (
        "Born 1960. Cashiers (1990, 40h); Cashiers and clerks (1991, 38h); "
        "Cashiers and clerks (1993, 20h);"
    )
    assert t.parse(text).pairs() == [
        (1990, "Cashiers"),
        (1991, "Cashiers and clerks"),
        (1993, "Cashiers and clerks"),
    ]
    spans = t.annotated_resumes(toy_panel).loc[7, "spans"]
    assert [text[a:b] for a, b in spans] == [
        "Cashiers (",
        "Cashiers and clerks (",
        "Cashiers and clerks (",
    ]
    prompts = t.prompts(toy_panel)
    assert prompts.loc[(7, 1991)] == "Born 1960. Cashiers (1990, 40h); "
    assert t.continuation(2, toy_panel.taxonomy) == "Cashiers and clerks ("
    for (pid, year), prompt in prompts.items():
        cont = t.continuation(
            toy_panel.data.set_index(["pid", "year"]).loc[(pid, year), "occ"], toy_panel.taxonomy
        )
        assert t.render(toy_panel, pid).startswith(prompt + cont)
    with pytest.raises(TemplateError, match="no fields may follow"):
        ResumeTemplate(line="{title} {year};")
    with pytest.raises(TemplateError, match="single line"):
        ResumeTemplate(line="{title} (\n{year})")


def test_spaces_after_a_title_first_terminator_start_the_tail():
    t = ResumeTemplate(line="{title} : {year};", separator="\n")
    assert t.terminator == " :"
    assert t.continuation_text("COOKS") == "COOKS :"
