"""Taxonomy construction, validation and built-ins."""

import pandas as pd
import pytest

from labor_econ import Taxonomy, TaxonomyError
from labor_econ.taxonomies import occ1990, wage_panel_1970


def test_lookups_and_order():
    tax = Taxonomy([3, 1], ["Cashiers", "Retail sales clerks"], name="toy", special=[1])
    assert tax.codes == (3, 1)
    assert tax.title(1) == "Retail sales clerks"
    assert tax.code("Cashiers") == 3
    assert tax.index(1) == 1
    assert len(tax) == 2 and 3 in tax and 7 not in tax
    assert tax.special == (1,)
    assert list(tax.positions([1, 3, 1])) == [1, 0, 1]


@pytest.mark.parametrize(
    ("codes", "titles", "message"),
    [
        ([1, 1], ["a", "b"], "duplicate codes: 1"),
        ([1, 2], ["a", "a"], "duplicate titles: 'a'"),
        ([1, 2], ["a", ""], r"entry 1 \(code 2\): title '' is empty"),
        ([1, 2], ["a", " b"], "surrounding whitespace"),
        ([1, 2], ["a", "b\nc"], "line break"),
        ([1], ["a", "b"], "1 codes but 2 titles"),
        ([], [], "at least one"),
        ([1.5], ["a"], "not an integer"),
        ([1, "2"], ["a", "b"], "mix integers and strings"),
    ],
)
def test_rejects_malformed(codes, titles, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy(codes, titles)


def test_unknown_lookups_name_the_code():
    tax = wage_panel_1970()
    with pytest.raises(TaxonomyError, match="code 42 is not in taxonomy 'wage_panel_1970'"):
        tax.title(42)
    with pytest.raises(TaxonomyError, match="'Astronauts'"):
        tax.code("Astronauts")
    with pytest.raises(TaxonomyError, match="10, 11"):
        tax.positions([1, 10, 11])
    with pytest.raises(TaxonomyError, match="special codes not in the taxonomy"):
        Taxonomy([1], ["a"], special=[2])


def test_integer_valued_floats_become_ints():
    tax = Taxonomy([1.0, 2.0], ["a", "b"])
    assert tax.codes == (1, 2) and isinstance(tax.codes[0], int)


def test_from_csv(tmp_path):
    path = tmp_path / "occ.csv"
    pd.DataFrame({"c": [10, 20], "t": ["Nurses", "Cooks"]}).to_csv(path, index=False)
    tax = Taxonomy.from_csv(path, code="c", title="t")
    assert tax.name == "occ" and tax.title(20) == "Cooks"
    with pytest.raises(TaxonomyError, match="missing column"):
        Taxonomy.from_csv(path)
    pd.DataFrame({"code": [1, 2], "title": ["Nurses", None]}).to_csv(path, index=False)
    with pytest.raises(TaxonomyError, match="line"):
        Taxonomy.from_csv(path)


def test_from_stata_labels_sorts_codes():
    tax = Taxonomy.from_stata_labels({2: "Cooks", 1: "Nurses"}, name="occ")
    assert tax.codes == (1, 2) and tax.titles == ("Nurses", "Cooks")


def test_builtins():
    assert len(wage_panel_1970()) == 9
    assert wage_panel_1970().title(5) == "Craftsmen, foremen and kindred"
    occ = occ1990()
    assert len(occ) == 389
    assert occ.title(991) == "Unemployed" and occ.title(999) == "Unknown"
    assert set(occ.special) == {991, 999}
    assert occ == occ1990() and occ != wage_panel_1970()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Taxonomy(None, None), TaxonomyError, r"codes must be a list, got None"),
        (lambda: Taxonomy([1], ["a"], special=5), TaxonomyError, r"special must be a list"),
        (lambda: Taxonomy([1], ["a"]).code(["a"]), TaxonomyError, r"title \['a'\] is not in"),
        (lambda: Taxonomy([1], ["a"]).positions([[1]]), TaxonomyError, r"not in .*\[1\]"),
        (lambda: Taxonomy([1], ["a"]).match_titles(5), TypeError, r"observed must be titles"),
        (
            lambda: Taxonomy([1], ["a"]).match_titles(["a"], cutoff="x"),
            ValueError,
            r"cutoff must be a number between 0 and 1, got 'x'",
        ),
        (lambda: Taxonomy.from_stata_labels([1, 2]), TaxonomyError, r"must be a mapping"),
        (
            lambda: Taxonomy.from_stata_labels({"a": "x", 1: "y"}),
            TaxonomyError,
            r"label codes mix integers and strings",
        ),
    ],
)
def test_malformed_arguments_name_the_problem(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"codes\.csv: the file is empty"),
        (bytes(range(256)) * 3, r"codes\.csv: (cannot read it as CSV|not UTF-8 text)"),
        ("code,title\n1,Caf\xe9\n".encode("latin-1"), r"codes\.csv: not UTF-8 text"),
    ],
)
def test_unreadable_csv_files_are_named(tmp_path, content, message):
    (tmp_path / "codes.csv").write_bytes(content)
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_csv(tmp_path / "codes.csv")
