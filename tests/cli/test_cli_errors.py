"""The command line never shows a traceback for bad input: exit 1 or 2 naming the culprit."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from labor_econ.cli import main
from labor_econ.datasets import simulate_panel

DECL = ["--id", "pid", "--time", "year", "--occupation", "occ"]


@pytest.fixture(scope="module")
def careers_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "careers.csv"
    simulate_panel(30, seed=3).data.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def saved(careers_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "out"
    assert main(["fit", str(careers_csv), *DECL, "--models", "markov", "--out", str(out)]) == 0
    return out


def _fit(data, tmp_path, *extra):
    return main(
        ["fit", str(data), *DECL, "--models", "markov", "--out", str(tmp_path / "o"), *extra]
    )


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("labor-econ: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin.csv", "pid,year,occ\n1,1990,caf\xe9\n".encode("latin-1"), r"not UTF-8 text"),
        ("empty.csv", b"", r"the file is empty"),
        ("binary.csv", bytes(range(256)) * 4, r"cannot read it as a CSV file"),
        ("garbage.parquet", b"garbage", r"cannot read it as a Parquet file"),
        ("garbage.dta", b"garbage" * 10, r"cannot read it as a Stata \.dta file"),
        ("empty.dta", b"", r"cannot read it as a Stata \.dta file \(it is empty\)"),
    ],
)
def test_unreadable_data_exits_1_naming_the_file(tmp_path, capsys, name, content, message):
    (tmp_path / name).write_bytes(content)
    assert _fit(tmp_path / name, tmp_path) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert name in line
    assert pd.Series([line]).str.contains(message).all(), line


def test_out_holding_its_own_input_is_refused_up_front(saved, capsys):
    """fit DIR/predictions_markov.dta --out DIR --overwrite would overwrite its input."""
    data = saved / "predictions_markov.dta"
    before = data.read_bytes()
    code = main(
        ["fit", str(data), "--id", "pid", "--time", "year", "--occupation", "occupation"]
        + ["--models", "markov", "--out", str(saved), "--overwrite"]
    )
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"holds the input {data}" in line
    assert data.read_bytes() == before


def test_compare_out_holding_a_results_file_is_refused(saved, careers_csv, capsys):
    code = main(
        ["compare", str(careers_csv), *DECL, "--results", f"M={saved / 'results_markov.zip'}"]
        + ["--out", str(saved), "--overwrite"]
    )
    assert code == 2
    assert "results_markov.zip" in _one_error_line(capsys.readouterr().err)


def _tampered(saved, tmp_path, member, content):
    src = saved / "results_markov.zip"
    dst = tmp_path / "tampered.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, content if name == member else zin.read(name))
    return dst


@pytest.mark.parametrize(
    ("member", "content"),
    [
        ("manifest.json", b"[]"),
        ("manifest.json", b"{not json"),
        ("manifest.json", json.dumps({"format": 1, "version": "x"}).encode()),
        ("panel.parquet", b"garbage"),
        ("arrays.npz", b"garbage"),
    ],
)
def test_compare_on_a_tampered_zip_exits_1(saved, careers_csv, tmp_path, capsys, member, content):
    zipped = _tampered(saved, tmp_path, member, content)
    code = main(
        ["compare", str(careers_csv), *DECL, "--results", f"M={zipped}"]
        + ["--out", str(tmp_path / "c")]
    )
    assert code == 1
    assert f"--results M={zipped}" in _one_error_line(capsys.readouterr().err)


def test_an_unexpected_error_is_one_line_not_a_traceback(
    careers_csv, tmp_path, capsys, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr("labor_econ.cli.fit.panel_from_args", broken)
    monkeypatch.delenv("LABOR_ECON_TRACEBACK", raising=False)
    assert _fit(careers_csv, tmp_path) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "unexpected RuntimeError: something inside broke" in line
    assert "LABOR_ECON_TRACEBACK=1" in line
    monkeypatch.setenv("LABOR_ECON_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="something inside broke"):
        _fit(careers_csv, tmp_path / "again")


def test_interrupt_exits_130(careers_csv, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("labor_econ.cli.fit.panel_from_args", interrupted)
    assert _fit(careers_csv, tmp_path) == 130
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "x"])
def test_a_bad_seed_is_a_usage_error(careers_csv, tmp_path, capsys, seed):
    assert _fit(careers_csv, tmp_path, "--seed", seed) == 2
    assert "--seed: expected a non-negative integer" in capsys.readouterr().err
