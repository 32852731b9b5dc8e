"""Occupation taxonomies: an ordered, validated mapping between occupation codes and titles."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import TaxonomyError

__all__ = ["Taxonomy", "TaxonomyError", "occ1990", "wage_panel_1970"]


def _normalize_code(code: Any, where: str) -> Hashable:
    """Return ``code`` as a plain Python int or str; reject anything else.

    Integer-valued floats (as read from CSV/Stata files with missing values) become ints;
    any other float is an error, since silently truncating a code would recode it.
    """
    if isinstance(code, bool | np.bool_):
        raise TaxonomyError(f"{where}: occupation code {code!r} is a boolean, not a code")
    if isinstance(code, int | np.integer | float | np.floating):
        if isinstance(code, float | np.floating) and not (
            np.isfinite(code) and float(code).is_integer()
        ):
            raise TaxonomyError(f"{where}: occupation code {code!r} is not an integer")
        if not -(2**63) <= int(code) < 2**63:
            raise TaxonomyError(
                f"{where}: occupation code {code!r} is outside the 64-bit integer range"
            )
        return int(code)
    if isinstance(code, str):
        if not code.strip():
            raise TaxonomyError(f"{where}: occupation code is an empty string")
        return code
    raise TaxonomyError(
        f"{where}: occupation code {code!r} has type {type(code).__name__}; use int or str"
    )


#: Largest non-missing Stata ``long``; value-label keys above it are ``.`` and ``.a``-``.z``.
STATA_MAX_LONG = 2_147_483_620


def _is_stata_missing_label(key: Any) -> bool:
    return isinstance(key, int | np.integer) and key > STATA_MAX_LONG


def _preview(items: Iterable[Any], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


FUZZY_CUTOFF = 0.6
"""Default least similarity of a fuzzy title match (see :meth:`Taxonomy.match_titles`)."""


def _fold(title: str) -> str:
    """A title compared without case and with single spaces."""
    return " ".join(title.casefold().split())


def _similarity(a: str, b: str, cutoff: float) -> float:
    """Similarity in [0, 1] of two titles: difflib's ratio, as is or with words sorted.

    Returns 0 when a cheap upper bound shows it is below `cutoff` (pairs that cannot match).
    """
    from difflib import SequenceMatcher

    a, b = _fold(a), _fold(b)
    best = 0.0
    for x, y in ((a, b), (" ".join(sorted(a.split())), " ".join(sorted(b.split())))):
        matcher = SequenceMatcher(None, x, y, autojunk=False)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            best = max(best, matcher.ratio())
    return best


_PUNCTUATION = re.compile(r"[^\w\s]+")


def title_variant(title: str) -> str:
    """A title's spelling-free key: case folded, "&" read as "and", punctuation dropped and
    each word's plural "s" removed, so that ``"Farm Laborers & Foremen"`` and ``"farm-laborer
    and foremen"`` have the same key."""
    words = _PUNCTUATION.sub(" ", title.casefold().replace("&", " and ")).split()
    return " ".join(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words
    )


def title_similarity(a: str, b: str, cutoff: float = 0.0) -> float:
    """Similarity in [0, 1] of two spellings of a title: 1 for the same :func:`title_variant`,
    else the largest of the fuzzy similarity of :meth:`Taxonomy.match_titles` (difflib's
    ratio, as is or with words sorted) of the titles and of their variants, and
    ``ABBREVIATION_SIMILARITY`` (0.8) when one shortens the other (:func:`_abbreviates`).
    Fuzzy similarities that a cheap bound shows to be below `cutoff` are returned as 0."""
    va, vb = title_variant(a), title_variant(b)
    if va == vb:
        return 1.0
    if _abbreviates(va, vb):
        return max(ABBREVIATION_SIMILARITY, _similarity(a, b, ABBREVIATION_SIMILARITY))
    return max(_similarity(a, b, cutoff), _similarity(va, vb, cutoff))


ABBREVIATION_SIMILARITY = 0.8
"""Similarity of a title to one it shortens (see :func:`title_similarity`)."""


