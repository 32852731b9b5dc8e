"""Saving and loading fitted results: a zip of JSON, Parquet and NumPy files, never a pickle.

The file format (version 1) is a zip archive holding

``manifest.json``
    ``{"format": "labor_econ.results", "version": 1, "class": ..., "library": ...,
    "panel": {declaration and taxonomy}, "state": {the results' scalars}}``;
``panel.parquet``
    the estimation panel's long data (``panel.data``);
``arrays.npz``
    the estimates (parameters, covariance, probabilities, an LLM's log q scores), read
    back with ``allow_pickle=False``;
``components/<i>.zip``
    for a log-linear pool, each component saved the same way.

No language model or tokenizer is stored: a saved LLM result holds its scores on the
estimation sample (``n_transitions x K`` floats), so it predicts and evaluates that sample
without an LM; a new panel needs that panel's scores (see
:meth:`labor_econ.LLMModel.from_scores`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..panel import CareerPanel
from ..taxonomy import Taxonomy
from . import archive_check

__all__ = ["FORMAT", "VERSION", "load_results", "register", "registered", "save_results"]

FORMAT = "labor_econ.results"
VERSION = 1

#: Results classes by the name written in a manifest's ``"class"``. Each results class
#: registers itself (``TransitionResults.__init_subclass__``), so this module imports no
#: estimator: the floor stays below the models.
_CLASSES: dict[str, type] = {}


def register(cls: type, *names: str) -> type:
    """Make ``cls`` loadable under its class name (and any older ``names`` it was saved as).

    ``cls`` provides ``_state()`` and the classmethod ``_from_state(panel, state, arrays,
    components)``. Returns ``cls`` (usable as a decorator).
    """
    for name in (cls.__name__, *names):
        _CLASSES[name] = cls
    return cls


def registered() -> dict[str, type]:
    """The registered results classes, by saved name."""
    return dict(_CLASSES)


def _plain(value: Any) -> Any:
    """JSON-ready scalars (NumPy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _panel_spec(panel: CareerPanel) -> dict[str, Any]:
    tax = panel.taxonomy
    return {
        "id": panel.id,
        "time": panel.time,
        "occupation": panel.occupation,
        "birth_year": panel.birth_year,
        "static": list(panel.static),
        "varying": list(panel.varying),
        "taxonomy": {
            "name": tax.name,
            "codes": [_plain(c) for c in tax.codes],
            "titles": list(tax.titles),
            "special": [_plain(c) for c in tax.special],
        },
    }


def _panel_from(spec: dict[str, Any], data: pd.DataFrame) -> CareerPanel:
    t = spec["taxonomy"]
    taxonomy = Taxonomy(t["codes"], t["titles"], name=t["name"], special=t["special"])
    return CareerPanel(
        data,
        id=spec["id"],
        time=spec["time"],
        occupation=spec["occupation"],
        taxonomy=taxonomy,
        birth_year=spec["birth_year"],
        static=spec["static"],
        varying=spec["varying"],
    )


def _to_bytes(results: Any) -> bytes:
    state, arrays, components = results._state()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "class": type(results).__name__,
        "library": _version(),
        "panel": _panel_spec(results.panel),
        "state": state,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, default=_plain))
        table = io.BytesIO()
        results.panel.data.to_parquet(table, index=False)
        zf.writestr("panel.parquet", table.getvalue())
        packed = io.BytesIO()
        np.savez(packed, **{k: np.asarray(v) for k, v in arrays.items()})
        zf.writestr("arrays.npz", packed.getvalue())
        for i, component in enumerate(components):
            zf.writestr(f"components/{i}.zip", _to_bytes(component))
    return buffer.getvalue()


def _from_bytes(blob: bytes, where: str) -> Any:
    try:
        zf = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile:
        raise ValueError(f"{where} is not a saved labor_econ results file (not a zip)") from None
    with zf:
        # The schema of untrusted files (names, sizes, types, values): see archive_check.
        n_parts = archive_check.check_members(zf, where)
        manifest = archive_check.check_manifest(zf, where)
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise ValueError(
                f"{where} has format {manifest.get('format')!r} version "
                f"{manifest.get('version')!r}; this library reads {FORMAT!r} version {VERSION}"
            )
        cls = _CLASSES.get(manifest.get("class"))
        if cls is None:
            raise ValueError(
                f"{where} holds unknown results class {manifest.get('class')!r}; known: "
                f"{sorted(_CLASSES)} (import the module that defines it before loading)"
            )
        data = archive_check.read_panel_data(zf, where, manifest)
        with archive_check.member_errors(where, "panel.parquet"):
            panel = _panel_from(manifest["panel"], data)
        arrays = archive_check.read_arrays(zf, where, manifest, panel, n_parts)
        components = [
            _from_bytes(zf.read(f"components/{i}.zip"), f"{where}:components/{i}.zip")
            for i in range(n_parts)
        ]
    with archive_check.member_errors(where, "manifest.json: state / arrays.npz"):
        return cls._from_state(panel, manifest["state"], arrays, components)


def save_results(results: Any, path: str | Path) -> Path:
    """Write ``results`` to ``path`` (the format of this module); returns the path."""
    path = Path(path)
    path.write_bytes(_to_bytes(results))
    return path


def load_results(path: str | Path) -> Any:
    """Read results written by :func:`save_results` (any results class)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved results at {path}")
    return _from_bytes(path.read_bytes(), str(path))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labor-econ")
    except PackageNotFoundError:
        return "0+unknown"
