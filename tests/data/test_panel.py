"""CareerPanel: declaration, validation errors that name the culprit, transitions, splits."""

import numpy as np
import pandas as pd
import pytest

from labor_econ import CareerPanel, PanelError, Taxonomy

DECL = dict(id="pid", time="year", occupation="occ")


def declare(frame, taxonomy, **kw):
    return CareerPanel(frame, **DECL, taxonomy=taxonomy, **kw)


def test_transitions_link_observed_waves(toy_panel):
    tr = toy_panel.transitions()
    assert list(tr.index.names) == ["pid", "year"]
    assert tr.index.tolist() == [(7, 1991), (7, 1993), (9, 1992)]
    assert tr["occupation"].tolist() == [2, 2, 1]
    assert tr["prev_occupation"].tolist() == [1, 2, 3]
    assert tr["gap"].tolist() == [1, 2, 2]
    assert tr["born"].tolist() == [1960, 1960, 1965]
    assert tr["hours"].tolist() == [38, 20, 45]
    assert toy_panel.n_persons == 2 and toy_panel.n_transitions == 3 and toy_panel.n_obs == 5


def test_include_first(toy_panel):
    tr = toy_panel.transitions(include_first=True)
    assert len(tr) == 5
    assert tr.loc[(7, 1990), "prev_occupation"] is pd.NA or pd.isna(
        tr.loc[(7, 1990), "prev_occupation"]
    )


def test_transitions_are_copies_of_a_cache(toy_panel):
    """Changing a returned frame changes neither the next call's nor the other variant's."""
    first = toy_panel.transitions()
    first.loc[:, "occupation"] = 99
    first["extra"] = 1.0
    toy_panel.transitions(include_first=True).drop(index=[(7, 1990)], inplace=True)
    again = toy_panel.transitions()
    assert again["occupation"].tolist() == [2, 2, 1] and "extra" not in again
    assert len(toy_panel.transitions(include_first=True)) == 5
    assert again is not toy_panel.transitions()


def test_keeps_caller_columns_and_dtypes(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"hours": "float32"}).sample(frac=1, random_state=1)
    panel = declare(frame, toy_taxonomy, varying=["hours"])
    assert list(panel.data.columns) == list(toy_frame.columns)
    assert panel.data["hours"].dtype == np.float32
    assert panel.data[["pid", "year"]].to_numpy().tolist() == sorted(
        toy_frame[["pid", "year"]].to_numpy().tolist()
    )
    assert toy_frame["occ"].tolist() == [1, 2, 2, 3, 1]  # the caller's frame is untouched


def test_duplicate_person_year_names_rows(toy_frame, toy_taxonomy):
    frame = pd.concat([toy_frame, toy_frame.iloc[[1]]], ignore_index=True)
    with pytest.raises(PanelError, match=r"duplicate \(pid, year\).*pid=7, year=1991"):
        declare(frame, toy_taxonomy)


def test_non_integer_time(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"year": float})
    frame.loc[3, "year"] = 1990.5
    with pytest.raises(PanelError, match=r"non-integer time.*row 3 \(pid=9, year=1990.5\)"):
        declare(frame, toy_taxonomy)
    with pytest.raises(PanelError, match="must hold integers"):
        declare(toy_frame.astype({"year": str}), toy_taxonomy)


def test_integer_valued_float_time_is_accepted(toy_frame, toy_taxonomy):
    panel = declare(toy_frame.astype({"year": float}), toy_taxonomy)
    assert panel.transitions()["gap"].tolist() == [1, 2, 2]


def test_missing_time(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"year": float})
    frame.loc[2, "year"] = np.nan
    with pytest.raises(PanelError, match=r"missing time in column 'year': row 2 \(pid=7\)"):
        declare(frame, toy_taxonomy)


def test_missing_id(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"pid": float})
    frame.loc[4, "pid"] = np.nan
    with pytest.raises(PanelError, match=r"missing person id.*row 4 \(year=1992\)"):
        declare(frame, toy_taxonomy)


def test_unknown_codes(toy_frame, toy_taxonomy):
    frame = toy_frame.copy()
    frame.loc[2, "occ"] = 77
    with pytest.raises(PanelError, match=r"code\(s\) 77 .*not in taxonomy 'toy'.*pid=7, year=1993"):
        declare(frame, toy_taxonomy)


