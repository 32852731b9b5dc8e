"""Sphinx configuration of the labor_econ documentation.

Build (from the repository root; warnings are errors, every tutorial is executed)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import labor_econ

DOCS = Path(__file__).resolve().parent

# The tutorials run in Jupyter kernels started by myst-nb; they inherit this environment.
# Progress bars of model loading/saving would land in the pages as stderr noise, and the
# tokenizers library warns about forked processes when the Trainer starts.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tqdm.auto picks its notebook bar inside a kernel and warns that ipywidgets is missing.
os.environ.setdefault("PYTHONWARNINGS", "ignore:IProgress not found")

project = "labor_econ"
author = "the labor_econ developers"
copyright = "the labor_econ developers"
release = labor_econ.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "numpydoc",
    # MathJax served from the build (_static/mathjax) instead of a CDN: the pages work offline.
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# Single backticks in docstrings (`load_lm`) are Python cross-references, as in numpydoc.
default_role = "py:obj"

# -- API reference ----------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"members": True, "show-inheritance": True}
toc_object_entries_show_parents = "hide"  # "fit", not "LLMTransitionModel.fit", in page tocs
# Class members are documented by autodoc (:members:), not by numpydoc's extra tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- MyST and the executed tutorials ----------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300  # seconds per cell; the slowest (training the tiny LM) takes ~20 s
nb_merge_streams = True

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"labor_econ {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Without a default, the theme's script logs a console error ("Got invalid theme mode") on a
# reader's first visit, before it has stored a mode.
html_context = {"default_mode": "auto"}
# The landing page and the model page stand alone: no empty section navigation beside them.
html_sidebars = {"index": [], "model": []}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_last_updated_fmt = None


# -- every public name has an API entry -------------------------------------------------------
_DIRECTIVE = re.compile(r"^\.\. auto\w+:: labor_econ\.(\w+)", re.MULTILINE)


def _check_api_coverage(app) -> None:
    """Warn (an error under -W) when a name of ``labor_econ.__all__`` has no API entry."""
    from sphinx.util import logging

    documented = set()
    for page in (DOCS / "api").glob("*.rst"):
        documented.update(_DIRECTIVE.findall(page.read_text(encoding="utf-8")))
    missing = sorted(set(labor_econ.__all__) - documented)
    if missing:
        logging.getLogger(__name__).warning(
            "public name(s) without an API entry in docs/api/*.rst: %s", ", ".join(missing)
        )


def setup(app) -> None:
    app.connect("builder-inited", _check_api_coverage)
