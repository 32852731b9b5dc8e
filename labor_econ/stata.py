"""Stata ``.dta`` files: reading career panels and writing predictions back.

Reading keeps integer codes and value labels; Stata's missing values (``.`` and the
extended ``.a`` ... ``.z``) are missing, never codes. Writing chooses valid Stata variable
names up front and returns the mapping from the frame's names to the file's.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.stata import StataMissingValue, StataReader

from .panel import CareerPanel, PanelError, register_reader
from .taxonomy import STATA_MAX_LONG, Taxonomy, TaxonomyError

__all__ = [
    "STATA_NAME_LIMIT",
    "StataError",
    "predictions_frame",
    "read_stata",
    "stata_names",
    "stata_variables",
    "to_stata",
]


class StataError(PanelError):
    """A ``.dta`` file that cannot be read or written; the message names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from labor_econ import CareerPanel, StataError
    >>> path = os.path.join(tempfile.mkdtemp(), "careers.dta")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a Stata file")
    >>> try:
    ...     CareerPanel.from_stata(path, id="pid", time="year", occupation="occ")
    ... except StataError as err:
    ...     print(str(err).replace(os.path.dirname(path), "data"))
    data...careers.dta: cannot read it as a Stata .dta file (...)
    """


#: What pandas' reader raises on a truncated, empty or garbled file (struct.error and
#: EOFError on short reads, UnicodeDecodeError on text in the wrong encoding).
_READ_ERRORS = (OSError, ValueError, struct.error, EOFError, KeyError, IndexError, TypeError)

#: Longest Stata variable name.
STATA_NAME_LIMIT = 32
_EXTENDED = tuple("." + chr(c) for c in range(ord("a"), ord("z") + 1))
#: Names Stata reserves (``help reswords``); they cannot name variables.
_RESERVED = frozenset(
    "_all _b byte _coef _cons double float if in int _n _N _pi _pred _rc _skip str# "
    "strL using with long".split()
    + [f"str{i}" for i in range(1, 2046)]
)
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def _missing_label_key(missing: str) -> int:
    """The value-label key of ``"."`` or ``".a"`` ... ``".z"`` (Stata stores them as longs)."""
    return STATA_MAX_LONG + 1 + (0 if missing == "." else 1 + _EXTENDED.index(missing))


def _numeric_missing(data: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Replace :class:`StataMissingValue` cells by NaN; return which missing value each was."""
    which: dict[str, pd.Series] = {}
    for col in data.select_dtypes(include=[object]).columns:
        is_missing = data[col].map(lambda v: isinstance(v, StataMissingValue))
        if not is_missing.any():
            continue
        which[col] = (
            data[col]
            .where(is_missing)
            .map(lambda v: v.string if isinstance(v, StataMissingValue) else None)
        )
        data[col] = pd.to_numeric(data[col].where(~is_missing))
    return data, which