def _abbreviates(a: str, b: str) -> bool:
    """Whether one variant shortens the other: its words begin the other's words, in order,
    starting with the first (``"retail"`` or ``"ret sale"`` for ``"retail sale clerk"``)."""
    short, long = sorted((a.split(), b.split()), key=len)
    if not short or short == long:
        return False
    return all(w.startswith(s) for s, w in zip(short, long, strict=False)) and len(short[0]) >= 3


def _title_counts(observed: Any) -> dict[str, float]:
    """Observed titles with their counts, from a Series of counts or an iterable of titles."""
    if isinstance(observed, str):
        raise TypeError("observed must be titles (a Series of counts or a list), not one string")
    if isinstance(observed, pd.Series):
        items = list(observed.items())
        bad = [v for _, v in items if not (np.isscalar(v) and np.isreal(v) and v >= 0)]
        if bad:
            raise ValueError(f"observed counts must be non-negative numbers; got {_preview(bad)}")
    elif isinstance(observed, Iterable):
        items = [(t, 1) for t in observed]
    else:
        raise TypeError(
            f"observed must be titles (a Series of counts or a list), got {type(observed).__name__}"
        )
    counts: dict[str, float] = {}
    for title, n in items:
        if not isinstance(title, str):
            raise TypeError(f"observed title {title!r} is a {type(title).__name__}, not a string")
        counts[title] = counts.get(title, 0) + (n.item() if isinstance(n, np.generic) else n)
    return counts


