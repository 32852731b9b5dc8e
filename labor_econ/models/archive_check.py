"""The schema of a saved results zip, checked before and while it is read.

A results file may come from anyone (a colleague, a download), so :func:`load_results
<labor_econ.models.persistence.load_results>` trusts nothing in it. Every defect raises one
error class, :class:`ResultsFileError`, whose message names the file and the member:

- **member names**: only ``manifest.json``, ``panel.parquet``, ``arrays.npz`` and
  ``components/<i>.zip`` (``i`` = 0, 1, ... with no gap); no ``..``, no absolute path, no
  backslash, no duplicate;
- **sizes**: each member's unpacked size, as the zip declares it, at most
  :data:`MAX_MEMBER_BYTES` (the manifest at most :data:`MAX_MANIFEST_BYTES`), and
  ``arrays.npz`` no larger than the arrays its class stores for this panel need (plus
  headers); inside ``arrays.npz``, each ``.npy`` header's dtype and shape are checked
  against that expectation *before* any array is allocated. A small zip that unpacks to
  hundreds of megabytes is refused without unpacking it;
- **types**: the manifest is a JSON object with the keys and JSON types of the format (and
  of the results class's state); ``panel.parquet`` is a Parquet table with the declared
  columns; arrays are float64 (no object arrays: never a pickle);
- **values**: probabilities finite, in [0, 1], rows summing to one; counts non-negative
  whole numbers equal to the panel's own transition counts (a zip whose panel was swapped
  for another's is refused); log-scores finite or minus infinity and not positive;
  parameters finite, covariances without infinities.

Anything the results class still cannot build from checked parts is reported the same way.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LaborEconError

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBER_BYTES",
    "ResultsFileError",
    "check_members",
    "check_manifest",
    "member_errors",
    "read_arrays",
    "read_panel_data",
]

#: Largest unpacked size of one member (the zip's declared size), 2 GiB: an LLM's scores at
#: 500,000 transitions x 500 codes. Larger results need a custom store of their own.
MAX_MEMBER_BYTES = 2 * 2**30
#: Largest unpacked ``manifest.json``, 16 MiB (a 100,000-code taxonomy's codes and titles).
MAX_MANIFEST_BYTES = 16 * 2**20
#: Most components a pool may store, and how deep results may nest (a pool of pools).
MAX_COMPONENTS = 256
MAX_DEPTH = 4
#: Bytes allowed beyond the arrays themselves in ``arrays.npz`` (zip and ``.npy`` headers).
_NPZ_OVERHEAD = 4096
#: Largest departure of a row of probabilities from one.
_ATOL = 1e-6

_COMPONENT = re.compile(r"components/(0|[1-9][0-9]{0,8})\.zip")
_FIXED = ("manifest.json", "panel.parquet", "arrays.npz")


class ResultsFileError(LaborEconError, ValueError):
    """A results file that does not follow the saved format (see :mod:`.archive_check`).

    Attributes
    ----------
    path : str
        The file (``outer.zip:components/0.zip`` for a component).
    member : str
        The member of the zip at fault (``manifest.json``, ``arrays.npz:probs``, ...).
    """

    def __init__(self, path: str, member: str, problem: str, *, message: str | None = None):
        self.path, self.member = path, member
        super().__init__(message or f"{path}: member {member}: {problem}")


@contextmanager
def member_errors(path: str, member: str) -> Iterator[None]:
    """Report any error raised while building results from checked parts as a
    :class:`ResultsFileError` naming ``member`` (the checks above catch the known defects;
    this keeps an unforeseen one from surfacing as a raw AttributeError or KeyError)."""
    try:
        yield
    except ResultsFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
        raise ResultsFileError(path, member, f"{type(err).__name__}: {err}") from err


# -- members ---------------------------------------------------------------------------------
def check_members(zf: zipfile.ZipFile, path: str) -> int:
    """Check member names and declared sizes; return the number of components."""
    if path.count(":components/") > MAX_DEPTH:
        raise ResultsFileError(path, "components/", f"results nested over {MAX_DEPTH} deep")
    names = [info.filename for info in zf.infolist()]
    if "manifest.json" not in names:  # some other zip: say so before judging its members
        raise ResultsFileError(
            path,
            "manifest.json",
            "missing",
            message=f"{path} is not a saved labor_econ results file (no manifest)",
        )
    for name in names:
        if name.startswith(("/", "\\")) or ".." in name or "\\" in name or ":" in name:
            raise ResultsFileError(path, repr(name), "unsafe member name (absolute or '..')")
        if name not in _FIXED and not _COMPONENT.fullmatch(name):
            raise ResultsFileError(
                path,
                repr(name),
                "unexpected member (a results file holds only manifest.json, panel.parquet, "
                "arrays.npz and components/<i>.zip)",
            )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ResultsFileError(path, twice[0], "the member is stored twice")
    for member in _FIXED:
        if member not in names:
            raise ResultsFileError(path, member, "missing")
    for info in zf.infolist():
        limit = MAX_MANIFEST_BYTES if info.filename == "manifest.json" else MAX_MEMBER_BYTES
        if info.file_size > limit:
            raise ResultsFileError(
                path,
                info.filename,
                f"declares {info.file_size:,} bytes unpacked, over the limit of {limit:,} "
                "(labor_econ.models.archive_check)",
            )
    parts = sorted(int(_COMPONENT.fullmatch(n).group(1)) for n in names if n not in _FIXED)
    if parts != list(range(len(parts))):
        raise ResultsFileError(path, "components/", f"numbered {parts}, not 0, 1, ...")
    if len(parts) > MAX_COMPONENTS:
        raise ResultsFileError(
            path, "components/", f"{len(parts)} components, over {MAX_COMPONENTS}"
        )
    return len(parts)


# -- manifest --------------------------------------------------------------------------------
_SCALAR = (str, int, float, bool)
_NUMBER = (int, float)  # bool is an int: refused separately where it matters


def _json_type(value: Any, kind: Any) -> bool:
    """Whether ``value`` has JSON type ``kind``: a Python type or tuple, ``"number"``,
    ``"str?"`` (a string or null), ``"[str]"`` (a list of strings) or ``"[scalar]"``."""
    if kind == "number":
        return isinstance(value, _NUMBER) and not isinstance(value, bool)
    if kind == "number?":
        return value is None or _json_type(value, "number")
    if kind == "str?":
        return value is None or isinstance(value, str)
    if kind == "dict?":
        return value is None or isinstance(value, dict)
    if kind == "[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "[scalar]":
        return isinstance(value, list) and all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
        )
    return isinstance(value, kind)


_MANIFEST = {
    "format": str,
    "version": int,
    "class": str,
    "library": str,
    "panel": dict,
    "state": dict,
}
_PANEL = {
    "id": str,
    "time": str,
    "occupation": str,
    "birth_year": "str?",
    "static": "[str]",
    "varying": "[str]",
    "taxonomy": dict,
}
_TAXONOMY = {"name": str, "codes": "[scalar]", "titles": "[str]", "special": "[scalar]"}
#: The state each results class writes (keys it reads back, and their JSON types). A class
#: not listed here gets the generic checks only; add it here when adding a results class.
STATES: dict[str, dict[str, Any]] = {
    "MarkovResults": {"smoothing": "number"},
    "MarginalResults": {"smoothing": "number"},
    "MNLogitResults": {
        "features": "[str]",
        "floor": "number",
        "method": str,
        "converged": bool,
        "fit_history": "[str]",
        "cov_type": "str?",
        "cov_note": "str?",
        "penalty": "number",
        "mnl_llf": "number",
    },
    "LLMResults": {
        "name": str,
        "include_first": bool,
        "calibrated": bool,
        "cov_type": "str?",
        "template": dict,
        "mle_retvals": "dict?",
        "store": "str?",
    },
    "LogLinearPoolResults": {
        "names": "[str]",
        "cov_type": "str?",
        "converged": bool,
        "iterations": int,
    },
}
# Archives name their class as saved: today's names, and the names before the rename.
#: Class names archives were written under before the rename, and their names today.
_RENAMED = {"TransitionMNLogitResults": "MNLogitResults", "LLMTransitionResults": "LLMResults"}


def _kind(manifest: dict[str, Any]) -> str:
    """The results class an archive holds, by today's name."""
    return _RENAMED.get(manifest["class"], manifest["class"])


