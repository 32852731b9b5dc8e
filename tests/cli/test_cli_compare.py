"""``labor-econ compare``: results saved by ``fit`` read back and compared on a panel."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax

from labor_econ import CareerPanel, LLMModel
from labor_econ.cli import main
from labor_econ.datasets import simulate_panel, write_nlsy79_dta
from labor_econ.models import MarkovModel
from labor_econ.models.base import TransitionResults
from labor_econ.taxonomy import wage_panel_1970

YEARS = [1990, 1991, 1992, 1994, 1996, 1998]
DECL = ["--id", "caseid", "--time", "year", "--occupation", "occ1990"]
DECL += ["--static", "educ", "black", "female", "--birth-year", "birth_year", "--missing", "drop"]
KEYS = {"marginal": "Marginal", "markov": "Markov", "mnlogit": "MNLogit"}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A .dta with value labels and missing occupations, and fit's output folder on it."""
    root = tmp_path_factory.mktemp("compare")
    data = root / "nlsy.dta"
    write_nlsy79_dta(data, 60, taxonomy=wage_panel_1970(), years=YEARS, seed=1, missing_rate=0.05)
    out = root / "fit"
    code = main(
        ["fit", str(data), *DECL, "--models", ",".join(KEYS)]
        + ["--test-size", "0.25", "--seed", "2", "--out", str(out)]
    )
    assert code == 0
    return data, out


def results_args(out, keys=tuple(KEYS)):
    return ["--results", *(f"{KEYS[k]}={out / f'results_{k}.zip'}" for k in keys)]


def test_fit_saves_every_model(fitted):
    _, out = fitted
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["saved_results"] == {n: f"results_{k}.zip" for k, n in KEYS.items()}
    assert {f"results_{k}" for k in KEYS} <= set(manifest["files"])
    for key, name in KEYS.items():
        res = TransitionResults.load(out / f"results_{key}.zip")
        assert type(res).__name__.startswith(name)


def test_compare_reproduces_fits_table_and_tests(fitted, tmp_path, capsys):
    data, out = fitted
    cmp = tmp_path / "cmp"
    code = main(
        ["compare", str(data), *DECL, *results_args(out)]
        + ["--test-size", "0.25", "--seed", "2", "--out", str(cmp)]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == (out / "comparison.txt").read_text().strip()
    assert "loading Markov from" in captured.err and "comparing on" in captured.err
    for name in ("comparison.txt", "comparison.tex", "comparison.html", "diagnostics.txt"):
        assert (cmp / name).read_text() == (out / name).read_text(), name
    tests = json.loads((cmp / "diagnostics.json").read_text())
    assert tests == json.loads((out / "diagnostics.json").read_text())
    assert {(t["test"], tuple(t["models"])) for t in tests} >= {
        ("Vuong", ("Markov", "MNLogit")),
        ("Clarke", ("Marginal", "Markov")),
    }
    manifest = json.loads((cmp / "manifest.json").read_text())
    assert manifest["command"] == "compare" and manifest["models"] == list(KEYS.values())
    assert manifest["dropped_waves"] > 0 and set(manifest["files"].values()) < {
        p.name for p in cmp.iterdir()
    }


def test_compare_on_every_person_and_one_model(fitted, tmp_path):
    data, out = fitted
    cmp = tmp_path / "cmp"
    args = ["compare", str(data), *DECL, *results_args(out, ["markov"]), "--out", str(cmp)]
    assert main(args) == 0
    assert (cmp / "diagnostics.txt").read_text() == "one model: no pairwise tests\n"
    with pytest.warns(UserWarning, match="missing occupation"):
        panel = CareerPanel.from_stata(
            data, id="caseid", time="year", occupation="occ1990", missing="drop"
        )
    manifest = json.loads((cmp / "manifest.json").read_text())
    assert f"{panel.n_transitions} transitions" in manifest["panel"]
    assert main(args) == 2  # --out is no longer empty
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("Markov", "--results 'Markov': expected NAME=PATH"),
        ("=x.zip", "--results '=x.zip': expected NAME=PATH"),
        ("Markov=", "--results 'Markov=': expected NAME=PATH"),
        ("Other={out}/results_nothing.zip", "results_nothing.zip: no such file"),
        ("Markov={out}/results_markov.zip", "--results names 'Markov' twice"),
    ],
)
def test_bad_results_arguments_exit_2_before_any_work(fitted, tmp_path, capsys, entry, message):
    data, out = fitted
    good = f"Markov={out / 'results_markov.zip'}"
    code = main(
        ["compare", str(data), *DECL, "--results", good, entry.format(out=out)]
        + ["--out", str(tmp_path / "cmp")]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_files_that_are_not_saved_results_exit_1(fitted, tmp_path, capsys):
    data, out = fitted
    (tmp_path / "notes.txt").write_text("not results")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "another zip")
    for bad, why in (("notes.txt", "not a zip"), ("other.zip", "no manifest")):
        code = main(
            ["compare", str(data), *DECL, "--results", f"Markov={out / 'results_markov.zip'}"]
            + [f"Other={tmp_path / bad}", "--out", str(tmp_path / f"cmp_{bad}")]
        )
        assert code == 1
        err = capsys.readouterr().err
        assert f"--results Other={tmp_path / bad}" in err
        assert f"is not a saved labor_econ results file ({why})" in err


