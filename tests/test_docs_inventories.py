"""The offline intersphinx inventories in docs/_inventories are the ones the script writes."""

from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _script():
    spec = importlib.util.spec_from_file_location("make_inventories", DOCS / "make_inventories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inventories_are_up_to_date():
    script = _script()
    for project, (version, entries) in script.INVENTORIES.items():
        shipped = (DOCS / "_inventories" / f"{project}.inv").read_bytes()
        assert shipped == script.inventory_bytes(project, version, entries), (
            f"docs/_inventories/{project}.inv is stale: run python docs/make_inventories.py"
        )


def test_every_location_is_a_full_url_path():
    """No unexpanded '$' (Sphinx expands only a final one) and one anchor per name."""
    script = _script()
    for project, (version, entries) in script.INVENTORIES.items():
        body = script.inventory_bytes(project, version, entries).split(b"zlib.\n", 1)[1]
        for line in zlib.decompress(body).decode().splitlines():
            name, _role, _priority, location, _display = line.split(" ")
            assert "$" not in location and location.endswith("#" + name), (project, line)
