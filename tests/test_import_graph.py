"""The import graph of ``impl``: no cycles, and the shim SDK's private modules stay private.

Read from the source with ``ast``: imports at module level *and* inside
functions (the lazy imports that keep start-up cheap run too, so they are
dependencies as well); relative imports resolved; ``if TYPE_CHECKING:``
blocks left out (they never run). ``from pkg import name`` depends on
``pkg.name`` when that is a module, else on ``pkg``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IMPL = REPO / "impl"

# Cycles other work removes, each named, as the set of modules a cycle may
# run through. Removed when the host/ttrpc work lands. (impl.ttrpc's
# _server <-> _server_protocol is an ``if TYPE_CHECKING`` import one way:
# not a run-time cycle, so not listed.)
ALLOWED_CYCLES: dict[str, frozenset[str]] = {
    "impl.server: _grpc <-> _introspection (lazy import of introspection_handler)": frozenset(
        {"impl.server._grpc", "impl.server._introspection"}
    ),
}
NO_ALLOW_LIST = ("impl.shim", "impl.pyrunc", "impl.errdefs")
"""Packages whose modules may be in no cycle at all, allowed or not."""


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = IMPL) -> dict[str, Path]:
    return {module_name(p, root.parent): p for p in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, *, typing_blocks: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under ``node``, at any depth; ``if TYPE_CHECKING:`` bodies only with ``typing_blocks``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test) and not typing_blocks:
            for stmt in child.orelse:  # ``else:`` runs
                yield from _imports_in(stmt, typing_blocks=typing_blocks)
        else:
            yield from _imports(child, typing_blocks=typing_blocks)


def _imports_in(stmt: ast.stmt, *, typing_blocks: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        yield stmt
    else:
        yield from _imports(stmt, typing_blocks=typing_blocks)


def imported(name: str, path: Path, known: set[str], *, typing_blocks: bool = False) -> set[str]:
    """The ``impl`` modules that module ``name`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _imports(tree, typing_blocks=typing_blocks):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            # ``import impl.shim.x`` runs ``impl.shim.x``; the nearest known module otherwise.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph(typing_blocks: bool = False) -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(name, path, known, typing_blocks=typing_blocks) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one named cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_one_cycle(graph, c) for c in found]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A concrete cycle through the component's first module: a -> b -> ... -> a."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no cycle in component {sorted(component)}")


def _allowed(cycle: list[str]) -> bool:
    members = set(cycle)
    return any(members <= allowed for allowed in ALLOWED_CYCLES.values())


def test_no_import_cycles_in_impl() -> None:
    found = cycles(import_graph())
    bad = [" -> ".join(c) for c in found if not _allowed(c)]
    assert not bad, "import cycles (function-level imports count):\n  " + "\n  ".join(bad)


def test_sdk_and_runtimes_have_no_allowed_cycles() -> None:
    for name, allowed in ALLOWED_CYCLES.items():
        stray = {m for m in allowed if m.startswith(NO_ALLOW_LIST)}
        assert not stray, f"allow-list entry {name!r} covers {sorted(stray)}: those packages must be cycle-free"


def private_imports(graph: dict[str, set[str]], package: str = "impl.shim") -> list[str]:
    """``a imports b`` for every module ``a`` outside ``package`` importing a private module ``b`` of it."""
    depth = package.count(".") + 1
    bad = []
    for name, targets in sorted(graph.items()):
        if name == package or name.startswith(package + "."):
            continue
        for target in sorted(targets):
            if target.startswith(package + ".") and any(p.startswith("_") for p in target.split(".")[depth:]):
                bad.append(f"{name} imports {target}")
    return bad


def test_no_module_outside_the_sdk_imports_its_private_modules() -> None:
    bad = private_imports(import_graph(typing_blocks=True))
    assert not bad, "use impl.shim's public names:\n  " + "\n  ".join(bad)


def test_private_import_rule() -> None:
    graph = {
        "impl.shim": {"impl.shim._runner"},
        "impl.shim._runner": {"impl.shim.zygote._client"},
        "impl.pyrunc": {"impl.shim", "impl.shim.zygote"},
        "impl.pyrunc._ops": {"impl.shim.zygote._server", "impl.shim._task"},
    }
    assert private_imports(graph) == [
        "impl.pyrunc._ops imports impl.shim._task",
        "impl.pyrunc._ops imports impl.shim.zygote._server",
    ]


# -- the checker itself ---------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_checker_sees_lazy_relative_and_from_imports_but_not_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "impl/__init__.py": "",
            "impl/pkg/__init__.py": "",
            "impl/pkg/a.py": "def f():\n    from . import b\n",
            "impl/pkg/b.py": "from .c import thing\n",
            "impl/pkg/c.py": "import impl.pkg.a\n",
            "impl/pkg/d.py": "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from .a import f\nelse:\n    from .e import g\n",
            "impl/pkg/e.py": "from ..pkg import d\n",
        },
    )
    mods = modules(tmp_path / "impl")
    known = set(mods)
    graph = {n: imported(n, p, known) for n, p in mods.items()}
    assert graph["impl.pkg.a"] == {"impl.pkg.b"}
    assert graph["impl.pkg.b"] == {"impl.pkg.c"}
    assert graph["impl.pkg.d"] == {"impl.pkg.e"}, "the TYPE_CHECKING body is skipped, its else is not"
    assert graph["impl.pkg.e"] == {"impl.pkg.d"}
    found = sorted(" -> ".join(c) for c in cycles(graph))
    assert found == [
        "impl.pkg.a -> impl.pkg.b -> impl.pkg.c -> impl.pkg.a",
        "impl.pkg.d -> impl.pkg.e -> impl.pkg.d",
    ]
    typed = {n: imported(n, p, known, typing_blocks=True) for n, p in mods.items()}
    assert typed["impl.pkg.d"] == {"impl.pkg.a", "impl.pkg.e"}


@pytest.mark.parametrize("package", ["impl.shim", "impl.pyrunc"])
def test_packages_are_in_the_graph(package: str) -> None:
    graph = import_graph()
    assert package in graph and any(m.startswith(package + ".") for m in graph)


def test_no_test_module_imports_another_test_module() -> None:
    """Shared helpers live in conftest or helper modules, never in a test module (shim, pyrunc, e2e)."""
    bad = []
    paths = [p for d in ("shim", "pyrunc", "e2e") for p in (REPO / "tests" / d).rglob("test_*.py")]
    for path in sorted(paths):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            else:
                continue
            if any(n.rpartition(".")[2].startswith("test_") for n in names):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not bad, "test modules importing test modules:\n  " + "\n  ".join(bad)
