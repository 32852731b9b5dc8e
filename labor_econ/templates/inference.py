"""Infer the resume template that wrote a set of texts, e.g. resumes sampled from a checkpoint.

The texts are read as a cycle ``year A outcome B year A outcome B year ...``: between two
consecutive years lies the end of one wave and the start of the next, with one outcome (title
or code) in it. The literal texts ``A`` and ``B`` are what every such piece shares; the
outcome is what varies. Where the outcome sits relative to the year (after it: ``2001: Cook``;
before it: ``Cook (2001);``) is read from the first and last waves.

Sampled careers are sticky: most pieces repeat one title, and a title's constant words can
look like template text. With a taxonomy, each possible split of the pieces into literal and
outcome is scored by how well its outcomes align with the taxonomy's titles (exact, case,
"&"/"and", punctuation, plurals, and the fuzzy rule of ``Taxonomy.match_titles``), so a
title's words are never taken for template text. Without one, too few distinct outcomes to
tell title from template is an error saying what to do.

This module does not import the template class (it is passed in), so that
``templates.template`` can import it without a cycle.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..taxonomy import (
    ABBREVIATION_SIMILARITY,
    FUZZY_CUTOFF,
    Taxonomy,
    _abbreviates,
    title_similarity,
    title_variant,
)
from .errors import TemplateError

if TYPE_CHECKING:
    from .template import ResumeTemplate

__all__ = ["MIN_DISTINCT_OUTCOMES", "TemplateGuess", "infer_from_texts"]

# A wave's year: four digits from 1900 to 2099 that are not part of a longer number.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_NUMBER = re.compile(r"\d+")
# Static covariates written as "name value, name value" (the {characteristics} field).
_CHARACTERISTICS = re.compile(r"[A-Za-z_]\w* -?\d+(?:\.\d+)?(?:, [A-Za-z_]\w* -?\d+(?:\.\d+)?)*")
_MAJORITY = 0.5
MIN_DISTINCT_OUTCOMES = 2
"""Without a taxonomy, the fewest distinct outcomes from which a template is inferred: with
one outcome throughout, a title's words cannot be told from the template's text."""
_ADVICE = (
    "sample more resumes, at a higher temperature, or from prompts that start other careers "
    "(labor_econ.lm.sample_resumes(..., prompt=[...])), or pass taxonomy= so that titles are "
    "recognised"
)


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
    alternatives : pandas.DataFrame
        The splits of wave text into template text and outcome that were considered, best
        first: ``before`` and ``after`` (the literal text around the outcome), ``coverage``
        (share of waves they fit), ``alignment`` (mean similarity of their outcomes to the
        taxonomy's titles, 1 = every outcome a title; NaN without a taxonomy) and
        ``distinct`` (distinct outcomes).
    aligned_share : float or None
        Share of observed outcomes (by count) that align with a taxonomy title (a variant
        or a fuzzy match); None without a taxonomy.

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
    alternatives: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    aligned_share: float | None = None

    @property
    def parsed_share(self) -> float:
        """Share of the texts the template parses back exactly."""
        return self.n_parsed / self.n_texts

    def __str__(self) -> str:
        t = self.template
        lines = [
            f"Inferred template: parses {self.n_parsed} of {self.n_texts} texts "
            f"({self.parsed_share:.0%})",
            f"  header lines:     {list(self.header)!r}",
            f"  line:             {t.line!r}",
            f"  terminator:       {self.terminator!r}",
            f"  separator:        {self.separator!r}",
            f"  header separator: {t.header_separator!r}",
            f"  footer:           {self.footer!r}",
            f"  fields:           {', '.join(self.fields)}",
            f"  distinct titles:  {len(self.observed_titles)}",
            f"  alternatives:     {len(self.alternatives)} splits considered",
        ]
        if self.aligned_share is not None:
            lines.append(f"  aligned titles:   {self.aligned_share:.0%} of observed outcomes")
        return "\n".join(lines)


# -- small helpers ------------------------------------------------------------------------------
def _abstract(text: str) -> str:
    return _NUMBER.sub("#", text)


def _number_pattern(abstract: str) -> str:
    """Regex of an abstracted literal: '#' matches any number, the rest is literal."""
    return r"\d+".join(re.escape(part) for part in abstract.split("#"))


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _fill_numbers(abstract: str, names: Sequence[str]) -> str:
    parts = _escape(abstract).split("#")
    out = parts[0]
    for name, part in zip(names, parts[1:], strict=True):
        out += "{" + name + "}" + part
    return out


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


def _cuts(literal: str, from_end: bool) -> list[int]:
    """Lengths to which `literal` may be shortened, longest first: ending at a word's edge.

    The outcome may begin (or end) inside what all pieces share, but only at a word boundary:
    titles that share first or last letters must not extend the literal into the titles.
    """
    text = literal[::-1] if from_end else literal
    out = []
    for k in range(len(text), -1, -1):
        # keep text[:k]; the outcome then starts with text[k] (unknown when k is the end)
        if k == 0 or not text[k - 1].isalnum() or (k < len(text) and not text[k].isalnum()):
            out.append(k)
        if len(out) > 6:
            break
    return out


# -- aligning outcomes with the taxonomy --------------------------------------------------------
class _Aligner:
    """Similarity of a candidate outcome to its closest taxonomy title (cached).

    ``cheap`` looks up exact spellings and :func:`~labor_econ.taxonomy.title_variant` keys
    and checks abbreviations; the fuzzy similarity (all titles, difflib) is computed only
    when asked, as it costs a few milliseconds per outcome on a large taxonomy.
    """

    def __init__(self, taxonomy: Taxonomy, numeric: bool) -> None:
        self.cache: dict[tuple[str, bool], float] = {}
        self.by_start: dict[str, list[str]] = {}  # variants by their first three letters
        if numeric:
            self.exact = {str(c) for c in taxonomy.codes}
            self.variants: set[str] = set()
            self.titles: list[str] = []
        else:
            self.exact = set(taxonomy.titles)
            self.variants = {title_variant(t) for t in taxonomy.titles}
            self.titles = list(taxonomy.titles)
            for v in self.variants:
                self.by_start.setdefault(v[:3], []).append(v)

    def __call__(self, outcome: str, fuzzy: bool = True) -> float:
        key = (outcome, fuzzy)
        if key in self.cache:
            return self.cache[key]
        if outcome in self.exact:
            score = 1.0
        elif not self.titles or not outcome.strip():
            score = 0.0
        elif title_variant(outcome) in self.variants:
            score = 0.99
        else:
            variant = title_variant(outcome)
            shortened = any(_abbreviates(v, variant) for v in self.by_start.get(variant[:3], ()))
            score = ABBREVIATION_SIMILARITY if shortened else 0.0
            if fuzzy:
                score = max(
                    score, *(title_similarity(t, outcome, FUZZY_CUTOFF) for t in self.titles)
                )
        self.cache[key] = score
        return score


@dataclass(frozen=True)
class _Split:
    before: str
    after: str
    coverage: float
    alignment: float
    distinct: int
    outcomes: Counter[str]


def _split_pieces(
    pieces: Sequence[str], raw: Sequence[str], align: _Aligner | None
) -> tuple[_Split, list[_Split]]:
    """Split pieces (abstracted) into constant text before and after a varying outcome.

    `raw` are the same pieces with their numbers, to read the outcomes from. Candidate
    literals are the majority prefix and suffix of the distinct pieces, and their
    shortenings to word boundaries; each candidate is scored by the share of pieces it fits
    and, with a taxonomy, how well its outcomes align with the taxonomy's titles.
    """
    distinct = sorted(set(pieces))
    heads = {_majority_prefix(distinct)}
    tails = {_majority_prefix([p[::-1] for p in distinct])[::-1]}
    if align is not None:
        # Also what most pieces (by count) share: distinct pieces can be outnumbered by junk
        # that varies with the title (a header's birth-year gap before each first title);
        # the taxonomy then tells which literal cuts titles whole.
        heads.add(_majority_prefix(pieces))
        tails.add(_majority_prefix([p[::-1] for p in pieces])[::-1])
    literals = {
        (head[:i], tail[len(tail) - j :])
        for head in heads
        for tail in tails
        for i in _cuts(head, from_end=False)
        for j in _cuts(tail, from_end=True)
    }
    splits = []
    for before, after in sorted(literals):
        outcomes: Counter[str] = Counter()
        for p, r in zip(pieces, raw, strict=True):
            if len(p) > len(before) + len(after) and p.startswith(before) and p.endswith(after):
                # map abstract offsets to raw ones: the literals hold no numbers' digits
                # beyond '#', so cut the raw piece by matching the literal patterns
                m = re.fullmatch(
                    _number_pattern(before) + "(.+?)" + _number_pattern(after), r, re.DOTALL
                )
                if m and "\n" not in m.group(1) and m.group(1).strip():
                    outcomes[m.group(1)] += 1
        n = sum(outcomes.values())
        if not n:
            continue
        alignment = _alignment(outcomes, align, fuzzy=False)
        splits.append(_Split(before, after, n / len(pieces), alignment, len(outcomes), outcomes))
    if align is not None and splits and max(s.alignment for s in splits) < 0.9:
        # No split's outcomes are (mostly) spellings of the titles: score by the fuzzy rule as
        # well the few that fit most pieces and the few whose outcomes align best so far.
        by_fit = sorted(splits, key=lambda s: (round(s.coverage, 2), s.alignment), reverse=True)
        by_alignment = sorted(splits, key=lambda s: s.alignment, reverse=True)
        chosen = {id(s) for s in by_fit[:_FUZZY_SPLITS] + by_alignment[:_FUZZY_SPLITS]}
        splits = [
            _Split(
                s.before,
                s.after,
                s.coverage,
                _alignment(s.outcomes, align, fuzzy=True),
                s.distinct,
                s.outcomes,
            )
            if id(s) in chosen
            else s
            for s in splits
        ]
    typical, count = Counter(pieces).most_common(1)[0]
    if not splits and align is not None and count > _MAJORITY * len(pieces):
        splits = _one_outcome_splits(typical, pieces, raw, align)
    if not splits:
        if count > _MAJORITY * len(pieces):
            raise TemplateError(
                f"every wave reads {typical!r}: with one outcome throughout, a title that "
                f"never changes cannot be told from the template's text; {_ADVICE}"
            )
        raise TemplateError(
            "the texts between consecutive years share no template text around an outcome; "
            "they may not be resumes of one format"
        )

    def key(s: _Split) -> tuple[float, ...]:
        # With a taxonomy: fit most waves with outcomes that are titles (coverage times
        # alignment, so that junk pieces fitting a looser split do not decide); then align
        # best; then keep the most template text. Without one, shortening the shared text
        # only lets junk fit: keep the longest (the shared text cut at word edges).
        if align is None:
            return (len(s.before) + len(s.after),)
        fit = round(s.coverage * s.alignment, 2)
        return (fit, round(s.alignment, 3), len(s.before) + len(s.after))

    splits.sort(key=key, reverse=True)
    return splits[0], splits


def _one_outcome_splits(
    typical: str, pieces: Sequence[str], raw: Sequence[str], align: _Aligner
) -> list[_Split]:
    """Splits of a piece that every wave repeats: the words that spell a taxonomy title (a
    variant of one, not a fuzzy match) are the outcome."""
    edges = [0, *(m.end() for m in re.finditer(r"\W+", typical))]
    ends = [m.start() for m in re.finditer(r"\W+", typical)] + [len(typical)]
    out = []
    for i in edges:
        for j in ends:
            word = typical[i:j]
            if j <= i or "#" in word or "\n" in word or align(word, fuzzy=False) < 0.99:
                continue
            outcomes = Counter(
                r[i : len(r) - (len(typical) - j)]
                for p, r in zip(pieces, raw, strict=True)
                if p == typical
            )
            n = sum(outcomes.values())
            out.append(_Split(typical[:i], typical[j:], n / len(pieces), 0.99, 1, outcomes))
    return out


_FUZZY_SPLITS = 6
_FUZZY_OUTCOMES = 30


def _alignment(outcomes: Counter[str], align: _Aligner | None, fuzzy: bool) -> float:
    """Mean similarity to the taxonomy of the outcomes, by count; fuzzy scores for the most
    frequent outcomes only (they carry the mean; the rest count as their cheap score)."""
    if align is None:
        return 0.0
    total = sum(outcomes.values())
    common = {o for o, _ in outcomes.most_common(_FUZZY_OUTCOMES)} if fuzzy else set()
    return sum(align(o, fuzzy=o in common) * c for o, c in outcomes.items()) / total


def _alternatives_frame(splits: list[_Split], with_taxonomy: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "before": [s.before for s in splits],
            "after": [s.after for s in splits],
            "coverage": [s.coverage for s in splits],
            "alignment": [s.alignment if with_taxonomy else float("nan") for s in splits],
            "distinct": [s.distinct for s in splits],
        }
    )


def _numeric_split(pieces: list[str]) -> tuple[str, str] | None:
    """(before, after) around the outcome when every piece reads the same with numbers
    abstracted (the outcome is a number); None otherwise."""
    typical = Counter(pieces).most_common(1)[0][0]
    if (
        Counter(pieces)[typical] <= _MAJORITY * len(pieces)
        or len(set(pieces)) > 1
        and (len(set(pieces)) > 0.2 * len(pieces))
    ):
        return None
    hashes = [m.start() for m in re.finditer("#", typical)]
    if not hashes:
        return None
    # The outcome is the number followed by punctuation that is not a space (a code ends a
    # wave: "2001: 4110\n"); an age is followed by text ("age 21)").
    ends = [i for i in hashes if i + 1 < len(typical) and not typical[i + 1].isalnum()]
    ends = [i for i in ends if typical[i + 1] != " "] or ends or hashes
    i = ends[-1]
    return typical[:i], typical[i + 1 :]


def _split_terminator(glue: str, ending: str) -> tuple[str, str, str]:
    """(terminator, separator, start of the next wave) from `glue`, the text after an outcome
    up to the next wave's year; `ending` is what follows the last wave's outcome (the
    terminator and the footer)."""
    if glue.startswith("\n"):
        terminator = "\n"
    else:
        m = re.match(r" ?[^\w\s]+", glue)
        if m is not None and ending.startswith(m.group()):
            terminator = m.group()
        else:
            # The longest common start of the glue and the last wave's ending, up to a space.
            k = 0
            while k < min(len(glue), len(ending)) and glue[k] == ending[k]:
                k += 1
            terminator = glue[:k]
            if not terminator:
                raise TemplateError(
                    f"no terminator found after the outcomes: waves continue with {glue!r} "
                    f"but the last one with {ending!r}; every wave must end alike"
                )
            if not terminator.strip() and len(terminator) > 1:
                terminator = terminator[:1]
    rest = glue[len(terminator) :]
    # After a line break, blank lines separate waves; spaces then indent the next line.
    sep = re.match(r"\n*" if terminator.endswith("\n") else r"\s*", rest).group()
    return terminator, sep, rest[len(sep) :]


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
            lines.append(_escape(text))
            continue
        line = _escape(text)
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


def _majority(strings: Sequence[str]) -> str:
    return Counter(strings).most_common(1)[0][0]


# -- the inference ------------------------------------------------------------------------------
def infer_from_texts(
    texts: Sequence[str],
    template_class: Callable[..., ResumeTemplate],
    *,
    taxonomy: Taxonomy | None = None,
) -> TemplateGuess:
    """Infer the template that wrote `texts`: header, wave line, separators and footer.

    Waves are found by their years (four-digit numbers, 1900-2099). The text between
    consecutive years holds the end of one wave and the start of the next with one outcome:
    the literal text around it is what most of these pieces share, shortened to word edges
    where that aligns the outcomes better with the taxonomy's titles (so that a sticky
    career's constant title words are never taken for template text). Whether the outcome
    follows the year within a wave or precedes it is read from the first and last waves; a
    number in the wave line besides the year and the outcome is ``{age}``; a four-digit
    number in the header is ``{birth_year}``; ``name value, ...`` pairs are
    ``{characteristics}``. A minority of truncated or malformed texts do not change the
    guess; they are counted as not parsed.

    Parameters
    ----------
    texts : sequence of str
        Resumes written by one template (e.g. :func:`labor_econ.lm.sample_resumes`).
    template_class : callable
        The class to build the template with (:class:`ResumeTemplate`).
    taxonomy : Taxonomy, optional
        The occupations the texts should name. Outcomes are aligned with its titles (exact,
        case, "&"/"and", punctuation and plural variants, and the fuzzy rule of
        ``Taxonomy.match_titles``), and ``n_taxonomy_titles`` reports how many observed
        outcomes it spells exactly.

    Returns
    -------
    TemplateGuess

    Raises
    ------
    TemplateError
        When no wave structure can be found (fewer than two years in most texts), or when the
        texts cannot separate titles from template text (too few distinct outcomes and no
        taxonomy; outcomes that align with no taxonomy title): the message says what to do.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of resumes, not one string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; entries {bad[:5]} are not")
    if not texts:
        raise TemplateError("no texts to infer a template from")

    gaps, lasts, starts = [], [], []
    for text in texts:
        years = list(_YEAR.finditer(text))
        if len(years) < 2:
            continue
        gaps.append([text[a.end() : b.start()] for a, b in zip(years, years[1:], strict=False)])
        lasts.append(text[years[-1].end() :])
        starts.append((text, years))
    # A birth year in the header is not a wave: the gap from it to the first wave's year reads
    # the same in most texts and never between two waves. Such first gaps are left out.
    later = {_abstract(g) for text_gaps in gaps for g in text_gaps[1:]}
    first, n_first = (
        Counter(_abstract(g[0]) for g in gaps if g).most_common(1)[0] if gaps else ("", 0)
    )
    header_gap = n_first > _MAJORITY * len(gaps) and first not in later
    pieces, raw, firsts = [], [], []
    for text_gaps, (text, years) in zip(gaps, starts, strict=True):
        skip = header_gap and _abstract(text_gaps[0]) == first
        # up to the first wave's year, which may follow a birth year
        firsts.append([text[: years[0].start()], text[: years[1].start()]])
        for k, g in enumerate(text_gaps):
            if k == 0 and skip:
                continue
            pieces.append(_abstract(g))
            raw.append(g)
    if not pieces:
        raise TemplateError(
            "no text has two waves with years (four-digit numbers 1900-2099): cannot tell "
            "where waves start; sample longer resumes"
        )
    # The gap from a header's birth year to the first wave's year is not a wave piece; the
    # majority vote below leaves it out as long as waves outnumber headers.
    numeric_split = _numeric_split(pieces)
    numeric = numeric_split is not None
    align = _Aligner(taxonomy, numeric) if taxonomy is not None else None
    if numeric:
        before, after = numeric_split
        alternatives = pd.DataFrame(
            {"before": [before], "after": [after], "coverage": [1.0], "alignment": [float("nan")]}
        )
    else:
        best, splits = _split_pieces(pieces, raw, align)
        before, after = best.before, best.after
        alternatives = _alternatives_frame(splits, align is not None)
        if align is None and best.distinct < MIN_DISTINCT_OUTCOMES:
            raise TemplateError(
                f"the samples show only {best.distinct} distinct outcome(s) "
                f"({sorted(best.outcomes)[:3]}): with one outcome throughout, a title that "
                f"never changes cannot be told from the template's text; {_ADVICE}"
            )
        if align is not None and best.alignment < 0.5:
            raise TemplateError(
                f"no split of the waves gives outcomes that look like the taxonomy's titles "
                f"(best mean similarity {best.alignment:.2f}, outcomes such as "
                f"{[o for o, _ in best.outcomes.most_common(3)]}); the taxonomy may be the "
                f"wrong one, or {_ADVICE}"
            )
    outcome = "code" if numeric else "title"
    outcome_re = r"-?\d+" if numeric else r"[^\n]+?"

    # Orientation: the outcome follows the year in the last wave (year first) or precedes it
    # in the first wave (title first).
    # Votes: the last wave reads year, `before`, an outcome, then the start of `after` (year
    # first); or the text before the first year ends with an outcome and `after` (title first).
    after_last = [_abstract(s) for s in lasts]
    year_votes = sum(
        re.match(re.escape(before) + r"[^\n]+?" + re.escape(after[:1]), a) is not None
        for a in after_last
    )
    title_votes = sum(
        any(len(p) > len(after) and p.endswith(after) for p in map(_abstract, x)) for x in firsts
    )
    year_first = year_votes >= title_votes
    before_re = _number_pattern(before)
    if year_first:
        endings = []
        for s in lasts:
            m = re.match(
                before_re + f"({outcome_re})(" + _number_pattern(after[:1]) + ".*)", s, re.DOTALL
            )
            if m:
                endings.append(m.group(2))
        ending = _majority([_abstract(e) for e in endings]) if endings else after
        terminator, separator, before_year = _split_terminator(after, ending)
        lead = before[len(before.rstrip(" ")) :]
        after_year = before[: len(before) - len(lead)]
        line_before, line_after = before_year, after_year
        tail_text = ""
    else:
        # Title first: the piece's `after` is the text from the outcome to the year (the
        # terminator and any fields before the year), `before` the rest of the line after the
        # year followed by the separator.
        lead = ""
        terminator_and_more = after
        ending = _majority(after_last)
        k = 0
        while k < min(len(before), len(ending)) and before[k] == ending[k]:
            k += 1
        tail_text, separator = before[:k], before[k:]
        line_before, line_after = "", ""
        terminator = re.split("#", terminator_and_more)[0]
        if not terminator:
            raise TemplateError(
                f"the outcome is followed directly by a number ({terminator_and_more!r}): "
                "a terminator must separate them"
            )
        before_year = terminator_and_more
    # The wave's start, to find each text's header and first wave.
    if year_first:
        wave_start = (
            _number_pattern(line_before)
            + _YEAR.pattern
            + _number_pattern(line_after + lead)
            + f"(?:(?!{_YEAR.pattern})[^\\n])+?"
            + re.escape(terminator)
        )
    else:
        wave_start = (
            f"(?P<t>(?:(?!{_YEAR.pattern})[^\\n])+?)"
            + _number_pattern(before_year)
            + _YEAR.pattern
            + _number_pattern(tail_text)
        )
    start_re = re.compile(wave_start)
    headers: list[str | None] = []
    for text in texts:
        m = start_re.search(text)
        headers.append(text[: m.start()] if m else None)
    if not year_first:
        headers = _title_first_headers(texts, start_re, align)
    found = [h for h in headers if h is not None]
    if not found:
        raise TemplateError("no text contains a wave of the inferred form")
    header_separator = _majority([re.search(r"\s*$", h).group() for h in found])
    header, header_fields = _header_lines(found, header_separator)

    # Numbers in the wave line besides the year: the age.
    if year_first:
        n_numbers = line_before.count("#") + line_after.count("#")
        names = ["age"] * n_numbers
        line = (
            _fill_numbers(line_before, names[: line_before.count("#")])
            + "{year}"
            + _fill_numbers(line_after, names[line_before.count("#") :])
            + lead
            + "{"
            + outcome
            + "}"
            + _escape(terminator)
        )
    else:
        n_numbers = before_year.count("#") + tail_text.count("#")
        names = ["age"] * n_numbers
        line = (
            "{"
            + outcome
            + "}"
            + _fill_numbers(before_year, names[: before_year.count("#")])
            + "{year}"
            + _fill_numbers(tail_text, names[before_year.count("#") :])
        )
    if n_numbers > 1:
        raise TemplateError(
            f"the wave line {line!r} holds several numbers besides the year; only {{age}} is "
            "recognised"
        )
    try:
        template_class(line=line, separator=separator, name="inferred")
    except TemplateError as exc:
        raise TemplateError(f"the inferred wave line is not a template: {exc}") from None

    # The footer: what follows the last wave in most texts.
    footers: Counter[str] = Counter()
    for text, h in zip(texts, headers, strict=True):
        matches = list(start_re.finditer(text, len(h))) if h is not None else []
        if matches:
            footers[text[matches[-1].end() :]] += 1
    footer = footers.most_common(1)[0][0] if footers else ""

    template = template_class(
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
    fields = [*dict.fromkeys(header_fields), "year", *(["age"] if names else []), outcome]
    observed = pd.Series(dict(titles.most_common()), name="count", dtype="int64")
    observed.index.name = outcome
    known = aligned = None
    if taxonomy is not None:
        spelled = {str(c) for c in taxonomy.codes} if numeric else set(taxonomy.titles)
        known = sum(t in spelled for t in observed.index)
        check = align or _Aligner(taxonomy, numeric)
        total = int(observed.sum())
        hits = sum(
            int(c) for t, c in observed.items() if check(t, fuzzy=False) >= 0.6 or check(t) >= 0.6
        )
        aligned = hits / total if total else 0.0
    return TemplateGuess(
        template=template,
        n_parsed=len(texts) - len(unparsed),
        n_texts=len(texts),
        header=header,
        fields=tuple(fields),
        terminator=template.terminator,
        separator=separator,
        footer=footer,
        observed_titles=observed,
        unparsed=tuple(unparsed),
        n_taxonomy_titles=known,
        alternatives=alternatives,
        aligned_share=aligned,
    )


def _title_first_headers(
    texts: list[str], start_re: re.Pattern[str], align: _Aligner | None
) -> list[str | None]:
    """The headers of title-first texts: what the texts share before their first titles.

    The first wave's match may begin inside a one-line header (its title is matched lazily
    from the left), so the header is found like the literal text between waves: the start
    that the texts share before an outcome, cut at a word's edge.
    """
    firsts = {}
    for i, text in enumerate(texts):
        m = start_re.search(text)
        if m is not None:
            firsts[i] = text[: m.end("t")] + "\x00"  # \x00 marks the first title's end
    if not firsts:
        return [None] * len(texts)
    raw = list(firsts.values())
    best, _ = _split_pieces([_abstract(f) for f in raw], raw, align)
    before = re.compile(_number_pattern(best.before))
    out: list[str | None] = [None] * len(texts)
    for i, first in firsts.items():
        m = before.match(first)
        out[i] = first[: m.end()] if m else None
    return out
