"""Write the intersphinx inventories the docs build reads offline (docs/_inventories/*.inv).

The build machine has no internet, so intersphinx cannot download each project's
``objects.inv``. Each file written here is a minimal inventory in Sphinx's format (version 2):
exactly the external names these pages and docstrings reference, each mapped to its page in
the project's public documentation (transformers' documentation is not built with Sphinx and
publishes no inventory, so this is the only way to link it). The build runs with
``nitpicky = True``: a newly referenced external name that is missing here fails it with
"reference target not found"; add the name below and run, from the repository root::

    python docs/make_inventories.py
"""

from __future__ import annotations

import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent / "_inventories"

#: project -> (version, [(name, "domain:role", path relative to the project's base URL)]).
#: The base URLs are ``intersphinx_mapping`` in conf.py; every "$" in a path stands for the
#: name (written out here: Sphinx itself expands only a final "$").
INVENTORIES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "python": (
        "3",
        [
            ("difflib.SequenceMatcher", "py:class", "library/difflib.html#$"),
        ],
    ),
    "numpy": (
        "stable",
        [
            ("numpy.average", "py:function", "reference/generated/numpy.average.html#$"),
        ],
    ),
    "pandas": (
        "stable",
        [
            ("pandas.DataFrame.to_stata", "py:method", "reference/api/$.html#$"),
            ("pandas.wide_to_long", "py:function", "reference/api/$.html#$"),
        ],
    ),
    "scipy": (
        "stable",
        [
            ("scipy.optimize.minimize", "py:function", "reference/generated/$.html#$"),
            (
                "scipy.optimize.linear_sum_assignment",
                "py:function",
                "reference/generated/$.html#$",
            ),
        ],
    ),
    "statsmodels": (
        "stable",
        [
            ("statsmodels.base.model.LikelihoodModel", "py:class", "dev/generated/$.html#$"),
            (
                "statsmodels.base.model.LikelihoodModelResults",
                "py:class",
                "dev/generated/$.html#$",
            ),
            ("statsmodels.iolib.summary2.summary_col", "py:function", "generated/$.html#$"),
            ("statsmodels.iolib.summary2.Summary", "py:class", "generated/$.html#$"),
            (
                "statsmodels.tools.sm_exceptions.PerfectSeparationError",
                "py:class",
                "generated/$.html#$",
            ),
        ],
    ),
    "transformers": (
        "main",
        [
            ("transformers.TrainingArguments", "py:class", "main_classes/trainer#$"),
        ],
    ),
}


def inventory_bytes(project: str, version: str, entries: list[tuple[str, str, str]]) -> bytes:
    """One ``objects.inv`` in Sphinx's version-2 format (a text header, a zlib body).

    Hand-written because Sphinx's own writer needs a built environment; the format is
    documented in ``sphinx.util.inventory`` and read back by the check below.
    """
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    # name, domain:role, priority (1: a normal object), location, display name ("-": the name)
    body = "".join(
        f"{name} {role} 1 {uri.replace('$', name)} -\n" for name, role, uri in sorted(entries)
    )
    return header + zlib.compress(body.encode())


def main() -> None:
    """Write every inventory and check that each reads back with its names."""
    from sphinx.util.inventory import InventoryFile

    OUT.mkdir(exist_ok=True)
    for project, (version, entries) in INVENTORIES.items():
        path = OUT / f"{project}.inv"
        path.write_bytes(inventory_bytes(project, version, entries))
        with path.open("rb") as stream:
            loaded = InventoryFile.load(stream, "https://example.invalid/", _join)
        names = {name for items in loaded.values() for name in items}
        assert names == {name for name, _, _ in entries}, (project, names)
        print(f"{path.relative_to(OUT.parent.parent)}: {len(entries)} name(s)")


def _join(base: str, path: str) -> str:
    return base + path


if __name__ == "__main__":
    main()