def _check_keys(path: str, member: str, obj: Any, schema: dict[str, Any]) -> None:
    if not isinstance(obj, dict):
        raise ResultsFileError(path, member, f"a JSON object expected, got {type(obj).__name__}")
    missing = [k for k in schema if k not in obj]
    if missing:
        raise ResultsFileError(path, member, f"missing key(s) {missing}")
    for key, kind in schema.items():
        if not _json_type(obj[key], kind):
            want = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
            raise ResultsFileError(
                path, f"{member}: {key}", f"{want} expected, got {obj[key]!r:.80}"
            )


def check_manifest(zf: zipfile.ZipFile, path: str) -> dict[str, Any]:
    """Read ``manifest.json`` and check its keys and JSON types; return it."""
    try:
        manifest = json.loads(zf.read("manifest.json").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ResultsFileError(path, "manifest.json", f"not valid JSON ({err})") from None
    _check_keys(path, "manifest.json", manifest, _MANIFEST)
    _check_keys(path, "manifest.json: panel", manifest["panel"], _PANEL)
    tax = manifest["panel"]["taxonomy"]
    _check_keys(path, "manifest.json: panel.taxonomy", tax, _TAXONOMY)
    if len(tax["codes"]) != len(tax["titles"]) or not tax["codes"]:
        raise ResultsFileError(
            path,
            "manifest.json: panel.taxonomy",
            f"{len(tax['codes'])} codes but {len(tax['titles'])} titles",
        )
    state = STATES.get(_kind(manifest))
    if state is not None:
        _check_keys(path, "manifest.json: state", manifest["state"], state)
    return manifest


# -- panel -----------------------------------------------------------------------------------
def read_panel_data(zf: zipfile.ZipFile, path: str, manifest: dict[str, Any]) -> pd.DataFrame:
    """Read ``panel.parquet`` (a Parquet table holding the declared columns)."""
    try:
        data = pd.read_parquet(io.BytesIO(zf.read("panel.parquet")))
    except Exception as err:  # noqa: BLE001 - pyarrow raises many types on garbage
        raise ResultsFileError(
            path, "panel.parquet", f"not a readable Parquet table ({type(err).__name__}: {err})"
        ) from None
    spec = manifest["panel"]
    declared = [spec["id"], spec["time"], spec["occupation"], *spec["static"], *spec["varying"]]
    if spec["birth_year"] is not None:
        declared.append(spec["birth_year"])
    missing = [c for c in declared if c not in data.columns]
    if missing:
        raise ResultsFileError(
            path, "panel.parquet", f"lacks the column(s) {missing} the manifest declares"
        )
    return data


# -- arrays ----------------------------------------------------------------------------------
def _expected(manifest: dict[str, Any], panel: Any, n_components: int) -> dict[str, Any]:
    """Name -> expected shape (a tuple, ``"k"`` for a vector of any length, ``"kk"`` for a
    square matrix as long as that vector) of each array the class stores; None: unknown class.
    """
    k = len(panel.taxonomy)
    state = manifest["state"]
    kind = _kind(manifest)
    if kind == "MarkovResults":
        return {"probs": (k, k), "counts": (k, k)}
    if kind == "MarginalResults":
        return {"probs": (k,), "counts": (k,)}
    if kind == "LLMResults":
        rows = len(panel.transitions(include_first=bool(state["include_first"])))
        return {"logq": (rows, k), "params": "k", "cov": "kk"}
    if kind == "LogLinearPoolResults":
        m = len(state["names"])
        if m != n_components:
            raise ResultsFileError(
                "", "manifest.json: state.names", f"{m} names but {n_components} components"
            )
        return {"params": (m,), "cov": (m, m)}
    if kind == "MNLogitResults":
        return {"params": "k", "cov?": "kk"}
    return None


def _bound_bytes(expected: dict[str, Any], manifest: dict[str, Any], panel: Any) -> int:
    """Largest ``arrays.npz`` the expectation allows (8 bytes per float, plus headers)."""
    total = 0
    free = _free_length(manifest, panel)
    for shape in expected.values():
        if shape == "k":
            total += 8 * free
        elif shape == "kk":
            total += 8 * free * free
        else:
            total += 8 * math.prod(shape)
    return min(total + _NPZ_OVERHEAD * (1 + len(expected)), MAX_MEMBER_BYTES)


def _free_length(manifest: dict[str, Any], panel: Any) -> int:
    """Longest parameter vector a class with a free-length vector can store for ``panel``."""
    if _kind(manifest) == "LLMResults":
        return 8  # the calibration's few parameters
    # MNLogit: design columns (at most the intercept, 2 K occupation dummies, the durations
    # and year, one column per numeric covariate and one per level of any other) times the
    # observed outcomes but one.
    k = len(panel.taxonomy)
    data = panel.data
    levels = 0
    for c in [*panel.static, *panel.varying, panel.birth_year]:
        if c is not None:
            numeric = pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c])
            levels += 1 if numeric else max(1, int(data[c].nunique()))
    outcomes = int(panel.transitions()["occupation"].nunique())
    return (1 + 2 * k + 1 + 5 + levels) * max(outcomes - 1, 1)


