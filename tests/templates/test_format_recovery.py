"""Formats written by plain Python (not the package's templates) are recovered byte for byte.

Issue 21, "Done when": at least 12 formats unlike each other (year first and last, title first,
key=value, JSON-like lines, markdown bullets, numeric codes, sentences with ages, multi-line
headers with and without birth year, separators ";", "|", ",", " and ", titles upper- and
lower-cased, with "&", shortened, pluralised). Each writer below spells the titles its own way;
`ResumeTemplate.infer` gets the texts and our taxonomy (its spelling), and its template must
write the same texts again from the panel spelled the writer's way.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from labor_econ import ResumeTemplate, Taxonomy, TemplateError
from labor_econ.datasets import simulate_panel

OURS = Taxonomy(
    list(range(1, 13)),
    [
        "Cashiers",
        "Cooks",
        "Farm workers",
        "Retail sales clerks",
        "Truck drivers",
        "Registered nurses",
        "Janitors and cleaners",
        "Secretaries and typists",
        "Electricians",
        "Carpenters",
        "Waiters and waitresses",
        "Construction laborers",
    ],
    name="ours",
)


def _respell(how: str) -> Callable[[str], str]:
    def shorten(t: str) -> str:  # first word, the way a careless coder abbreviates
        return t.split()[0]

    return {
        "same": lambda t: t,
        "lower": str.lower,
        "upper": str.upper,
        "amp": lambda t: t.replace(" and ", " & "),
        "short": shorten,
        "singular": lambda t: " ".join(w[:-1] if w.endswith("s") else w for w in t.split()),
    }[how]


# name: (title spelling, writer(birth_year, [(year, title, code), ...]) -> text)
def _w_colon(b, waves):
    return "".join(f"{y}: {t}\n" for y, t, _ in waves)


def _w_title_first(b, waves):
    return " ".join(f"{t} ({y});" for y, t, _ in waves)


def _w_keyvalue(b, waves):
    return f"born={b}\n" + "".join(f"year={y} job={t}\n" for y, t, _ in waves)


def _w_json(b, waves):
    return "\n".join(json.dumps({"year": y, "occupation": t}) for y, t, _ in waves) + "\n"


def _w_markdown(b, waves):
    return "# Career\n\n" + "".join(f"- **{y}**: {t}\n" for y, t, _ in waves)


def _w_codes(b, waves):
    return f"b{b}|" + "|".join(f"{y}>{c}" for y, _, c in waves) + "|"


def _w_ages(b, waves):
    return f"Born in {b}. " + " ".join(
        f"In {y}, aged {y - b}, she worked as {t}." for y, t, _ in waves
    )


def _w_header_birth(b, waves):
    return (
        f"WORKER PROFILE\nBirth year: {b}\nJobs held:\n"
        + "".join(f"  * {y} - {t}\n" for y, t, _ in waves)
        + "END"
    )


def _w_header_plain(b, waves):
    return "RESUME\n======\n" + " ".join(f"{y} {t} |" for y, t, _ in waves)


def _w_semicolon(b, waves):
    return "; ".join(f"{y} {t}" for y, t, _ in waves) + ";"


def _w_comma(b, waves):
    return ", ".join(f"{t} in {y}" for y, t, _ in waves) + "."


def _w_and(b, waves):
    return " and ".join(f"{t} from {y}" for y, t, _ in waves) + "."


def _w_title_first_age(b, waves):
    return "".join(f"{t} [age {y - b}, {y}]\n" for y, t, _ in waves)


FORMATS = {
    "year first, colon lines": ("same", _w_colon),
    "title first, parentheses": ("same", _w_title_first),
    "key=value, lower case": ("lower", _w_keyvalue),
    "JSON lines": ("same", _w_json),
    "markdown bullets with &": ("amp", _w_markdown),
    "numeric codes": ("same", _w_codes),
    "sentences with ages, lower case": ("lower", _w_ages),
    "multi-line header with birth year, upper case": ("upper", _w_header_birth),
    "multi-line header without birth year, pipes": ("same", _w_header_plain),
    "semicolons, shortened": ("short", _w_semicolon),
    "commas, title first, singular": ("singular", _w_comma),
    "' and ', title first, &": ("amp", _w_and),
    "title first with age before the year": ("lower", _w_title_first_age),
}


def _texts(panel, writer) -> list[str]:
    out = []
    for _, rows in panel.data.groupby(panel.id, sort=False):
        b = int(rows[panel.birth_year].iloc[0])
        waves = [
            (int(y), panel.taxonomy.title(c), int(c))
            for y, c in zip(rows[panel.time], rows[panel.occupation], strict=True)
        ]
        out.append(writer(b, waves))
    return out


@pytest.fixture(scope="module")
def careers():
    """Careers with every interview (consecutive years) and with missed ones."""
    return simulate_panel(40, taxonomy=OURS, years=range(1980, 1992), seed=3, miss_rate=0.1)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_recovered_byte_for_byte(careers, name):
    how, writer = FORMATS[name]
    spelled = OURS.with_titles(
        {c: _respell(how)(t) for c, t in zip(OURS.codes, OURS.titles, strict=True)}
    )
    panel = careers.with_taxonomy(spelled)
    texts = _texts(panel, writer)
    guess = ResumeTemplate.infer(texts, taxonomy=OURS)
    assert guess.n_parsed == len(texts), str(guess)
    assert guess.template.resumes(panel).tolist() == texts, str(guess)
    # Every outcome it read is one of ours, as the writer spelled it.
    numeric = guess.template.outcome == "code"
    written = {str(c) for c in OURS.codes} if numeric else set(spelled.titles)
    assert set(guess.observed_titles.index) <= written
    assert guess.aligned_share == pytest.approx(1.0)
    assert guess.parsed_share == 1.0 and len(guess.alternatives) >= 1


YEARS = range(1980, 1986)


def _sticky(titles: list[str]) -> list[str]:
    """Stayers: each text repeats one title (the first one for most texts)."""
    return [
        "".join(f"{y}: worked as a {titles[-1] if i % 10 == 0 else titles[0]}; " for y in YEARS)
        for i in range(30)
    ]


def test_one_title_throughout_without_taxonomy_is_refused():
    """Every wave the same title: its words cannot be told from the template's text."""
    with pytest.raises(TemplateError, match="one outcome throughout.*more resumes.*taxonomy="):
        ResumeTemplate.infer(_sticky(["farm laborer"]))


