"""The demo job end to end (quick configuration), its files, its cache, and the CLI."""

import pytest

from labor_econ.cli import main
from labor_econ.cli.demo import DemoConfig, _cache_key, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return run_demo(root / "out", quick=True, cache_dir=root / "cache", log=None), root


def test_demo_writes_table_tests_and_plot(demo):
    result, root = demo
    table = result.comparison.table
    assert list(table.columns) == ["Marginal", "Markov", "MNLogit", "LLM", "LLM calibrated"]
    assert (table.loc["N"] == 763).all()
    assert table.loc["Parameters", "LLM"] == 0 and table.loc["Parameters", "LLM calibrated"] == 2
    assert result.vuong.pvalue is not None and 0 <= result.vuong.pvalue <= 1
    assert 0 <= result.encompassing.pvalue <= 1
    for path in result.files.values():
        assert path.is_file() and path.stat().st_size > 0
    assert result.files["calibration"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "\\begin{tabular}" in result.files["latex"].read_text()
    assert "<table" in result.files["html"].read_text()
    assert "Perplexity" in result.files["text"].read_text()
    assert len(list((root / "cache").glob("demo-*/model/config.json"))) == 1


def test_second_run_reuses_the_cached_model(demo, capsys):
    root = demo[1]
    assert (
        main(["demo", "--quick", "--out", str(root / "again"), "--cache-dir", str(root / "cache")])
        == 0
    )
    printed = capsys.readouterr().out
    assert "reusing the cached tiny LM" in printed and "training a tiny LM" not in printed
    assert "Vuong test" in printed and "Encompassing" in printed
    # The rerun (cached model) reproduces the first run's outputs exactly.
    first, again = demo[0].files, root / "again"
    for key, path in first.items():
        if key != "calibration":
            assert (again / path.name).read_text() == path.read_text(), key
    from matplotlib.image import imread

    assert (imread(again / first["calibration"].name) == imread(first["calibration"])).all()


def test_cache_key_depends_on_config_and_data(wage):
    train, val = wage.split(test_size=0.5, seed=0)
    key = _cache_key(DemoConfig(), train, val)
    assert key == _cache_key(DemoConfig(), train, val)
    assert key != _cache_key(DemoConfig.quick(), train, val)
    assert key != _cache_key(DemoConfig(), val, train)


def test_cli_version_and_info(capsys):
    assert main(["--version"]) == 0
    assert "labor-econ" in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "gpu" in out and "545 persons" in out


def test_calibration_table_counts(demo):
    from labor_econ import calibration_table

    result, _ = demo
    ev = result.comparison.evaluations["Markov"]
    table = calibration_table(ev, bins=5)
    assert table["n"].sum() == ev.nobs
    top = ev.probabilities.to_numpy().max(axis=1)
    assert table["predicted"].mul(table["n"]).sum() == pytest.approx(top.sum())
    assert table["observed"].mul(table["n"]).sum() == pytest.approx(ev.accuracy(1) * ev.nobs)