def read_arrays(
    zf: zipfile.ZipFile, path: str, manifest: dict[str, Any], panel: Any, n_components: int
) -> dict[str, np.ndarray]:
    """Read ``arrays.npz`` after checking its declared sizes and ``.npy`` headers against
    what the class stores for this panel; then check the values."""
    try:
        expected = _expected(manifest, panel, n_components)
    except ResultsFileError as err:
        raise ResultsFileError(path, err.member, str(err).split(": ", 2)[-1]) from None
    info = zf.getinfo("arrays.npz")
    if expected is not None:
        bound = _bound_bytes(expected, manifest, panel)
        if info.file_size > bound:
            raise ResultsFileError(
                path,
                "arrays.npz",
                f"declares {info.file_size:,} bytes unpacked, but a {manifest['class']} on "
                f"this panel stores at most {bound:,} (refused without unpacking it)",
            )
    try:
        inner = zipfile.ZipFile(io.BytesIO(zf.read("arrays.npz")))
    except zipfile.BadZipFile:
        raise ResultsFileError(path, "arrays.npz", "not a NumPy .npz archive") from None
    arrays: dict[str, np.ndarray] = {}
    with inner:
        for entry in inner.infolist():
            where = f"arrays.npz:{entry.filename}"
            name = entry.filename.removesuffix(".npy")
            if not entry.filename.endswith(".npy") or "/" in name or ".." in name:
                raise ResultsFileError(path, where, "not a .npy member")
            if expected is not None and name not in expected and f"{name}?" not in expected:
                raise ResultsFileError(
                    path,
                    where,
                    f"unexpected array (a {manifest['class']} stores {sorted(expected)})",
                )
            if entry.file_size > MAX_MEMBER_BYTES:
                raise ResultsFileError(path, where, f"declares {entry.file_size:,} bytes")
            with inner.open(entry) as raw:
                shape, fortran, dtype = _npy_header(raw, path, where)
                size = 8 * math.prod(shape)
                if dtype != np.dtype(np.float64):
                    raise ResultsFileError(path, where, f"dtype {dtype}, not float64")
                if size > MAX_MEMBER_BYTES or size > entry.file_size:
                    raise ResultsFileError(
                        path, where, f"shape {shape} does not fit the declared size"
                    )
                arrays[name] = _read_body(raw, shape, fortran, path, where)
        if expected is not None:
            missing = [n for n in expected if not n.endswith("?") and n not in arrays]
            if missing:
                raise ResultsFileError(path, "arrays.npz", f"lacks the array(s) {missing}")
            _check_shapes(path, arrays, expected)
            if _kind(manifest) == "MNLogitResults":
                outcomes = int(panel.transitions()["occupation"].nunique())
                if outcomes < 2 or len(arrays["params"]) % (outcomes - 1):
                    raise ResultsFileError(
                        path,
                        "arrays.npz:params",
                        f"{len(arrays['params'])} coefficients, not a multiple of the "
                        f"{outcomes - 1} non-base outcomes of the stored panel",
                    )
    _check_values(path, manifest, panel, arrays)
    return arrays


