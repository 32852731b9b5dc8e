"""The career design of the multinomial logit: features, dummies, scaling, sparse storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import solve_triangular

from ..panel import CareerPanel, PanelError

__all__ = ["FEATURE_GROUPS", "CareerDesign", "DesignMatrix", "resolve_features"]

#: The feature groups of :class:`MNLogitModel`, in design order; ``"career"`` is all of
#: them (those the panel can provide).
FEATURE_GROUPS: dict[str, str] = {
    "prev_occupation": "dummies of the previous occupation (one dropped)",
    "prev2_occupation": "dummies of the occupation before the previous one, with 'none' for a "
    "person's second wave (one code dropped)",
    "tenure": "years in the current occupation",
    "experience": "years observed so far",
    "gap": "years since the previous wave",
    "year": "calendar year (the panel's time variable)",
    "birth_year": "the declared birth year",
    "static": "the declared static covariates",
    "varying": "the declared varying covariates, at the previous wave (known at prediction)",
}

_NONE = "none"


# -- features ---------------------------------------------------------------------------------
def resolve_features(panel: CareerPanel, features: str | Sequence[str]) -> tuple[str, ...]:
    """Expand ``features`` into an ordered tuple of groups and covariate names."""
    declared = {
        "birth_year": (panel.birth_year,) if panel.birth_year else (),
        "static": panel.static,
        "varying": panel.varying,
    }
    if isinstance(features, str):
        if features != "career":
            raise ValueError(
                f"features must be 'career' or a list of feature names, got {features!r}"
            )
        return tuple(g for g in FEATURE_GROUPS if g not in declared or declared[g])
    names = list(features)
    if not names:
        raise ValueError("features is empty; pass 'career' or at least one feature name")
    allowed = list(FEATURE_GROUPS) + list(panel.covariates)
    unknown = [f for f in names if f not in allowed]
    if unknown:
        raise ValueError(
            f"unknown feature(s) {unknown}; choose among the groups {list(FEATURE_GROUPS)} "
            f"and the panel's covariates {list(panel.covariates)}"
        )
    empty = [g for g in names if g in declared and not declared[g]]
    if empty:
        raise ValueError(f"the panel declares no {' / '.join(empty)} covariates")
    if len(set(names)) != len(names):
        raise ValueError(f"features lists a name twice: {names}")
    return tuple(names)


_CAREER = ("prev_occupation", "prev2_occupation", "tenure", "experience", "gap", "year")


def _sources(panel: CareerPanel, features: tuple[str, ...]) -> tuple[str, ...]:
    """The raw columns behind ``features``: career features and concrete covariate names."""
    groups = {
        "birth_year": (panel.birth_year,) if panel.birth_year else (),
        "static": panel.static,
        "varying": panel.varying,
    }
    out: list[str] = []
    for name in features:
        for src in groups.get(name, (name,)):
            if src not in out:
                out.append(src)
    clash = [c for c in panel.covariates if c in _CAREER and c in out]
    if clash:
        raise ValueError(
            f"covariate(s) {clash} have the name of a career feature; rename the column(s)"
        )
    return tuple(out)


def _career_frame(panel: CareerPanel, sources: tuple[str, ...]) -> pd.DataFrame:
    """Raw (unscaled, undummied) feature values, one row per transition of ``panel``.

    Raises
    ------
    PanelError
        If ``panel`` does not declare a covariate among ``sources``.
    """
    missing = [c for c in sources if c not in _CAREER and c not in panel.covariates]
    if missing:
        raise PanelError(
            f"the model uses covariate(s) {missing}, which the panel does not declare "
            f"(its covariates: {list(panel.covariates)}); declare them as in the estimation "
            "panel"
        )
    full = panel.transitions(include_first=True)
    ids = full.index.get_level_values(0).to_numpy()
    t = full.index.get_level_values(1).to_numpy().astype(np.int64)
    occ = full["occupation"].to_numpy(dtype=object)
    n = len(full)
    same1 = np.zeros(n, dtype=bool)  # row i-1 is the same person
    same1[1:] = ids[1:] == ids[:-1]
    same2 = np.zeros(n, dtype=bool)  # row i-2 is the same person
    same2[2:] = ids[2:] == ids[:-2]
    # spells: runs of consecutive observed waves of one person with the same code
    new_spell = ~same1
    new_spell[1:] |= occ[1:] != occ[:-1]
    spell_start = t[np.maximum.accumulate(np.where(new_spell, np.arange(n), 0))]
    first_time = t[np.maximum.accumulate(np.where(~same1, np.arange(n), 0))]
    idx = np.flatnonzero(same1)
    out = pd.DataFrame(index=full.index[same1])
    for name in sources:
        if name == "prev_occupation":
            out[name] = occ[idx - 1]
        elif name == "prev2_occupation":
            prev2 = np.full(len(idx), _NONE, dtype=object)
            has2 = same2[idx]
            prev2[has2] = occ[idx[has2] - 2]
            out[name] = prev2
        elif name == "tenure":
            out[name] = (t[idx - 1] - spell_start[idx - 1]).astype(float)
        elif name == "experience":
            out[name] = (t[idx - 1] - first_time[idx]).astype(float)
        elif name == "gap":
            out[name] = (t[idx] - t[idx - 1]).astype(float)
        elif name == "year":
            out[name] = t[idx].astype(float)
        else:
            # Covariates at the previous wave: what is known when the transition is predicted
            # (this wave's wage or hours are outcomes of the same year). Static covariates and
            # the birth year are the same at both waves.
            out[name] = full[name].to_numpy()[idx - 1]
    return out


@dataclass(frozen=True)
class _Column:
    """One design column: a constant, a dummy ``source == level``, or a numeric source."""

    name: str
    source: str | None
    level: Any = None
    center: float = 0.0
    scale: float = 1.0
    standardized: bool = False


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _levels(values: pd.Series) -> list[Any]:
    """Observed levels of a categorical source, in category or sorted order."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    return sorted(pd.unique(values.dropna()).tolist(), key=lambda v: (str(type(v)), v))


