"""The labor-econ command line: fit, exit codes, --out rules, outputs readable from Stata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labor_econ import CareerPanel, TransitionResults
from labor_econ.cli import main
from labor_econ.datasets import simulate_panel, write_nlsy79_dta
from labor_econ.taxonomy import STATA_MAX_LONG, wage_panel_1970

YEARS = [1990, 1991, 1992, 1994, 1996, 1998]
DECL = ["--id", "caseid", "--time", "year", "--occupation", "occ1990"]


@pytest.fixture(scope="module")
def nlsy_small(tmp_path_factory):
    """An NLSY79-like .dta (value labels, missing and refused occupations, skipped waves)."""
    path = tmp_path_factory.mktemp("data") / "nlsy.dta"
    data = write_nlsy79_dta(
        path, 60, taxonomy=wage_panel_1970(), years=YEARS, seed=1, missing_rate=0.05
    )
    return path, data


@pytest.fixture(scope="module")
def careers_csv(tmp_path_factory):
    panel = simulate_panel(40, years=YEARS, seed=3)
    path = tmp_path_factory.mktemp("csv") / "careers.csv"
    panel.data.to_csv(path, index=False)
    return path


def test_writer_makes_an_nlsy_like_file(nlsy_small):
    path, data = nlsy_small
    assert (data["occ1990"] == STATA_MAX_LONG + 1).any()  # "."
    assert (data["occ1990"] == STATA_MAX_LONG + 2).any()  # ".a", labelled "Refused"
    assert data.groupby("caseid").size().min() < len(YEARS)  # skipped waves
    with pd.io.stata.StataReader(path) as reader:
        labels = reader.value_labels()["occ1990"]
    assert labels[9] == "Service workers" and labels[STATA_MAX_LONG + 2] == "Refused"
    with pytest.warns(UserWarning, match="missing occupation"):
        panel = CareerPanel.from_stata(
            path, id="caseid", time="year", occupation="occ1990", missing="drop"
        )
    assert "Refused" not in panel.taxonomy.titles and len(panel.taxonomy) == 9


@pytest.fixture(scope="module")
def fitted_dir(nlsy_small, tmp_path_factory):
    path, _ = nlsy_small
    out = tmp_path_factory.mktemp("fit") / "out"
    code = main(
        ["fit", str(path), *DECL, "--static", "educ", "black", "female"]
        + ["--birth-year", "birth_year", "--missing", "drop"]
        + ["--models", "marginal,markov,mnlogit", "--test-size", "0.25", "--out", str(out)]
    )
    assert code == 0
    return out


def test_fit_writes_every_output(fitted_dir):
    names = {p.name for p in fitted_dir.iterdir()}
    expected = {"comparison.txt", "comparison.tex", "comparison.html", "manifest.json"}
    expected |= {"diagnostics.txt", "diagnostics.json"}
    expected |= {f"predictions_{m}.dta" for m in ("marginal", "markov", "mnlogit")}
    expected |= {
        f"results_{m}.{e}" for m in ("marginal", "markov", "mnlogit") for e in ("txt", "zip")
    }
    assert expected <= names
    manifest = json.loads((fitted_dir / "manifest.json").read_text())
    assert manifest["saved_results"] == {
        "Marginal": "results_marginal.zip",
        "Markov": "results_markov.zip",
        "MNLogit": "results_mnlogit.zip",
    }
    assert "not_saved" not in manifest
    assert manifest["models"] == ["Marginal", "Markov", "MNLogit"]
    assert manifest["dropped_waves"] > 0
    assert set(manifest["files"].values()) <= names
    text = (fitted_dir / "comparison.txt").read_text()
    assert "Markov" in text and "MNLogit" in text
    assert "\\begin{tabular}" in (fitted_dir / "comparison.tex").read_text()
    assert "<table" in (fitted_dir / "comparison.html").read_text()
    tests = json.loads((fitted_dir / "diagnostics.json").read_text())
    kinds = {(t["test"], tuple(t["models"])) for t in tests}
    assert ("Vuong", ("Markov", "MNLogit")) in kinds and ("Clarke", ("Markov", "MNLogit")) in kinds
    assert ("Encompassing", ("MNLogit",)) in kinds
    assert all("pvalue" in t for t in tests if t["test"] == "Vuong")


def test_predictions_reopen_with_integer_codes_and_labels(fitted_dir, nlsy_small):
    path = fitted_dir / "predictions_markov.dta"
    raw = pd.read_stata(path, convert_categoricals=False)
    for col in ("caseid", "year", "occupation", "pred_occ"):
        assert pd.api.types.is_integer_dtype(raw[col]), col
    assert set(raw["occupation"]) <= set(range(1, 10))
    probs = raw[[f"p_{c}" for c in range(1, 10)]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    labelled = pd.read_stata(path)
    assert set(labelled["occupation"].astype(str)) <= set(wage_panel_1970().titles)
    with pd.io.stata.StataReader(path) as reader:
        assert reader.value_labels()["occupation"][9] == "Service workers"
    manifest = json.loads((fitted_dir / "manifest.json").read_text())
    assert raw["caseid"].nunique() == manifest["test_persons"]


def test_out_must_be_empty_unless_overwrite(careers_csv, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["fit", str(careers_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
    assert main([*args, "--models", "markov", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not empty (keep.txt)" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert main([*args, "--models", "markov", "--out", str(out), "--overwrite"]) == 0
    assert (out / "keep.txt").exists() and (out / "predictions_markov.dta").exists()


def test_unwritable_out_is_found_before_reading(careers_csv, tmp_path, capsys, monkeypatch):
    """Independent of the user id: --out below a file cannot be created."""
    (tmp_path / "file").write_text("x")
    called = []
    monkeypatch.setattr("labor_econ.cli.fit.panel_from_args", lambda *a, **k: called.append(1))
    code = main(
        ["fit", str(careers_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--out", str(tmp_path / "file" / "out")]
    )
    assert code == 2 and called == []
    assert "cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "markov,probit"], "unknown model(s) ['probit']"),
        (["--models", "llm"], "--lm is needed with the llm model"),
        (["--test-size", "1.5"], "--test-size must be in (0, 1), got 1.5"),
        (["--mnlogit-penalty", "-1"], "--mnlogit-penalty must be a number >= 0, got -1.0"),
        (["--mnlogit-penalty", "nan"], "--mnlogit-penalty must be a number >= 0, got nan"),
        (["--models", "markov,llm", "--lm", "x", "--template", "no_such"], "--template 'no_such'"),
    ],
)
def test_bad_arguments_exit_2(careers_csv, tmp_path, capsys, extra, message):
    code = main(
        ["fit", str(careers_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + [*extra, "--out", str(tmp_path / "out")]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_mnlogit_penalty_reaches_the_saved_fit(careers_csv, tmp_path):
    out = tmp_path / "out"
    code = main(
        ["fit", str(careers_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--models", "mnlogit", "--mnlogit-penalty", "1", "--out", str(out)]
    )
    assert code == 0
    results = TransitionResults.load(out / "results_mnlogit.zip")
    assert results.penalty == 1.0
    assert "Ridge penalty 1/2" in (out / "results_mnlogit.txt").read_text()


@pytest.mark.parametrize("given", [None, "0"])
def test_mnlogit_ridge_by_default_above_the_code_limit(
    careers_csv, tmp_path, capsys, given, monkeypatch
):
    """Above RIDGE_ABOVE observed codes (100; lowered here to keep the fit small) the
    MNLogit is the ridge unless --mnlogit-penalty says otherwise, and the log says so."""
    from labor_econ.cli import fit as cli_fit

    assert cli_fit.RIDGE_ABOVE == 100
    monkeypatch.setattr(cli_fit, "RIDGE_ABOVE", 5)
    out = tmp_path / "out"
    extra = [] if given is None else ["--mnlogit-penalty", given]
    code = main(
        ["fit", str(careers_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--models", "mnlogit", *extra, "--out", str(out)]
    )
    assert code == 0
    log = capsys.readouterr().err
    results = TransitionResults.load(out / "results_mnlogit.zip")
    manifest = json.loads((out / "manifest.json").read_text())
    if given is None:
        assert "occupation codes (over 5): fitting the ridge with penalty 1" in log
        assert "--mnlogit-penalty 0 for maximum likelihood" in log
        assert results.penalty == 1.0 and manifest["mnlogit_penalty"] == 1.0
    else:
        assert "fitting the ridge" not in log
        assert results.penalty == 0.0 and manifest["mnlogit_penalty"] == 0.0


def test_mnlogit_without_a_maximum_falls_back_to_the_ridge(nlsy_small, tmp_path, capsys):
    """On 183 transitions and 208 coefficients the maximum likelihood does not exist: by
    default fit says so and fits the ridge; asked for maximum likelihood it exits 1."""
    path, _ = nlsy_small
    args = ["fit", str(path), *DECL, "--missing", "drop", "--models", "mnlogit"]
    assert main([*args, "--test-size", "0.25", "--seed", "2", "--out", str(tmp_path / "a")]) == 0
    log = capsys.readouterr().err
    assert "maximum likelihood of this MNLogit" in log and "does not exist" in log
    assert "Fitting the ridge with penalty 1 instead" in log
    assert TransitionResults.load(tmp_path / "a" / "results_mnlogit.zip").penalty == 1.0
    code = main(
        [*args, "--test-size", "0.25", "--seed", "2", "--mnlogit-penalty", "0"]
        + ["--out", str(tmp_path / "b")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "fit_regularized(alpha=1)" in err
    assert "Traceback" not in err


def test_argparse_errors_and_help_return_codes(capsys):
    assert main(["fit"]) == 2
    assert "required" in capsys.readouterr().err
    assert main(["fit", "--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--missing drop" in text and "exit codes" in text


def test_bad_data_exits_1_naming_file_and_rows(tmp_path, capsys):
    frame = pd.DataFrame({"pid": [1, 1, 2], "year": [1990.0, 1990.5, 1990.0], "occ": [1, 2, 3]})
    frame.to_csv(tmp_path / "bad.csv", index=False)
    code = main(
        ["fit", str(tmp_path / "bad.csv"), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--out", str(tmp_path / "out")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 1 (pid=1, year=1990.5)" in err


def test_parquet_input(tmp_path):
    panel = simulate_panel(30, years=YEARS, seed=4)
    panel.data.to_parquet(tmp_path / "careers.parquet")
    code = main(
        ["fit", str(tmp_path / "careers.parquet"), "--id", "pid", "--time", "year"]
        + ["--occupation", "occ", "--models", "marginal,markov", "--out", str(tmp_path / "o")]
    )
    assert code == 0 and (tmp_path / "o" / "predictions_markov.dta").exists()


def test_module_runs_as_a_subprocess(careers_csv, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "labor_econ.cli", "fit", str(careers_csv), "--id", "pid"]
        + ["--time", "year", "--occupation", "occ", "--models", "marginal,markov"]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "fitting Markov" in done.stderr  # progress on stderr
    assert "Markov" in done.stdout  # the comparison on stdout
    again = subprocess.run(
        [sys.executable, "-m", "labor_econ.cli", "fit", str(careers_csv), "--id", "pid"]
        + ["--time", "year", "--occupation", "occ", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert again.returncode == 2 and "is not empty" in again.stderr


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from labor_econ.lm.testing import tiny_lm
    from labor_econ.templates import ResumeTemplate

    template = ResumeTemplate.preset("labor_llm")
    panel = simulate_panel(20, years=YEARS, seed=5)
    texts = list(template.resumes(panel)) * 5
    path = tmp_path_factory.mktemp("tiny_lm")
    tiny_lm(path, texts, vocab_size=400, hidden_size=32, seed=3, device="cpu")
    return path


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    panel = simulate_panel(12, years=YEARS[:4], seed=6)
    path = tmp_path_factory.mktemp("small") / "careers.csv"
    panel.data.to_csv(path, index=False)
    return path


def test_fit_with_an_llm(small_csv, tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    code = main(
        ["fit", str(small_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--birth-year", "birth_year", "--models", "markov,llm", "--lm", str(tiny_checkpoint)]
        + ["--template", "labor_llm", "--test-size", "0.25", "--out", str(out)]
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"] == ["Markov", "LLM"]
    raw = pd.read_stata(out / "predictions_llm.dta", convert_categoricals=False)
    assert pd.api.types.is_integer_dtype(raw["pred_occ"])
    np.testing.assert_allclose(raw.filter(like="p_").sum(axis=1), 1.0, rtol=1e-5)
    # the test persons' scores are in fit's store: compare reproduces fit's table, no LM
    assert (out / "scores").is_dir()
    again = tmp_path / "again"
    code = main(
        ["compare", str(small_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--birth-year", "birth_year", "--test-size", "0.25", "--out", str(again)]
        + ["--results", f"Markov={out / 'results_markov.zip'}", f"LLM={out / 'results_llm.zip'}"]
    )
    assert code == 0
    assert (again / "comparison.txt").read_text() == (out / "comparison.txt").read_text()


def test_score_writes_the_store(small_csv, tiny_checkpoint, tmp_path):
    from labor_econ import load_lm, score_panel

    store = tmp_path / "scores"
    args = ["score", str(small_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
    args += ["--birth-year", "birth_year", "--lm", str(tiny_checkpoint), "--store", str(store)]
    assert main(args) == 0
    assert any(store.iterdir())
    panel = CareerPanel(
        pd.read_csv(small_csv), id="pid", time="year", occupation="occ", birth_year="birth_year"
    )
    lm = load_lm(tiny_checkpoint, device="cpu")
    stored = score_panel(lm, panel, template="labor_llm", store=store, progress=False)
    fresh = score_panel(lm, panel, template="labor_llm", progress=False)
    np.testing.assert_allclose(stored.to_numpy(), fresh.to_numpy(), rtol=1e-5, atol=1e-6)
    assert main(args) == 0  # a second run finds the store complete


def test_score_refuses_pickle_checkpoints(small_csv, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "pytorch_model.bin").write_bytes(b"\x80\x04")
    code = main(
        ["score", str(small_csv), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--lm", str(ckpt), "--store", str(tmp_path / "scores")]
    )
    assert code == 1
    assert "only pickle weights" in capsys.readouterr().err


def test_demo_refuses_a_non_empty_or_unwritable_out_before_any_work(tmp_path, capsys, monkeypatch):
    called = []
    monkeypatch.setattr("labor_econ.cli.demo.wage_panel", lambda: called.append(1))
    out = tmp_path / "demo"
    out.mkdir()
    (out / "comparison.txt").write_text("an earlier run\n")
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    assert "not empty (comparison.txt)" in capsys.readouterr().err
    assert (out / "comparison.txt").read_text() == "an earlier run\n"
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--quick", "--out", str(tmp_path / "file" / "demo")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert called == []


def test_info_runs(capsys):
    assert main(["info"]) == 0
    assert "wage panel" in capsys.readouterr().out
