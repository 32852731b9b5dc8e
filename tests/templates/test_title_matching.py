"""Taxonomy.match_titles and with_titles: a checkpoint's spellings mapped onto our codes."""

from difflib import SequenceMatcher

import numpy as np
import pandas as pd
import pytest

from labor_econ import Taxonomy, TaxonomyError
from labor_econ.taxonomies import occ1990


@pytest.fixture
def tax():
    return Taxonomy(
        [10, 20, 30, 40],
        ["Cashiers", "Retail sales clerks", "Waiters and waitresses", "Cooks"],
        name="toy",
        special=[40],
    )


def test_exact_case_fuzzy_and_unmatched(tax):
    observed = pd.Series(
        {
            "Cashiers": 7,
            "retail  SALES clerks": 5,
            "waitresses and waiters": 4,
            "xyzzy": 2,
        }
    )
    m = tax.match_titles(observed)
    assert list(m.columns) == ["code", "title", "checkpoint_title", "similarity", "how", "count"]
    assert m["code"].tolist()[:4] == [10, 20, 30, 40]
    assert m["how"].tolist() == ["exact", "case", "fuzzy", "unmatched", "unmatched"]
    assert m["checkpoint_title"].tolist()[:3] == [
        "Cashiers",
        "retail  SALES clerks",
        "waitresses and waiters",
    ]
    assert m["count"].tolist() == [7, 5, 4, 0, 2]
    # Reordered words match through the sorted-words comparison: similarity 1.
    assert m.loc[2, "similarity"] == pytest.approx(1.0)
    # Cooks was never written; xyzzy matches nothing and is reported, not dropped.
    assert m.loc[3, "checkpoint_title"] is None
    last = m.iloc[4]
    assert pd.isna(last["code"]) and last["title"] is None and last["checkpoint_title"] == "xyzzy"
    assert str(m["code"].dtype) == "Int64"
    assert 0 <= last["similarity"] < 0.6


def test_fuzzy_similarity_is_difflibs_ratio(tax):
    m = tax.match_titles(["retail salesclerks", "cooks"])
    row = m.set_index("code").loc[20]
    expected = SequenceMatcher(None, "retail sales clerks", "retail salesclerks").ratio()
    assert row["how"] == "fuzzy"
    assert row["similarity"] == pytest.approx(expected)
    assert m.set_index("code").loc[40, "how"] == "case"


def test_cutoff_is_the_least_fuzzy_similarity(tax):
    observed = ["Cashier clerks"]
    similarity = SequenceMatcher(None, "cashiers", "cashier clerks").ratio()
    loose = tax.match_titles(observed, cutoff=similarity - 0.01)
    strict = tax.match_titles(observed, cutoff=similarity + 0.01)
    assert loose.set_index("code").loc[10, "checkpoint_title"] == "Cashier clerks"
    assert strict["code"].notna().sum() == 4  # the four codes, none matched
    assert (strict["how"] == "unmatched").all()
    assert strict.iloc[-1]["checkpoint_title"] == "Cashier clerks"
    with pytest.raises(ValueError, match="cutoff"):
        tax.match_titles(observed, cutoff=1.5)


def test_assignment_is_one_to_one_and_prefers_the_better_pair(tax):
    """Two spellings near "Cashiers": the closer one is matched, the other reported."""
    m = tax.match_titles(["cashier", "cashierss x"])
    assert m.set_index("code").loc[10, "checkpoint_title"] == "cashier"
    assert m["checkpoint_title"].tolist().count("cashier") == 1
    assert m.iloc[-1]["checkpoint_title"] == "cashierss x"
    assert m.iloc[-1]["how"] == "unmatched"