def test_missing_occupation_raise_and_drop(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"occ": "Int64"})
    frame.loc[1, "occ"] = pd.NA
    with pytest.raises(
        PanelError, match=r"missing occupation.*row 1 \(pid=7, year=1991\).*missing='drop'"
    ):
        declare(frame, toy_taxonomy)
    with pytest.warns(UserWarning, match="dropped 1 wave"):
        panel = declare(frame, toy_taxonomy, missing="drop")
    assert panel.n_obs == 4 and len(panel.dropped) == 1
    assert panel.dropped.iloc[0]["year"] == 1991
    assert panel.transitions().loc[(7, 1993), "gap"] == 3


def test_static_covariate_varying_within_person(toy_frame, toy_taxonomy):
    frame = toy_frame.copy()
    frame.loc[1, "female"] = 0
    with pytest.raises(PanelError, match=r"static covariate 'female' varies within person\(s\) 7"):
        declare(frame, toy_taxonomy, static=["female"])
    frame = toy_frame.copy()
    frame.loc[4, "born"] = 1966
    with pytest.raises(PanelError, match=r"birth year 'born' varies within person\(s\) 9"):
        declare(frame, toy_taxonomy, birth_year="born")


def test_missing_covariate_values(toy_frame, toy_taxonomy):
    frame = toy_frame.astype({"hours": float})
    frame.loc[3, "hours"] = np.nan
    with pytest.raises(PanelError, match=r"missing values in covariate 'hours'.*pid=9, year=1990"):
        declare(frame, toy_taxonomy, varying=["hours"])


def test_empty_panel(toy_frame, toy_taxonomy):
    with pytest.raises(PanelError, match="empty"):
        declare(toy_frame.iloc[:0], toy_taxonomy)


def test_column_errors(toy_frame, toy_taxonomy):
    with pytest.raises(PanelError, match=r"column\(s\) \['wage'\] not in data"):
        declare(toy_frame, toy_taxonomy, varying=["wage"])
    with pytest.raises(PanelError, match="more than one role"):
        declare(toy_frame, toy_taxonomy, static=["female"], varying=["female"])
    with pytest.raises(PanelError, match="clash"):
        declare(toy_frame.rename(columns={"hours": "gap"}), toy_taxonomy, varying=["gap"])
    with pytest.raises(PanelError, match="DataFrame"):
        CareerPanel(toy_frame.to_dict(), **DECL)


def test_observed_taxonomy_when_none_given(toy_frame):
    panel = CareerPanel(toy_frame, **DECL)
    assert panel.taxonomy.codes == (1, 2, 3) and panel.taxonomy.title(2) == "2"


def test_wage_panel_counts(wage):
    assert wage.n_persons == 545 and wage.n_obs == 4360 and wage.n_transitions == 3815
    assert wage.times.tolist() == list(range(1980, 1988))
    assert sorted(wage.data["occupation"].unique()) == list(range(1, 10))
    assert wage.taxonomy.name == "wage_panel_1970"


def test_split_by_person(wage):
    train, test = wage.split(test_size=0.2, seed=0)
    assert test.n_persons == 109 and train.n_persons == 436
    assert not set(train.persons) & set(test.persons)
    assert train.n_obs + test.n_obs == wage.n_obs
    again = wage.split(test_size=0.2, seed=0)[1]
    assert list(again.persons) == list(test.persons)
    assert list(wage.split(test_size=0.2, seed=1)[1].persons) != list(test.persons)
    tr, val, te = wage.split(test_size=0.2, val_size=0.1, seed=0)
    assert (tr.n_persons, val.n_persons, te.n_persons) == (382, 54, 109)
    assert len(set(tr.persons) | set(val.persons) | set(te.persons)) == 545
    assert list(te.persons) == list(test.persons)  # the test part does not depend on val_size


def test_split_errors(toy_panel):
    with pytest.raises(PanelError, match="non-empty training part"):
        toy_panel.split(test_size=0.9)
    with pytest.raises(PanelError, match="test_size"):
        toy_panel.split(test_size=1.5)
    with pytest.raises(PanelError, match=r"person\(s\) not in the panel: 3"):
        toy_panel.subset([7, 3])


def test_transition_table_matches_crosstab(wage):
    counts = wage.transition_table(normalize=False)
    assert counts.loc["Total", "Total"] == 3815
    pct = wage.transition_table()
    np.testing.assert_allclose(pct["Total"], 100.0)
    tr = wage.transitions()
    stay = (tr["prev_occupation"] == 5) & (tr["occupation"] == 5)
    assert pct.loc[5, 5] == pytest.approx(100 * stay.sum() / (tr["prev_occupation"] == 5).sum())


