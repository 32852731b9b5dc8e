"""The package's import graph: no cycles, no import of a higher layer, no submodule importing
the package root (issue 20).

The graph is read from the source with :mod:`ast` (imports at module level *and* inside
functions both count: a lazy import still ties the two modules together), so the test needs
no import of the package and fails on a new cycle before anyone runs into it. Imports under
``if TYPE_CHECKING:`` are for annotations only (never run) and do not count.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "labor_econ"
PACKAGE = "labor_econ"

#: The layers, lowest first: a module may import its own layer and the ones before it.
LAYERS = ["data", "text", "lm", "models", "diagnostics", "cli", "testing"]

#: Module (or package) -> layer, the longest matching prefix wins.
LAYER_OF = {
    "labor_econ._version": "data",
    "labor_econ.errors": "data",
    "labor_econ.taxonomy": "data",
    "labor_econ.taxonomies": "data",
    "labor_econ.panel": "data",
    "labor_econ.stata": "data",
    "labor_econ.datasets": "data",
    "labor_econ.templates": "text",
    "labor_econ.template_inference": "text",
    "labor_econ.lm": "lm",
    "labor_econ.results": "models",
    "labor_econ.models": "models",
    "labor_econ.diagnostics": "diagnostics",
    "labor_econ.report": "diagnostics",
    "labor_econ.plotting": "diagnostics",
    "labor_econ.cli": "cli",
    "labor_econ.outdir": "cli",
    "labor_econ.demo": "cli",
    "labor_econ.testing": "testing",
    "labor_econ.rejections": "testing",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that ``name`` imports, each resolved to the module defining it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    typing_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and _is_type_checking(block.test)
        for stmt in block.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node)
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    found.add(target)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _layer(module: str) -> str:
    matches = [prefix for prefix in LAYER_OF if module == prefix or module.startswith(prefix + ".")]
    if not matches:
        raise AssertionError(f"module {module} has no layer: add it to LAYER_OF in {__file__}")
    return LAYER_OF[max(matches, key=len)]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer(graph):
    for module in graph:
        if module != PACKAGE:
            _layer(module)


def test_no_submodule_imports_the_package_root(graph):
    offenders = sorted(m for m, targets in graph.items() if m != PACKAGE and PACKAGE in targets)
    assert not offenders, f"these modules import the package root {PACKAGE!r}: {offenders}"


def test_no_import_runs_up_the_layers(graph):
    upward = []
    for module, targets in graph.items():
        if module == PACKAGE:
            continue
        own = LAYERS.index(_layer(module))
        for target in targets:
            if target != PACKAGE and LAYERS.index(_layer(target)) > own:
                upward.append(f"{module} ({_layer(module)}) -> {target} ({_layer(target)})")
    assert not upward, "imports of a higher layer:\n" + "\n".join(sorted(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles(graph):
    without_root = {m: t - {PACKAGE} for m, t in graph.items() if m != PACKAGE}
    cycles = _cycles(without_root)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_cycle_and_a_lazy_import(tmp_path):
    """The checks themselves: a cycle is found, a function-level import counts, an import
    under TYPE_CHECKING does not."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .taxonomy import Taxonomy\n"
        "def f():\n    from .panel import CareerPanel\n"
    )
    path = tmp_path / "stata.py"
    path.write_text(source)
    modules = {"labor_econ.panel": path, "labor_econ.taxonomy": path}
    assert _imports("labor_econ.stata", path, modules) == {"labor_econ.panel"}