def test_sticky_samples_with_taxonomy_keep_the_title_whole():
    """Without a taxonomy "farm" looks like template text (both titles start with it); with
    ours the split that makes the outcomes titles wins, and the alternatives are reported."""
    tax = Taxonomy([1, 2], ["Farm laborers", "Farm cooks"])
    texts = _sticky(["farm laborer", "farm cook"])
    fooled = ResumeTemplate.infer(texts)
    assert fooled.template.line == "{year}: worked as a farm {title};"
    guess = ResumeTemplate.infer(texts, taxonomy=tax)
    assert guess.template.line == "{year}: worked as a {title};"
    assert guess.observed_titles.to_dict() == {"farm laborer": 162, "farm cook": 18}
    matches = tax.match_titles(guess.observed_titles)
    assert matches["checkpoint_title"].tolist() == ["farm laborer", "farm cook"]
    assert guess.aligned_share == 1.0
    best = guess.alternatives.iloc[0]
    assert (best["before"], best["alignment"]) == (": worked as a ", 0.99)
    assert (guess.alternatives["alignment"] == 0).any()  # "laborer" alone is no title
    # One title throughout: the taxonomy still finds it whole.
    alone = ResumeTemplate.infer(_sticky(["farm laborer"]), taxonomy=tax)
    assert alone.template.line == "{year}: worked as a {title};"
    assert alone.observed_titles.to_dict() == {"farm laborer": 180}


def test_outcomes_unlike_the_taxonomy_are_refused():
    texts = [
        "".join(f"{y}: {t}\n" for y, t in zip(range(1980, 1984), "wxyz", strict=True))
        for _ in range(5)
    ]
    with pytest.raises(TemplateError, match="look like the taxonomy's titles"):
        ResumeTemplate.infer(texts, taxonomy=OURS)
