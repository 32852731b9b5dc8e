"""Built-in occupation taxonomies; they live in :mod:`labor_econ.taxonomy`.

Kept so that ``labor_econ.taxonomies.occ1990()`` and ``from labor_econ.taxonomies import
wage_panel_1970`` keep working.
"""

from .taxonomy import occ1990, wage_panel_1970

__all__ = ["occ1990", "wage_panel_1970"]
