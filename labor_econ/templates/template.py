"""Resume templates: how a career is written as text, and what text each outcome continues with."""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..panel import CareerPanel
from ..taxonomy import Taxonomy
from .errors import TemplateError
from .inference import TemplateGuess, infer_from_texts

__all__ = ["PRESETS", "ParsedResume", "ResumeTemplate", "TemplateError", "infer_template"]

_OUTCOME_FIELDS = ("title", "code")
_HEADER_OPTIONAL = ("birth_year", "characteristics")
_TEXT_OPTIONS = ("separator", "header_separator")
_JSON_FORMAT = "labor_econ.ResumeTemplate"
_JSON_VERSION = 1
_JSON_FIELDS = ("name", "header", "line", "separator", "header_separator", "footer")


MAX_SPEC_NUMBER = 100
"""Largest width or precision a field's format spec may ask for (``{hours:>100}``): a template
read from a checkpoint's files could otherwise write megabytes per wave."""
MAX_JSON_BYTES = 1_000_000
"""Largest template JSON file :meth:`ResumeTemplate.load` reads."""
# The format-spec mini-language of str.format for the built-in types.
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?"
)


def _check_spec(name: str, spec: str, fmt: str, where: str) -> None:
    """Refuse a format spec outside the mini-language, or with a huge width or precision."""
    m = _SPEC.fullmatch(spec)
    if m is None:
        raise TemplateError(
            f"{where}: field {{{name}:{spec}}} in {fmt!r} has a format spec outside Python's "
            "format mini-language"
        )
    for part in ("width", "precision"):
        value = m.group(part)
        if value and int(value) > MAX_SPEC_NUMBER:
            raise TemplateError(
                f"{where}: field {{{name}:{spec}}} in {fmt!r} asks for {part} {int(value)}; at "
                f"most {MAX_SPEC_NUMBER} is allowed"
            )


