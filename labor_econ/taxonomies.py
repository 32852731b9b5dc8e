"""Built-in occupation taxonomies shipped with the package."""

from __future__ import annotations

from functools import cache
from importlib import resources

from .taxonomy import Taxonomy

__all__ = ["occ1990", "wage_panel_1970"]

_WAGE_PANEL_1970 = {
    1: "Professional, technical and kindred",
    2: "Managers, officials and proprietors",
    3: "Sales workers",
    4: "Clerical and kindred",
    5: "Craftsmen, foremen and kindred",
    6: "Operatives and kindred",
    7: "Laborers and farmers",
    8: "Farm laborers and foremen",
    9: "Service workers",
}


@cache
def wage_panel_1970() -> Taxonomy:
    """The nine 1970 Census major occupation groups coded in the NLSY wage panel.

    Codes 1..9 as in Vella and Verbeek (1998); see :func:`labor_econ.datasets.wage_panel`.
    """
    return Taxonomy(list(_WAGE_PANEL_1970), list(_WAGE_PANEL_1970.values()), name="wage_panel_1970")


@cache
def occ1990() -> Taxonomy:
    """IPUMS harmonized 1990 Census occupation codes (OCC1990) with IPUMS titles.

    389 entries, including 991 "Unemployed" and 999 "Unknown", which are marked as
    special states. OCC1990 is the coding of many US panels and the base of the
    ``occ1990dd`` scheme used by the CAREER and LABOR-LLM papers.
    """
    path = resources.files("labor_econ") / "data" / "occ1990_ipums.csv"
    with resources.as_file(path) as csv:
        return Taxonomy.from_csv(csv, name="occ1990", special=(991, 999))
