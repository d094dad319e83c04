"""The project's import graph, read from the source with `ast` (nothing is imported or run).

Counts every `import` / `from ... import` in the packages, at module level and inside functions
or classes (they run on the first call), except those under `if TYPE_CHECKING:` (they never
run; the `else:` branch does). Relative imports are resolved. An edge goes to the most specific
module that exists: `from a.b import c` is an edge to `a.b.c` when `a/b/c.py` (or
`a/b/c/__init__.py`) exists, else to `a.b` (grimp / import-linter's convention). The implicit
import of parent packages is not an edge; :func:`reachable` adds it, as Python runs it.

Used by tests/test_import_rules.py.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGES",
    "Edge",
    "ExternalImport",
    "collect",
    "cycles",
    "external_imports",
    "parents",
    "reachable",
    "under",
]

#: Our top-level Python packages (the top-level dashboards/ folder holds JSON only).
PACKAGES = ("agent", "collector", "contract", "sim", "stack")


@dataclass(frozen=True)
class Edge:
    """One import statement's dependency of module `src` on module `dst`."""

    src: str  # importing module, dotted
    dst: str  # imported module (most specific that exists), dotted
    path: str  # file of src, relative to the root
    line: int
    in_function: bool  # inside a def / lambda: runs on the first call, not at import


@dataclass(frozen=True)
class ExternalImport:
    """One import of a module outside our packages (the standard library or a dependency)."""

    src: str
    root: str  # top-level name: `httpx` for `import httpx._client`
    path: str
    line: int


def under(name: str, prefix: str) -> bool:
    """Whether module `name` is `prefix` or below it."""
    return name == prefix or name.startswith(prefix + ".")


def parents(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`, `a.b.c`]: what Python runs to import `a.b.c`."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def _module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import node not under `if TYPE_CHECKING:`, with whether it sits in a function."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:  # the `else:` branch does run
                visit(branch, in_function)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, in_function))
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def _modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    files = [
        file
        for package in packages
        if (root / package / "__init__.py").exists()
        for file in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in file.parts
    ]
    return {_module_name(root, file): file for file in files}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _parsed(root: Path, packages: Iterable[str]) -> dict[str, tuple[Path, ast.Module]]:
    return {
        module: (file, ast.parse(file.read_text(encoding="utf-8"), str(file)))
        for module, file in _modules(root, packages).items()
    }


def collect(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Edge]:
    """Edges between modules of `packages` (Python packages under `root`)."""
    parsed = _parsed(root, packages)
    internal = {module.split(".")[0] for module in parsed}

    def resolve(name: str) -> str | None:
        while name and name not in parsed:
            name = name.rpartition(".")[0]
        return name or None

    edges: list[Edge] = []
    for module, (file, tree) in parsed.items():
        rel = str(file.relative_to(root))
        for node, in_function in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(node, module, file.name == "__init__.py")
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in parsed else base
                    for alias in node.names
                ]
            for target in dict.fromkeys(targets):
                if target.split(".")[0] in internal and (dst := resolve(target)):
                    edges.append(Edge(module, dst, rel, node.lineno, in_function))
    return edges


def external_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[ExternalImport]:
    """Imports of modules outside `packages` (standard library, third-party), per module."""
    found: list[ExternalImport] = []
    for module, (file, tree) in _parsed(root, packages).items():
        rel = str(file.relative_to(root))
        for node, _ in _imports(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = [node.module] if node.module and not node.level else []
            found += [
                ExternalImport(module, name.split(".")[0], rel, node.lineno)
                for name in names
                if name.split(".")[0] not in packages
            ]
    return found


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The import circles: strongly connected sets of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.src != edge.dst:
            graph[edge.src].add(edge.dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return sorted(found)


def reachable(edges: Iterable[Edge], start: str) -> set[str]:
    """Every module that importing `start` and the modules below it can run, `start`'s own
    modules and their parent packages included: importing `a.b.c` first runs `a/__init__.py`
    and `a/b/__init__.py`, so each reached module's parents are reached too."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.src].add(edge.dst)
    todo = [parent for module in graph if under(module, start) for parent in parents(module)]
    seen = set(todo)
    while todo:
        for dst in graph[todo.pop()]:
            for nxt in parents(dst):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return seen
