"""Career panels: a long person-wave DataFrame declared like Stata's ``xtset id year``."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, Literal

import numpy as np
import pandas as pd

from .taxonomy import Taxonomy, _preview

__all__ = ["CareerPanel", "PanelError", "TRANSITION_COLUMNS"]

#: Columns that :meth:`CareerPanel.transitions` adds; covariates may not reuse these names.
TRANSITION_COLUMNS = ("occupation", "prev_occupation", "prev_time", "gap")


class PanelError(ValueError):
    """Raised when a career panel is malformed; the message names the rows or persons at fault.

    Examples
    --------
    >>> import pandas as pd
    >>> from labor_econ import CareerPanel, PanelError
    >>> df = pd.DataFrame({"pid": [1, 1], "year": [1990, 1990], "occ": [3, 4]})
    >>> try:
    ...     CareerPanel(df, id="pid", time="year", occupation="occ")
    ... except PanelError as err:
    ...     print(err)
    duplicate (pid, year) pairs: row 0 (pid=1, year=1990); row 1 (pid=1, year=1990)
    """


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _value_kind(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "boolean"
    if isinstance(v, int | float | np.integer | np.floating):
        return "numeric"
    if isinstance(v, str):
        return "text"
    return type(v).__name__


def _rows(frame: pd.DataFrame, mask: np.ndarray | pd.Series, cols: Sequence[str]) -> str:
    """Describe the offending rows: their caller index labels and a few key values."""
    bad = frame.loc[np.asarray(mask), list(cols)]
    head = bad.head(5)
    shown = [
        f"row {_scalar(idx)!r} ({', '.join(f'{c}={_scalar(head[c].iloc[i])!r}' for c in cols)})"
        for i, idx in enumerate(head.index)
    ]
    more = f", ... ({len(bad)} rows in all)" if len(bad) > 5 else ""
    return "; ".join(shown) + more


class CareerPanel:
    """A long panel of occupations: one row per person and wave.

    Declaring the panel validates it once; every later step (templates, models,
    diagnostics) can then rely on sorted, unique, integer-timed, fully coded waves.
    Nothing is silently dropped or recoded: every violation raises :class:`PanelError`
    naming the persons and rows at fault.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per person-wave. It is copied; the caller's column names
        and dtypes are kept.
    id, time, occupation : str
        Columns holding the person identifier, the wave (an integer such as the calendar
        year) and the occupation code.
    taxonomy : Taxonomy, optional
        The occupation codes and titles. If omitted, a taxonomy of the observed codes is
        built with the codes themselves as titles.
    birth_year : str, optional
        Column with each person's birth year (must be constant within a person).
    static : sequence of str
        Person-level covariates (constant within a person), e.g. race or education
        completed.
    varying : sequence of str
        Wave-level covariates, e.g. hours or marital status.
    missing : {"raise", "drop"}
        What to do with rows whose occupation is missing. ``"drop"`` drops those waves,
        warns with the count and keeps them in :attr:`dropped`.

    Raises
    ------
    PanelError
        For an empty panel, missing columns, a missing person id, ids that mix numbers and
        text, missing, infinite or non-integer time (exactly: 1990.01 is refused), duplicate
        (id, time) pairs, missing occupations (with ``missing="raise"``), non-integer float
        codes, codes absent from the taxonomy, missing covariate values, or static
        covariates (birth year included) that vary within a person.

    See Also
    --------
    CareerPanel.from_stata : declare a panel from a Stata ``.dta`` file.

    Notes
    -----
    Integer-valued float times and codes (what a ``.dta`` or CSV column with missing
    values reads as) are stored as integers, so ``1990.0`` and code ``97.0`` become
    ``1990`` and ``97`` in the panel and in everything computed from it.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pid": [1, 1, 2, 2], "year": [1990, 1992, 1990, 1991],
    ...                    "occ": [3, 3, 1, 2]})
    >>> panel = CareerPanel(df, id="pid", time="year", occupation="occ")
    >>> panel.n_persons, panel.n_transitions
    (2, 2)
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        id: str,
        time: str,
        occupation: str,
        taxonomy: Taxonomy | None = None,
        birth_year: str | None = None,
        static: Sequence[str] = (),
        varying: Sequence[str] = (),
        missing: Literal["raise", "drop"] = "raise",
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise PanelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if missing not in ("raise", "drop"):
            raise PanelError(f"missing must be 'raise' or 'drop', got {missing!r}")
        if isinstance(static, str) or isinstance(varying, str):
            raise PanelError("static and varying take a list of column names, not a string")
        self.id, self.time, self.occupation = id, time, occupation
        self.birth_year = birth_year
        self.static = tuple(static)
        self.varying = tuple(varying)
        self._check_columns(data)
        if data.empty:
            raise PanelError("the panel is empty: data has no rows")

        frame = data.copy()
        frame, self.dropped = self._check_missing_occupation(frame, missing)
        frame = self._check_ids_and_times(frame)
        frame = self._check_occupation_codes(frame)
        self.taxonomy = taxonomy if taxonomy is not None else self._observed_taxonomy(frame)
        self._check_codes(frame)
        self._check_covariates(frame)
        self._set_data(frame)

    # -- validation ---------------------------------------------------------------------------
    @property
    def covariates(self) -> tuple[str, ...]:
        """All declared covariate columns: birth year, static, varying (in that order)."""
        by = (self.birth_year,) if self.birth_year else ()
        return by + self.static + self.varying

    def _check_columns(self, data: pd.DataFrame) -> None:
        declared = [self.id, self.time, self.occupation, *self.covariates]
        absent = [c for c in declared if c not in data.columns]
        if absent:
            raise PanelError(
                f"column(s) {absent} not in data; available columns: {list(data.columns)}"
            )
        repeated = pd.Index(declared)[pd.Index(declared).duplicated()].unique().tolist()
        if repeated:
            raise PanelError(f"column(s) {repeated} declared in more than one role")
        clash = [c for c in self.covariates if c in TRANSITION_COLUMNS]
        if clash:
            raise PanelError(
                f"covariate column(s) {clash} clash with the names transitions() creates "
                f"{list(TRANSITION_COLUMNS)}; rename them"
            )
        if data.columns.duplicated().any():
            dup = data.columns[data.columns.duplicated()].tolist()
            raise PanelError(f"data has duplicated column names: {dup}")

    def _check_missing_occupation(
        self, frame: pd.DataFrame, missing: str
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        na = frame[self.occupation].isna()
        if not na.any():
            return frame, frame.iloc[:0]
        if missing == "raise":
            raise PanelError(
                f"missing occupation in column {self.occupation!r}: "
                f"{_rows(frame, na, [self.id, self.time])}. Pass missing='drop' to drop these "
                "waves (they are then reported, not used)."
            )
        dropped = frame.loc[na]
        warnings.warn(
            f"dropped {int(na.sum())} wave(s) of {dropped[self.id].nunique()} person(s) with a "
            f"missing occupation; see panel.dropped",
            UserWarning,
            stacklevel=3,
        )
        return frame.loc[~na], dropped

    def _check_ids_and_times(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            raise PanelError("the panel is empty after dropping waves with missing occupation")
        na_id = frame[self.id].isna()
        if na_id.any():
            raise PanelError(
                f"missing person id in column {self.id!r}: {_rows(frame, na_id, [self.time])}"
            )
        self._check_id_types(frame)
        t = frame[self.time]
        na_t = t.isna()
        if na_t.any():
            raise PanelError(
                f"missing time in column {self.time!r}: {_rows(frame, na_t, [self.id])}"
            )
        if pd.api.types.is_bool_dtype(t) or not (
            pd.api.types.is_integer_dtype(t) or pd.api.types.is_float_dtype(t)
        ):
            raise PanelError(
                f"time column {self.time!r} has dtype {t.dtype}; it must hold integers "
                "(e.g. calendar years)"
            )
        if pd.api.types.is_float_dtype(t):
            values = t.to_numpy(dtype=float)
            infinite = ~np.isfinite(values)
            if infinite.any():
                raise PanelError(
                    f"time values that are not finite in column {self.time!r}: "
                    f"{_rows(frame, infinite, [self.id, self.time])}"
                )
            # exact test: 1990.01 is not a year, however close to one
            frac = values != np.round(values)
            if frac.any():
                raise PanelError(
                    f"non-integer time in column {self.time!r}: "
                    f"{_rows(frame, frac, [self.id, self.time])}; times must be exact integers"
                )
            frame = frame.assign(**{self.time: values.astype(np.int64)})
        dup = frame.duplicated([self.id, self.time], keep=False)
        if dup.any():
            raise PanelError(
                f"duplicate ({self.id}, {self.time}) pairs: "
                f"{_rows(frame, dup, [self.id, self.time])}"
            )
        return frame

    def _check_id_types(self, frame: pd.DataFrame) -> None:
        """Reject ids that mix numbers and text: 1 and "1" would be two different persons."""
        ids = frame[self.id]
        if ids.dtype != object:
            return
        kind = ids.map(_value_kind)
        if kind.nunique() > 1:
            first = {k: int(np.flatnonzero((kind == k).to_numpy())[0]) for k in kind.unique()}
            examples = ", ".join(
                f"{k} ids such as {_rows(frame, np.arange(len(frame)) == i, [self.id])}"
                for k, i in sorted(first.items())
            )
            raise PanelError(
                f"person ids in column {self.id!r} mix types ({examples}); 1 and '1' would be "
                "different persons. Convert the column to one type, e.g. "
                f"data[{self.id!r}].astype(str)"
            )

    def _check_occupation_codes(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Integer-valued float codes (a .dta column with missing values) become integers."""
        occ = frame[self.occupation]
        if pd.api.types.is_bool_dtype(occ):
            raise PanelError(
                f"occupation column {self.occupation!r} is boolean; it must hold codes"
            )
        if not pd.api.types.is_float_dtype(occ):
            return frame
        values = occ.to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise PanelError(
                f"occupation codes that are not integers in column {self.occupation!r}: "
                f"{_rows(frame, bad, [self.id, self.time, self.occupation])}"
            )
        return frame.assign(**{self.occupation: values.astype(np.int64)})

    def _observed_taxonomy(self, frame: pd.DataFrame) -> Taxonomy:
        codes = sorted(pd.unique(frame[self.occupation]).tolist())
        return Taxonomy(codes, [str(c) for c in codes], name=f"observed {self.occupation}")

    def _check_codes(self, frame: pd.DataFrame) -> None:
        known = frame[self.occupation].map(lambda c: c in self.taxonomy)
        if not known.all():
            bad = pd.unique(frame.loc[~known, self.occupation]).tolist()
            where = _rows(frame, ~known, [self.id, self.time, self.occupation])
            raise PanelError(
                f"occupation code(s) {_preview(bad)} in column {self.occupation!r} are not in "
                f"taxonomy {self.taxonomy.name!r}: {where}"
            )

    def _check_covariates(self, frame: pd.DataFrame) -> None:
        for col in self.covariates:
            na = frame[col].isna()
            if na.any():
                raise PanelError(
                    f"missing values in covariate {col!r}: {_rows(frame, na, [self.id, self.time])}"
                )
        person_level = ((self.birth_year,) if self.birth_year else ()) + self.static
        for col in person_level:
            n_values = frame.groupby(self.id, sort=False)[col].nunique()
            varies = n_values[n_values > 1].index.tolist()
            if varies:
                raise PanelError(
                    f"{'birth year' if col == self.birth_year else 'static covariate'} {col!r} "
                    f"varies within person(s) {_preview(varies)}; declare it as varying or fix it"
                )

    def _set_data(self, frame: pd.DataFrame) -> None:
        self._data = frame.sort_values([self.id, self.time], kind="stable").reset_index(drop=True)
        #: ``transitions(include_first)`` frames, built once (callers get copies).
        self._transitions: dict[bool, pd.DataFrame] = {}

    def _derive(self, frame: pd.DataFrame) -> CareerPanel:
        """A panel with this declaration on an already validated subset of the rows."""
        new = object.__new__(CareerPanel)
        new.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in ("_data", "_transitions")}
        )
        new.dropped = self.dropped.iloc[:0]
        new._set_data(frame)
        return new

    # -- accessors ----------------------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        """The validated long panel, sorted by (id, time), with the caller's columns."""
        return self._data

    @property
    def persons(self) -> np.ndarray:
        """Person ids, sorted."""
        return pd.unique(self._data[self.id])

    @property
    def n_persons(self) -> int:
        """Number of persons."""
        return int(self._data[self.id].nunique())

    @property
    def n_obs(self) -> int:
        """Number of person-waves (rows)."""
        return len(self._data)

    @property
    def n_transitions(self) -> int:
        """Number of transitions: waves after each person's first observed wave."""
        return self.n_obs - self.n_persons

    @property
    def times(self) -> np.ndarray:
        """The distinct waves, sorted."""
        return np.sort(pd.unique(self._data[self.time]))

    def transitions(self, include_first: bool = False) -> pd.DataFrame:
        """One row per transition (person, wave), linking consecutive observed waves.

        Parameters
        ----------
        include_first : bool
            Also return each person's first observed wave, with missing
            ``prev_occupation``, ``prev_time`` and ``gap``.

        Returns
        -------
        pandas.DataFrame
            Indexed by (id, time) with the caller's index names; columns ``occupation``,
            ``prev_occupation``, ``prev_time``, ``gap`` (years since the previous observed
            wave; waves may be irregular) and the declared covariates.
        """
        if include_first not in self._transitions:
            self._transitions[include_first] = self._build_transitions(include_first)
        # A copy: callers add columns or filter in place; the cache stays intact.
        return self._transitions[include_first].copy()

    def _build_transitions(self, include_first: bool) -> pd.DataFrame:
        d = self._data
        prev = d.groupby(self.id, sort=False)[[self.occupation, self.time]].shift(1)
        out = pd.DataFrame(
            {
                "occupation": d[self.occupation].to_numpy(),
                "prev_occupation": prev[self.occupation].to_numpy(),
                "prev_time": prev[self.time].to_numpy(),
            },
            index=pd.MultiIndex.from_arrays([d[self.id], d[self.time]]),
        )
        out["gap"] = pd.array(out.index.get_level_values(1) - out["prev_time"], dtype="Int64")
        out["prev_time"] = pd.array(out["prev_time"], dtype="Int64")
        for col in self.covariates:
            out[col] = d[col].to_numpy()
        if not include_first:
            out = out.loc[prev[self.time].notna().to_numpy()]
            out = out.astype({"prev_occupation": self._data[self.occupation].dtype})
        return out

    def history(self, person: Hashable) -> pd.DataFrame:
        """All waves of one person, sorted by time."""
        rows = self._data[self._data[self.id] == person]
        if rows.empty:
            raise PanelError(f"person {person!r} is not in the panel")
        return rows

    def subset(self, persons: Iterable[Hashable]) -> CareerPanel:
        """The panel restricted to ``persons`` (same declaration and taxonomy).

        Raises
        ------
        PanelError
            If a requested person is not in the panel.
        """
        persons = pd.Index(list(persons))
        unknown = persons.difference(pd.Index(self.persons))
        if len(unknown):
            raise PanelError(f"person(s) not in the panel: {_preview(unknown.tolist())}")
        return self._derive(self._data[self._data[self.id].isin(persons)])

    def with_taxonomy(self, taxonomy: Taxonomy) -> CareerPanel:
        """The same panel with another taxonomy of its codes, e.g. spelled as a checkpoint
        spells its titles (:meth:`Taxonomy.with_titles`).

        Raises
        ------
        PanelError
            If an occupation code of the panel is not in `taxonomy`.
        """
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy, got {type(taxonomy).__name__}")
        new = self._derive(self._data)
        new.taxonomy = taxonomy
        new._check_codes(new._data)
        return new

    def split(
        self, test_size: float = 0.2, val_size: float = 0.0, seed: int = 0
    ) -> tuple[CareerPanel, ...]:
        """Split by person into train and test (and validation) panels.

        Persons, never waves, are assigned to parts, so no career appears in two parts.
        The assignment depends only on the sorted person ids and ``seed``.

        Parameters
        ----------
        test_size, val_size : float
            Shares of persons in the test and validation parts; ``round(share * n)``
            persons each, at least one.
        seed : int
            Seed of the permutation of persons.

        Returns
        -------
        tuple of CareerPanel
            ``(train, test)``, or ``(train, val, test)`` when ``val_size > 0``.
        """
        for label, share in (("test_size", test_size), ("val_size", val_size)):
            if not 0 <= share < 1:
                raise PanelError(f"{label} must be in [0, 1), got {share}")
        if test_size <= 0:
            raise PanelError("test_size must be positive")
        persons = np.sort(self.persons)
        n = len(persons)
        order = np.random.default_rng(seed).permutation(n)
        n_test = max(1, round(test_size * n))
        n_val = max(1, round(val_size * n)) if val_size > 0 else 0
        if n_test + n_val >= n:
            raise PanelError(
                f"cannot split {n} person(s) into test={n_test}, val={n_val} and a non-empty "
                "training part"
            )
        test = persons[order[:n_test]]
        val = persons[order[n_test : n_test + n_val]]
        train = persons[order[n_test + n_val :]]
        parts = (train, val, test) if n_val else (train, test)
        return tuple(self.subset(np.sort(p)) for p in parts)

    def transition_table(self, normalize: bool = True) -> pd.DataFrame:
        """Cross-tabulate previous and current occupation, as Stata's ``xttrans``.

        Parameters
        ----------
        normalize : bool
            Row percentages (as ``xttrans``) when True, counts when False.

        Returns
        -------
        pandas.DataFrame
            Rows = previous occupation, columns = current occupation, both in taxonomy
            order, with a ``Total`` column (and row, for counts).
        """
        tr = self.transitions()
        codes = list(self.taxonomy.codes)
        table = pd.crosstab(
            pd.Categorical(tr["prev_occupation"], categories=codes),
            pd.Categorical(tr["occupation"], categories=codes),
            dropna=False,
        )
        table.index.name, table.columns.name = "previous", "current"
        if normalize:
            pct = table.div(table.sum(axis=1).replace(0, np.nan), axis=0) * 100
            pct["Total"] = pct.sum(axis=1)
            return pct
        table["Total"] = table.sum(axis=1)
        table.loc["Total"] = table.sum(axis=0)
        return table

    # -- Stata --------------------------------------------------------------------------------
    @classmethod
    def from_stata(
        cls,
        path: str | PathLike[str],
        *,
        id: str,
        time: str,
        occupation: str,
        taxonomy: Taxonomy | None = None,
        extended_missing: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> CareerPanel:
        """Declare a panel from a Stata ``.dta`` file, keeping integer codes.

        Value labels are not applied to the data (codes stay integers). When no taxonomy
        is given, the value labels attached to the occupation variable become the
        taxonomy; without value labels the observed codes are used. Reading is done by
        :func:`labor_econ.stata.read_stata`.

        Stata's missing values, ``.`` and the extended ``.a`` ... ``.z``, are missing
        occupations (dropped with ``missing="drop"``, an error otherwise), never codes,
        even when a value label names them. To keep a labelled extended missing value as
        a state (say ``.a`` = "Unemployed"), map it to a code with ``extended_missing``.

        Parameters
        ----------
        path : path-like
            The ``.dta`` file.
        id, time, occupation : str
            Variable names, as in ``xtset id time``.
        taxonomy : Taxonomy, optional
            Overrides the value labels.
        extended_missing : mapping, optional
            Extended missing values of the occupation variable to keep as states, e.g.
            ``{".a": 991}``: waves with ``.a`` get code 991, whose title is the label of
            ``.a`` when the taxonomy comes from the value labels (and 991 has no label of
            its own).
        **kwargs
            Passed to :class:`CareerPanel` (``birth_year``, ``static``, ``varying``,
            ``missing``).
        """
        from .stata import read_stata

        data, taxonomy = read_stata(
            path, occupation=occupation, taxonomy=taxonomy, extended_missing=extended_missing
        )
        return cls(data, id=id, time=time, occupation=occupation, taxonomy=taxonomy, **kwargs)

    def __repr__(self) -> str:
        t = self.times
        return (
            f"<CareerPanel: {self.n_persons} persons, {self.n_obs} waves, "
            f"{self.n_transitions} transitions, {self.time} {t.min()}-{t.max()}, "
            f"taxonomy {self.taxonomy.name!r} ({len(self.taxonomy)} codes)>"
        )
