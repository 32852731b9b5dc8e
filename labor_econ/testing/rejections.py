"""The catalogue of rejected inputs: each rule, a bad input that breaks it, and the error.

The test suite runs every case and checks its error type and message
(``tests/test_rejections.py``); the documentation page "What gets rejected, and why" runs
them again at build time and shows the messages they produce, so the page cannot drift
from the code.

Examples
--------
>>> from labor_econ.testing.rejections import CASES, rejection_table
>>> table = rejection_table(["time_not_integer"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LaborEconError

__all__ = ["CASES", "RejectionCase", "rejection_table"]


@dataclass(frozen=True)
class RejectionCase:
    """One rule and a bad input that breaks it.

    Attributes
    ----------
    key : str
        Short identifier (the test id).
    area : str
        Where the rule lives (panel, Stata, LM loading, command line).
    rule : str
        The rule, in words.
    example : str
        The bad input, in words or code.
    run : callable
        ``run(tmp)`` makes the bad input under the folder ``tmp`` and calls the public API;
        it must raise `error` (or, for the command line, return exit code 2 or 1 and
        print the message on stderr, which `run` re-raises as `error`).
    error : type
        The exception raised.
    match : str
        A regular expression the message must match (``re.search``).
    """

    key: str
    area: str
    rule: str
    example: str
    run: Callable[[Path], object]
    error: type[BaseException]
    match: str


class CommandLineError(LaborEconError):
    """A command-line run that failed; the message is its stderr and exit code."""


def _toy(**changes: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"pid": [1, 1, 2, 2], "year": [1990, 1991, 1990, 1992], "occ": [3, 3, 1, 2]}
    )
    for col, values in changes.items():
        frame[col] = pd.Series(values, dtype=object if col == "pid" else None)
    return frame


def _declare(frame: pd.DataFrame, **kwargs: object) -> object:
    from ..panel import CareerPanel

    return CareerPanel(frame, id="pid", time="year", occupation="occ", **kwargs)


def _pickle_index(tmp: Path) -> object:
    import torch

    from ..lm.loading import load_lm

    (tmp / "config.json").write_text("{}")
    torch.save({"weight": torch.zeros(1)}, tmp / "shard.bin")
    index = {"metadata": {}, "weight_map": {"weight": "shard.bin"}}
    (tmp / "model.safetensors.index.json").write_text(json.dumps(index))
    return load_lm(tmp, device="cpu")


def _pickle_only(tmp: Path) -> object:
    import torch

    from ..lm.loading import load_lm

    (tmp / "config.json").write_text("{}")
    torch.save({"weight": torch.zeros(1)}, tmp / "pytorch_model.bin")
    return load_lm(tmp, device="cpu")


def _write_dta_with_extended_missing(tmp: Path) -> Path:
    from ..taxonomy import STATA_MAX_LONG

    path = tmp / "careers.dta"
    dot_a = STATA_MAX_LONG + 2  # how Stata stores .a in a long variable
    frame = _toy(occ=[3, dot_a, 1, 2]).astype({"occ": np.int32})
    labels = {1: "Cooks", 2: "Nurses", 3: "Cashiers", dot_a: "Unemployed"}
    frame.to_stata(path, write_index=False, value_labels={"occ": labels})
    return path


def _stata_extended_missing(tmp: Path) -> object:
    from ..panel import CareerPanel

    path = _write_dta_with_extended_missing(tmp)
    return CareerPanel.from_stata(path, id="pid", time="year", occupation="occ")


def _stata_bad_extended_key(tmp: Path) -> object:
    from ..panel import CareerPanel

    path = _write_dta_with_extended_missing(tmp)
    return CareerPanel.from_stata(
        path, id="pid", time="year", occupation="occ", extended_missing={"a": 991}
    )


def _stata_unlabelable_codes(tmp: Path) -> object:
    from ..models.markov import MarkovTransitionModel
    from ..taxonomy import Taxonomy

    tax = Taxonomy([1, 2, 3, 3_000_000_000], ["Cooks", "Nurses", "Cashiers", "Other"])
    res = MarkovTransitionModel(_declare(_toy(), taxonomy=tax)).fit()
    return res.to_stata(tmp / "pred.dta")


def _cli(*args: str) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        from ..cli import main

        argv = [a.replace("{tmp}", str(tmp)) for a in args]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        if code != 0:
            errors = [ln for ln in err.getvalue().splitlines() if ln.startswith("labor-econ:")]
            raise CommandLineError(f"exit code {code}: {' '.join(errors)}")
        return code

    return run


def _with_files(setup: Callable[[Path], None], run: Callable[[Path], object]):
    def both(tmp: Path) -> object:
        setup(tmp)
        return run(tmp)

    return both


def _nonempty_out(tmp: Path) -> None:
    (tmp / "out").mkdir()
    (tmp / "out" / "keep.txt").write_text("results of another run\n")
    _toy().to_csv(tmp / "careers.csv", index=False)


def _csv(frame: pd.DataFrame) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        frame.to_csv(tmp / "careers.csv", index=False)

    return setup


def _cases() -> list[RejectionCase]:
    from ..lm.loading import LMLoadError
    from ..panel import PanelError

    fit = ("fit", "{tmp}/careers.csv", "--id", "pid", "--time", "year", "--occupation", "occ")
    return [
        RejectionCase(
            "index_names_pickle",
            "LM loading",
            "Without allow_pickle=True, only safetensors weights are read, whatever an index "
            "names; nothing is loaded",
            "model.safetensors.index.json naming shard.bin",
            _pickle_index,
            LMLoadError,
            r"shard\.bin.*not a \.safetensors file.*allow_pickle=True",
        ),
        RejectionCase(
            "pickle_only",
            "LM loading",
            "Pickle weights (*.bin, *.pt, ...) can run code when loaded; refused by default",
            "a directory with config.json and pytorch_model.bin",
            _pickle_only,
            LMLoadError,
            r"only pickle weights \(pytorch_model\.bin\)",
        ),
        RejectionCase(
            "time_not_integer",
            "panel",
            "Times are exact integers (1990.01 is not a year, however close)",
            "year = 1990.01",
            lambda tmp: _declare(_toy(year=[1990.0, 1990.01, 1990.0, 1992.0])),
            PanelError,
            r"non-integer time in column 'year': row 1 \(pid=1, year=1990\.01\)",
        ),
        RejectionCase(
            "time_not_finite",
            "panel",
            "Times are finite",
            "year = inf",
            lambda tmp: _declare(_toy(year=[1990.0, np.inf, 1990.0, 1992.0])),
            PanelError,
            r"not finite in column 'year': row 1 \(pid=1, year=inf\)",
        ),
        RejectionCase(
            "mixed_id_types",
            "panel",
            "Person ids are all numbers or all text: 1 and '1' would be two persons",
            "pid = 1, 1, '1', '1'",
            lambda tmp: _declare(_toy(pid=[1, 1, "1", "1"])),
            PanelError,
            r"person ids in column 'pid' mix types \(numeric ids such as row 0 \(pid=1\), text "
            r"ids such as row 2 \(pid='1'\)\)",
        ),
        RejectionCase(
            "code_not_integer",
            "panel",
            "Float occupation codes must be whole numbers (97.0 becomes 97; 97.5 is refused)",
            "occ = 97.5",
            lambda tmp: _declare(_toy(occ=[3.0, 97.5, 1.0, 2.0])),
            PanelError,
            r"occupation codes that are not integers in column 'occ': "
            r"row 1 \(pid=1, year=1991, occ=97\.5\)",
        ),
        RejectionCase(
            "missing_occupation",
            "panel",
            "Missing occupations are an error unless missing='drop', which reports them",
            "occ = NaN",
            lambda tmp: _declare(_toy(occ=[3.0, np.nan, 1.0, 2.0])),
            PanelError,
            r"missing occupation in column 'occ': row 1 \(pid=1, year=1991\)",
        ),
        RejectionCase(
            "stata_extended_missing",
            "Stata",
            "Stata's extended missing values (.a-.z) are missing occupations, never codes, "
            "even when labelled; keep one as a state with extended_missing={'.a': code}",
            "occ = .a labelled 'Unemployed'",
            _stata_extended_missing,
            PanelError,
            r"missing occupation in column 'occ': row 1 \(pid=1, year=1991\)",
        ),
        RejectionCase(
            "stata_bad_extended_key",
            "Stata",
            "extended_missing maps Stata's '.a' ... '.z' only",
            "extended_missing={'a': 991}",
            _stata_bad_extended_key,
            PanelError,
            r"extended_missing keys must be .*'\.a' \.\.\. '\.z', got 'a'",
        ),
        RejectionCase(
            "stata_code_range",
            "Stata",
            "Value labels exist for codes Stata can label (up to 2,147,483,620)",
            "code 3,000,000,000 written with to_stata",
            _stata_unlabelable_codes,
            PanelError,
            r"codes Stata cannot label .*3000000000",
        ),
        RejectionCase(
            "cli_out_not_empty",
            "command line",
            "--out must be empty or new unless --overwrite (exit code 2, before any work)",
            "labor-econ fit careers.csv ... --out DIR, DIR holding keep.txt",
            _with_files(_nonempty_out, _cli(*fit, "--out", "{tmp}/out")),
            CommandLineError,
            r"exit code 2: .*--out .*out is not empty \(keep\.txt\).*--overwrite",
        ),
        RejectionCase(
            "cli_missing_variable",
            "command line",
            "Every variable named on the command line is in the data file (exit code 2)",
            "labor-econ fit careers.csv --occupation job ...",
            _with_files(
                _csv(_toy()),
                _cli(*fit[:-1], "job", "--out", "{tmp}/out"),
            ),
            CommandLineError,
            r"exit code 2: .*careers\.csv: variable\(s\) \['job'\] not found.*pid, year, occ",
        ),
        RejectionCase(
            "cli_data_format",
            "command line",
            "DATA is a .dta, .csv or .parquet file",
            "labor-econ fit careers.xlsx ...",
            _with_files(
                lambda tmp: (tmp / "careers.xlsx").write_bytes(b"PK"),
                _cli("fit", "{tmp}/careers.xlsx", *fit[2:], "--out", "{tmp}/out"),
            ),
            CommandLineError,
            r"exit code 2: .*careers\.xlsx.*\.dta, \.csv or \.parquet",
        ),
    ]


#: Every case, in the order of the documentation page.
CASES: tuple[RejectionCase, ...] = tuple(_cases())


def rejection_table(keys: Iterable[str] | None = None) -> pd.DataFrame:
    """Run the cases and tabulate each rule with the message its bad input produces.

    Parameters
    ----------
    keys : iterable of str, optional
        Cases to run (default all).

    Returns
    -------
    pandas.DataFrame
        Columns ``area``, ``rule``, ``bad input``, ``error``, ``message``.

    Raises
    ------
    AssertionError
        If a case does not raise its error or the message does not match.
    """
    import re
    import warnings

    wanted = set(keys) if keys is not None else None
    rows = []
    for case in CASES:
        if wanted is not None and case.key not in wanted:
            continue
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                case.run(Path(tmp))
            except case.error as err:
                message = str(err).replace(tmp, "TMP")
            else:
                raise AssertionError(f"case {case.key!r} raised nothing")
        if not re.search(case.match, message, flags=re.DOTALL):
            raise AssertionError(f"case {case.key!r}: {message!r} does not match {case.match!r}")
        rows.append(
            {
                "area": case.area,
                "rule": case.rule,
                "bad input": case.example,
                "error": case.error.__name__,
                "message": message,
            }
        )
    return pd.DataFrame(rows)
