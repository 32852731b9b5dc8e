"""Reading the DATA argument of the command line: a .dta, .csv or .parquet long panel."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa

from ..errors import UsageError
from ..panel import CareerPanel, PanelError
from ..stata import read_stata, stata_variables
from ..taxonomy import Taxonomy

__all__ = [
    "UsageError",
    "add_panel_arguments",
    "check_data_path",
    "declare_panel",
    "panel_from_args",
    "read_data",
    "seed_argument",
]

FORMATS = (".dta", ".csv", ".parquet")


def load_results(path: Path, option: str) -> Any:
    """Saved results from `path`; a file that is not valid saved results is a ValueError
    that starts with `option` (as given, e.g. ``--results Markov=res.zip``), never a
    traceback."""
    from ..models.base import TransitionResults

    try:
        return TransitionResults.load(path)
    except (ValueError, KeyError, OSError) as err:  # KeyError: a zip missing a member
        raise ValueError(f"{option}: {err}") from err
    except (TypeError, AttributeError, IndexError) as err:  # a tampered zip's wrong types
        raise ValueError(
            f"{option}: not valid saved results ({type(err).__name__}: {err})"
        ) from err


def seed_argument(text: str) -> int:
    """``--seed``: a non-negative integer (numpy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def check_data_path(path: Path) -> None:
    """DATA exists and has a format we read; checked before any work."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"{path}: DATA must be a .dta, .csv or .parquet file, not "
            f"{suffix or 'a file without extension'!r}"
        )
    if not path.is_file():
        raise UsageError(f"{path}: no such file")


def read_data(path: Path, occupation: str) -> tuple[pd.DataFrame, Taxonomy | None]:
    """The data file as a frame, with the taxonomy of a .dta occupation variable's labels."""
    check_data_path(path)
    suffix = path.suffix.lower()
    if suffix == ".dta":
        names = stata_variables(path)
        if occupation not in names:
            return pd.DataFrame(columns=names), None  # the caller names what is missing
        return read_stata(path, occupation=occupation)
    try:
        if suffix == ".csv":
            return pd.read_csv(path), None
        return pd.read_parquet(path), None
    except UnicodeDecodeError as err:
        raise PanelError(
            f"{path}: not UTF-8 text (byte {err.object[err.start : err.end]!r} at offset "
            f"{err.start}); save the file as UTF-8"
        ) from err
    except pd.errors.EmptyDataError as err:
        raise PanelError(f"{path}: the file is empty (no header line)") from err
    except (ValueError, OSError, pa.ArrowException) as err:  # pandas' ParserError, ...
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise PanelError(f"{path}: cannot read it as a {kind} file ({err})") from err


def declare_panel(
    path: Path,
    *,
    id: str,
    time: str,
    occupation: str,
    static: Sequence[str] = (),
    varying: Sequence[str] = (),
    birth_year: str | None = None,
    missing: str = "raise",
    log: TextIO | None = None,
) -> CareerPanel:
    """Read DATA and declare the panel; missing variables are a usage error naming them."""
    data, taxonomy = read_data(path, occupation)
    wanted = [id, time, occupation, *([birth_year] if birth_year else []), *static, *varying]
    absent = [v for v in wanted if v not in data.columns]
    if absent:
        raise UsageError(
            f"{path}: variable(s) {absent} not found; the file has "
            f"{', '.join(map(str, data.columns))}"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            panel = CareerPanel(
                data,
                id=id,
                time=time,
                occupation=occupation,
                taxonomy=taxonomy,
                birth_year=birth_year,
                static=static,
                varying=varying,
                missing=missing,  # type: ignore[arg-type]
            )
        except PanelError as err:
            raise PanelError(f"{path}: {err}") from err
    if log is not None:
        for w in caught:
            print(f"warning: {path}: {w.message}", file=log, flush=True)
    return panel


def add_panel_arguments(p: argparse.ArgumentParser) -> None:
    """DATA and the panel declaration, shared by the sub-commands."""
    p.add_argument("data", type=Path, metavar="DATA", help="a .dta, .csv or .parquet long panel")
    p.add_argument("--id", required=True, help="person identifier variable (xtset id ...)")
    p.add_argument("--time", required=True, help="wave variable, integer years (xtset ... time)")
    p.add_argument("--occupation", required=True, help="occupation code variable")
    p.add_argument("--static", nargs="*", default=[], help="person-level covariates")
    p.add_argument("--varying", nargs="*", default=[], help="wave-level covariates")
    p.add_argument("--birth-year", default=None, help="birth-year variable")
    p.add_argument(
        "--missing",
        choices=("raise", "drop"),
        default="raise",
        help="waves with a missing occupation: an error (default) or dropped and reported",
    )


def panel_from_args(args: argparse.Namespace, log: TextIO | None) -> CareerPanel:
    """The panel that the arguments of :func:`add_panel_arguments` declare."""
    return declare_panel(
        args.data,
        id=args.id,
        time=args.time,
        occupation=args.occupation,
        static=args.static,
        varying=args.varying,
        birth_year=args.birth_year,
        missing=args.missing,
        log=log,
    )