def test_case_pass_takes_the_most_frequent_spelling(tax):
    m = tax.match_titles(["cooks", "COOKS", "COOKS", "Cooks"])
    assert m.set_index("code").loc[40, "how"] == "exact"
    # The case variants of an exactly matched title stay unmatched, with their counts.
    rest = m[m["code"].isna()].set_index("checkpoint_title")["count"]
    assert rest.to_dict() == {"COOKS": 2, "cooks": 1}
    m = Taxonomy([1], ["Cooks"]).match_titles(["cooks", "COOKS", "COOKS"])
    assert m.loc[0, "checkpoint_title"] == "COOKS" and m.loc[0, "how"] == "case"


def test_bad_observed(tax):
    with pytest.raises(TypeError, match="not one string"):
        tax.match_titles("Cashiers")
    with pytest.raises(TypeError, match="not a string"):
        tax.match_titles(["Cashiers", 3])
    with pytest.raises(ValueError, match="non-negative"):
        tax.match_titles(pd.Series({"Cashiers": -1}))


def test_occ1990_perturbed_spellings_map_back():
    """A checkpoint that lowercases every title and drops or adds some words: at least 95% of
    its titles map back to the right OCC1990 code."""
    occ = occ1990()
    rng = np.random.default_rng(0)
    spelled = {}
    for code, title in zip(occ.codes, occ.titles, strict=True):
        t = title.lower()
        draw = rng.random()
        if draw < 0.3:
            t = t.replace(" and ", " & ")
        elif draw < 0.5:
            t = t.replace(",", "")
        elif draw < 0.6:
            t = t + " (n.e.c.)"
        spelled[code] = t
    counts = pd.Series(rng.integers(1, 50, len(spelled)), index=list(spelled.values()))
    m = occ.match_titles(counts)
    matched = m.dropna(subset=["code"]).set_index("code")["checkpoint_title"]
    right = np.mean([matched.get(code) == t for code, t in spelled.items()])
    assert right >= 0.95
    assert set(m["how"]) <= {"case", "fuzzy", "unmatched"}


def test_with_titles_from_mapping_series_and_matches(tax):
    new = tax.with_titles({10: "cashiers", 40: "cooks"})
    assert new.codes == tax.codes and new.special == tax.special and new.name == tax.name
    assert new.titles == ("cashiers", "Retail sales clerks", "Waiters and waitresses", "cooks")
    assert tax.with_titles(pd.Series({10: "cashiers", 40: "cooks"})) == new
    assert tax.with_titles({10.0: "cashiers", 40: "cooks"}) == new
    matches = tax.match_titles(["cashiers", "cooks", "nonsense entirely"])
    assert tax.with_titles(matches) == new


def test_with_titles_errors(tax):
    with pytest.raises(TaxonomyError, match="codes not in taxonomy 'toy': 99"):
        tax.with_titles({99: "x"})
    with pytest.raises(TaxonomyError, match=r"'Cooks' \(codes 10, 40\)"):
        tax.with_titles({10: "Cooks"})
    with pytest.raises(TaxonomyError, match="empty"):
        tax.with_titles({10: " "})
    with pytest.raises(TaxonomyError, match="column"):
        tax.with_titles(pd.DataFrame({"code": [10]}))
    with pytest.raises(TypeError, match="mapping"):
        tax.with_titles([("10", "x")])


def test_panel_with_taxonomy_spelled_as_the_checkpoint(toy_panel):
    from labor_econ import PanelError, ResumeTemplate

    lower = toy_panel.taxonomy.with_titles({1: "cashiers", 3: "cooks"})
    panel = toy_panel.with_taxonomy(lower)
    assert panel.taxonomy == lower and toy_panel.taxonomy.titles[0] == "Cashiers"
    pd.testing.assert_frame_equal(panel.data, toy_panel.data)
    text = ResumeTemplate.preset("plain").render(panel, 7)
    assert text.startswith("1990: cashiers\n")
    with pytest.raises(PanelError, match=r"code\(s\) 3 .* not in taxonomy"):
        toy_panel.with_taxonomy(Taxonomy([1, 2], ["a", "b"]))
    with pytest.raises(TypeError, match="Taxonomy"):
        toy_panel.with_taxonomy({1: "a"})
