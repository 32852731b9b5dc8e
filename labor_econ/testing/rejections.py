"""The catalogue of rejected inputs: each rule, a bad input that breaks it, and the error.

The test suite runs every case and checks its error type and message
(``tests/cli/test_rejections.py``); the documentation page "What gets rejected, and why" runs
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


def _declare_as(frame: pd.DataFrame, **roles: object) -> object:
    from ..panel import CareerPanel

    return CareerPanel(frame, **{"id": "pid", "time": "year", "occupation": "occ", **roles})


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
    from ..models.markov import MarkovModel
    from ..taxonomy import Taxonomy

    tax = Taxonomy([1, 2, 3, 3_000_000_000], ["Cooks", "Nurses", "Cashiers", "Other"])
    res = MarkovModel(_declare(_toy(), taxonomy=tax)).fit()
    return res.to_stata(tmp / "pred.dta")


def _stata_file(tmp: Path, content: bytes) -> object:
    from ..panel import CareerPanel

    (tmp / "careers.dta").write_bytes(content)
    return CareerPanel.from_stata(tmp / "careers.dta", id="pid", time="year", occupation="occ")


def _stata_truncated(tmp: Path) -> object:
    path = tmp / "full.dta"
    _toy().to_stata(path, write_index=False, version=118)
    return _stata_file(tmp, path.read_bytes()[:300])


def _stata_labelled(tmp: Path, labels: dict, **kwargs: object) -> object:
    from ..panel import CareerPanel

    path = tmp / "careers.dta"
    frame = _toy().astype({"occ": np.int32})
    frame.to_stata(path, write_index=False, version=118, value_labels={"occ": labels})
    return CareerPanel.from_stata(path, id="pid", time="year", occupation="occ", **kwargs)


def _stata_latin1_version(tmp: Path) -> object:
    from ..models.markov import MarkovModel
    from ..taxonomy import Taxonomy

    tax = Taxonomy([1, 2, 3], ["Cooks – line", "看護師", "Cashiers"])
    res = MarkovModel(_declare(_toy(), taxonomy=tax)).fit()
    return res.to_stata(tmp / "pred.dta", version=114)


def _taxonomy_csv(content: bytes) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        from ..taxonomy import Taxonomy

        (tmp / "codes.csv").write_bytes(content)
        return Taxonomy.from_csv(tmp / "codes.csv")

    return run


def _store_metadata_list(tmp: Path) -> object:
    from ..lm.store import read_store

    (tmp / "scores" / "shards").mkdir(parents=True)
    (tmp / "scores" / "metadata.json").write_text("[]")
    return read_store(tmp / "scores", _declare(_toy()))


def _tiny_checkpoint(tmp: Path) -> Path:
    from ..lm.testing import tiny_lm

    tiny_lm(tmp / "lm", ["1990: Cooks\n1991: Nurses\n"] * 20, vocab_size=300, hidden_size=8,
            num_layers=1, num_heads=2, device="cpu")  # fmt: skip
    return tmp / "lm"


def _weights_truncated(tmp: Path) -> object:
    from ..lm.loading import load_lm

    weights = _tiny_checkpoint(tmp) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    return load_lm(tmp / "lm", device="cpu")


def _weights_mismatched(tmp: Path) -> object:
    from ..lm.loading import load_lm

    config_path = _tiny_checkpoint(tmp) / "config.json"
    config = json.loads(config_path.read_text())
    config["intermediate_size"] *= 2
    config_path.write_text(json.dumps(config))
    return load_lm(tmp / "lm", device="cpu")


def _device_absent(tmp: Path) -> object:
    from ..lm.loading import resolve_device

    return resolve_device("cuda:99")


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
    from ..lm.store import StoreCorruptError
    from ..panel import PanelError
    from ..stata import StataError
    from ..taxonomy import Taxonomy, TaxonomyError

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
            "time_past_int64",
            "panel",
            "Integer-valued float times and codes fit in 64-bit integers (never wrapped to "
            "-9223372036854775808)",
            "year = 1e300",
            lambda tmp: _declare(_toy(year=[1990.0, 1e300, 1990.0, 1992.0])),
            PanelError,
            r"outside the 64-bit integer range in column 'year': row 1 \(pid=1, year=1e\+300\)",
        ),
        RejectionCase(
            "code_past_int64",
            "panel",
            "Float occupation codes fit in 64-bit integers",
            "occ = 1e20",
            lambda tmp: _declare(_toy(occ=[1e20, 3.0, 1.0, 2.0])),
            PanelError,
            r"outside the 64-bit integer range in column 'occ': row 0 \(pid=1, year=1990, "
            r"occ=1e\+20\)",
        ),
        RejectionCase(
            "time_uint64",
            "panel",
            "Unsigned 64-bit times fit in signed 64-bit integers",
            "year = 2**64 - 1 (uint64)",
            lambda tmp: _declare(
                _toy(year=np.array([1990, 2**64 - 1, 1990, 1992], dtype=np.uint64))
            ),
            PanelError,
            r"outside the 64-bit integer range in column 'year': row 1 \(pid=1, "
            r"year=18446744073709551615\)",
        ),
        RejectionCase(
            "time_span_overflow",
            "panel",
            "Gaps between waves are exact integers; times whose span overflows 64 bits are "
            "refused (times 2**62 and 2**62 + 1 give gap 1)",
            "year = -2**63 and 2**63 - 1",
            lambda tmp: _declare(_toy(year=np.array([-(2**63), 2**63 - 1, 1990, 1992]))),
            PanelError,
            r"span 18446744073709551615 periods, more than a 64-bit integer holds",
        ),
        RejectionCase(
            "covariate_infinite",
            "panel",
            "Covariates are finite: an infinite value would make every probability from it NaN",
            "hours = inf, varying=['hours']",
            lambda tmp: _declare(_toy(hours=[40.0, np.inf, 20.0, 30.0]), varying=["hours"]),
            PanelError,
            r"infinite values in covariate 'hours': row 1 \(pid=1, year=1991, hours=inf\)",
        ),
        RejectionCase(
            "split_seed",
            "panel",
            "split() takes a non-negative integer seed",
            "panel.split(seed=-1)",
            lambda tmp: _declare(_toy()).split(seed=-1),
            PanelError,
            r"seed must be a non-negative integer, got -1",
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
            "stata_empty",
            "Stata",
            "A .dta file that is empty or cut short is named, with what is wrong",
            "an empty careers.dta",
            lambda tmp: _stata_file(tmp, b""),
            StataError,
            r"careers\.dta: cannot read it as a Stata \.dta file \(it is empty\)",
        ),
        RejectionCase(
            "stata_truncated",
            "Stata",
            "A .dta file that is empty or cut short is named, with what is wrong",
            "careers.dta cut after 300 bytes",
            _stata_truncated,
            StataError,
            r"careers\.dta: cannot read it as a Stata \.dta file \(.*\)",
        ),
        RejectionCase(
            "stata_duplicate_titles",
            "Stata",
            "Value labels that become the taxonomy give every code its own title",
            "label define occ 1 Other 2 Other 3 Cashiers",
            lambda tmp: _stata_labelled(tmp, {1: "Other", 2: "Other", 3: "Cashiers"}),
            StataError,
            r"careers\.dta: the value labels 'occ' of 'occ' cannot be the taxonomy: "
            r"duplicate titles: 'Other'",
        ),
        RejectionCase(
            "stata_text_extended_code",
            "Stata",
            "extended_missing maps to an integer code (extended missing values are numeric)",
            "extended_missing={'.a': 'U'} on integer codes",
            lambda tmp: _stata_labelled(
                tmp, {1: "Cooks", 2: "Nurses", 3: "Cashiers"}, extended_missing={".a": "U"}
            ),
            PanelError,
            r"careers\.dta: extended_missing\['\.a'\] must be an integer occupation code, "
            r"got 'U'",
        ),
        RejectionCase(
            "stata_latin1_version",
            "Stata",
            "Text outside latin-1 (an en dash, CJK titles) is written as UTF-8, format 118; "
            "an older format asked for is refused",
            "to_stata(..., version=114) with titles 'Cooks – line', '看護師'",
            _stata_latin1_version,
            StataError,
            r"pred\.dta: version=114 writes latin-1 text, but the titles or labels hold '–'",
        ),
        RejectionCase(
            "occupation_mixed_types",
            "panel",
            "Occupation codes are all integers or all text (as taxonomy codes)",
            "occ = 3, 'a', 1, 2",
            lambda tmp: _declare(_toy(occ=pd.Series([3, "a", 1, 2], dtype=object))),
            PanelError,
            r"occupation codes in column 'occ' mix numbers and text \(text such as row 1 "
            r"\(pid=1, year=1991, occ='a'\)\)",
        ),
        RejectionCase(
            "id_not_a_value",
            "panel",
            "Person ids are numbers or text, not lists or other containers",
            "pid = [1], [1], [2], [2]",
            lambda tmp: _declare(_toy(pid=[[1], [1], [2], [2]])),
            PanelError,
            r"person ids in column 'pid' must be numbers or text: row 0 \(pid=\[1\]\)",
        ),
        RejectionCase(
            "role_not_a_column_name",
            "panel",
            "id, time, occupation and birth_year each name one column",
            "CareerPanel(df, id=['pid'], ...)",
            lambda tmp: _declare_as(_toy(), id=["pid"]),
            PanelError,
            r"id must be one column name, got \['pid'\]",
        ),
        RejectionCase(
            "taxonomy_title_not_text",
            "taxonomy",
            "Titles are text",
            "Taxonomy([1, 2], ['Cooks', 5])",
            lambda tmp: Taxonomy([1, 2], ["Cooks", 5]),
            TaxonomyError,
            r"entry 1 \(code 2\): title 5 is not text \(int\)",
        ),
        RejectionCase(
            "taxonomy_code_past_int64",
            "taxonomy",
            "Integer codes fit in 64 bits",
            "Taxonomy([10**20], ['Cooks'])",
            lambda tmp: Taxonomy([10**20], ["Cooks"]),
            TaxonomyError,
            r"occupation code 100000000000000000000 is outside the 64-bit integer range",
        ),
        RejectionCase(
            "taxonomy_csv_not_utf8",
            "taxonomy",
            "Taxonomy CSV files are UTF-8 text",
            "codes.csv saved as latin-1 with 'Café'",
            _taxonomy_csv("code,title\n1,Café workers\n".encode("latin-1")),
            TaxonomyError,
            r"codes\.csv: not UTF-8 text \(byte b'\\xe9' at offset \d+\); save the file as UTF-8",
        ),
        RejectionCase(
            "taxonomy_csv_ragged",
            "taxonomy",
            "Every line of a taxonomy CSV has the header's fields",
            "codes.csv with a line '1,Cooks,extra'",
            _taxonomy_csv(b"code,title\n1,Cooks,extra\n2,Nurses\n"),
            TaxonomyError,
            r"codes\.csv: some lines have more fields than the header line",
        ),
        RejectionCase(
            "store_metadata_not_object",
            "score store",
            "A score store's metadata.json is a JSON object",
            "metadata.json holding []",
            _store_metadata_list,
            StoreCorruptError,
            r"metadata\.json holds a JSON list, not the object .*; delete the store",
        ),
        RejectionCase(
            "weights_truncated",
            "LM loading",
            "Damaged weight files are named (not a raw SafetensorError)",
            "model.safetensors with its last 64 bytes cut",
            _weights_truncated,
            LMLoadError,
            r"could not load the weights of '.*lm' \(model\.safetensors\): SafetensorError",
        ),
        RejectionCase(
            "weights_mismatched",
            "LM loading",
            "Weights that do not fit config.json are named (not a raw RuntimeError)",
            "config.json with intermediate_size doubled",
            _weights_mismatched,
            LMLoadError,
            r"\(model\.safetensors\): RuntimeError: .*do not match its config\.json",
        ),
        RejectionCase(
            "device_absent",
            "LM loading",
            "A device that is not there is refused before anything is loaded",
            "load_lm(..., device='cuda:99')",
            _device_absent,
            LMLoadError,
            r"device='cuda:99', but (no CUDA GPU is available|only \d+ CUDA GPU)",
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
        RejectionCase(
            "cli_out_holds_input",
            "command line",
            "--out never holds an input file, even with --overwrite (exit code 2, before any work)",
            "labor-econ fit DIR/careers.csv ... --out DIR --overwrite",
            _with_files(
                _csv(_toy()), _cli(*fit, "--out", "{tmp}", "--overwrite", "--models", "markov")
            ),
            CommandLineError,
            r"exit code 2: .*--out .* holds the input .*careers\.csv.*Choose another --out",
        ),
        RejectionCase(
            "cli_data_not_utf8",
            "command line",
            "A CSV data file is UTF-8 text; the message names the file and the byte (exit 1)",
            "labor-econ fit careers.csv ..., saved as latin-1",
            _with_files(
                lambda tmp: (tmp / "careers.csv").write_bytes(
                    "pid,year,occ\n1,1990,Café\n".encode("latin-1")
                ),
                _cli(*fit, "--out", "{tmp}/out"),
            ),
            CommandLineError,
            r"exit code 1: .*careers\.csv: not UTF-8 text \(byte b'\\xe9'",
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
