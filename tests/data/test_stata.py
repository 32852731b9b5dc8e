"""Writing predictions back to Stata files."""

import warnings

import numpy as np
import pandas as pd
import pytest

from labor_econ import MarkovTransitionModel, predictions_frame


@pytest.fixture(scope="module")
def fitted(wage):
    train, test = wage.split(test_size=0.2, seed=0)
    return MarkovTransitionModel(train).fit(), test


def test_predictions_frame(fitted):
    res, test = fitted
    frame = predictions_frame(res, test)
    assert list(frame.columns[:5]) == ["nr", "year", "occupation", "pred_occ", "pred_p"]
    probs = frame[[f"p_{c}" for c in range(1, 10)]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(frame["pred_occ"], probs.argmax(axis=1) + 1)
    assert len(frame) == test.n_transitions
    expected = res.predict(test).reset_index()
    np.testing.assert_allclose(probs, expected[list(range(1, 10))].to_numpy())


def test_to_stata_round_trip_with_labels(fitted, tmp_path):
    res, test = fitted
    path = tmp_path / "pred.dta"
    written = res.to_stata(path, test)
    with pd.io.stata.StataReader(path) as reader:
        back = reader.read(convert_categoricals=False)
        labels = reader.value_labels()
        variable_labels = reader.variable_labels()
    pd.testing.assert_frame_equal(back, written, check_dtype=False)
    assert labels["occupation"][9] == "Service workers"
    assert variable_labels["p_3"] == "P(Sales workers)"
    with pd.io.stata.StataReader(path) as reader:
        titled = reader.read()
    assert titled["pred_occ"].iloc[0] in set(test.taxonomy.titles)


def test_predictions_frame_at_survey_size_is_one_block():
    """389 probability columns without pandas' fragmentation warning."""
    from pandas.errors import PerformanceWarning

    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import occ1990

    panel = simulate_panel(30, taxonomy=occ1990(), seed=0)
    res = MarkovTransitionModel(panel).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        frame = predictions_frame(res, panel)
    assert frame.shape == (panel.n_transitions, 5 + 389)
    np.testing.assert_allclose(frame.iloc[:, 5:].sum(axis=1), 1.0)


# -- real files: UTF-8, defects named with the file, output-name clashes ------------------------
UTF8_TITLES = {1: "Cooks – line", 2: "看護師", 3: "Cashiers", 4: "Bäcker"}


def _careers(n=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n):
        occ = int(rng.integers(1, 5))
        for year in range(1990, 1996):
            occ = occ if rng.random() < 0.7 else int(rng.integers(1, 5))
            rows.append((pid, year, occ))
    return pd.DataFrame(rows, columns=["pid", "year", "occ"]).astype({"occ": np.int32})


def test_utf8_file_through_fit_end_to_end(tmp_path):
    """A Stata 118 file with an en dash and CJK titles: read, fitted, written back as 118."""
    from labor_econ.cli import main

    path = tmp_path / "careers.dta"
    _careers().to_stata(path, write_index=False, version=118, value_labels={"occ": UTF8_TITLES})
    out = tmp_path / "out"
    code = main(
        ["fit", str(path), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--models", "marginal,markov", "--out", str(out)]
    )
    assert code == 0
    for model in ("marginal", "markov"):
        with pd.io.stata.StataReader(out / f"predictions_{model}.dta") as reader:
            reader.read(convert_categoricals=False)
            assert reader._format_version == 118
            labels = reader.value_labels()["occupation"]
            variable_labels = reader.variable_labels()
        assert labels == UTF8_TITLES
        assert variable_labels["p_2"] == "P(看護師)"


def test_latin1_text_writes_format_117(fitted, tmp_path):
    res, test = fitted
    res.to_stata(tmp_path / "pred.dta", test)
    with pd.io.stata.StataReader(tmp_path / "pred.dta") as reader:
        reader.read()
        assert reader._format_version == 117


def test_asked_latin1_version_with_utf8_text_is_refused(tmp_path):
    from labor_econ import CareerPanel, StataError, Taxonomy

    tax = Taxonomy(list(UTF8_TITLES), list(UTF8_TITLES.values()))
    panel = CareerPanel(_careers(), id="pid", time="year", occupation="occ", taxonomy=tax)
    res = MarkovTransitionModel(panel).fit()
    with pytest.raises(StataError, match=r"pred\.dta: version=114 .*'–'.*version=118"):
        res.to_stata(tmp_path / "pred.dta", version=114)


@pytest.mark.parametrize("name", ["occupation", "pred_occ", "p_1", "pred_p"])
def test_id_named_like_an_output_column(tmp_path, name):
    from labor_econ import CareerPanel

    frame = _careers().rename(columns={"pid": name})
    panel = CareerPanel(frame, id=name, time="year", occupation="occ")
    res = MarkovTransitionModel(panel).fit()
    written = res.to_stata(tmp_path / "pred.dta")
    assert written.columns[0] == name and written[name].tolist() == (
        panel.transitions().index.get_level_values(0).tolist()
    )
    assert f"{name}_" in written.columns and written.columns.is_unique
    back = pd.read_stata(tmp_path / "pred.dta", convert_categoricals=False)
    assert list(back.columns) == list(written.columns)
    np.testing.assert_allclose(back.iloc[:, 5:].sum(axis=1), 1.0)


def test_time_named_occupation_in_predictions_frame():
    from labor_econ import CareerPanel

    frame = _careers().rename(columns={"year": "occupation"})
    panel = CareerPanel(frame, id="pid", time="occupation", occupation="occ")
    flat = predictions_frame(MarkovTransitionModel(panel).fit(), panel)
    assert list(flat.columns[:5]) == ["pid", "occupation", "occupation_", "pred_occ", "pred_p"]
    assert flat.attrs["renamed"] == {"occupation": "occupation_"}
    assert flat["occupation"].min() == 1991


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"empty\.dta: cannot read it as a Stata \.dta file \(it is empty\)"),
        (None, r"empty\.dta: cannot read it as a Stata \.dta file \(.*\)"),
    ],
)
def test_empty_and_truncated_files_name_the_file(tmp_path, content, match):
    from labor_econ import CareerPanel, StataError

    path = tmp_path / "empty.dta"
    if content is None:  # a real file cut in the middle
        _careers().to_stata(path, write_index=False, version=118)
        content = path.read_bytes()[:700]
    path.write_bytes(content)
    with pytest.raises(StataError, match=match):
        CareerPanel.from_stata(path, id="pid", time="year", occupation="occ")