class Taxonomy:
    """An ordered list of occupations, each with a unique code and a unique title.

    The order is the column order of every prediction matrix. Titles are the text a
    language model reads and writes, so they must be non-empty single-line strings
    without surrounding whitespace.

    Parameters
    ----------
    codes : iterable of int or str
        Occupation codes, unique. Integer-valued floats are accepted and stored as int.
    titles : iterable of str
        Titles in the same order as ``codes``, unique and non-empty.
    name : str, optional
        A short name shown in summaries (e.g. ``"occ1990"``).
    special : iterable, optional
        Codes that are states rather than jobs (unemployed, not in the labor force, ...).
        They must be among ``codes``.

    Raises
    ------
    TaxonomyError
        If the lists differ in length, a code or title is duplicated or empty, or a
        special code is not among the codes.

    Examples
    --------
    >>> tax = Taxonomy([1, 2], ["Cashiers", "Retail sales clerks"], name="toy")
    >>> tax.title(2)
    'Retail sales clerks'
    >>> tax.code("Cashiers")
    1
    """

    def __init__(
        self,
        codes: Iterable[Any],
        titles: Iterable[str],
        *,
        name: str | None = None,
        special: Iterable[Any] = (),
    ) -> None:
        for label, values in (("codes", codes), ("titles", titles), ("special", special)):
            if isinstance(values, str) and label != "codes" or not isinstance(values, Iterable):
                raise TaxonomyError(f"{label} must be a list, got {values!r}")
        codes = list(codes)
        titles = list(titles)
        if len(codes) != len(titles):
            raise TaxonomyError(f"{len(codes)} codes but {len(titles)} titles; they must pair up")
        if not codes:
            raise TaxonomyError("a taxonomy needs at least one occupation")
        codes = [_normalize_code(c, f"entry {i}") for i, c in enumerate(codes)]
        for i, (code, title) in enumerate(zip(codes, titles, strict=True)):
            if not isinstance(title, str):
                raise TaxonomyError(
                    f"entry {i} (code {code!r}): title {title!r} is not text "
                    f"({type(title).__name__})"
                )
            if not title.strip():
                raise TaxonomyError(f"entry {i} (code {code!r}): title {title!r} is empty")
            if title != title.strip() or "\n" in title or "\r" in title:
                raise TaxonomyError(
                    f"entry {i} (code {code!r}): title {title!r} has surrounding whitespace or a "
                    "line break; titles are written into one-line resume entries"
                )
        for label, values in (("codes", codes), ("titles", titles)):
            dup = pd.Index(values)[pd.Index(values).duplicated()].unique().tolist()
            if dup:
                raise TaxonomyError(f"duplicate {label}: {_preview(dup)}")
        if len({type(c) for c in codes}) > 1:
            raise TaxonomyError("codes mix integers and strings; use one type")
        self._codes: tuple[Hashable, ...] = tuple(codes)
        self._titles: tuple[str, ...] = tuple(titles)
        self._index = {c: i for i, c in enumerate(self._codes)}
        self._by_title = {t: c for c, t in zip(self._codes, self._titles, strict=True)}
        special = [_normalize_code(c, "special") for c in special]
        unknown = [c for c in special if c not in self._index]
        if unknown:
            raise TaxonomyError(f"special codes not in the taxonomy: {_preview(unknown)}")
        self._special = tuple(special)
        self.name = name

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_csv(
        cls,
        path: str | PathLike[str],
        *,
        code: str = "code",
        title: str = "title",
        name: str | None = None,
        special: Iterable[Any] = (),
    ) -> Taxonomy:
        """Read a taxonomy from a CSV file with a code column and a title column.

        Codes are read as text, so leading zeros survive: codes ``"001"``, ``"002"`` stay
        strings. When every code is a plain integer literal (``"3"``, ``"22"``, no leading
        zero or sign), the codes are integers.

        Parameters
        ----------
        path : path-like
            The CSV file.
        code, title : str
            Column names of the codes and titles.
        name : str, optional
            Name of the taxonomy; defaults to the file's stem.
        special : iterable, optional
            Codes that are states rather than jobs.
        """
        try:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
        except UnicodeDecodeError as err:
            raise TaxonomyError(
                f"{path}: not UTF-8 text (byte {err.object[err.start : err.end]!r} at offset "
                f"{err.start}); save the file as UTF-8"
            ) from err
        except pd.errors.EmptyDataError as err:
            raise TaxonomyError(f"{path}: the file is empty (no header line)") from err
        except pd.errors.ParserError as err:
            raise TaxonomyError(f"{path}: cannot read it as CSV ({str(err).strip()})") from err
        if isinstance(frame.index, pd.MultiIndex) or not isinstance(frame.index, pd.RangeIndex):
            # pandas moves the surplus leading fields of longer lines into the index
            raise TaxonomyError(f"{path}: some lines have more fields than the header line")
        missing = [c for c in (code, title) if c not in frame.columns]
        if missing:
            raise TaxonomyError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
        if frame[[code, title]].isna().any().any():
            rows = frame.index[frame[[code, title]].isna().any(axis=1)] + 2
            raise TaxonomyError(f"{path}: empty code or title on line(s) {_preview(rows)}")
        if name is None:
            name = Path(path).stem
        codes = [c.strip() for c in frame[code]]
        if all(c.isdigit() and c == str(int(c)) for c in codes):
            codes = [int(c) for c in codes]
        return cls(codes, frame[title].tolist(), name=name, special=special)

    @classmethod
    def from_stata_labels(
        cls, labels: Mapping[Any, str], *, name: str | None = None, special: Iterable[Any] = ()
    ) -> Taxonomy:
        """Build a taxonomy from a Stata value-label mapping ``{code: title}``.

        Codes are sorted; titles are kept exactly as labelled. Labels of Stata's missing
        values (``.``, ``.a`` ... ``.z``, stored as integers above 2,147,483,620) are not
        occupations and are left out; see :meth:`CareerPanel.from_stata` to keep a labelled
        extended missing value as a state.
        """
        if not isinstance(labels, Mapping):
            raise TaxonomyError(f"labels must be a mapping {{code: title}}, got {labels!r}")
        items = [(k, v) for k, v in labels.items() if not _is_stata_missing_label(k)]
        if len({isinstance(k, str) for k, _ in items}) > 1:
            raise TaxonomyError(f"label codes mix integers and strings: {_preview(labels)}")
        try:
            items = sorted(items, key=lambda kv: kv[0])
        except TypeError as err:  # codes that cannot be ordered, e.g. None or 1j
            raise TaxonomyError(f"label codes cannot be ordered: {err}") from None
        return cls([k for k, _ in items], [v for _, v in items], name=name, special=special)

    # -- lookups ------------------------------------------------------------------------------
    @property
    def codes(self) -> tuple[Hashable, ...]:
        """Codes in taxonomy order."""
        return self._codes

    @property
    def titles(self) -> tuple[str, ...]:
        """Titles in taxonomy order."""
        return self._titles

    @property
    def special(self) -> tuple[Hashable, ...]:
        """Codes that are states rather than jobs."""
        return self._special

    def title(self, code: Any) -> str:
        """Title of ``code``; raises :class:`TaxonomyError` if the code is unknown."""
        return self._titles[self.index(code)]

    def code(self, title: str) -> Hashable:
        """Code of ``title`` (exact match); raises :class:`TaxonomyError` if unknown."""
        try:
            return self._by_title[title]
        except (KeyError, TypeError):  # TypeError: an unhashable title, e.g. a list
            raise TaxonomyError(f"title {title!r} is not in taxonomy {self.name!r}") from None

    def index(self, code: Any) -> int:
        """Position of ``code`` in taxonomy order (the column of prediction matrices)."""
        try:
            return self._index[code]
        except (KeyError, TypeError):
            raise TaxonomyError(f"code {code!r} is not in taxonomy {self.name!r}") from None

    def positions(self, codes: Iterable[Any]) -> np.ndarray:
        """Positions of many codes at once, as an int array; unknown codes raise."""
        codes = list(codes)
        out = np.fromiter(
            (self._index.get(c, -1) if isinstance(c, Hashable) else -1 for c in codes),
            dtype=np.int64,
            count=len(codes),
        )
        if (out < 0).any():
            bad = [c for c, o in zip(codes, out, strict=True) if o < 0]
            hashable = [c for c in bad if isinstance(c, Hashable)]
            bad = list(dict.fromkeys(hashable)) + [c for c in bad if not isinstance(c, Hashable)]
            raise TaxonomyError(f"codes not in taxonomy {self.name!r}: {_preview(bad)}")
        return out

    # -- the checkpoint's spellings ------------------------------------------------------------
    def match_titles(
        self, observed: pd.Series | Iterable[str], *, cutoff: float = FUZZY_CUTOFF
    ) -> pd.DataFrame:
        """Pair the titles a checkpoint writes with this taxonomy's codes.

        A checkpoint only gives sensible probabilities to titles spelled as in its training
        resumes. Given the titles it writes (``ResumeTemplate.infer(...).observed_titles``),
        each code gets at most one checkpoint title, in three passes:

        1. ``exact``: the same string;
        2. ``case``: the same after case folding and collapsing runs of whitespace;
        3. ``fuzzy``: the remaining titles and codes are paired to maximise the total
           similarity (:func:`scipy.optimize.linear_sum_assignment`), and a pair is kept when
           its similarity is at least `cutoff`. The similarity is the larger of
           :class:`difflib.SequenceMatcher`'s ratio of the two case-folded titles and of the
           two with their words sorted (so that reordered words still match); 1 is
           identical, 0 nothing in common.

        Parameters
        ----------
        observed : pandas.Series or iterable of str
            The checkpoint's titles: a Series of counts indexed by title, or titles (repeats
            are counted).
        cutoff : float, default 0.6
            Least similarity of a fuzzy match (difflib's ``get_close_matches`` default).
            Raise it when wrong pairs appear among the ``fuzzy`` rows.

        Returns
        -------
        pandas.DataFrame
            One row per code, in taxonomy order, then one row per observed title left
            unmatched (most frequent first), with columns ``code``, ``title`` (ours),
            ``checkpoint_title``, ``similarity``, ``how`` (``exact``, ``case``, ``fuzzy`` or
            ``unmatched``) and ``count`` (how often the checkpoint wrote the title). A code
            the checkpoint never wrote has no ``checkpoint_title``; an observed title that
            matches no code has no ``code`` and, as ``similarity``, its best similarity to
            any of our titles. Nothing observed is dropped.

        Raises
        ------
        TypeError
            If an observed title is not a string.
        ValueError
            If `cutoff` is not in [0, 1] or the counts are not non-negative numbers.

        See Also
        --------
        Taxonomy.with_titles : the same codes spelled as the checkpoint spells them.

        Examples
        --------
        >>> tax = Taxonomy([1, 2], ["Cashiers", "Retail sales clerks"], name="toy")
        >>> matches = tax.match_titles(["cashiers", "retail salesclerks"])
        >>> matches[["code", "checkpoint_title", "how"]]
           code    checkpoint_title    how
        0     1            cashiers   case
        1     2  retail salesclerks  fuzzy
        """
        from scipy.optimize import linear_sum_assignment

        if (
            isinstance(cutoff, bool)
            or not isinstance(cutoff, int | float | np.number)
            or not 0 <= cutoff <= 1
        ):
            raise ValueError(f"cutoff must be a number between 0 and 1, got {cutoff!r}")
        counts = _title_counts(observed)
        left = dict(counts)  # observed titles not yet matched
        match: dict[Hashable, tuple[str, float, str]] = {}
        for title, code in self._by_title.items():
            if title in left:
                match[code] = (title, 1.0, "exact")
                del left[title]
        folded: dict[str, list[str]] = {}
        for title in left:
            folded.setdefault(_fold(title), []).append(title)
        for code, ours in zip(self._codes, self._titles, strict=True):
            candidates = folded.get(_fold(ours), [])
            candidates = [t for t in candidates if t in left]
            if code not in match and candidates:
                best = max(candidates, key=lambda t: left[t])  # the most frequent spelling
                match[code] = (best, 1.0, "case")
                del left[best]
        codes = [c for c in self._codes if c not in match]
        rest = list(left)
        sim = np.array(
            [[_similarity(self.title(c), t, cutoff) for t in rest] for c in codes]
        ).reshape(len(codes), len(rest))
        if sim.size:
            rows, cols = linear_sum_assignment(sim, maximize=True)
            for r, c in zip(rows, cols, strict=True):
                if sim[r, c] >= cutoff and sim[r, c] > 0:
                    match[codes[r]] = (rest[c], float(sim[r, c]), "fuzzy")
                    del left[rest[c]]
        records = []
        for code, ours in zip(self._codes, self._titles, strict=True):
            theirs, score, how = match.get(code, (None, np.nan, "unmatched"))
            records.append((code, ours, theirs, score, how, counts.get(theirs, 0)))
        for title in sorted(left, key=lambda t: (-left[t], t)):
            best = max(_similarity(ours, title, 0.0) for ours in self._titles)
            records.append((None, None, title, best, "unmatched", left[title]))
        code, ours, theirs, score, how, count = zip(*records, strict=True)
        return pd.DataFrame(
            {
                # Nullable integer codes (or strings), so that unmatched rows keep int codes.
                "code": pd.array(list(code)),
                "title": pd.Series(ours, dtype=object),
                "checkpoint_title": pd.Series(theirs, dtype=object),
                "similarity": np.asarray(score, dtype=float),
                "how": pd.Series(how, dtype=object),
                "count": np.asarray(count),
            }
        )

    def with_titles(self, mapping: Mapping[Any, str] | pd.Series | pd.DataFrame) -> Taxonomy:
        """The same codes (order, name, special states) with some titles replaced.

        Parameters
        ----------
        mapping : mapping, Series or DataFrame
            New titles by code: ``{code: title}``, a Series indexed by code, or the frame of
            :meth:`match_titles` (its rows with both a ``code`` and a
            ``checkpoint_title``). Codes not given keep their title.

        Returns
        -------
        Taxonomy

        Raises
        ------
        TaxonomyError
            For a code not in the taxonomy, a malformed title, or two codes that would
            share a title.

        Examples
        --------
        >>> tax = Taxonomy([1, 2], ["Cashiers", "Retail sales clerks"], name="toy")
        >>> tax.with_titles({1: "cashiers"}).titles
        ('cashiers', 'Retail sales clerks')
        """
        if isinstance(mapping, pd.DataFrame):
            missing = [c for c in ("code", "checkpoint_title") if c not in mapping.columns]
            if missing:
                raise TaxonomyError(
                    f"the frame has no column(s) {missing}; pass the frame of match_titles or "
                    "a mapping {code: title}"
                )
            kept = mapping[mapping["code"].notna() & mapping["checkpoint_title"].notna()]
            items = list(zip(kept["code"], kept["checkpoint_title"], strict=True))
        elif isinstance(mapping, pd.Series):
            items = list(mapping.items())
        elif isinstance(mapping, Mapping):
            items = list(mapping.items())
        else:
            raise TypeError(
                f"mapping must be a mapping, Series or DataFrame, got {type(mapping).__name__}"
            )
        new = dict(zip(self._codes, self._titles, strict=True))
        unknown = []
        for code, title in items:
            code = _normalize_code(code, "with_titles")
            if code not in self._index:
                unknown.append(code)
            else:
                new[code] = title
        if unknown:
            raise TaxonomyError(f"codes not in taxonomy {self.name!r}: {_preview(unknown)}")
        by_title: dict[Any, list[Hashable]] = {}
        for code, title in new.items():
            if isinstance(title, str):
                by_title.setdefault(title, []).append(code)
        clashes = [f"{t!r} (codes {_preview(c)})" for t, c in by_title.items() if len(c) > 1]
        if clashes:
            raise TaxonomyError(
                f"the new titles would be shared by several codes: {'; '.join(clashes[:5])}; "
                "each code needs its own title"
            )
        return Taxonomy(new.keys(), new.values(), name=self.name, special=self._special)

    def to_frame(self) -> pd.DataFrame:
        """The taxonomy as a DataFrame with columns ``code``, ``title``, ``special``."""
        return pd.DataFrame(
            {
                "code": list(self._codes),
                "title": list(self._titles),
                "special": [c in self._special for c in self._codes],
            }
        )

    def __len__(self) -> int:
        return len(self._codes)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._codes)

    def __contains__(self, code: object) -> bool:
        try:
            return code in self._index
        except TypeError:
            return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taxonomy):
            return NotImplemented
        return (self._codes, self._titles, self._special) == (
            other._codes,
            other._titles,
            other._special,
        )

    def __hash__(self) -> int:
        return hash((self._codes, self._titles, self._special))

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        head = ", ".join(
            f"{c}: {t!r}" for c, t in zip(self._codes[:3], self._titles[:3], strict=False)
        )
        more = ", ..." if len(self) > 3 else ""
        return f"<Taxonomy{label}: {len(self)} occupations {{{head}{more}}}>"


