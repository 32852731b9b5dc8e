"""Resume templates: how a career is written as text, and what text each outcome continues with."""

from __future__ import annotations

import string
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .panel import CareerPanel
from .taxonomy import Taxonomy

__all__ = ["ResumeTemplate", "TemplateError", "PRESETS"]


class TemplateError(ValueError):
    """Raised when a template is malformed or cannot render a panel."""


_OUTCOME_FIELDS = ("title", "code")
_HEADER_OPTIONAL = ("birth_year", "characteristics")


def _fields(fmt: str, where: str) -> list[str]:
    """Names of the replacement fields of a format string, validated."""
    names = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise TemplateError(f"{where}: malformed format string {fmt!r}: {exc}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(f"{where}: field {{{name}}} in {fmt!r} must be a plain name")
        names.append(name)
    return names


def _value(v: Any) -> Any:
    """Python scalar for formatting: integer-valued floats print without ``.0``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


@dataclass(frozen=True)
class ResumeTemplate:
    """How a career is written as a text resume.

    A resume is the header lines, one line per observed wave, then the footer. Each wave's
    line is a format string containing exactly one outcome field, ``{title}`` or
    ``{code}``. The text before the outcome (with its trailing spaces removed) ends the
    *prompt*; the trailing spaces, the outcome and the rest of the line (which must end with
    a line break and contain no fields) form the *continuation* that is scored. The line
    break is part of the continuation, so "Cashiers" and "Cashiers and clerks" are
    distinct outcomes.

    Invariant: ``prompt + continuation`` of the observed outcome is a prefix of the
    person's full resume.

    Parameters
    ----------
    line : str
        Format of one wave. Fields: ``{year}`` (the panel's time value), ``{age}``
        (needs a declared birth year), any time-varying or static covariate, and one of
        ``{title}`` / ``{code}``.
    header : sequence of str
        Header lines (a line break is appended to each). Fields: ``{birth_year}``,
        ``{characteristics}`` (all static covariates as ``"name value, ..."``) and static
        covariate names. A line using ``{birth_year}`` or ``{characteristics}`` is left out
        for panels without a birth year or without static covariates.
    footer : str
        Text after the last wave (e.g. an end marker); not scored.
    name : str
        Name shown in summaries.

    Examples
    --------
    >>> t = ResumeTemplate(line="{year}: {title}\\n", name="mine")
    >>> t.continuation_text("Cashiers")
    ' Cashiers\\n'
    """

    line: str = "{year}: {title}\n"
    header: tuple[str, ...] = ()
    footer: str = ""
    name: str = "custom"
    _prefix: str = field(init=False, repr=False, compare=False)
    _lead: str = field(init=False, repr=False, compare=False)
    _suffix: str = field(init=False, repr=False, compare=False)
    _outcome: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.header, str):
            raise TemplateError("header must be a sequence of lines, not one string")
        object.__setattr__(self, "header", tuple(self.header))
        fields = _fields(self.line, "line")
        outcomes = [f for f in fields if f in _OUTCOME_FIELDS]
        if len(outcomes) != 1:
            raise TemplateError(
                f"line {self.line!r} must contain exactly one of {{title}} or {{code}}, "
                f"found {len(outcomes)}"
            )
        outcome = outcomes[0]
        prefix, _, suffix = self.line.partition("{" + outcome)
        suffix = suffix[suffix.index("}") + 1 :]
        if _fields(suffix, "line"):
            raise TemplateError(
                f"line {self.line!r}: no fields may follow {{{outcome}}}; the continuation "
                "must be the same text for every transition"
            )
        if not suffix.endswith("\n"):
            raise TemplateError(
                f"line {self.line!r} must end with a line break after {{{outcome}}}: the "
                "terminator marks where an outcome ends"
            )
        if suffix.count("\n") != 1 or "\n" in prefix:
            raise TemplateError(f"line {self.line!r} must be a single line ending in '\\n'")
        literal_before = prefix[len(prefix.rsplit("}", 1)[0]) + 1 :] if "}" in prefix else prefix
        lead = literal_before[len(literal_before.rstrip(" ")) :]
        for i, h in enumerate(self.header):
            if "\n" in h:
                raise TemplateError(f"header line {i} {h!r} contains a line break")
            _fields(h, f"header line {i}")
        _fields(self.footer, "footer")
        object.__setattr__(self, "_prefix", prefix[: len(prefix) - len(lead)])
        object.__setattr__(self, "_lead", lead)
        object.__setattr__(self, "_suffix", suffix)
        object.__setattr__(self, "_outcome", outcome)

    # -- presets ------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> ResumeTemplate:
        """A built-in template: ``"labor_llm"``, ``"labor_llm_numeric"`` or ``"plain"``.

        ``labor_llm`` is a reconstruction of the LABOR-LLM paper's resume format (a header
        with the birth year and demographics, one line per year with the job title, an
        end marker). A released checkpoint was trained on its authors' exact template:
        override this one to match it (see :class:`ResumeTemplate`).
        """
        try:
            return PRESETS[name]
        except KeyError:
            raise TemplateError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None

    @classmethod
    def coerce(cls, template: str | ResumeTemplate) -> ResumeTemplate:
        """Return ``template`` itself, or the preset it names."""
        return template if isinstance(template, ResumeTemplate) else cls.preset(template)

    # -- outcomes -----------------------------------------------------------------------------
    @property
    def outcome(self) -> Literal["title", "code"]:
        """Which taxonomy field the line writes: ``"title"`` or ``"code"``."""
        return self._outcome  # type: ignore[return-value]

    def continuation_text(self, outcome: Any) -> str:
        """The continuation scored for an outcome already written as text."""
        return f"{self._lead}{outcome}{self._suffix}"

    def continuation(self, code: Hashable, taxonomy: Taxonomy) -> str:
        """The continuation of occupation ``code``: lead spaces, title or code, terminator."""
        return self.continuation_text(self._outcome_text(code, taxonomy))

    def continuations(self, taxonomy: Taxonomy) -> list[str]:
        """The continuation of every taxonomy entry, in taxonomy order (the K candidates)."""
        # Distinct: titles are unique, and codes are unique and of one type.
        return [self.continuation(c, taxonomy) for c in taxonomy.codes]

    def _outcome_text(self, code: Hashable, taxonomy: Taxonomy) -> str:
        return taxonomy.title(code) if self.outcome == "title" else str(_value(code))

    # -- rendering ----------------------------------------------------------------------------
    def _header_text(self, panel: CareerPanel, person: pd.Series) -> str:
        values: dict[str, Any] = {c: _value(person[c]) for c in panel.static}
        if panel.birth_year:
            values["birth_year"] = _value(person[panel.birth_year])
        if panel.static:
            values["characteristics"] = ", ".join(f"{c} {values[c]}" for c in panel.static)
        lines = []
        for i, h in enumerate(self.header):
            names = _fields(h, f"header line {i}")
            absent = [n for n in names if n not in values]
            if any(n not in _HEADER_OPTIONAL for n in absent):
                raise TemplateError(
                    f"template {self.name!r}, header line {i}: field(s) "
                    f"{[n for n in absent if n not in _HEADER_OPTIONAL]} are not static "
                    f"covariates of the panel (static: {list(panel.static)})"
                )
            if not absent:
                lines.append(h.format(**values) + "\n")
        return "".join(lines)

    def _line_values(self, panel: CareerPanel, rows: pd.DataFrame) -> list[dict[str, Any]]:
        names = set(_fields(self.line, "line")) - set(_OUTCOME_FIELDS)
        allowed = {"year", *panel.varying, *panel.static}
        if panel.birth_year:
            allowed.add("age")
        unknown = sorted(names - allowed)
        if unknown:
            hint = " ({age} needs a birth_year column)" if "age" in unknown else ""
            raise TemplateError(
                f"template {self.name!r}: line field(s) {unknown} are not available for this "
                f"panel{hint}; available: {sorted(allowed)}"
            )
        cols = {"year": rows[panel.time].to_numpy()}
        for c in names & (set(panel.varying) | set(panel.static)):
            cols[c] = rows[c].to_numpy()
        if "age" in names:
            cols["age"] = rows[panel.time].to_numpy() - rows[panel.birth_year].to_numpy()
        return [{k: _value(v[i]) for k, v in cols.items()} for i in range(len(rows))]

    def _person_parts(
        self, panel: CareerPanel, rows: pd.DataFrame
    ) -> tuple[str, list[str], list[str]]:
        """Header, per-wave prompt ends (prefix without lead), per-wave full lines."""
        header = self._header_text(panel, rows.iloc[0])
        prefixes, lines = [], []
        codes = rows[panel.occupation].to_numpy()
        for values, code in zip(self._line_values(panel, rows), codes, strict=True):
            prefix = self._prefix.format(**values)
            prefixes.append(prefix)
            lines.append(prefix + self.continuation(_value(code), panel.taxonomy))
        return header, prefixes, lines

    def render(self, panel: CareerPanel, person: Hashable) -> str:
        """The full resume of one person."""
        header, _, lines = self._person_parts(panel, panel.history(person))
        return header + "".join(lines) + self.footer

    def resumes(self, panel: CareerPanel) -> pd.Series:
        """Full resumes of every person, indexed by person id."""
        return self.annotated_resumes(panel)["resume"]

    def annotated_resumes(self, panel: CareerPanel) -> pd.DataFrame:
        """Full resumes with the character spans of every wave's continuation.

        Returns
        -------
        pandas.DataFrame
            Indexed by person id; ``resume`` (str) and ``spans`` (list of ``(start, end)``
            character offsets of each wave's continuation: what fine-tuning on titles only
            trains on and what scoring evaluates).
        """
        texts, spans, ids = [], [], []
        for pid, rows in panel.data.groupby(panel.id, sort=False):
            header, prefixes, lines = self._person_parts(panel, rows)
            offset, person_spans = len(header), []
            for prefix, line in zip(prefixes, lines, strict=True):
                person_spans.append((offset + len(prefix), offset + len(line)))
                offset += len(line)
            ids.append(pid)
            texts.append(header + "".join(lines) + self.footer)
            spans.append(person_spans)
        index = pd.Index(ids, name=panel.id)
        return pd.DataFrame({"resume": texts, "spans": spans}, index=index)

    def prompts(self, panel: CareerPanel, include_first: bool = False) -> pd.Series:
        """The prompt of every transition, aligned with ``panel.transitions(include_first)``.

        The prompt holds the header, every earlier wave's full line, and the current wave's
        line up to the outcome (trailing spaces excluded: they start the continuation).
        """
        values, index = [], []
        for pid, rows in panel.data.groupby(panel.id, sort=False):
            header, prefixes, lines = self._person_parts(panel, rows)
            text = header
            times = rows[panel.time].tolist()
            for j, (prefix, line) in enumerate(zip(prefixes, lines, strict=True)):
                if j > 0 or include_first:
                    values.append(text + prefix)
                    index.append((pid, times[j]))
                text += line
        idx = pd.MultiIndex.from_tuples(index, names=[panel.id, panel.time])
        return pd.Series(values, index=idx, name="prompt", dtype=object)


PRESETS: dict[str, ResumeTemplate] = {
    "labor_llm": ResumeTemplate(
        header=(
            "The following information is available about the work history of a US worker.",
            "The worker was born in {birth_year}.",
            "Characteristics: {characteristics}.",
            "The worker has the following records of work experience, one entry per line, "
            "with the year and the job title:",
        ),
        line="{year}: {title}\n",
        footer="<END OF DATA>\n",
        name="labor_llm",
    ),
    "labor_llm_numeric": ResumeTemplate(
        header=(
            "The following information is available about the work history of a US worker.",
            "The worker was born in {birth_year}.",
            "Characteristics: {characteristics}.",
            "The worker has the following records of work experience, one entry per line, "
            "with the year and the occupation code:",
        ),
        line="{year}: {code}\n",
        footer="<END OF DATA>\n",
        name="labor_llm_numeric",
    ),
    "plain": ResumeTemplate(line="{year}: {title}\n", name="plain"),
}
