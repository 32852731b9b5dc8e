"""Output folders of batch jobs: empty or new unless overwriting, and writable before any work."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import OutDirError

__all__ = ["OutDirError", "prepare_out_dir"]


def prepare_out_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Create ``path`` if needed and check that results can be written there.

    Called before any work, so that a long run never ends on a folder it cannot use.

    Parameters
    ----------
    path : path-like
        The output folder.
    overwrite : bool
        Allow a folder that already holds files (files with the names a run writes are
        replaced; others are left alone).
    inputs : iterable of path-like
        The run's input files and folders (None entries are skipped); none may lie in
        ``path``, where the run could overwrite what it is reading.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutDirError
        If ``path`` is a file, is not empty and ``overwrite`` is False, holds an input,
        or cannot be created or written.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out} is a file, not a folder")
    resolved = out.resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        inside = Path(given).resolve()
        if inside == resolved or resolved in inside.parents or inside in resolved.parents:
            raise OutDirError(
                f"--out {out} holds the input {given} (or lies inside it); the run would "
                "write over what it reads. Choose another --out"
            )
    if out.is_dir() and not overwrite:
        present = sorted(p.name for p in out.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (
                f", ... ({len(present)} in all)" if len(present) > 5 else ""
            )
            raise OutDirError(
                f"--out {out} is not empty ({shown}); choose a new or empty folder, or pass "
                "--overwrite to replace the files this run writes"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as err:
        raise OutDirError(f"--out {out} cannot be written: {err.strerror or err}") from err
    return out