# -- built-in taxonomies ------------------------------------------------------------------------
_WAGE_PANEL_1970 = {
    1: "Professional, technical and kindred",
    2: "Managers, officials and proprietors",
    3: "Sales workers",
    4: "Clerical and kindred",
    5: "Craftsmen, foremen and kindred",
    6: "Operatives and kindred",
    7: "Laborers and farmers",
    8: "Farm laborers and foremen",
    9: "Service workers",
}


@cache
def wage_panel_1970() -> Taxonomy:
    """The nine 1970 Census major occupation groups coded in the NLSY wage panel.

    Codes 1..9 as in Vella and Verbeek (1998); see :func:`labor_econ.datasets.wage_panel`.

    Examples
    --------
    >>> from labor_econ.taxonomies import wage_panel_1970
    >>> tax = wage_panel_1970()
    >>> len(tax), tax.title(3)
    (9, 'Sales workers')
    """
    return Taxonomy(list(_WAGE_PANEL_1970), list(_WAGE_PANEL_1970.values()), name="wage_panel_1970")


@cache
def occ1990() -> Taxonomy:
    """IPUMS harmonized 1990 Census occupation codes (OCC1990) with IPUMS titles.

    389 entries, including 991 "Unemployed" and 999 "Unknown", which are marked as
    special states. OCC1990 is the coding of many US panels and the base of the
    ``occ1990dd`` scheme used by the CAREER and LABOR-LLM papers.

    Examples
    --------
    >>> from labor_econ.taxonomies import occ1990
    >>> tax = occ1990()
    >>> len(tax), tax.title(991)
    (389, 'Unemployed')
    """
    path = resources.files("labor_econ") / "data" / "occ1990_ipums.csv"
    with resources.as_file(path) as csv:
        return Taxonomy.from_csv(csv, name="occ1990", special=(991, 999))
