"""The docstring examples of every labor_econ module run and print what they show.

Modules are found by walking the package, so new modules' examples are covered without
editing this list; examples that need a checkpoint or a GPU carry ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import labor_econ

#: Modules whose examples take too long for the normal suite, with the reason. (MNLogit's
#: were here at 250 s; with the L-BFGS fit the module's examples take 9 s on 2 cores.)
SLOW: dict[str, str] = {}
#: Examples known to be wrong, with the reason; strict, so a fix makes the test fail until
#: the entry is removed.
KNOWN_WRONG: dict[str, str] = {}


def _modules() -> list[str]:
    names = [labor_econ.__name__]
    names += [m.name for m in pkgutil.walk_packages(labor_econ.__path__, "labor_econ.")]
    # A `__main__` module runs its program when imported; it holds no examples.
    return sorted(n for n in names if not n.endswith(".__main__"))


def _param(name: str):
    marks = []
    if name in SLOW:
        marks.append(pytest.mark.slow)
    if name in KNOWN_WRONG:
        marks.append(pytest.mark.xfail(reason=KNOWN_WRONG[name], strict=True))
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_param(n) for n in _modules()])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"


def test_examples_are_found():
    """Guards the walk: the package's examples are collected at all."""
    found = {
        name
        for name in _modules()
        if any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))
    }
    assert {"labor_econ.panel", "labor_econ.templates", "labor_econ.models.markov"} <= found
    assert set(SLOW) | set(KNOWN_WRONG) <= found