def _learn_columns(raw: pd.DataFrame, panel: CareerPanel) -> list[_Column]:
    """The design columns, in order, learned from the estimation sample's raw features."""
    cols = [_Column("const", None)]
    codes = list(panel.taxonomy.codes)
    for source in raw.columns:
        values = raw[source]
        if source in ("prev_occupation", "prev2_occupation"):
            present = set(values.tolist())
            observed = [c for c in codes if c in present]
            label = "prev" if source == "prev_occupation" else "prev2"
            if source == "prev2_occupation" and _NONE in present:
                cols.append(_Column(f"{label}={_NONE}", source, _NONE))
            cols += [_Column(f"{label}={c}", source, c) for c in observed[1:]]
        elif source in _CAREER or _is_numeric(values):
            x = values.to_numpy(dtype=float)
            if source not in _CAREER and np.isin(x, (0.0, 1.0)).all():
                cols.append(_Column(source, source))
                continue
            sd = float(x.std())
            scale = sd if sd > 0 else 1.0  # a constant column is omitted as such later
            cols.append(_Column(source, source, None, float(x.mean()), scale, True))
        else:
            cols += [_Column(f"{source}={lv}", source, lv) for lv in _levels(values)[1:]]
    return cols


class DesignMatrix:
    """A design stored by its structure: dense numeric columns and sparse 0/1 dummies.

    The career design is mostly dummies (previous occupation, the one before: one non-zero
    per row and block), so a product with it costs ``O(n)`` per outcome for those blocks
    instead of ``O(n p)``. Columns keep the design's order: ``dense_pos`` and ``sparse_pos``
    give each part's positions among the ``n_cols`` columns.

    Parameters
    ----------
    dense : ndarray (n, d)
        The numeric columns (the constant included).
    sparse : scipy.sparse.csr_matrix (n, s)
        The dummy columns.
    dense_pos, sparse_pos : ndarray of int
        Positions of the dense and sparse columns in the design.
    """

    def __init__(
        self,
        dense: np.ndarray,
        sparse: sp.csr_matrix,
        dense_pos: np.ndarray,
        sparse_pos: np.ndarray,
    ) -> None:
        self.dense = np.ascontiguousarray(dense, dtype=np.float64)
        self.sparse = sp.csr_matrix(sparse, dtype=np.float64)
        self.dense_pos = np.asarray(dense_pos, dtype=np.intp)
        self.sparse_pos = np.asarray(sparse_pos, dtype=np.intp)
        self.n_rows = self.dense.shape[0]
        self.n_cols = len(self.dense_pos) + len(self.sparse_pos)
        self._sparse_t = self.sparse.T.tocsr()

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_cols)

    def toarray(self) -> np.ndarray:
        """The design as a dense ``(n, p)`` array."""
        out = np.zeros(self.shape)
        out[:, self.dense_pos] = self.dense
        out[:, self.sparse_pos] = self.sparse.toarray()
        return out

    def dot(self, coef: np.ndarray) -> np.ndarray:
        """``X @ coef`` for ``coef`` of shape ``(p, m)``."""
        out = self.dense @ coef[self.dense_pos]
        if len(self.sparse_pos):
            out += self.sparse @ coef[self.sparse_pos]
        return out

    def tdot(self, resid: np.ndarray) -> np.ndarray:
        """``X.T @ resid`` for ``resid`` of shape ``(n, m)``."""
        out = np.empty((self.n_cols, resid.shape[1]))
        out[self.dense_pos] = self.dense.T @ resid
        if len(self.sparse_pos):
            out[self.sparse_pos] = self._sparse_t @ resid
        return out

    def square_tdot(self, values: np.ndarray) -> np.ndarray:
        """``(X**2).T @ values``."""
        out = np.empty((self.n_cols, values.shape[1]))
        out[self.dense_pos] = (self.dense**2).T @ values
        if len(self.sparse_pos):
            out[self.sparse_pos] = self._sparse_t.multiply(self._sparse_t) @ values
        return out

    def abs_tdot(self, values: np.ndarray) -> np.ndarray:
        """``|X|.T @ values``: which columns touch the rows where ``values`` is non-zero."""
        out = np.empty((self.n_cols, values.shape[1]))
        out[self.dense_pos] = np.abs(self.dense).T @ values
        if len(self.sparse_pos):
            out[self.sparse_pos] = abs(self._sparse_t) @ values
        return out

    def weighted_gram(self, weights: np.ndarray) -> np.ndarray:
        """``X.T @ diag(weights) @ X`` as a dense ``(p, p)`` array."""
        d, s = self.dense_pos, self.sparse_pos
        wd = self.dense * weights[:, None]
        out = np.empty((self.n_cols, self.n_cols))
        out[np.ix_(d, d)] = self.dense.T @ wd
        if len(s):
            cross = self._sparse_t @ wd
            out[np.ix_(s, d)] = cross
            out[np.ix_(d, s)] = cross.T
            out[np.ix_(s, s)] = (self._sparse_t @ self.sparse.multiply(weights[:, None])).toarray()
        return out

    def group_sums(self, groups: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
        """``groups @ diag(weights) @ X``: per-group sums of the weighted rows, ``(G, p)``."""
        gw = sp.csr_matrix(groups.multiply(weights[None, :]))
        out = np.empty((groups.shape[0], self.n_cols))
        out[:, self.dense_pos] = gw @ self.dense
        if len(self.sparse_pos):
            out[:, self.sparse_pos] = (gw @ self.sparse).toarray()
        return out

    def column_is_constant(self) -> np.ndarray:
        """Whether each column takes a single value."""
        out = np.empty(self.n_cols, dtype=bool)
        out[self.dense_pos] = np.ptp(self.dense, axis=0) == 0 if self.n_rows else True
        nnz = np.diff(self.sparse.tocsc().indptr)
        out[self.sparse_pos] = (nnz == 0) | (nnz == self.n_rows)
        return out

    def select(self, keep: np.ndarray) -> DesignMatrix:
        """The columns where ``keep`` is True, in order."""
        new_pos = np.cumsum(keep) - 1
        kd, ks = keep[self.dense_pos], keep[self.sparse_pos]
        return DesignMatrix(
            self.dense[:, kd],
            self.sparse[:, np.flatnonzero(ks)],
            new_pos[self.dense_pos[kd]],
            new_pos[self.sparse_pos[ks]],
        )


def _design_matrix(raw: pd.DataFrame, columns: Sequence[_Column]) -> DesignMatrix:
    """The design of ``raw``'s rows; dummies of a level absent from ``columns`` are all zero."""
    n = len(raw)
    dense_pos: list[int] = []
    dense_cols: list[np.ndarray] = []
    by_source: dict[str, list[tuple[int, Any]]] = {}
    for j, col in enumerate(columns):
        if col.source is None:
            dense_pos.append(j)
            dense_cols.append(np.ones(n))
        elif col.level is not None:
            by_source.setdefault(col.source, []).append((j, col.level))
        else:
            dense_pos.append(j)
            dense_cols.append((raw[col.source].to_numpy(dtype=float) - col.center) / col.scale)
    rows, cols, sparse_pos = [], [], []
    for source, entries in by_source.items():
        levels = pd.Index([lv for _, lv in entries], dtype=object)
        found = levels.get_indexer(pd.Index(raw[source].to_numpy(dtype=object), dtype=object))
        hit = np.flatnonzero(found >= 0)
        rows.append(hit)
        cols.append(found[hit] + len(sparse_pos))
        sparse_pos += [j for j, _ in entries]
    sparse = sp.csr_matrix(
        (
            np.ones(sum(len(r) for r in rows)),
            (np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else []),
        ),
        shape=(n, len(sparse_pos)),
    )
    dense = np.column_stack(dense_cols) if dense_cols else np.empty((n, 0))
    return DesignMatrix(dense, sparse, np.array(dense_pos), np.array(sparse_pos))


def _independent_columns(gram: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Mask of the columns kept by a greedy left-to-right rank check (Stata's rule: a column
    collinear with earlier ones is omitted), from the Gram matrix ``X'X / n`` by an
    incremental Cholesky factorization (``p**3`` operations)."""
    p = gram.shape[0]
    keep = np.zeros(p, dtype=bool)
    chol = np.zeros((p, p))
    kept: list[int] = []
    for j in range(p):
        g = gram[j, j]
        if kept:
            v = solve_triangular(chol[: len(kept), : len(kept)], gram[kept, j], lower=True)
            r = g - v @ v
        else:
            v, r = np.empty(0), g
        if g <= 0 or r <= tol * g:
            continue
        m = len(kept)
        chol[m, :m] = v
        chol[m, m] = np.sqrt(r)
        kept.append(j)
        keep[j] = True
    return keep


class CareerDesign:
    """Learns the design on the estimation panel and computes it identically for any panel.

    Parameters
    ----------
    panel : CareerPanel
        The estimation sample: it fixes the dummies' levels and references, the scaling of
        numeric features, and the columns omitted as constant or collinear.
    features : tuple of str
        Feature groups and covariate names, as returned by :func:`resolve_features`.

    Attributes
    ----------
    columns : list
        The kept design columns, in order.
    matrix : DesignMatrix
        The estimation sample's design.
    dropped : dict of str to str
        Omitted columns and why.
    index : pandas.MultiIndex
        (id, time) of the estimation sample's transitions.
    """

    def __init__(self, panel: CareerPanel, features: tuple[str, ...]) -> None:
        self.sources = _sources(panel, features)
        raw = _career_frame(panel, self.sources)
        columns = _learn_columns(raw, panel)
        x = _design_matrix(raw, columns)
        gram = x.weighted_gram(np.full(x.n_rows, 1.0 / max(x.n_rows, 1)))
        keep = _independent_columns(gram)
        constant = x.column_is_constant()
        self.dropped = {
            col.name: (
                "constant in the estimation sample"
                if constant[j]
                else "collinear with the columns before it"
            )
            for j, col in enumerate(columns)
            if not keep[j]
        }
        self.columns = [c for c, k in zip(columns, keep, strict=True) if k]
        self.matrix = x.select(keep)
        self.index = raw.index

    @property
    def names(self) -> list[str]:
        """Names of the kept columns, ``const`` first."""
        return [c.name for c in self.columns]

    @property
    def scaling(self) -> pd.DataFrame:
        """Mean and standard deviation of each standardized numeric feature."""
        rows = [(c.name, c.center, c.scale) for c in self.columns if c.standardized]
        return pd.DataFrame(rows, columns=["feature", "mean", "sd"]).set_index("feature")

    def transform(self, panel: CareerPanel) -> DesignMatrix:
        """``panel``'s design with the estimation sample's columns, references and scaling."""
        return _design_matrix(_career_frame(panel, self.sources), self.columns)

    @property
    def factors(self) -> list[tuple[str, np.ndarray]]:
        """The categorical factors of the design: each dummy block (one per source) and each
        0/1 column, with the design positions of its indicator columns (level ``i + 1`` is
        the ``i``-th; level 0 is the reference, or the value 0)."""
        blocks: dict[str, list[int]] = {}
        for j, col in enumerate(self.columns):
            binary = col.source is not None and col.level is None and not col.standardized
            if col.level is not None or binary:
                blocks.setdefault(col.source if col.level is not None else col.name, []).append(j)
        return [(name, np.asarray(pos, dtype=np.intp)) for name, pos in blocks.items()]

    def factor_levels(self, x: DesignMatrix) -> np.ndarray:
        """``(n_factors, n)`` level of each row in each factor of :attr:`factors` (0: none
        of the factor's indicators is 1, i.e. the reference level or an unseen one)."""
        factors = self.factors
        codes = np.zeros((len(factors), x.n_rows), dtype=np.intp)
        factor_of = np.full(x.n_cols, -1, dtype=np.intp)
        level_of = np.zeros(x.n_cols, dtype=np.intp)
        for f, (_, pos) in enumerate(factors):
            factor_of[pos] = f
            level_of[pos] = np.arange(1, len(pos) + 1)
        csr = x.sparse.tocsr()
        rows = np.repeat(np.arange(x.n_rows), np.diff(csr.indptr))
        design_col = x.sparse_pos[csr.indices]
        hit = (factor_of[design_col] >= 0) & (csr.data != 0)
        codes[factor_of[design_col[hit]], rows[hit]] = level_of[design_col[hit]]
        for k, j in enumerate(x.dense_pos):
            if factor_of[j] >= 0:
                codes[factor_of[j]] = (x.dense[:, k] != 0).astype(np.intp)
        return codes
