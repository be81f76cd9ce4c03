"""The project's import graph, read from the source text (nothing is imported).

Every ``import`` and ``from … import`` of a module counts, at module level or inside a function
(a function-level import is a dependency all the same); imports under ``if TYPE_CHECKING:`` do
not (they exist for the type checker only). ``from pkg import name`` depends on ``pkg.name``
when that is a module of the project, else on ``pkg``. The house-rule test
(``tests/test_house_rules.py``) judges this graph; this module only builds it.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dsl", "engine", "connectors", "builder_ui", "templates_library")


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``line`` of ``path``."""

    importer: str
    imported: str
    path: str
    line: int


@dataclass
class ImportGraph:
    modules: dict[str, Path] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def imports_of(self, module: str) -> list[Edge]:
        return [e for e in self.edges if e.importer == module]

    def cycles(self, prefixes: Iterable[str] = PACKAGES) -> list[list[str]]:
        """Strongly connected groups of more than one project module (or a module importing itself)."""
        roots = tuple(prefixes)
        nodes = sorted(m for m in self.modules if m.split(".")[0] in roots)
        succ: dict[str, set[str]] = {n: set() for n in nodes}
        for e in self.edges:
            if e.importer in succ and e.imported in succ:
                succ[e.importer].add(e.imported)
        return [sorted(c) for c in _tarjan(nodes, succ) if len(c) > 1 or next(iter(c)) in succ[next(iter(c))]]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def matches(module: str, pattern: str) -> bool:
    """``pattern`` is a dotted module pattern: ``engine.*`` is every module under ``engine``,
    ``engine.orders.ports`` one module, ``connectors`` the package and all below it."""
    if fnmatch.fnmatchcase(module, pattern):
        return True
    return "*" not in pattern and module.startswith(pattern + ".")


def build(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> ImportGraph:
    graph = ImportGraph()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic scripts are loaded by Alembic, not imported
            graph.modules[module_name(path, root)] = path
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node, target in _imports(tree, name, is_package):
            graph.edges.append(Edge(name, _resolve(target, graph.modules), str(path.relative_to(root)), node.lineno))
    return graph


def _imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[ast.stmt, str]]:
    for node in _walk_outside_type_checking(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                yield node, f"{base}.{alias.name}" if alias.name != "*" else base


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def _resolve(target: str, modules: dict[str, Path]) -> str:
    """The project module ``target`` names (``pkg.name`` → ``pkg`` when ``name`` is not a module),
    or the outside top-level distribution (``flask.views`` → ``flask``)."""
    probe = target
    while probe:
        if probe in modules:
            return probe
        probe = probe.rpartition(".")[0]
    return target.split(".")[0]


def _walk_outside_type_checking(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in _walk_outside_type_checking_stmt(child))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _walk_outside_type_checking(node)


def _walk_outside_type_checking_stmt(node: ast.AST) -> Iterator[ast.stmt]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _walk_outside_type_checking(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _tarjan(nodes: list[str], succ: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        # iterative depth-first search (the graph is a few hundred modules; recursion would do,
        # but an explicit stack keeps the limit out of the picture)
        work = [(v, iter(sorted(succ[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.add(w)
                    if w == node:
                        break
                out.append(group)

    for n in nodes:
        if n not in index:
            visit(n)
    return out


def forbidden(graph: ImportGraph, importers: str, imported: Iterable[str],
              allowed_importers: Iterable[str] = ()) -> list[Edge]:
    """Edges from a module matching ``importers`` (and no pattern of ``allowed_importers``) to a
    module matching one of ``imported``."""
    banned = tuple(imported)
    allowed = tuple(allowed_importers)
    return [e for e in graph.edges
            if matches(e.importer, importers) and not any(matches(e.importer, a) for a in allowed)
            and any(matches(e.imported, b) for b in banned)]


def reaching(graph: ImportGraph, modules: Iterable[str], targets: Iterable[str]) -> list[list[Edge]]:
    """For each project module matching a pattern of ``modules`` that reaches a module of
    ``targets`` (directly or through project modules), one chain of imports showing how."""
    succ: dict[str, list[Edge]] = {}
    for e in graph.edges:
        succ.setdefault(e.importer, []).append(e)
    wanted, goal = tuple(modules), set(targets)
    chains = []
    for start in sorted(graph.modules):
        if not any(matches(start, p) for p in wanted):
            continue
        via: dict[str, Edge] = {}
        stack = [start]
        found: Edge | None = None
        while stack and found is None:
            for e in succ.get(stack.pop(), []):
                if e.imported in via or e.imported == start:
                    continue
                via[e.imported] = e
                if e.imported in goal:
                    found = e
                    break
                if e.imported in graph.modules:
                    stack.append(e.imported)
        if found is not None:
            chain = [found]
            while chain[-1].importer != start:
                chain.append(via[chain[-1].importer])
            chains.append(chain[::-1])
    return chains