def _fields(fmt: str, where: str) -> list[str]:
    """Names of the replacement fields of a format string, validated.

    A field is a plain name with at most a literal format spec (``{hours:.1f}``): no
    attribute or index access, no conversion (``!r``), and no field nested in the spec
    (``{year:{extra.token}}`` would read an attribute of a data value at render time).
    """
    names = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise TemplateError(f"{where}: malformed format string {fmt!r}: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(f"{where}: field {{{name}}} in {fmt!r} must be a plain name")
        if conversion is not None:
            raise TemplateError(
                f"{where}: field {{{name}!{conversion}}} in {fmt!r}: conversions are not "
                "allowed; write the plain field"
            )
        if spec and ("{" in spec or "}" in spec):
            raise TemplateError(
                f"{where}: field {{{name}:{spec}}} in {fmt!r} has a field inside its format "
                "spec; only literal specs such as {hours:.1f} are allowed"
            )
        if spec:
            _check_spec(name, spec, fmt, where)
        names.append(name)
    return names


def _breaks_line(text: str) -> bool:
    """Whether `text` holds a character that starts a new line (``\n``, ``\r``, ``\u2028``...)."""
    return len((text + "x").splitlines()) > 1


_NUMBER_FIELDS = ("year", "age", "birth_year", "code")


def _pattern(fmt: str, named: bool, seen: set[str]) -> str:
    """A regular expression matching what `fmt` renders; fields become (named) groups.

    Numbers (year, age, birth year, code) match digits; other fields any text on one line.
    A field already captured (in `seen`) must repeat its value. A text field followed by
    literal text ends at the first occurrence of that text: a lazy ``[^\\n]*?`` per field
    would let the regex engine try every split of a line among several fields (hours on a
    few thousand characters with four fields), this way parsing stays linear in the length.
    """
    out = []
    parsed = list(string.Formatter().parse(fmt))
    for i, (literal, name, _, _) in enumerate(parsed):
        out.append(re.escape(literal))
        if name is None:
            continue
        after = parsed[i + 1][0] if i + 1 < len(parsed) else ""
        if name in _NUMBER_FIELDS:
            body = r"-?\d+"
        elif after:
            body = f"(?:(?!{re.escape(after)})[^\\n])*"
        else:
            body = r"[^\n]*?"
        if not named:
            out.append(f"(?:{body})")
        elif name in seen:
            out.append(f"(?P={name})")
        else:
            seen.add(name)
            out.append(f"(?P<{name}>{body})")
    return "".join(out)


@dataclass(frozen=True)
class ParsedResume:
    """The values read back from one resume by :meth:`ResumeTemplate.parse`.

    Attributes
    ----------
    header : dict of str to str
        Header fields (``birth_year``, ``characteristics``, static covariates) as written.
    waves : list of dict of str to str
        Per wave, its fields as written: ``year``, ``age``, covariates, and the outcome
        (``title`` or ``code``).

    Examples
    --------
    >>> from labor_econ import ResumeTemplate
    >>> from labor_econ.datasets import wage_panel
    >>> panel = wage_panel()
    >>> template = ResumeTemplate.preset("labor_llm")
    >>> parsed = template.parse(template.render(panel, panel.persons[0]))
    >>> parsed.header
    {'characteristics': 'black 0, hisp 0, educ 14'}
    >>> parsed.pairs()[:2]
    [(1980, 'Service workers'), (1981, 'Service workers')]
    """

    header: dict[str, str]
    waves: list[dict[str, str]]

    def pairs(self, outcome: str = "title") -> list[tuple[int, str]]:
        """``[(year, title), ...]`` (or codes), years as integers."""
        return [(int(w["year"]), w[outcome]) for w in self.waves if "year" in w]


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

    A resume is the header, the waves joined by a separator, then the footer::

        header line + header_separator + ... + wave + separator + wave + ... + wave + footer

    Each wave is ``line`` formatted with the wave's values. ``line`` contains exactly one
    outcome field, ``{title}`` or ``{code}``, followed by a fixed *terminator* (a line
    break, ``"."``, ``";"``, ``" |"``, ...; no fields). The text before the outcome (with
    its trailing spaces removed) ends the *prompt*; the trailing spaces, the outcome and the
    terminator form the *continuation* that is scored, so ``" Waiter."`` and
    ``" Waiters."`` are distinct outcomes. The separator between waves is not scored: it
    starts the next wave's prompt.

    Invariant: ``prompt + continuation`` of the observed outcome is a prefix of the
    person's full resume.

    Data rules: a covariate value or title written into a resume may not contain a line
    break nor the wave boundary (terminator + separator, e.g. ``". "`` for sentences):
    either would write a fake wave. Rendering raises :class:`TemplateError` naming the
    person, year and column (or the taxonomy code). Fields are plain names with at most a
    literal format spec; conversions (``{year!r}``) and fields nested in specs are refused.

    :meth:`parse` reads a resume back; :meth:`infer` learns the template from resumes a
    checkpoint wrote; :meth:`save` / :meth:`load` keep it as JSON.

    Parameters
    ----------
    line : str
        Format of one wave, on one line (a line break may only end it). Fields:
        ``{year}`` (the panel's time value), ``{age}`` (needs a declared birth year), any
        time-varying or static covariate, and one of ``{title}`` / ``{code}``, which must
        be followed by a non-empty terminator without fields. Fields may come after the
        terminator (title-first formats such as ``"{title} ({year});"``, terminator
        ``" ("``) when it holds a non-space character; no title may then contain it. Spaces
        at the end of such a terminator start the text after it (``"{title} : {year};"``
        has terminator ``" :"``).
    header : sequence of str
        Header lines, each followed by `header_separator`. Fields: ``{birth_year}``,
        ``{characteristics}`` (all static covariates as ``"name value, ..."``) and static
        covariate names. A line using ``{birth_year}`` or ``{characteristics}`` is left out
        for panels without a birth year or without static covariates.
    footer : str
        Text written right after the last wave's terminator (e.g. an end marker); not
        scored.
    name : str
        Name shown in summaries.
    separator : str, optional
        Text between two waves. Default: nothing when the terminator ends with a line break
        (one wave per line), else a space (sentences on one line).
    header_separator : str, optional
        Text after each header line. Default: the separator when it is not empty (so a
        header sentence joins the first wave as the waves join each other), else a line
        break.

    Attributes
    ----------
    terminator : str
        The fixed text after the outcome; the end of every continuation.
    separator, header_separator : str
        As resolved from the parameters.

    Examples
    --------
    >>> t = ResumeTemplate(line="{year}: {title}\\n", name="mine")
    >>> t.continuation_text("Cashiers")
    ' Cashiers\\n'
    >>> card = ResumeTemplate.preset("model_card")
    >>> card.line, card.separator, card.terminator
    ('In {year}, works as a {title}.', ' ', '.')
    """

    line: str = "{year}: {title}\n"
    header: tuple[str, ...] = ()
    footer: str = ""
    name: str = "custom"
    separator: str | None = None
    header_separator: str | None = None
    _prefix: str = field(init=False, repr=False, compare=False)
    _lead: str = field(init=False, repr=False, compare=False)
    _suffix: str = field(init=False, repr=False, compare=False)
    _tail: str = field(init=False, repr=False, compare=False)
    _outcome: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.header, str):
            raise TemplateError("header must be a sequence of lines, not one string")
        object.__setattr__(self, "header", tuple(self.header))
        for attr in ("line", "footer", "name", *_TEXT_OPTIONS):
            value = getattr(self, attr)
            if not (isinstance(value, str) or (attr in _TEXT_OPTIONS and value is None)):
                raise TemplateError(f"{attr} must be a string, got {type(value).__name__}")
        bad_header = [i for i, h in enumerate(self.header) if not isinstance(h, str)]
        if bad_header:
            raise TemplateError(f"header lines {bad_header} are not strings")
        fields = _fields(self.line, "line")
        outcomes = [f for f in fields if f in _OUTCOME_FIELDS]
        if len(outcomes) != 1:
            raise TemplateError(
                f"line {self.line!r} must contain exactly one of {{title}} or {{code}}, "
                f"found {len(outcomes)}"
            )
        outcome = outcomes[0]
        prefix, _, suffix = self.line.partition("{" + outcome)
        if not suffix.startswith("}"):
            raise TemplateError(
                f"line {self.line!r}: write {{{outcome}}} without a format spec; the outcome "
                "is written exactly as the taxonomy spells it"
            )
        suffix = suffix[1:]
        # Fields may follow the outcome (title-first formats such as "{title} ({year});"):
        # the literal text up to the first of them is the terminator, the rest the tail.
        tail = ""
        if _fields(suffix, "line"):
            literal = next(iter(string.Formatter().parse(suffix)))[0]
            split = len(literal.replace("{", "{{").replace("}", "}}"))
            suffix, tail = suffix[:split], suffix[split:]
            # Spaces before the next field start the tail, not the continuation: a
            # continuation ending in a bare space ("Cooks : ") is a token no checkpoint
            # writes (it saw " 1981", the space joined to the year).
            spaces = len(suffix) - len(suffix.rstrip(" "))
            if spaces and suffix.strip():
                suffix, tail = suffix[: len(suffix) - spaces], suffix[len(suffix) - spaces :] + tail
            if not suffix.strip():
                raise TemplateError(
                    f"line {self.line!r}: no fields may follow {{{outcome}}} directly or after "
                    "spaces only; write a terminator with a non-space character between them "
                    "(such as ' (' in '{title} ({year});'): it marks where an outcome ends"
                )
        if not suffix:
            raise TemplateError(
                f"line {self.line!r} must end with a line break or other fixed terminator "
                f"after {{{outcome}}} (such as '.', ';' or ' |'; or text such as ' (' before "
                "further fields): the terminator marks where an outcome ends"
            )
        suffix = suffix.replace("{{", "{").replace("}}", "}")
        if "\n" in prefix or "\n" in suffix[:-1] or "\n" in tail[:-1] or tail and "\n" in suffix:
            raise TemplateError(
                f"line {self.line!r} must be a single line: a line break may only end it"
            )
        literal_before = prefix[len(prefix.rsplit("}", 1)[0]) + 1 :] if "}" in prefix else prefix
        lead = literal_before[len(literal_before.rstrip(" ")) :]
        for i, h in enumerate(self.header):
            if "\n" in h:
                raise TemplateError(f"header line {i} {h!r} contains a line break")
            _fields(h, f"header line {i}")
        if _fields(self.footer, "footer"):
            raise TemplateError(
                f"footer {self.footer!r} is written as is after the last wave: it may not "
                "contain fields"
            )
        if self.separator is None:
            object.__setattr__(self, "separator", "" if suffix.endswith("\n") else " ")
        if self.header_separator is None:
            object.__setattr__(self, "header_separator", self.separator or "\n")
        object.__setattr__(self, "_prefix", prefix[: len(prefix) - len(lead)])
        object.__setattr__(self, "_lead", lead)
        object.__setattr__(self, "_suffix", suffix)
        object.__setattr__(self, "_tail", tail)
        object.__setattr__(self, "_outcome", outcome)

    @property
    def terminator(self) -> str:
        """The fixed text after the outcome (``"\\n"``, ``"."``, ...): ends every continuation."""
        return self._suffix

    @property
    def boundary(self) -> str:
        """The text that ends one wave and starts the next: terminator + separator.

        For a line with fields after the outcome (``"{title} ({year});"``), the terminator
        alone: it is what no title may contain.
        """
        return self._suffix + (self.separator if not self._tail else "")

    # -- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The template as a JSON-ready dict (see :meth:`from_dict`)."""
        return {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "name": self.name,
            "header": list(self.header),
            "line": self.line,
            "separator": self.separator,
            "header_separator": self.header_separator,
            "footer": self.footer,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResumeTemplate:
        """The template written by :meth:`to_dict`.

        Raises
        ------
        TemplateError
            If `d` is not a mapping, has unknown or missing keys, a newer version, or
            describes a malformed template.
        """
        if not isinstance(d, Mapping):
            raise TemplateError(f"a template dict must be a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - {"format", "version", *_JSON_FIELDS})
        if unknown:
            raise TemplateError(
                f"unknown template keys {unknown}; expected some of "
                f"{['format', 'version', *_JSON_FIELDS]}"
            )
        if "line" not in d:
            raise TemplateError("the template dict has no 'line' (the format of one wave)")
        if d.get("format", _JSON_FORMAT) != _JSON_FORMAT:
            raise TemplateError(f"format is {d['format']!r}, expected {_JSON_FORMAT!r}")
        version = d.get("version", _JSON_VERSION)
        if not isinstance(version, int) or version > _JSON_VERSION:
            raise TemplateError(
                f"template version {version!r} is newer than this library reads "
                f"({_JSON_VERSION}); upgrade labor_econ"
            )
        header = d.get("header", ())
        if isinstance(header, str) or not isinstance(header, list | tuple):
            raise TemplateError(f"header must be a list of lines, got {header!r}")
        return cls(**{k: d[k] for k in _JSON_FIELDS if k in d and k != "header"}, header=header)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the template as JSON to `path`."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ResumeTemplate:
        """Read a template written by :meth:`save`.

        Raises
        ------
        TemplateError
            If the file is not UTF-8 JSON, is larger than ``MAX_JSON_BYTES``, is nested too
            deeply, or does not describe a template (the message names the file).
        FileNotFoundError
            If `path` does not exist.
        """
        size = Path(path).stat().st_size
        if size > MAX_JSON_BYTES:
            raise TemplateError(
                f"{path}: {size} bytes is too large for a template file (at most {MAX_JSON_BYTES})"
            )
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: not a JSON template file: {exc}") from None
        except RecursionError:
            raise TemplateError(
                f"{path}: not a template file: its JSON is nested too deeply (a template is "
                "one flat object)"
            ) from None
        try:
            return cls.from_dict(d)
        except TemplateError as exc:
            raise TemplateError(f"{path}: {exc}") from None

    # -- presets ------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> ResumeTemplate:
        """A built-in template: ``"labor_llm"``, ``"labor_llm_numeric"``, ``"plain"`` or
        ``"model_card"``.

        ``labor_llm`` is a reconstruction of the LABOR-LLM paper's resume format (a header
        with the birth year and demographics, one line per year with the job title, an
        end marker). ``model_card`` is the sentence format of the released checkpoints'
        model card (``Born in 1980. In 2002, works as a Waiter. In 2003, works as a``). A
        released checkpoint was trained on its authors' exact template: infer it from the
        checkpoint's own samples (:meth:`infer`) or override these to match it.
        """
        try:
            return PRESETS[name]
        except KeyError:
            raise TemplateError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None

    @classmethod
    def coerce(
        cls, template: str | os.PathLike[str] | Mapping[str, Any] | ResumeTemplate
    ) -> ResumeTemplate:
        """Return ``template`` itself, the preset it names, the JSON file it points to
        (a path ending in ``.json``), or the template a :meth:`to_dict` dict describes."""
        if isinstance(template, ResumeTemplate):
            return template
        if isinstance(template, Mapping):
            return cls.from_dict(template)
        if isinstance(template, os.PathLike) or (
            isinstance(template, str) and template.endswith(".json")
        ):
            return cls.load(template)
        return cls.preset(template)

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
        """The continuation of every taxonomy entry, in taxonomy order (the K candidates).

        Raises
        ------
        TemplateError
            If a title contains a line break or the wave boundary (see :meth:`render`).
        """
        # Distinct: titles are unique, and codes are unique and of one type.
        out = []
        for c in taxonomy.codes:
            text = self._outcome_text(c, taxonomy)
            self._check_value(text, f"taxonomy code {_value(c)!r}, {self.outcome}")
            out.append(self.continuation_text(text))
        return out

    def _outcome_text(self, code: Hashable, taxonomy: Taxonomy) -> str:
        return taxonomy.title(code) if self.outcome == "title" else str(_value(code))

    def _check_value(self, value: Any, where: str) -> None:
        """Refuse data text that would end a wave or a line early (a fake wave in the resume)."""
        text = str(value)
        if _breaks_line(text):
            problem = "a line break"
        elif self.boundary.strip() and self.boundary in text:
            problem = f"the wave boundary {self.boundary!r} (terminator + separator)"
        else:
            return
        raise TemplateError(
            f"{where}: value {text!r} contains {problem} of template {self.name!r}, which "
            "would write a fake wave into the resume; clean the value or choose a template "
            "whose terminator and separator do not occur in the data"
        )

    # -- rendering ----------------------------------------------------------------------------
    def _header_text(self, panel: CareerPanel, rows: pd.DataFrame) -> str:
        person = rows.iloc[0]
        values: dict[str, Any] = {c: _value(person[c]) for c in panel.static}
        if panel.birth_year:
            values["birth_year"] = _value(person[panel.birth_year])
        if panel.static:
            values["characteristics"] = ", ".join(f"{c} {values[c]}" for c in panel.static)
        columns = {c: c for c in panel.static}
        columns["birth_year"] = panel.birth_year
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
            if absent:
                continue
            used = panel.static if "characteristics" in names else []
            for n in dict.fromkeys([*names, *used]):
                if n != "characteristics":
                    self._check_value(
                        values[n],
                        f"person {_value(person[panel.id])!r}, year "
                        f"{_value(person[panel.time])!r}, column {columns[n]!r}",
                    )
            lines.append(h.format(**values) + self.header_separator)
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
        out = [{k: _value(v[i]) for k, v in cols.items()} for i in range(len(rows))]
        pids, times = rows[panel.id].to_numpy(), cols["year"]
        for c in names & (set(panel.varying) | set(panel.static)):
            for i, values in enumerate(out):
                self._check_value(
                    values[c],
                    f"person {_value(pids[i])!r}, year {_value(times[i])!r}, column {c!r}",
                )
        return out

    def _person_parts(
        self, panel: CareerPanel, rows: pd.DataFrame
    ) -> tuple[str, list[str], list[str], list[str]]:
        """Header, per-wave prompt ends (prefix without lead), full lines, and the text of each
        line after its continuation (fields after the outcome; usually empty)."""
        header = self._header_text(panel, rows)
        prefixes, lines, tails = [], [], []
        codes = rows[panel.occupation].to_numpy()
        pids, times = rows[panel.id].to_numpy(), rows[panel.time].to_numpy()
        for i, (values, code) in enumerate(zip(self._line_values(panel, rows), codes, strict=True)):
            prefix = self._prefix.format(**values)
            prefixes.append(prefix)
            outcome = self._outcome_text(_value(code), panel.taxonomy)
            self._check_value(
                outcome,
                f"person {_value(pids[i])!r}, year {_value(times[i])!r}, column "
                f"{panel.occupation!r} (code {_value(code)!r}, {self.outcome})",
            )
            tails.append(self._tail.format(**values))
            lines.append(prefix + self.continuation_text(outcome) + tails[-1])
        return header, prefixes, lines, tails

    def render(self, panel: CareerPanel, person: Hashable) -> str:
        """The full resume of one person."""
        header, _, lines, _ = self._person_parts(panel, panel.history(person))
        return header + self.separator.join(lines) + self.footer

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
            header, prefixes, lines, tails = self._person_parts(panel, rows)
            offset, person_spans = len(header), []
            for prefix, line, tail in zip(prefixes, lines, tails, strict=True):
                person_spans.append((offset + len(prefix), offset + len(line) - len(tail)))
                offset += len(line) + len(self.separator)
            ids.append(pid)
            texts.append(header + self.separator.join(lines) + self.footer)
            spans.append(person_spans)
        index = pd.Index(ids, name=panel.id)
        return pd.DataFrame({"resume": texts, "spans": spans}, index=index)

    def prompts(self, panel: CareerPanel, include_first: bool = False) -> pd.Series:
        """The prompt of every transition, aligned with ``panel.transitions(include_first)``.

        The prompt holds the header, every earlier wave with its separator, and the current
        wave up to the outcome (trailing spaces excluded: they start the continuation).
        """
        values, index = [], []
        for pid, rows in panel.data.groupby(panel.id, sort=False):
            header, prefixes, lines, _ = self._person_parts(panel, rows)
            text = header
            times = rows[panel.time].tolist()
            for j, (prefix, line) in enumerate(zip(prefixes, lines, strict=True)):
                if j > 0 or include_first:
                    values.append(text + prefix)
                    index.append((pid, times[j]))
                text += line + self.separator
        idx = pd.MultiIndex.from_tuples(index, names=[panel.id, panel.time])
        return pd.Series(values, index=idx, name="prompt", dtype=object)

    def wave_starts(self, prompts: Sequence[str]) -> list[int]:
        """Where the last wave of each prompt starts (character offsets).

        The offset follows the previous wave's terminator (so the last wave's text begins
        with the separator) or the prompt's last line break, whichever is later; 0 when the
        prompt has neither. Pass them as ``CandidateScorer.score(..., starts=...)``: the
        scorer caches candidate tokenizations per last-wave text, which one-line (sentence)
        resumes need.
        """
        out = []
        for p in prompts:
            stop = max(len(p) - 1, 0)
            at = p.rfind(self.boundary, 0, stop)
            start = at + len(self.terminator) if at >= 0 else 0
            out.append(max(start, p.rfind("\n", 0, stop) + 1))
        return out

    # -- reading resumes back ---------------------------------------------------------------------
    def parse(self, text: str) -> ParsedResume:
        """Read the header values and every wave's values back from a resume.

        The inverse of :meth:`render`: the whole text must be the header, waves joined by the
        separator, and the footer, and ages must equal year minus birth year.

        Raises
        ------
        TemplateError
            Saying where the text stops following the template.
        """
        if not isinstance(text, str):
            raise TemplateError(f"a resume must be a string, got {type(text).__name__}")
        header_re, wave_re = self._parsers()
        m = header_re.match(text)
        if m is None:
            bare = self._parsers(first_wave=False)[0].match(text)
            if bare:
                raise TemplateError(
                    f"wave 1 at character {bare.end()} does not follow template "
                    f"{self.name!r}: {text[bare.end() : bare.end() + 60]!r}"
                )
            raise TemplateError(f"the header does not follow template {self.name!r}")
        header = {k: v for k, v in m.groupdict().items() if v is not None}
        pos, waves = m.end(), []
        while True:
            w = wave_re.match(text, pos)
            if w is None:
                raise TemplateError(
                    f"wave {len(waves) + 1} at character {pos} does not follow template "
                    f"{self.name!r}: {text[pos : pos + 60]!r}"
                )
            waves.append(w.groupdict())
            pos = w.end()
            if text[pos:] == self.footer:
                break
            if not text.startswith(self.separator, pos) or not self.separator and pos == len(text):
                raise TemplateError(
                    f"after wave {len(waves)} (character {pos}) the text neither continues with "
                    f"the separator nor ends with the footer: {text[pos : pos + 60]!r}"
                )
            pos += len(self.separator)
        birth = header.get("birth_year")
        for j, wave in enumerate(waves):
            if birth is not None and "age" in wave and "year" in wave:
                if int(wave["year"]) - int(birth) != int(wave["age"]):
                    raise TemplateError(
                        f"wave {j + 1}: age {wave['age']} is not year {wave['year']} minus "
                        f"birth year {birth}"
                    )
        return ParsedResume(header, waves)

    def _parsers(self, first_wave: bool = True) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """(header, wave) regexes; the header's must be followed by a wave unless told not."""
        cached = self.__dict__.get("_parser_cache")
        if cached is not None and first_wave:
            return cached
        header_seen: set[str] = set()
        parts = []
        for h in self.header:
            body = _pattern(h, True, header_seen) + re.escape(self.header_separator)
            optional = any(n in _HEADER_OPTIONAL for n in _fields(h, "header"))
            parts.append(f"(?:{body})?" if optional else body)
        first = f"(?={_pattern(self._prefix, False, set())})" if first_wave else ""
        header_re = re.compile("".join(parts) + first, re.DOTALL)
        nxt = re.escape(self.separator) + _pattern(self._prefix, False, set())
        seen: set[str] = set()
        wave = (
            _pattern(self._prefix, True, seen)
            + re.escape(self._lead)
            + f"(?P<{self._outcome}>[^\\n]+?)"
            + re.escape(self._suffix)
            + _pattern(self._tail, True, seen | {self._outcome})
            + f"(?=(?:{nxt})|{re.escape(self.footer)}\\Z)"
        )
        parsers = (header_re, re.compile(wave, re.DOTALL))
        if first_wave:
            object.__setattr__(self, "_parser_cache", parsers)
        return parsers

    @classmethod
    def infer(cls, texts: Sequence[str], *, taxonomy: Taxonomy | None = None) -> TemplateGuess:
        """Infer the template that wrote `texts` (e.g. resumes sampled from a checkpoint).

        Parameters
        ----------
        texts : sequence of str
            Resumes written in one format; a minority may be truncated or malformed.
        taxonomy : Taxonomy, optional
            The occupations the texts should name (reports how many it spells the same).

        Returns
        -------
        TemplateGuess
            The template, how many texts it parses back exactly, its parts, and the
            outcome strings seen with their counts. See
            :func:`labor_econ.templates.infer_template` for the method.

        Examples
        --------
        >>> guess = ResumeTemplate.infer([
        ...     "Born in 1980. In 2002, works as a Waiter. In 2003, works as a Cook.",
        ...     "Born in 1975. In 1999, works as a Cook. In 2001, works as a Cook.",
        ... ])
        >>> guess.template.line, guess.template.header, guess.n_parsed
        ('In {year}, works as a {title}.', ('Born in {birth_year}.',), 2)
        """
        return infer_from_texts(texts, cls, taxonomy=taxonomy)


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
    "model_card": ResumeTemplate(
        header=("Born in {birth_year}.",),
        line="In {year}, works as a {title}.",
        separator=" ",
        name="model_card",
    ),
}


def infer_template(texts: Sequence[str], *, taxonomy: Taxonomy | None = None) -> TemplateGuess:
    """Infer the template that wrote `texts`; the same as :meth:`~labor_econ.ResumeTemplate.infer`.

    Waves are found by their years; the text between consecutive years holds one outcome,
    and the literal text around it is what most such pieces share, cut at word edges where
    that aligns the outcomes better with `taxonomy`'s titles. Whether the outcome follows or
    precedes the year is read from the first and last waves; ``{age}``, ``{birth_year}`` and
    ``{characteristics}`` are recognised by their numbers. Malformed texts (a minority) are
    counted as not parsed.

    Raises
    ------
    TemplateError
        When no wave structure is found, or the texts cannot separate titles from template
        text (one outcome throughout and no taxonomy; outcomes unlike the taxonomy's
        titles): the message says what to do.

    Examples
    --------
    >>> from labor_econ.templates import infer_template
    >>> texts = ["1990: Cashiers\\n1991: Cashiers\\n1993: Retail sales clerks\\n",
    ...          "2001: Retail sales clerks\\n2002: Cashiers\\n"]
    >>> guess = infer_template(texts)
    >>> guess.template.line, guess.n_parsed, guess.n_texts
    ('{year}: {title}\\n', 2, 2)
    """
    return ResumeTemplate.infer(texts, taxonomy=taxonomy)
