"""The shape of the package, read from its source with ``ast`` (nothing is imported).

* No import cycle among ``dcmexport`` modules. Every runtime import counts,
  also one inside a function; only ``if TYPE_CHECKING:`` blocks are left out.
  Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, so an edge
  to a module is also an edge to each package above it (except the importer's
  own packages, which are already running).
* Stage packages (read, sources, deid, render, mask, encode) import nothing
  from the layers that drive them: pipeline, api, audit, cli, executors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dcmexport"
STAGES = ("read", "sources", "deid", "render", "mask", "encode")
UPPER = ("pipeline", "api", "audit", "cli", "executors")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement outside ``if TYPE_CHECKING:`` bodies (their ``else:`` runs)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(module: str, path: Path) -> Iterator[str]:
    """Dotted names this module imports at runtime (``from X import y`` gives ``X.y``).

    ``X.y`` resolves to the module ``X.y`` when y is a submodule (the package face
    ``X`` is then only run, not read), otherwise to ``X``, whose code defines y.
    """
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            continue
        if node.level:
            anchor = package[: len(package) - node.level + 1]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        yield from (f"{base}.{alias.name}" for alias in node.names)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` starts with (``pkg.mod.func`` -> ``pkg.mod``)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or None


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``dcmexport`` modules whose code runs when it is imported (one step)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        running = set(_ancestors(module)) | {module}
        for name in _imported_names(module, path):
            target = _resolve(name, modules)
            if target is None or target == module:
                continue
            graph[module].add(target)  # read from explicitly: an edge even to the importer's own package
            graph[module].update(a for a in _ancestors(target) if a in modules and a not in running)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
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
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def _path_between(graph: dict[str, set[str]], start: str, goal: str, within: set[str]) -> list[str]:
    """One import path start -> ... -> goal inside a cycle, for a readable failure message."""
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & within):
            if child not in previous and child != start:
                previous[child] = node
                if child == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                queue.append(child)
    return [start, goal]


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycles = find_cycles(graph)
    described = []
    for component in cycles:
        first = component[0]
        successor = sorted(graph[first] & set(component))[0]
        loop = [first, *_path_between(graph, successor, first, set(component))]
        described.append(" -> ".join(loop) + f"  (all of: {', '.join(component)})")
    assert described == [], "import cycles:\n" + "\n".join(described)


def _stage_modules(stage: str) -> dict[str, Path]:
    prefix = f"dcmexport.{stage}"
    return {m: p for m, p in _modules().items() if m == prefix or m.startswith(prefix + ".")}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_nothing_from_the_layers_above(stage: str) -> None:
    found = _stage_modules(stage)
    if not found:
        pytest.skip(f"dcmexport/{stage} does not exist yet (the seams redesign creates it)")
    upper = tuple(f"dcmexport.{name}" for name in UPPER)
    upward = sorted(
        f"{module} imports {name}"
        for module, path in found.items()
        for name in _imported_names(module, path)
        if name in upper or name.startswith(tuple(u + "." for u in upper))
    )
    assert upward == []


class TestTheCheckerItself:
    """The graph rules on tiny synthetic graphs and sources, so the real checks cannot pass vacuously."""

    def test_finds_a_three_module_cycle_and_ignores_a_chain(self) -> None:
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        assert find_cycles(graph) == [["a", "b", "c"]]
        assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []

    def test_type_checking_imports_are_left_out_and_function_imports_kept(self) -> None:
        tree = ast.parse(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import only_for_types\nelse:\n    import at_runtime\n"
            "def f():\n    import in_a_function\n"
        )
        names = {alias.name for node in _runtime_imports(tree) for alias in node.names}
        assert names == {"TYPE_CHECKING", "at_runtime", "in_a_function"}

    def test_a_name_from_a_package_face_is_an_edge_to_it_a_submodule_is_not(self, tmp_path: Path) -> None:
        source = tmp_path / "m.py"
        source.write_text("from dcmexport.read import frames, read_dataset\nfrom dcmexport import __version__\n")
        names = list(_imported_names("dcmexport.x.m", source))
        modules = _modules()
        assert sorted(str(_resolve(n, modules)) for n in names) == ["dcmexport", "dcmexport.read", "dcmexport.read.frames"]

    def test_the_real_graph_has_the_known_edges(self) -> None:
        graph = import_graph()
        assert "dcmexport.read.frames" in graph["dcmexport.read"]  # a package face runs its modules
        assert "dcmexport.read" in graph["dcmexport.deid.engine"]  # importing read.x runs read/__init__
        assert "dcmexport.errors" in graph["dcmexport.read.dataset"]
