"""Stata ``.dta`` files: reading career panels and writing predictions back.

Reading keeps integer codes and value labels; Stata's missing values (``.`` and the
extended ``.a`` ... ``.z``) are missing, never codes. Writing chooses valid Stata variable
names up front and returns the mapping from the frame's names to the file's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.stata import StataMissingValue, StataReader

from .panel import CareerPanel, PanelError
from .taxonomy import STATA_MAX_LONG, Taxonomy

__all__ = ["STATA_NAME_LIMIT", "predictions_frame", "read_stata", "stata_names", "to_stata"]

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
    extended_missing = dict(extended_missing or {})
    for key, code in extended_missing.items():
        if key not in _EXTENDED:
            raise PanelError(
                f"extended_missing keys must be Stata's extended missing values '.a' ... '.z', "
                f"got {key!r}"
            )
        if isinstance(code, bool) or not isinstance(code, int | np.integer | str):
            raise PanelError(f"extended_missing[{key!r}] must be an occupation code, got {code!r}")
    try:
        with StataReader(path) as reader:
            data = reader.read(convert_categoricals=False, convert_missing=True)
            label_sets = reader.value_labels()
            # pandas has no public variable -> label-set map; fall back to Stata's usual
            # convention (label set named after the variable) if the private one moves.
            label_names = dict(
                zip(getattr(reader, "_varlist", []), getattr(reader, "_lbllist", []), strict=False)
            )
    except (OSError, ValueError) as err:
        raise PanelError(f"{os.fspath(path)}: cannot read it as a Stata .dta file ({err})") from err
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
        taxonomy = Taxonomy.from_stata_labels(labels, name=label_name)
    return data, taxonomy


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
    one probability column per taxonomy code (``p_<code>``).

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
    >>> from labor_econ import MarkovTransitionModel, predictions_frame
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> frame = predictions_frame(MarkovTransitionModel(train).fit(), test)
    >>> frame.columns.tolist()[:6], frame.shape
    (['nr', 'year', 'occupation', 'pred_occ', 'pred_p', 'p_1'], (763, 14))
    """
    panel = panel if panel is not None else results.panel
    probs = results.predict(panel)
    codes = probs.columns
    top = probs.to_numpy().argmax(axis=1)
    flat = pd.DataFrame(
        {
            "occupation": panel.transitions()["occupation"].to_numpy(),
            "pred_occ": np.asarray(list(codes), dtype=object)[top],
            "pred_p": probs.to_numpy()[np.arange(len(top)), top],
        },
        index=probs.index,
    )
    flat["pred_occ"] = flat["pred_occ"].astype(flat["occupation"].dtype)
    names = [f"{prefix}{c}" for c in codes]
    # One block for the K probability columns: assigning them as a list of new columns
    # inserts them one by one (pandas' PerformanceWarning at K = 389).
    columns = pd.DataFrame(probs.to_numpy(), index=probs.index, columns=names)
    return pd.concat([flat, columns], axis=1).reset_index()


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
    >>> from labor_econ import MarkovTransitionModel, to_stata
    >>> from labor_econ.datasets import wage_panel
    >>> train, test = wage_panel().split(test_size=0.2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "predictions.dta")
    >>> frame = to_stata(MarkovTransitionModel(train).fit(), path, test)
    >>> back = pd.read_stata(path, convert_categoricals=False)
    >>> back.shape == frame.shape, bool(back["pred_occ"].isin(test.taxonomy.codes).all())
    (True, True)
    """
    panel = panel if panel is not None else results.panel
    frame = predictions_frame(results, panel, prefix=prefix)
    tax = panel.taxonomy
    mapping = stata_names(frame.columns)
    # a renamed variable is labelled with its original name, a probability with its title
    labels = {new: str(old)[:80] for old, new in mapping.items() if new != str(old)}
    labels.update(
        {
            mapping[f"{prefix}{c}"]: f"P({t})"[:80]
            for c, t in zip(tax.codes, tax.titles, strict=True)
        }
    )
    frame = frame.rename(columns=mapping)
    value_labels = _value_labels(tax)
    if value_labels:
        value_labels = {mapping["occupation"]: value_labels, mapping["pred_occ"]: value_labels}
    frame.to_stata(
        path,
        write_index=False,
        variable_labels={**labels, **kwargs.pop("variable_labels", {})},
        value_labels=value_labels,
        **kwargs,
    )
    frame.attrs["stata_names"] = mapping
    return frame