def read_stata(
    path: str | os.PathLike[str],
    *,
    occupation: str,
    taxonomy: Taxonomy | None = None,
    extended_missing: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, Taxonomy | None]:
    """Read a ``.dta`` file as a long panel frame, with the occupation variable's taxonomy.

    Parameters
    ----------
    path : path-like
        The ``.dta`` file.
    occupation : str
        The occupation variable.
    taxonomy : Taxonomy, optional
        Used as is; otherwise the variable's value labels (without the labels of missing
        values) become the taxonomy, or None when it has none.
    extended_missing : mapping, optional
        Extended missing values of `occupation` kept as codes, e.g. ``{".a": 991}``.

    Returns
    -------
    (pandas.DataFrame, Taxonomy or None)
        The data, value labels not applied, every Stata missing value as NaN except those
        mapped by `extended_missing`; and the taxonomy.

    Raises
    ------
    PanelError
        If the file cannot be read, the variable is not in it, or `extended_missing` is
        malformed (naming the file and variable).
    """
    if extended_missing is not None and not isinstance(extended_missing, Mapping):
        raise PanelError(
            f"extended_missing must be a mapping such as {{'.a': 991}}, got {extended_missing!r}"
        )
    extended_missing = dict(extended_missing or {})
    # Extended missing values exist in numeric variables only, so their codes are integers,
    # unless a taxonomy of text codes is given.
    text_codes = taxonomy is not None and all(isinstance(c, str) for c in taxonomy.codes)
    for key, code in extended_missing.items():
        if key not in _EXTENDED:
            raise PanelError(
                f"extended_missing keys must be Stata's extended missing values '.a' ... '.z', "
                f"got {key!r}"
            )
        wanted = str if text_codes else int | np.integer
        if isinstance(code, bool) or not isinstance(code, wanted):
            kind = "a text code (the taxonomy's codes are text)" if text_codes else "an integer"
            raise PanelError(
                f"{os.fspath(path)}: extended_missing[{key!r}] must be {kind} occupation code, "
                f"got {code!r}"
            )
    try:
        with StataReader(path) as reader:
            data = reader.read(convert_categoricals=False, convert_missing=True)
            label_sets = reader.value_labels()
            # pandas has no public variable -> label-set map; fall back to Stata's usual
            # convention (label set named after the variable) if the private one moves.
            label_names = dict(
                zip(getattr(reader, "_varlist", []), getattr(reader, "_lbllist", []), strict=False)
            )
    except _READ_ERRORS as err:
        raise _unreadable(path, err) from err
    if occupation not in data.columns:
        raise PanelError(
            f"{os.fspath(path)}: variable {occupation!r} not found; variables: {list(data.columns)}"
        )
    data, which = _numeric_missing(data)
    label_name = label_names.get(occupation) or occupation
    labels = {int(k): v for k, v in (label_sets.get(label_name) or {}).items()}
    if extended_missing:
        found = which.get(occupation, pd.Series(None, index=data.index, dtype=object))
        for key, code in extended_missing.items():
            rows = (found == key).to_numpy()
            if rows.any():
                data[occupation] = data[occupation].astype(object)
                data.loc[rows, occupation] = code
            if taxonomy is None and code not in labels:
                title = labels.get(_missing_label_key(key))
                if title is None:
                    raise PanelError(
                        f"{os.fspath(path)}: extended_missing maps {key} of {occupation!r} to "
                        f"{code!r}, but neither has a value label to use as its title; label "
                        "one or pass a taxonomy"
                    )
                labels[code] = title
        try:
            data[occupation] = pd.to_numeric(data[occupation])
        except (ValueError, TypeError):
            pass  # string codes stay as they are; the panel checks them against the taxonomy
    if taxonomy is None and any(k <= STATA_MAX_LONG for k in labels if isinstance(k, int)):
        try:
            taxonomy = Taxonomy.from_stata_labels(labels, name=label_name)
        except TaxonomyError as err:
            raise StataError(
                f"{os.fspath(path)}: the value labels {label_name!r} of {occupation!r} cannot "
                f"be the taxonomy: {err}. Give each code its own title in Stata (label define), "
                "or pass a taxonomy"
            ) from err
    return data, taxonomy


def _unreadable(path: str | os.PathLike[str], err: BaseException) -> StataError:
    size = os.path.getsize(path) if os.path.isfile(path) else None
    if size == 0:
        what = "it is empty"
    elif isinstance(err, struct.error | EOFError):
        what = f"it ends early, at {size} bytes: truncated, or not a .dta file"
    else:
        what = f"{type(err).__name__}: {err}"
    return StataError(f"{os.fspath(path)}: cannot read it as a Stata .dta file ({what})")


def stata_variables(path: str | os.PathLike[str]) -> list[str]:
    """The variable names of a ``.dta`` file, without reading its data.

    Raises
    ------
    StataError
        If the file cannot be read as a ``.dta`` file (naming it).
    """
    try:
        with StataReader(path) as reader:
            return list(reader.variable_labels())  # every variable, labelled or not
    except _READ_ERRORS as err:
        raise _unreadable(path, err) from err


register_reader("stata", read_stata)


