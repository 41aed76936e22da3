"""Package-level and module-level import cycles of mgdn_edge, from the source files' ASTs (a
maintainer's tool; tests/test_import_layers.py runs it).

    python tools/dev/import_cycles.py [REPO] [--modules]

Every ``import`` and ``from ... import`` counts, function-level (lazy) ones included, since a
lazy import is still a dependency. Modules map to the installed package names (``export/`` is
``mgdn_edge.export``, ...); each module belongs to its package, and an edge between two modules
of different packages is an edge between the packages. Prints each group of packages, then of
modules, that import one another in a circle (strongly connected components of more than one
node), then every package's dependencies (``--modules``: and the module imports behind them).
Exit status 1 when there is a circle of either kind.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

# repository folder -> installed package (pyproject.toml's package-dir)
FOLDERS = {
    "mgdn_edge": "mgdn_edge",
    "export": "mgdn_edge.export",
    "runtimes": "mgdn_edge.runtimes",
    "calibration": "mgdn_edge.calibration",
    "plugins": "mgdn_edge.plugins",
    "tools": "mgdn_edge.tools",
}


def modules(repo: Path) -> dict[str, Path]:
    """Installed module name -> source file."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in (repo / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(repo / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def package_of(module: str, files: dict[str, Path]) -> str:
    return module if files[module].name == "__init__.py" else module.rpartition(".")[0]


def module_edges(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from P import m`` counts as importing ``P.m``
    where that is a module, else ``P``)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                    for a in node.names
                ]
            edges[module].update(t for t in targets if t in files and t != module)
    return edges


def package_edges(files: dict[str, Path], modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the packages its modules import (an edge between two modules of different
    packages is an edge between the packages)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in modules.items():
        for target in targets:
            if package_of(target, files) != package_of(module, files):
                edges[package_of(module, files)].add(package_of(target, files))
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--modules"]
    repo = Path(args[0] if args else Path(__file__).resolve().parents[2])
    files = modules(repo)
    by_module = module_edges(files)
    edges = package_edges(files, by_module)
    package_circles, module_circles = circles(edges), circles(by_module)
    for group in package_circles:
        print("circle:", ", ".join(group))
    for group in module_circles:
        print("module circle:", ", ".join(group))
    for package in sorted(edges):
        print(f"{package} -> {', '.join(sorted(edges[package]))}")
    if "--modules" in sys.argv:  # which modules make each package edge
        for module in sorted(by_module):
            for target in sorted(by_module[module]):
                if package_of(target, files) != package_of(module, files):
                    print(f"  {module} -> {target}")
    return 1 if package_circles or module_circles else 0


if __name__ == "__main__":
    sys.exit(main())
