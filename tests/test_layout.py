"""The package's shape: its import graph points one way, and every module's
docstring examples run.

The engine (``skout._engine``) sits below the estimators: it imports only the
lower layers it needs (the network description, the framework loader, the
device and compatibility helpers), nothing above it, and the rest of skout
reaches it through the package's own names, never its modules' insides.
"""

import ast
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import skout

PACKAGE = Path(skout.__file__).resolve().parent
#: What the engine may import from the rest of skout.
ENGINE_MAY_IMPORT = {"skout._network", "skout._framework", "skout._devices", "skout._compat"}


def _modules():
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["skout", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _modules()


def _imports(name, path):
    """The skout modules ``name`` imports, anywhere in its source (lazy ones too)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph):
    """The strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _packaged(name):
    return "skout._engine" if name.startswith("skout._engine") else name


def test_no_module_imports_in_a_circle():
    assert _cycles(GRAPH) == []


def test_nothing_imports_in_a_circle_through_the_engine():
    collapsed = {}
    for name, targets in GRAPH.items():
        collapsed.setdefault(_packaged(name), set()).update(
            _packaged(t) for t in targets if _packaged(t) != _packaged(name)
        )
    assert _cycles(collapsed) == []


def test_the_engine_imports_nothing_above_it():
    outside = {
        target
        for name, targets in GRAPH.items()
        if name.startswith("skout._engine")
        for target in targets
        if not target.startswith("skout._engine")
    }
    assert outside <= ENGINE_MAY_IMPORT, outside - ENGINE_MAY_IMPORT


def test_the_estimators_reach_the_engine_through_its_package_only():
    reaching_in = {
        (name, target)
        for name, targets in GRAPH.items()
        if not name.startswith("skout._engine")
        for target in targets
        if target.startswith("skout._engine.")
    }
    assert reaching_in == set()


def _all_modules():
    found = [skout.__name__]
    for info in pkgutil.walk_packages(skout.__path__, prefix="skout."):
        if info.name != "skout.__main__":  # running it is the command line
            found.append(info.name)
    return found


@pytest.mark.parametrize("name", _all_modules())
def test_docstring_examples_run(name):
    """Every module's ``>>>`` examples, as ``--doctest-modules`` would run them."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_engine_modules_show_how_they_are_used():
    """The engine's building blocks each carry a runnable example."""
    for name in ("arrays", "objective", "network", "optimizers", "rule", "contract"):
        module = importlib.import_module(f"skout._engine.{name}")
        assert doctest.testmod(module).attempted >= 1, name