def stata_names(names: Iterable[Any]) -> dict[Any, str]:
    """Valid, distinct Stata variable names for ``names``, keeping valid ones as they are.

    Characters other than letters, digits and ``_`` become ``_``; a leading digit gets a
    ``_`` in front; names are cut to 32 characters; reserved words get a ``_`` in front;
    clashes get a numeric suffix.

    Returns
    -------
    dict
        ``{original: stata_name}`` in the order given.

    Examples
    --------
    >>> stata_names(["p_a-b", "p_a_b", "1990", "if"])
    {'p_a-b': 'p_a_b_2', 'p_a_b': 'p_a_b', '1990': '_1990', 'if': '_if'}
    """
    names = list(names)
    reserved = _RESERVED
    wanted: dict[Any, str] = {}
    for name in names:
        text = str(name)
        if _VALID_NAME.fullmatch(text) and text not in reserved:
            wanted[name] = text
            continue
        clean = re.sub(r"[^A-Za-z0-9_]", "_", text) or "_"
        if not re.match(r"[A-Za-z_]", clean) or clean in reserved:
            clean = "_" + clean
        wanted[name] = clean[:STATA_NAME_LIMIT]
    # valid names keep their spelling; renamed ones give way on a clash
    taken = {wanted[n] for n in names if wanted[n] == str(n)}
    out: dict[Any, str] = {}
    for name in names:
        candidate = wanted[name]
        if candidate == str(name) and candidate not in out.values():
            out[name] = candidate
            continue
        i = 2
        while candidate in taken or candidate in out.values():
            suffix = f"_{i}"
            candidate = wanted[name][: STATA_NAME_LIMIT - len(suffix)] + suffix
            i += 1
        taken.add(candidate)
        out[name] = candidate
    return out


def predictions_frame(
    results: Any, panel: CareerPanel | None = None, *, prefix: str = "p_"
) -> pd.DataFrame:
    """Predictions as a flat, Stata-friendly frame.

    One row per transition with the id and time columns (the panel's names), the observed
    ``occupation``, the most likely code ``pred_occ`` and its probability ``pred_p``, and
    one probability column per taxonomy code (``p_<code>``). Where the id or time column
    is named like one of these, the generated column gets a trailing ``_`` (an id named
    ``occupation`` keeps its name; the observed code is ``occupation_``), listed in
    ``frame.attrs["renamed"]``.

    Parameters
    ----------
    results : fitted transition results
        Anything with ``predict(panel)`` (every model of this package).
    panel : CareerPanel, optional
        Transitions to predict; default the estimation sample.
    prefix : str
        Prefix of the probability columns.

    Examples
    --------
    >>> from labor_econ import MarkovModel, predictions_frame
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> frame = predictions_frame(MarkovModel(train).fit(), test)
    >>> frame.columns.tolist()[:6], frame.shape
    (['nr', 'year', 'occupation', 'pred_occ', 'pred_p', 'p_1'], (763, 14))
    """
    panel = panel if panel is not None else results.panel
    probs = results.predict(panel)
    codes = probs.columns
    top = probs.to_numpy().argmax(axis=1)
    names = _output_names([panel.id, panel.time], ["occupation", "pred_occ", "pred_p"])
    flat = pd.DataFrame(
        {
            names["occupation"]: panel.transitions()["occupation"].to_numpy(),
            names["pred_occ"]: np.asarray(list(codes), dtype=object)[top],
            names["pred_p"]: probs.to_numpy()[np.arange(len(top)), top],
        },
        index=probs.index,
    )
    flat[names["pred_occ"]] = flat[names["pred_occ"]].astype(flat[names["occupation"]].dtype)
    taken = [panel.id, panel.time, *flat.columns]
    prob_names = _output_names(taken, [f"{prefix}{c}" for c in codes])
    # One block for the K probability columns: assigning them as a list of new columns
    # inserts them one by one (pandas' PerformanceWarning at K = 389).
    columns = pd.DataFrame(probs.to_numpy(), index=probs.index, columns=list(prob_names.values()))
    out = pd.concat([flat, columns], axis=1).reset_index()
    out.attrs["renamed"] = {
        k: v for k, v in {**names, **prob_names}.items() if k != v
    }  # output columns renamed to keep clear of the id and time columns
    return out


def _output_names(taken: Iterable[Any], wanted: Iterable[str]) -> dict[str, str]:
    """``wanted`` names, each given trailing ``_`` until it differs from ``taken`` and the
    others: an id column named ``occupation`` keeps its name, the observed code becomes
    ``occupation_``."""
    used = {str(t) for t in taken}
    out: dict[str, str] = {}
    for name in wanted:
        new = name
        while new in used:
            new += "_"
        used.add(new)
        out[name] = new
    return out


def _value_labels(tax: Taxonomy) -> dict[int, str] | None:
    if not all(isinstance(c, int) for c in tax.codes):
        return None  # Stata value labels label integers only; string codes stay strings
    out_of_range = [c for c in tax.codes if not -2_147_483_647 <= c <= STATA_MAX_LONG]
    if out_of_range:
        raise PanelError(
            f"taxonomy {tax.name or '(unnamed)'} has codes Stata cannot label (outside "
            f"-2147483647 .. {STATA_MAX_LONG}): {out_of_range[:5]}"
        )
    return {c: t[:32000] for c, t in zip(tax.codes, tax.titles, strict=True)}


