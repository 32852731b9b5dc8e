"""Every rule of the catalogue behind the docs page "What gets rejected, and why"."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from labor_econ import CareerPanel, MarkovModel, Taxonomy
from labor_econ.stata import stata_names
from labor_econ.taxonomy import STATA_MAX_LONG
from labor_econ.testing.rejections import CASES, rejection_table


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_case_raises_its_error(case, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(case.error) as info:
            case.run(tmp_path)
    assert re.search(case.match, str(info.value), flags=re.DOTALL), str(info.value)


def test_rejection_table_shows_the_messages():
    table = rejection_table(["time_not_integer", "mixed_id_types"])
    assert list(table.columns) == ["area", "rule", "bad input", "error", "message"]
    assert table["error"].tolist() == ["PanelError", "PanelError"]
    assert "1990.01" in table["message"].iloc[0]


def test_case_keys_are_unique():
    keys = [c.key for c in CASES]
    assert len(keys) == len(set(keys))


# -- behaviour that is kept, not rejected --------------------------------------------------------
def _toy(**changes):
    frame = pd.DataFrame(
        {"pid": [1, 1, 2, 2], "year": [1990, 1991, 1990, 1992], "occ": [3, 3, 1, 2]}
    )
    return frame.assign(**changes)


def test_integer_valued_float_codes_and_times_become_integers():
    frame = _toy(occ=[97.0, np.nan, 1.0, 2.0], year=[1990.0, 1991.0, 1990.0, 1992.0])
    with pytest.warns(UserWarning, match="dropped 1 wave"):
        panel = CareerPanel(frame, id="pid", time="year", occupation="occ", missing="drop")
    assert pd.api.types.is_integer_dtype(panel.data["occ"])
    assert pd.api.types.is_integer_dtype(panel.data["year"])
    assert panel.taxonomy.codes == (1, 2, 97) and panel.taxonomy.titles == ("1", "2", "97")
    tr = panel.transitions()
    assert tr["occupation"].tolist() == [2] and tr["prev_occupation"].tolist() == [1]
    assert "97.0" not in repr(panel.data) and "1990.0" not in repr(panel.data)


def test_time_exactly_integer_close_values_rejected():
    frame = _toy(year=[1990.0, 1991.0 + 1e-12, 1990.0, 1992.0])
    with pytest.raises(ValueError, match="non-integer time"):
        CareerPanel(frame, id="pid", time="year", occupation="occ")


def test_string_ids_and_numeric_ids_each_accepted():
    CareerPanel(_toy(pid=["a", "a", "b", "b"]), id="pid", time="year", occupation="occ")
    CareerPanel(
        _toy(pid=pd.array([1, 1, 2, 2], dtype=object)), id="pid", time="year", occupation="occ"
    )


def test_from_csv_keeps_leading_zeros(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,title\n001,Cooks\n002,Nurses\n010,Cashiers\n")
    tax = Taxonomy.from_csv(path)
    assert tax.codes == ("001", "002", "010")
    path.write_text("code,title\n1,Cooks\n22,Nurses\n")
    assert Taxonomy.from_csv(path).codes == (1, 22)
    path.write_text("code,title\n1,Cooks\n02,Nurses\n")
    assert Taxonomy.from_csv(path).codes == ("1", "02")


def test_taxonomies_module_still_works():
    import labor_econ
    from labor_econ import taxonomy
    from labor_econ.taxonomies import occ1990, wage_panel_1970

    assert labor_econ.taxonomies.occ1990() is taxonomy.occ1990() is occ1990()
    assert len(occ1990()) == 389 and occ1990().codes[0] == 3
    assert wage_panel_1970().title(9) == "Service workers"


def _dta_with_dot_a(tmp_path, labels_extra=None):
    dot_a = STATA_MAX_LONG + 2
    frame = _toy(occ=np.array([3, dot_a, 1, 2], dtype=np.int32))
    labels = {1: "Cooks", 2: "Nurses", 3: "Cashiers", dot_a: "Unemployed", **(labels_extra or {})}
    path = tmp_path / "careers.dta"
    frame.to_stata(path, write_index=False, value_labels={"occ": labels})
    return path


def test_stata_extended_missing_is_missing_never_a_code(tmp_path):
    path = _dta_with_dot_a(tmp_path)
    with pytest.warns(UserWarning, match="dropped 1 wave"):
        panel = CareerPanel.from_stata(
            path, id="pid", time="year", occupation="occ", missing="drop"
        )
    assert panel.taxonomy.codes == (1, 2, 3)
    assert "Unemployed" not in panel.taxonomy.titles
    assert panel.dropped["year"].tolist() == [1991]


def test_stata_extended_missing_kept_as_a_state(tmp_path):
    path = _dta_with_dot_a(tmp_path)
    panel = CareerPanel.from_stata(
        path, id="pid", time="year", occupation="occ", extended_missing={".a": 991}
    )
    assert panel.taxonomy.codes == (1, 2, 3, 991)
    assert panel.taxonomy.title(991) == "Unemployed"
    assert panel.data["occ"].tolist() == [3, 991, 1, 2]
    assert pd.api.types.is_integer_dtype(panel.data["occ"])


def test_stata_float_codes_with_missing_values(tmp_path):
    path = tmp_path / "f.dta"
    frame = _toy(occ=[97.0, np.nan, 1.0, 2.0])
    frame.to_stata(path, write_index=False)
    with pytest.warns(UserWarning):
        panel = CareerPanel.from_stata(
            path, id="pid", time="year", occupation="occ", missing="drop"
        )
    assert panel.taxonomy.titles == ("1", "2", "97")
    res = MarkovModel(panel).fit()
    written = res.to_stata(tmp_path / "pred.dta")
    back = pd.read_stata(tmp_path / "pred.dta", convert_categoricals=False)
    assert pd.api.types.is_integer_dtype(back["occupation"])
    assert pd.api.types.is_integer_dtype(back["pred_occ"])
    assert list(written.columns) == list(back.columns)
    assert "p_97" in back.columns


def test_stata_names_are_chosen_up_front_and_returned(tmp_path):
    tax = Taxonomy(["a-b", "a_b", "1x"], ["Cooks", "Nurses", "Cashiers"])
    frame = pd.DataFrame(
        {
            "person id": [1, 1, 2, 2],
            "year": [1990, 1991, 1990, 1991],
            "occ": ["a-b", "a_b", "1x", "a-b"],
        }
    )
    panel = CareerPanel(frame, id="person id", time="year", occupation="occ", taxonomy=tax)
    res = MarkovModel(panel).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warns when it renames on its own
        written = res.to_stata(tmp_path / "pred.dta")
    mapping = written.attrs["stata_names"]
    assert mapping["p_a-b"] == "p_a_b_2" and mapping["p_a_b"] == "p_a_b"
    assert mapping["person id"] == "person_id" and mapping["p_1x"] == "p_1x"
    with pd.io.stata.StataReader(tmp_path / "pred.dta") as reader:
        back = reader.read()
        variable_labels = reader.variable_labels()
    assert list(back.columns) == list(written.columns) == list(mapping.values())
    assert variable_labels["p_a_b_2"] == "P(Cooks)"
    assert variable_labels["person_id"] == "person id"


def test_stata_names_rules():
    names = stata_names(["ok", "if", "_b", "x" * 40, "x" * 40 + "y", "é"])
    assert names["ok"] == "ok" and names["if"] == "_if" and names["_b"] == "__b"
    assert len(names["x" * 40]) == 32 and names["x" * 40] != names["x" * 40 + "y"]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", v) for v in names.values())