def test_every_truncation_of_a_file_is_a_stata_error(tmp_path):
    from labor_econ import CareerPanel, PanelError

    full = tmp_path / "full.dta"
    _careers(5).to_stata(full, write_index=False, version=118, value_labels={"occ": UTF8_TITLES})
    data = full.read_bytes()
    cut = tmp_path / "cut.dta"
    for n in sorted({*range(0, len(data), 97), len(data) - 1}):
        cut.write_bytes(data[:n])
        try:
            CareerPanel.from_stata(cut, id="pid", time="year", occupation="occ")
        except PanelError as err:
            assert "cut.dta" in str(err)


def test_duplicate_value_label_titles_name_the_file(tmp_path):
    from labor_econ import CareerPanel, StataError

    path = tmp_path / "careers.dta"
    labels = {1: "Other", 2: "Other", 3: "Cashiers", 4: "Cooks"}
    _careers().to_stata(path, write_index=False, value_labels={"occ": labels})
    with pytest.raises(
        StataError, match=r"careers\.dta: the value labels .*duplicate titles.*'Other'"
    ):
        CareerPanel.from_stata(path, id="pid", time="year", occupation="occ")


def test_text_extended_missing_code_on_integer_codes(tmp_path):
    from labor_econ import CareerPanel, PanelError

    path = tmp_path / "careers.dta"
    _careers().to_stata(path, write_index=False, version=118, value_labels={"occ": UTF8_TITLES})
    with pytest.raises(
        PanelError, match=r"careers\.dta: extended_missing\['\.a'\] must be an integer"
    ):
        CareerPanel.from_stata(
            path, id="pid", time="year", occupation="occ", extended_missing={".a": "U"}
        )


def test_panel_does_not_import_stata():
    """panel.py sits below stata.py: no import of it, at the top or inside a function."""
    import ast
    from pathlib import Path

    import labor_econ.panel

    tree = ast.parse(Path(labor_econ.panel.__file__).read_text())
    imported = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    ]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if "stata" in m], imported