def test_stata_round_trip_with_value_labels(tmp_path, wage):
    path = tmp_path / "wage.dta"
    labels = dict(zip(wage.taxonomy.codes, wage.taxonomy.titles, strict=True))
    wage.data.to_stata(path, write_index=False, value_labels={"occupation": labels})
    panel = CareerPanel.from_stata(
        path, id="nr", time="year", occupation="occupation", static=["black", "hisp", "educ"]
    )
    assert panel.taxonomy.codes == wage.taxonomy.codes
    assert panel.taxonomy.titles == wage.taxonomy.titles
    assert pd.api.types.is_integer_dtype(panel.data["occupation"])
    assert panel.transitions()["occupation"].tolist() == wage.transitions()["occupation"].tolist()


def test_stata_without_labels_uses_observed_codes(tmp_path, toy_frame):
    path = tmp_path / "toy.dta"
    toy_frame.to_stata(path, write_index=False)
    panel = CareerPanel.from_stata(path, **DECL)
    assert panel.taxonomy.codes == (1, 2, 3)
    tax = Taxonomy([1, 2, 3], ["a", "b", "c"])
    assert CareerPanel.from_stata(path, **DECL, taxonomy=tax).taxonomy is tax
    with pytest.raises(PanelError, match="variable 'job' not found"):
        CareerPanel.from_stata(path, id="pid", time="year", occupation="job")


def test_gaps_are_exact_integers_near_two_to_the_62():
    """float64 arithmetic gave gap 0 here (2**62 + 1 is not a float64)."""
    frame = pd.DataFrame(
        {"pid": [1, 1, 2, 2], "year": [2**62, 2**62 + 1, 1990, 1992], "occ": [3, 3, 1, 2]}
    )
    panel = CareerPanel(frame, id="pid", time="year", occupation="occ")
    tr = panel.transitions()
    assert tr["gap"].tolist() == [1, 2]
    assert tr["prev_time"].tolist() == [2**62, 1990]
    first = panel.transitions(include_first=True)
    assert first["gap"].isna().tolist() == [True, False, True, False]


def test_uint64_times_within_range_become_int64():
    frame = pd.DataFrame(
        {"pid": [1, 1], "year": np.array([1990, 1991], dtype=np.uint64), "occ": [3, 3]}
    )
    panel = CareerPanel(frame, id="pid", time="year", occupation="occ")
    assert panel.data["year"].dtype == np.int64
    assert panel.transitions()["gap"].tolist() == [1]


def _toy_frame(**changes):
    frame = pd.DataFrame(
        {"pid": [1, 1, 2, 2], "year": [1990, 1991, 1990, 1992], "occ": [3, 3, 1, 2]}
    )
    for col, values in changes.items():
        frame[col] = values
    return frame


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CareerPanel(_toy_frame(), **{**DECL, "time": ["year"]}), r"time must be one"),
        (lambda: CareerPanel(_toy_frame(), **DECL, static=5), r"list of column names, got"),
        (lambda: CareerPanel(_toy_frame(), **DECL, taxonomy={1: "a"}), r"must be a Taxonomy"),
        (
            lambda: CareerPanel(_toy_frame(occ=[1j, 2j, 3j, 1j]), **DECL),
            r"'occ' has dtype complex128; it must hold integer or text codes",
        ),
        (
            lambda: CareerPanel(_toy_frame(occ=[[1], [2], [3], [1]]), **DECL),
            r"codes in column 'occ' must be integers or text: row 0 .*\(list\)",
        ),
        (
            lambda: CareerPanel(_toy_frame(x=[[1], [2], [3], [4]]), **DECL, varying=["x"]),
            r"covariate 'x' holds values that are not single values: row 0",
        ),
        (
            lambda: CareerPanel(
                pd.DataFrame(
                    [[1, 1990, 3]],
                    columns=pd.MultiIndex.from_tuples([("pid", ""), ("year", ""), ("occ", "")]),
                ),
                **DECL,
            ),
            r"multi-level column names; flatten them",
        ),
        (lambda: CareerPanel(_toy_frame(), **DECL).subset(None), r"persons must be a list"),
        (lambda: CareerPanel(_toy_frame(), **DECL).subset([[1]]), r"must be person ids, got"),
        (lambda: CareerPanel(_toy_frame(), **DECL).history([1]), r"one person id, got \[1\]"),
        (lambda: CareerPanel(_toy_frame(), **DECL).split(seed=1.5), r"non-negative integer"),
        (lambda: CareerPanel(_toy_frame(), **DECL).split(test_size="0.2"), r"must be a number"),
    ],
    ids=lambda v: "" if callable(v) else v[:30],
)
def test_malformed_arguments_are_panel_errors(make, message):
    """Raw pandas/numpy messages (unhashable type, '<' not supported, ...) before."""
    with pytest.raises(PanelError, match=message):
        make()