def to_stata(
    results: Any,
    path: str | os.PathLike[str],
    panel: CareerPanel | None = None,
    *,
    prefix: str = "p_",
    **kwargs: Any,
) -> pd.DataFrame:
    """Write :func:`predictions_frame` to a ``.dta`` file, with occupation value labels.

    ``occupation`` and ``pred_occ`` carry the taxonomy's titles as value labels (integer
    codes only; Stata value labels cannot label strings), and each ``p_<code>`` variable
    is labelled with its title. Variable names are made valid for Stata up front with
    :func:`stata_names` (``p_a-b`` becomes ``p_a_b``), so the file holds exactly the
    returned frame's columns. Extra keyword arguments go to
    :meth:`pandas.DataFrame.to_stata`.

    Returns
    -------
    pandas.DataFrame
        The frame written, with its Stata variable names; ``frame.attrs["stata_names"]``
        maps each :func:`predictions_frame` column to its name in the file.

    Examples
    --------
    >>> res.to_stata("predictions.dta", panel=test)  # doctest: +SKIP

    In Stata: ``use predictions.dta`` then e.g. ``tab occupation pred_occ``.

    Runnable, into a temporary folder:

    >>> import os, tempfile
    >>> import pandas as pd
    >>> from labor_econ import MarkovModel, to_stata
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "predictions.dta")
    >>> frame = to_stata(MarkovModel(train).fit(), path, test)
    >>> back = pd.read_stata(path, convert_categoricals=False)
    >>> back.shape == frame.shape, bool(back["pred_occ"].isin(test.taxonomy.codes).all())
    (True, True)
    """
    panel = panel if panel is not None else results.panel
    frame = predictions_frame(results, panel, prefix=prefix)
    renamed = frame.attrs.get("renamed", {})
    tax = panel.taxonomy
    mapping = stata_names(frame.columns)

    def var(name: str) -> str:  # the file's name of a generated column
        return mapping[renamed.get(name, name)]

    # a renamed variable is labelled with its original name, a probability with its title
    labels = {new: str(old)[:80] for old, new in mapping.items() if new != str(old)}
    labels.update(
        {var(f"{prefix}{c}"): f"P({t})"[:80] for c, t in zip(tax.codes, tax.titles, strict=True)}
    )
    labels.update(kwargs.pop("variable_labels", {}))
    frame = frame.rename(columns=mapping)
    value_labels = _value_labels(tax)
    if value_labels:
        value_labels = {var("occupation"): value_labels, var("pred_occ"): value_labels}
    version = _version(frame, labels, value_labels, kwargs.pop("version", None), path)
    try:
        frame.to_stata(
            path,
            write_index=False,
            variable_labels=labels,
            value_labels=value_labels,
            version=version,
            **kwargs,
        )
    except (ValueError, UnicodeError) as err:
        raise StataError(f"{os.fspath(path)}: cannot write the predictions: {err}") from err
    frame.attrs["stata_names"] = mapping
    return frame


def _texts(frame: pd.DataFrame, labels: Mapping[str, str], value_labels: Any) -> Iterable[str]:
    yield from map(str, frame.columns)
    yield from labels.values()
    for mapping in (value_labels or {}).values():
        yield from mapping.values()
    for col in frame.select_dtypes(include=[object, "string"]).columns:
        yield from (v for v in frame[col] if isinstance(v, str))


def _version(
    frame: pd.DataFrame,
    labels: Mapping[str, str],
    value_labels: Any,
    asked: int | None,
    path: str | os.PathLike[str],
) -> int:
    """Format 117 (Stata 13, latin-1) where every text fits latin-1, else 118 (Stata 14+,
    UTF-8), or 119 past 32,767 variables; a version asked for is checked against the text."""
    try:
        for text in _texts(frame, labels, value_labels):
            text.encode("latin-1")
        needs_utf8, example = False, ""
    except UnicodeEncodeError as err:
        needs_utf8, example = True, err.object[err.start : err.end]
    lowest = 119 if frame.shape[1] > 32_767 else 118 if needs_utf8 else 117
    if asked is None:
        return lowest
    if needs_utf8 and asked < 118:
        raise StataError(
            f"{os.fspath(path)}: version={asked} writes latin-1 text, but the titles or labels "
            f"hold {example!r}; use version=118 (Stata 14 or later) or leave version unset"
        )
    return asked
