"""Every public class and function has a runnable docstring example.

"Public" is the ``__all__`` of the package and of its user-facing subpackages; a new name
added there without an example fails here. ``tests/test_doctests.py`` runs the examples;
this test only checks that they exist and that at least one is not ``+SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import warnings

import pytest

#: The modules whose ``__all__`` is the public API (issue 24, item 6).
PUBLIC_MODULES = (
    "labor_econ",
    "labor_econ.lm",
    "labor_econ.models",
    "labor_econ.diagnostics",
    "labor_econ.datasets",
    "labor_econ.templates",
    "labor_econ.report",
)


def _own_doc(obj) -> str:
    """The docstring written on ``obj`` itself: a class without one would otherwise show
    its base's (``inspect.getdoc``), examples included."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return doc or ""


def _public_names() -> list[tuple[str, str]]:
    """(module, name) of every class and function in the public ``__all__`` lists (constants
    such as ``PRESETS`` document themselves in the module)."""
    out = []
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            with warnings.catch_warnings():
                # Old names stay importable with a FutureWarning; they need examples too.
                warnings.simplefilter("ignore", FutureWarning)
                obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                out.append((module, name))
    return out


def _runnable_examples(doc: str) -> list[doctest.Example]:
    examples = doctest.DocTestParser().get_examples(inspect.cleandoc(doc))
    return [e for e in examples if not e.options.get(doctest.SKIP)]


@pytest.mark.parametrize(
    ("module", "name"), [pytest.param(*p, id=".".join(p)) for p in _public_names()]
)
def test_public_name_has_a_runnable_example(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        obj = getattr(importlib.import_module(module), name)
    assert _runnable_examples(_own_doc(obj)), (
        f"{module}.{name} ({inspect.getsourcefile(obj)}) has no runnable '>>>' example in its "
        "docstring: add an Examples section (numpydoc) that shows real use and its output"
    )


def test_the_check_finds_missing_examples():
    """Guards the check itself: a docstring without examples, or with skipped ones only,
    fails; an inherited docstring does not count."""

    class Base:
        """Base.

        >>> 1 + 1
        2
        """

    class Child(Base):
        pass

    def skipped():
        """Skipped only.

        >>> load_a_checkpoint()  # doctest: +SKIP
        """

    assert _runnable_examples(_own_doc(Base))
    assert not _runnable_examples(_own_doc(Child))
    assert not _runnable_examples(_own_doc(skipped))
    assert len(_public_names()) > 50  # the walk finds the API (102 names in December 2026)