def _npy_header(raw: Any, path: str, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape and dtype from a ``.npy`` header, read with NumPy's own parser."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(raw)
        reader = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}[version]
        shape, fortran, dtype = reader(raw)
    except (ValueError, KeyError, SyntaxError, OverflowError) as err:
        raise ResultsFileError(path, where, f"not a valid .npy header ({err})") from None
    if dtype.hasobject:
        raise ResultsFileError(path, where, "object array (pickled data is never read)")
    return tuple(int(s) for s in shape), bool(fortran), dtype


def _read_body(
    raw: Any, shape: tuple[int, ...], fortran: bool, path: str, where: str
) -> np.ndarray:
    """The array body: exactly ``8 * prod(shape)`` bytes, no more read."""
    size = 8 * math.prod(shape)
    body = raw.read(size)
    if len(body) != size:
        raise ResultsFileError(path, where, f"truncated: {len(body)} of {size} bytes")
    flat = np.frombuffer(body, dtype="<f8")
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")  # as saved


def _check_shapes(path: str, arrays: dict[str, np.ndarray], expected: dict[str, Any]) -> None:
    free = None
    for key, want in expected.items():
        name = key.removesuffix("?")
        if name not in arrays:
            continue
        shape = arrays[name].shape
        if want == "k":
            ok = len(shape) == 1
            free = shape[0] if ok else None
        elif want == "kk":
            ok = len(shape) == 2 and shape[0] == shape[1] and (free is None or shape[0] == free)
        else:
            ok = shape == want
        if not ok:
            text = {"k": "a vector", "kk": "a square matrix as long as params"}.get(want, want)
            raise ResultsFileError(path, f"arrays.npz:{name}", f"shape {shape}, expected {text}")


