"""labor-econ simulate (saved results + panel -> draws and shares) and fit --by VAR."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labor_econ.cli import main
from labor_econ.cli.simulate import parse_set
from labor_econ.datasets import simulate_panel
from labor_econ.models.markov import MarkovModel

DECL = ["--id", "pid", "--time", "year", "--occupation", "occ", "--static", "educ", "female"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_sim")
    panel = simulate_panel(30, years=range(1990, 1996), seed=4, miss_rate=0.0)
    data = root / "careers.csv"
    panel.data.to_csv(data, index=False)
    res = MarkovModel(panel).fit()
    res.save(root / "markov.zip")
    return root, data, res, panel


def test_simulate_writes_draws_shares_and_a_counterfactual(saved, capsys):
    root, data, res, panel = saved
    out = root / "out"
    argv = ["simulate", str(data), *DECL, "--results", str(root / "markov.zip")]
    argv += ["--horizon", "3", "--draws", "40", "--keep-draws", "5", "--set", "female=0"]
    assert main([*argv, "--out", str(out)]) == 0
    draws = pd.read_stata(out / "draws.dta")
    assert list(draws.columns) == ["draw", "pid", "year", "occupation"]
    assert len(draws) == 5 * 3 * panel.n_persons
    shares = pd.read_csv(out / "shares.csv", index_col=[0, 1])
    # the same as the Python API with the same options
    api = res.simulate(panel, horizon=3, n_draws=40, seed=0).shares()
    np.testing.assert_allclose(shares["share"].to_numpy(), api["share"].to_numpy())
    diff = pd.read_csv(out / "difference.csv", index_col=[0, 1])
    assert (diff["difference"] == 0).all()  # Markov reads no covariate
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "simulate" and manifest["set"] == {"female": 0}
    assert manifest["years"] == [1996, 1997, 1998] and manifest["start"] == 1995
    assert "1996" in capsys.readouterr().out
    parquet = root / "out_pq"
    assert main([*argv[:-2], "--format", "parquet", "--out", str(parquet)]) == 0
    assert pd.read_parquet(parquet / "draws.parquet").shape == (5 * 3 * panel.n_persons, 4)


def test_simulate_bad_arguments(saved, capsys):
    root, data, _, _ = saved
    base = ["simulate", str(data), *DECL, "--results", str(root / "markov.zip")]
    assert main([*base, "--set", "female", "--out", str(root / "x1")]) == 2
    assert "expected VAR=VALUE" in capsys.readouterr().err
    assert main([*base, "--horizon", "0", "--out", str(root / "x2")]) == 2
    assert main([*base, "--set", "wage=1", "--out", str(root / "x3")]) == 1
    assert "does not declare as covariates" in capsys.readouterr().err
    assert main([*base[:-1], str(root / "none.zip"), "--out", str(root / "x4")]) == 2
    # --out may not hold an input (the data and the results live in root)
    assert main([*base, "--out", str(root), "--overwrite"]) == 2
    assert "holds the input" in capsys.readouterr().err
    (root / "garbage.zip").write_bytes(b"not a zip")
    assert main([*base[:-1], str(root / "garbage.zip"), "--out", str(root / "x5")]) == 1
    err = capsys.readouterr().err
    assert f"--results {root / 'garbage.zip'}: " in err and "Traceback" not in err
    assert parse_set(["a=1", "b=2.5", "c=x"]) == {"a": 1, "b": 2.5, "c": "x"}


def test_fit_by_writes_the_change_evaluations(saved):
    root, data, _, _ = saved
    out = root / "fit_by"
    argv = ["fit", str(data), *DECL, "--models", "marginal,markov", "--by", "female"]
    assert main([*argv, "--out", str(out)]) == 0
    text = (out / "changes.txt").read_text()
    assert "Move AUC" in text and "by female" in text
    assert "Occupation change by female" in (out / "comparison.txt").read_text()
    frame = pd.read_csv(out / "changes.csv", index_col=[0, 1])
    assert set(frame.index.get_level_values(1)) == {"Marginal", "Markov"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["changes_text"] == "changes.txt"
    assert main([*argv[:-1], "wage", "--out", str(root / "fit_bad")]) == 2
