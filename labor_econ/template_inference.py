"""Infer the resume template that wrote a set of texts, e.g. resumes sampled from a checkpoint."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .taxonomy import Taxonomy
from .templates import ResumeTemplate, TemplateError

__all__ = ["TemplateGuess", "infer_template"]

# A wave's year: four digits from 1900 to 2099 that are not part of a longer number.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_NUMBER = re.compile(r"\d+")
# Static covariates written as "name value, name value" (the {characteristics} field).
_CHARACTERISTICS = re.compile(r"[A-Za-z_]\w* -?\d+(?:\.\d+)?(?:, [A-Za-z_]\w* -?\d+(?:\.\d+)?)*")
_MAJORITY = 0.5


@dataclass(frozen=True)
class TemplateGuess:
    """The template inferred from resumes, with the evidence for it.

    Attributes
    ----------
    template : ResumeTemplate
        The inferred template (name ``"inferred"``).
    n_parsed, n_texts : int
        How many of the texts the template parses back exactly (:meth:`ResumeTemplate.parse`),
        out of how many. Truncated or malformed samples are the usual rest.
    header : tuple of str
        The header lines, as format strings.
    fields : tuple of str
        The fields found: among ``"birth_year"``, ``"characteristics"``, ``"year"``,
        ``"age"``, and ``"title"`` or ``"code"``.
    terminator, separator, footer : str
        As in :class:`ResumeTemplate`.
    observed_titles : pandas.Series
        Every outcome string written in a complete wave (title or code as the texts spell
        it), with its count, most frequent first.
    unparsed : tuple of int
        Positions of the texts that do not parse.
    n_taxonomy_titles : int or None
        How many distinct observed outcomes the taxonomy spells exactly the same (titles, or
        codes for numeric outcomes); None without a taxonomy. Few means the checkpoint spells
        titles its own way: see ``Taxonomy.match_titles``.

    Examples
    --------
    >>> from labor_econ import ResumeTemplate
    >>> from labor_econ.datasets import wage_panel
    >>> panel = wage_panel()
    >>> texts = ResumeTemplate.preset("labor_llm").resumes(panel).tolist()
    >>> guess = ResumeTemplate.infer(texts, taxonomy=panel.taxonomy)
    >>> guess.n_parsed == guess.n_texts == 545
    True
    >>> guess.fields
    ('characteristics', 'year', 'title')
    >>> guess.template.resumes(panel).equals(ResumeTemplate.preset("labor_llm").resumes(panel))
    True
    """

    template: ResumeTemplate
    n_parsed: int
    n_texts: int
    header: tuple[str, ...]
    fields: tuple[str, ...]
    terminator: str
    separator: str
    footer: str
    observed_titles: pd.Series = field(repr=False)
    unparsed: tuple[int, ...] = field(repr=False)
    n_taxonomy_titles: int | None = None

    def __str__(self) -> str:
        t = self.template
        return "\n".join(
            [
                f"Inferred template: parses {self.n_parsed} of {self.n_texts} texts",
                f"  header lines:     {list(self.header)!r}",
                f"  line:             {t.line!r}",
                f"  terminator:       {self.terminator!r}",
                f"  separator:        {self.separator!r}",
                f"  header separator: {t.header_separator!r}",
                f"  footer:           {self.footer!r}",
                f"  fields:           {', '.join(self.fields)}",
                f"  distinct titles:  {len(self.observed_titles)}",
            ]
        )


def _majority_prefix(strings: Sequence[str]) -> str:
    """The longest prefix shared by more than half of `strings`."""
    need = _MAJORITY * len(strings)
    alive, prefix = list(strings), ""
    while True:
        counts = Counter(s[len(prefix)] for s in alive if len(s) > len(prefix))
        if not counts:
            return prefix
        char, n = counts.most_common(1)[0]
        if n <= need:
            return prefix
        prefix += char
        alive = [s for s in alive if s.startswith(prefix)]


def _abstract(text: str) -> str:
    return _NUMBER.sub("#", text)


def _number_pattern(abstract: str) -> str:
    """Regex of an abstracted literal: '#' matches any number, the rest is literal."""
    return r"\d+".join(re.escape(part) for part in abstract.split("#"))


def _split_glue(glue: str) -> tuple[str, str, str]:
    """Terminator, separator and next-wave prefix from the text between two outcomes."""
    if glue.startswith("\n"):
        terminator, rest = "\n", glue[1:]
    else:
        m = re.match(r" ?[^\w\s]+", glue)
        if m is None:
            raise TemplateError(f"no terminator found after the outcomes (text {glue!r})")
        terminator, rest = m.group(), glue[m.end() :]
    sep = re.match(r"\s*", rest).group()
    return terminator, sep, rest[len(sep) :]


def _glue_and_lead(pieces: list[str]) -> tuple[str, str, bool]:
    """(text after the year up to the outcome, text after the outcome up to the next year,
    whether the outcome is a number), from the abstracted texts between consecutive years.

    Distinct pieces vote, so that a career that stays in one job counts once.
    """
    distinct = sorted(set(pieces))
    after_year = _majority_prefix(distinct)
    before_year = _majority_prefix([p[::-1] for p in distinct])[::-1]
    typical = Counter(pieces).most_common(1)[0][0]
    if len(after_year) + len(before_year) > len(typical):
        # Every wave reads the same once numbers are abstracted: the outcome is a number.
        hashes = [m.start() for m in re.finditer("#", typical)]
        ends = [i for i in hashes if i + 1 < len(typical) and not typical[i + 1].isalnum()]
        ends = [i for i in ends if typical[i + 1] != " "] or ends
        if not ends:
            raise TemplateError(
                f"every wave reads {typical!r}: with one outcome throughout, the title cannot "
                "be told from the template's text; pass more (and more varied) resumes"
            )
        return typical[: ends[-1]], typical[ends[-1] + 1 :], True
    # Titles that share first or last letters must not extend the literals into the titles.
    after_year = after_year[: len(after_year) - len(re.search(r"\w*$", after_year).group())]
    before_year = before_year[len(re.match(r"\w*", before_year).group()) :]
    return after_year, before_year, False


def _fill_numbers(abstract: str, names: Sequence[str]) -> str:
    parts = abstract.replace("{", "{{").replace("}", "}}").split("#")
    out = parts[0]
    for name, part in zip(names, parts[1:], strict=True):
        out += "{" + name + "}" + part
    return out


def _header_lines(headers: list[str], header_separator: str) -> tuple[tuple[str, ...], list[str]]:
    """The header's format lines, from the header texts of the waves' majority format."""
    if not header_separator:
        split = [[h] if h else [] for h in headers]
    elif "\n" in header_separator:
        split = [
            h[: len(h) - len(header_separator)].split(header_separator) if h else []
            for h in headers
        ]
    else:
        split = [[h[: len(h) - len(header_separator)]] if h else [] for h in headers]
    shape = Counter(tuple(_abstract(line) for line in lines) for lines in split).most_common(1)
    abstract_lines = shape[0][0]
    example = next(s for s in split if tuple(_abstract(x) for x in s) == abstract_lines)
    lines, found = [], []
    for i, (abstract, text) in enumerate(zip(abstract_lines, example, strict=True)):
        same = Counter(s[i] for s in split if len(s) == len(abstract_lines)).most_common(1)[0]
        if "#" not in abstract or same[1] > _MAJORITY * len(split):
            lines.append(text.replace("{", "{{").replace("}", "}}"))
            continue
        line = text.replace("{", "{{").replace("}", "}}")
        year = _YEAR.search(line)
        if year:
            line = line[: year.start()] + "{birth_year}" + line[year.end() :]
            found.append("birth_year")
        chars = _CHARACTERISTICS.search(line)
        if chars:
            line = line[: chars.start()] + "{characteristics}" + line[chars.end() :]
            found.append("characteristics")
        lines.append(line)
    return tuple(lines), found


def infer_template(texts: Sequence[str], *, taxonomy: Taxonomy | None = None) -> TemplateGuess:
    """Infer the template that wrote `texts`: header, wave line, separators and footer.

    Waves are found by their years (four-digit numbers, 1900-2099, increasing); the text
    between consecutive years gives, by majority over all waves, the text after the year up to
    the outcome, and the terminator, separator and prefix of the next wave. Numbers in the wave
    line that equal year minus a birth year are ``{age}``; a four-digit number in the header is
    ``{birth_year}``; ``name value, ...`` pairs are ``{characteristics}``. The header is what
    precedes the first wave, the footer what follows the last outcome's terminator in most
    texts. Malformed or truncated texts (a minority) do not change the guess; they are counted
    as not parsed.

    Parameters
    ----------
    texts : sequence of str
        Resumes written by one template (e.g. :func:`labor_econ.lm.sample_resumes`).
    taxonomy : Taxonomy, optional
        The occupations the texts should name: ``n_taxonomy_titles`` then reports how many
        observed outcomes it spells exactly.

    Returns
    -------
    TemplateGuess

    Raises
    ------
    TemplateError
        When no wave structure can be found (fewer than two years in most texts).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of resumes, not one string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; entries {bad[:5]} are not")
    if not texts:
        raise TemplateError("no texts to infer a template from")
    pieces = []
    for text in texts:
        years = list(_YEAR.finditer(text))
        for a, b in zip(years[1:], years[2:], strict=False):
            pieces.append(_abstract(text[a.end() : b.start()]))
        if len(years) == 2:
            pieces.append(_abstract(text[years[0].end() : years[1].start()]))
    if not pieces:
        raise TemplateError(
            "no text has two waves with years (four-digit numbers 1900-2099): cannot tell "
            "where waves start; sample longer resumes"
        )
    after_year, glue, numeric = _glue_and_lead(pieces)
    terminator, separator, before_year = _split_glue(glue)
    lead = after_year[len(after_year.rstrip(" ")) :]
    after_year = after_year[: len(after_year) - len(lead)]
    outcome = "code" if numeric else "title"

    # Where each text's first wave starts: the header is before it.
    # A whole wave, whose outcome holds no year (so a header's birth year is not a wave).
    start_re = re.compile(
        _number_pattern(before_year)
        + _YEAR.pattern
        + _number_pattern(after_year + lead)
        + f"(?:(?!{_YEAR.pattern})[^\\n])+?"
        + re.escape(terminator)
    )
    headers = []
    for text in texts:
        m = start_re.search(text)
        headers.append(text[: m.start()] if m else None)
    found = [h for h in headers if h is not None]
    if not found:
        raise TemplateError("no text contains a wave of the inferred form")
    header_separator = Counter(re.search(r"\s*$", h).group() for h in found).most_common(1)[0][0]
    header, header_fields = _header_lines(found, header_separator)

    # Numbers in the wave line: the year, ages, other numbers.
    n_before, n_after = before_year.count("#"), after_year.count("#")
    names = [f"number{i + 1}" for i in range(n_before + n_after)]
    if names:
        names[0] = "age"
    line = (
        _fill_numbers(before_year, names[:n_before])
        + "{year}"
        + _fill_numbers(after_year, names[n_before:])
        + lead
        + "{"
        + outcome
        + "}"
        + terminator.replace("{", "{{").replace("}", "}}")
    )
    if any(n.startswith("number") for n in names):
        raise TemplateError(
            f"the wave line {line!r} holds several numbers besides the year; only {{age}} is "
            "recognised"
        )

    # The footer: what follows the last outcome's terminator in most texts.
    footers: Counter[str] = Counter()
    for text in texts:
        matches = list(start_re.finditer(text))
        if not matches:
            continue
        last = matches[-1]
        footers[text[last.end() :]] += 1
    footer = footers.most_common(1)[0][0] if footers else ""

    template = ResumeTemplate(
        line=line,
        header=header,
        footer=footer,
        separator=separator,
        header_separator=header_separator if header else None,
        name="inferred",
    )
    titles: Counter[str] = Counter()
    unparsed = []
    _, wave_re = template._parsers()
    for i, text in enumerate(texts):
        try:
            parsed = template.parse(text)
        except TemplateError:
            unparsed.append(i)
            titles.update(m.group(outcome) for m in wave_re.finditer(text))
            continue
        titles.update(w[outcome] for w in parsed.waves)
    fields = [*dict.fromkeys(header_fields), "year", *(["age"] if "age" in names else []), outcome]
    observed = pd.Series(dict(titles.most_common()), name="count", dtype="int64")
    observed.index.name = outcome
    known = None
    if taxonomy is not None:
        spelled = {str(c) for c in taxonomy.codes} if numeric else set(taxonomy.titles)
        known = sum(t in spelled for t in observed.index)
    return TemplateGuess(
        template=template,
        n_parsed=len(texts) - len(unparsed),
        n_texts=len(texts),
        header=header,
        fields=tuple(fields),
        terminator=terminator,
        separator=separator,
        footer=footer,
        observed_titles=observed,
        unparsed=tuple(unparsed),
        n_taxonomy_titles=known,
    )