# -- values ----------------------------------------------------------------------------------
def _check_values(
    path: str, manifest: dict[str, Any], panel: Any, arrays: dict[str, np.ndarray]
) -> None:
    kind = _kind(manifest)
    if kind in ("MarkovResults", "MarginalResults"):
        _check_probabilities(path, "arrays.npz:probs", arrays["probs"])
        _check_counts(path, kind, panel, arrays["counts"])
    for name in ("params",):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise ResultsFileError(path, f"arrays.npz:{name}", "NaN or infinite parameters")
    if "cov" in arrays and np.isinf(arrays["cov"]).any():
        raise ResultsFileError(path, "arrays.npz:cov", "infinite covariances")
    if "logq" in arrays:
        logq = arrays["logq"]
        bad = np.isnan(logq) | (logq > 1e-3)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise ResultsFileError(
                path, "arrays.npz:logq", f"NaN or positive log-scores (first in row {row})"
            )


def _check_probabilities(path: str, member: str, probs: np.ndarray) -> None:
    rows = np.atleast_2d(probs)
    bad = ~np.isfinite(rows).all(axis=1) | (rows < 0).any(axis=1) | (rows > 1).any(axis=1)
    bad |= np.abs(rows.sum(axis=1) - 1.0) > _ATOL
    if bad.any():
        row = np.flatnonzero(bad)
        raise ResultsFileError(
            path,
            member,
            f"{len(row)} row(s) are not probabilities in [0, 1] summing to one "
            f"(first: row {row[0]}, sum {rows[row[0]].sum():.6g})",
        )


def _check_counts(path: str, kind: str, panel: Any, counts: np.ndarray) -> None:
    member = "arrays.npz:counts"
    if not np.isfinite(counts).all() or (counts < 0).any() or (counts != np.round(counts)).any():
        raise ResultsFileError(path, member, "counts must be non-negative whole numbers")
    tax = panel.taxonomy
    tr = panel.transitions()
    now = tax.positions(tr["occupation"])
    if kind == "MarkovResults":
        own = np.zeros((len(tax), len(tax)))
        np.add.at(own, (tax.positions(tr["prev_occupation"]), now), 1.0)
    else:
        own = np.bincount(now, minlength=len(tax)).astype(float)
    if not np.array_equal(own, counts):
        raise ResultsFileError(
            path,
            member,
            f"the stored counts ({int(counts.sum()):,} transitions) differ from those of the "
            f"stored panel ({int(own.sum()):,} transitions): the panel is not the estimation "
            "sample of these results",
        )