def test_llm_results_on_another_panel_exit_1_asking_for_scores(tmp_path, capsys):
    panel = simulate_panel(30, years=YEARS, seed=4)
    path = tmp_path / "careers.csv"
    panel.data.to_csv(path, index=False)
    panel = CareerPanel(pd.read_csv(path), id="pid", time="year", occupation="occ")
    train, _ = panel.split(test_size=0.25, seed=0)
    markov = MarkovModel(train).fit()
    logq = log_softmax(np.log(markov.predict(train).to_numpy()) / 0.8, axis=1)
    LLMModel.from_scores(train, logq, name="LLM").fit().save(tmp_path / "llm.zip")
    markov.save(tmp_path / "markov.zip")
    code = main(
        ["compare", str(path), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--results", f"Markov={tmp_path / 'markov.zip'}", f"LLM={tmp_path / 'llm.zip'}"]
        + ["--test-size", "0.25", "--out", str(tmp_path / "cmp")]
    )
    assert code == 1
    assert "a new panel needs its scores" in capsys.readouterr().err
    # on its own estimation sample (every person of DATA) the saved scores suffice
    logq = log_softmax(np.log(markov.predict(panel).to_numpy()) / 0.8, axis=1)
    LLMModel.from_scores(panel, logq, name="LLM").fit().save(tmp_path / "all.zip")
    code = main(
        ["compare", str(path), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--results", f"Markov={tmp_path / 'markov.zip'}", f"LLM={tmp_path / 'all.zip'}"]
        + ["--out", str(tmp_path / "cmp_all")]
    )
    assert code == 0, capsys.readouterr().err
    tests = json.loads((tmp_path / "cmp_all" / "diagnostics.json").read_text())
    assert [t["test"] for t in tests[:2]] == ["Vuong", "Clarke"]
    assert all("pvalue" in t for t in tests[:2])
    assert "LLM" in (tmp_path / "cmp_all" / "comparison.txt").read_text()


def test_help_and_argparse_errors(capsys):
    assert main(["compare", "--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--results Markov=" in text and "exit codes" in text
    assert main(["compare", "x.dta", "--id", "i", "--time", "t", "--occupation", "o"]) == 2
    assert "--results" in capsys.readouterr().err


def test_compare_by_writes_the_by_group_table(fitted, tmp_path, capsys):
    """--by VAR: the by-group table under the comparison, changes.txt/.csv equal to the
    library's evaluation of the loaded results; a bad --by exits 2 naming the column."""
    from labor_econ.diagnostics.evaluations import evaluate_changes

    data, out = fitted
    cmp = tmp_path / "cmp_by"
    args = ["compare", str(data), *DECL, *results_args(out, ["marginal", "markov"])]
    args += ["--test-size", "0.25", "--seed", "2"]
    assert main([*args, "--by", "female", "--out", str(cmp)]) == 0
    printed = capsys.readouterr().out
    text = (cmp / "comparison.txt").read_text()
    assert printed.strip() == text.strip()
    assert "Occupation change by female" in text and "female=1 Markov" in text
    assert "Move AUC" in (cmp / "changes.txt").read_text()
    frame = pd.read_csv(cmp / "changes.csv", index_col=[0, 1])
    with pytest.warns(UserWarning, match="missing occupation"):
        panel = CareerPanel.from_stata(
            data,
            id="caseid",
            time="year",
            occupation="occ1990",
            static=["educ", "black", "female"],
            birth_year="birth_year",
            missing="drop",
        )
    _, test = panel.split(test_size=0.25, seed=2)
    models = {
        "Marginal": TransitionResults.load(out / "results_marginal.zip"),
        "Markov": TransitionResults.load(out / "results_markov.zip"),
    }
    expected = evaluate_changes(models, test, by="female").frame
    assert frame.shape == expected.shape
    assert np.allclose(frame.to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert sorted(set(frame.index.get_level_values(0))) == [0, 1]
    manifest = json.loads((cmp / "manifest.json").read_text())
    assert manifest["by"] == "female" and manifest["files"]["changes_csv"] == "changes.csv"
    # without --by: no changes files, the change rows still in the table
    plain = tmp_path / "cmp_plain"
    assert main([*args, "--out", str(plain)]) == 0
    assert not (plain / "changes.txt").exists()
    assert "Move Brier" in (plain / "comparison.txt").read_text()
    capsys.readouterr()
    assert main([*args, "--by", "wage", "--out", str(tmp_path / "cmp_bad")]) == 2
    err = capsys.readouterr().err
    assert "--by 'wage'" in err and "not a declared covariate" in err
