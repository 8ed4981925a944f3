"""impl's host-side packages import without cycles, lazy in-function imports counted."""

from __future__ import annotations

import ast
import enum
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

IMPL = Path(__file__).resolve().parents[1] / "impl"
CHECKED = ("impl.server", "impl.loader", "impl.plugin", "impl.cli", "impl.unixsock", "impl.envelope", "impl.errdefs")
PUBLIC_PACKAGES = ("impl.plugin", "impl.loader", "impl.server")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in IMPL.rglob("*.py"):
        parts = list(path.relative_to(IMPL.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that runs, at any depth (``if TYPE_CHECKING:`` bodies do not)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for sub in node.orelse:
                yield from _imports(sub)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _checked(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in CHECKED)


def test_the_walker_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_host_packages_have_no_import_cycles() -> None:
    graph = _graph()
    assert "impl.server._builtins._introspection" in graph["impl.server._builtins"]
    cycles = [c for c in _cycles(graph) if any(_checked(m) for m in c)]
    assert cycles == []


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_public_names_report_the_public_module(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) or callable(obj):
            # Defined here, or re-exported from another public package (impl.loader.ConfigError).
            where = obj.__module__
            assert where == package or where in PUBLIC_PACKAGES, f"{package}.{name} reports {where}"
            assert getattr(importlib.import_module(where), obj.__name__) is obj
            if isinstance(obj, type) and not issubclass(obj, enum.Enum):
                assert repr(obj) == f"<class '{where}.{obj.__qualname__}'>"


MY_TESTS = ("server/*.py", "test_loader.py", "test_plugin_registry.py", "test_graph_properties.py", "test_import_graph.py")


def test_no_test_module_imports_another() -> None:
    tests = Path(__file__).resolve().parent
    names = {p.stem for p in tests.rglob("test_*.py")}
    for path in (p for pattern in MY_TESTS for p in tests.glob(pattern)):
        for node in _imports(ast.parse(path.read_text(), str(path))):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom):
                mods += [a.name for a in node.names]
            bad = [m for m in mods if m.rpartition(".")[2] in names]
            assert not bad, f"{path.relative_to(tests)} imports test module {bad}"
