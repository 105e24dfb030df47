"""The project's Python modules read as syntax trees: the import graph (imports inside functions
and under ``if TYPE_CHECKING:`` included) and the length of every function.

Nothing here imports the code it reads, so a check works on code that would not even import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Module:
    name: str  # dotted: ``orders.services.status``; a package is its ``__init__``
    path: Path
    is_package: bool
    root: Path = BASE_DIR

    @property
    def relative_path(self) -> str:
        return self.path.relative_to(self.root).as_posix()

    def tree(self) -> ast.Module:
        return _parse(self.path)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


@dataclass(frozen=True)
class Function:
    module: Module
    qualname: str  # ``Command.handle``, ``Bench.sockets.scenario``
    line: int
    length: int  # lines from ``def`` to the last line of its body

    @property
    def where(self) -> str:
        return f"{self.module.relative_path}:{self.line} {self.qualname}"


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def modules(*packages: str, root: Path = BASE_DIR) -> dict[str, Module]:
    """Every module of ``packages`` (top-level package names under ``root``), migrations left
    out."""
    found: dict[str, Module] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "migrations" in parts:
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = Module(".".join(parts), path, is_package, root)
    return found


def _imported_names(
    module: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, node.module] if node.module else parts)
    else:
        base = node.module or ""
    for alias in node.names:
        # ``from orders.services import status`` imports the module orders.services.status;
        # ``from orders.services import order_mark_paid`` imports orders.services.
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


def _function_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the import statements that sit inside a function."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports(known: dict[str, Module]) -> list[Import]:
    """Every import between ``known`` modules, wherever it is written in the module.

    An import names the deepest known module it reaches (``from a.b import c`` is ``a.b.c`` when
    that is a module, else ``a.b``); importing a submodule is not counted as importing its parent
    package's ``__init__``. Imports of modules outside ``known`` are left out."""
    found: list[Import] = []
    for module in known.values():
        tree = module.tree()
        inside = _function_lines(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets: set[str] = set()
            for name in _imported_names(module, node, known):
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name and name != module.name:
                    targets.add(name)
            for target in sorted(targets):
                found.append(Import(module.name, target, node.lineno, node.lineno in inside))
    return found


def import_graph(known: dict[str, Module]) -> dict[str, dict[str, Import]]:
    """``{importer: {imported: the first such import}}`` for every known module."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in known}
    for found in imports(known):
        graph[found.importer].setdefault(found.imported, found)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[frozenset[str]]:
    """The import cycles: every group of two or more modules that reach each other (strongly
    connected components, Tarjan's algorithm without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []
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
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(frozenset(group))
    return groups


def cycle_path(graph: dict[str, dict[str, Import]], group: frozenset[str]) -> list[Import]:
    """One closed path through ``group``, as the imports that make it (for the failure message):
    the shortest way from the group's first module back to itself."""
    start = min(group)
    reached_by: dict[str, Import] = {}
    frontier = [start]
    while start not in reached_by:
        following = []
        for node in frontier:
            for target, found in sorted(graph[node].items()):
                if target in group and target not in reached_by:
                    reached_by[target] = found
                    following.append(target)
        frontier = following
    path = [reached_by[start]]
    while path[-1].importer != start:
        path.append(reached_by[path[-1].importer])
    return path[::-1]


def describe(path: list[Import]) -> str:
    return " -> ".join(
        [path[0].importer]
        + [f"{i.imported} (l.{i.line}{', in a function' if i.in_function else ''})" for i in path]
    )


def functions(known: dict[str, Module]) -> list[Function]:
    """Every function and method of ``known`` modules, nested ones included."""
    found: list[Function] = []

    def walk(module: Module, node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                found.append(Function(module, prefix + child.name, child.lineno, length))
                walk(module, child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(module, child, f"{prefix}{child.name}.")
            else:
                walk(module, child, prefix)

    for module in known.values():
        walk(module, module.tree(), "")
    return found


def top_level_imports(module: Module) -> set[str]:
    """The top-level names of everything ``module`` imports (``requests``, ``banq_emulator``);
    relative imports count as the module's own package."""
    names: set[str] = set()
    for node in ast.walk(module.tree()):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = module.name if node.level else node.module or ""
            names.add(name.split(".")[0])
    return names
