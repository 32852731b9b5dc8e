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
    "sphinx.ext.intersphinx",
    "numpydoc",
    # MathJax served from the build (_static/mathjax) instead of a CDN: the pages work offline.
    "sphinx-mathjax-offline",
]

# -- cross-references ------------------------------------------------------------------------
# Every reference must resolve (-W turns a dead one into an error). The build has no internet,
# so intersphinx reads inventories shipped in docs/_inventories: minimal ones listing the
# external names these pages reference, written by docs/make_inventories.py (run it after
# referencing a new external name; the build names any that is missing).
nitpicky = True
_INVENTORIES = DOCS / "_inventories"
intersphinx_mapping = {
    name: (url, str(_INVENTORIES / f"{name}.inv"))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "pandas": "https://pandas.pydata.org/docs/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "statsmodels": "https://www.statsmodels.org/stable/",
        "transformers": "https://huggingface.co/docs/transformers/",
    }.items()
}
intersphinx_timeout = 1

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# Single backticks in docstrings (`load_lm`) are Python cross-references, as in numpydoc.
default_role = "py:obj"

# -- API reference ----------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"members": True, "show-inheritance": True}
toc_object_entries_show_parents = "hide"  # "fit", not "LLMModel.fit", in page tocs
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


def _parameter_names() -> frozenset[str]:
    """Parameter names of every function and method of the package.

    numpydoc writes a parameter in single backticks (`texts`), which the default role makes a
    cross-reference; a parameter has no page to link to, so such a reference is shown as code.
    """
    import importlib
    import inspect
    import pkgutil

    names: set[str] = set()
    modules = [labor_econ.__name__]
    modules += [m.name for m in pkgutil.walk_packages(labor_econ.__path__, "labor_econ.")]
    for modname in modules:
        if modname.endswith("__main__"):
            continue
        module = importlib.import_module(modname)
        for obj in vars(module).values():
            members = [obj]
            if inspect.isclass(obj):
                members += [m for m in vars(obj).values() if callable(m)]
                members += [m.fget for m in vars(obj).values() if isinstance(m, property)]
            for member in members:
                try:
                    names.update(inspect.signature(member).parameters)
                except (TypeError, ValueError):
                    pass
    return frozenset(names - {"self", "cls", "args", "kwargs"})


_PARAMETERS: frozenset[str] | None = None


def _resolve_package_reference(app, env, node, contnode):
    """Resolve references that the Python domain misses, or show parameters as code.

    Docstrings name package objects the short way (`load_lm` inside ``labor_econ.lm``,
    ``labor_econ.diagnostics.hypotheses.encompassing_test``), while the API pages document
    each object once, under its public name (``labor_econ.load_lm``). A reference is resolved
    to the documented name that ends with its last components and imports as the same Python
    object (an inherited method resolves to where it is documented). An attribute listed in a
    class's numpydoc "Attributes" section (`ModelComparison.table`) links to the class. A
    parameter name is shown as code. Anything else stays unresolved: an error under -W.
    """
    global _PARAMETERS
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    if _PARAMETERS is None:
        _PARAMETERS = _parameter_names()
    domain = env.get_domain("py")

    def link(name: str):
        entry = domain.objects[name]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode)

    target = node["reftarget"].lstrip(".~")
    context = [node.get("py:module"), node.get("py:class")]
    # The object the reference means: the dotted name as written, or the name in the
    # module or class the reference is written in.
    prefixes = [""] + [f"{'.'.join(context[:n])}." for n in (1, 2) if all(context[:n])]
    meant = next((o for o in (_load(p + target) for p in prefixes) if o is not _MISSING), _MISSING)
    parts = target.split(".")
    for start in range(len(parts)):
        tail = ".".join(parts[start:])
        found = [
            name
            for name in domain.objects
            if name.startswith("labor_econ.") and (name == tail or name.endswith("." + tail))
        ]
        if meant is not _MISSING:
            found = [name for name in found if _load(name) is meant]
        elif target in _PARAMETERS or len({id(_load(name)) for name in found}) > 1:
            found = []  # a parameter's name, or several objects: no way to tell which
        if found:
            return link(min(found, key=len))
    # "Class.attribute", the attribute documented in the class's entry
    owner = target.rpartition(".")[0]
    if owner and node["reftype"] in ("attr", "obj"):
        for prefix in prefixes:
            if (prefix + owner) in domain.objects:
                return link(prefix + owner)
        owners = [n for n in domain.objects if n.endswith("." + owner)]
        if len(owners) == 1:
            return link(owners[0])
    if node["reftype"] == "obj" and target in _PARAMETERS:
        return contnode
    return None


_MISSING = object()


def _load(name: str):
    """The Python object a dotted name imports as, or ``_MISSING``."""
    import importlib

    parts = name.split(".")
    if not all(parts):
        return _MISSING
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # any module that does not import is not the target
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return _MISSING
        return obj
    return _MISSING


# Private methods that docstrings name for implementers of a results class; they have no
# API entry on purpose.
nitpick_ignore = [
    ("py:meth", "_predict_proba"),
    ("py:meth", "_wald_params"),
    ("py:meth", "_wald_cov"),
    # WaldInference's properties describe "params" of the results class that uses it; each
    # results class documents its own params.
    ("py:attr", "params"),
]


def _public_bases(app, name, obj, options, bases: list) -> None:
    """Leave private helper classes out of the "Bases:" lines (they have no API entry)."""
    bases[:] = [b for b in bases if not b.__name__.startswith("_")]


def setup(app) -> None:
    app.connect("builder-inited", _check_api_coverage)
    app.connect("missing-reference", _resolve_package_reference)
    app.connect("autodoc-process-bases", _public_bases)
