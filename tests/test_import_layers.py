"""The package layering holds: no package or module import circle (function-level imports count),
every package imports only from the layers below it, ``mgdn_edge.core`` imports nothing above it,
and every command lives in ``mgdn_edge.cli``.

The graph is ``tools/dev/import_cycles.py``'s, read from the source files' ASTs.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "dev" / "import_cycles.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_cycles", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cycles = _tool()
FILES = cycles.modules(REPO)
BY_MODULE = cycles.module_edges(FILES)


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles.circles(graph) == [["a", "b", "c"]]
    assert cycles.circles({"a": {"b"}, "b": set()}) == []


def test_lazy_imports_are_edges(tmp_path: Path):
    """An import inside a function is a dependency like any other."""
    (tmp_path / "mgdn_edge" / "core").mkdir(parents=True)
    (tmp_path / "mgdn_edge" / "cli").mkdir()
    (tmp_path / "mgdn_edge" / "core" / "low.py").write_text(
        "def f():\n    from mgdn_edge.cli.top import g\n    return g\n"
    )
    (tmp_path / "mgdn_edge" / "cli" / "top.py").write_text("from mgdn_edge.core import low\n")
    files = cycles.modules(tmp_path)
    edges = cycles.module_edges(files)
    assert edges["mgdn_edge.core.low"] == {"mgdn_edge.cli.top"}
    assert cycles.circles(cycles.package_edges(files, edges)) == [["mgdn_edge.cli", "mgdn_edge.core"]]


def test_no_package_circle_and_no_module_circle():
    assert cycles.circles(cycles.package_edges(FILES, BY_MODULE)) == []
    assert cycles.circles(BY_MODULE) == []


def test_the_tool_exits_zero():
    proc = subprocess.run([sys.executable, str(TOOL), str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


# bottom to top, as the README's layout section states them; a package imports only from below
LAYERS = [
    ["mgdn_edge.core"],
    ["mgdn_edge", "mgdn_edge.model", "mgdn_edge.assets"],
    ["mgdn_edge.export"],
    ["mgdn_edge.plugins"],
    ["mgdn_edge.runtimes.base"],  # the runtime interface and the record types
    [f"mgdn_edge.runtimes.{home}" for home in ("pytorch", "onnxruntime", "openvino", "tensorrt")],
    ["mgdn_edge.runtimes"],  # the registry, opening a runtime, parity, layer tables
    ["mgdn_edge.calibration"],
    ["mgdn_edge.training", "mgdn_edge.report"],
    ["mgdn_edge.pipeline"],
    ["mgdn_edge.tools", "mgdn_edge.tools.dev", "mgdn_edge.cli"],
]


def test_every_package_imports_only_from_below():
    rank = {package: i for i, layer in enumerate(LAYERS) for package in layer}
    edges = cycles.package_edges(FILES, BY_MODULE)
    assert set(edges) <= set(rank)
    upward = sorted((a, b) for a, targets in edges.items() for b in targets if rank[b] >= rank[a])
    assert upward == []


def test_core_imports_nothing_above_it():
    core = [m for m in FILES if m == "mgdn_edge.core" or m.startswith("mgdn_edge.core.")]
    assert "mgdn_edge.core.errors" in core
    upward = {m: sorted(t for t in BY_MODULE[m] if not t.startswith("mgdn_edge.core")) for m in core}
    assert {m: t for m, t in upward.items() if t} == {}


def test_the_package_root_imports_only_core():
    assert BY_MODULE["mgdn_edge"] and all(t.startswith("mgdn_edge.core.") for t in BY_MODULE["mgdn_edge"])


def _registers_a_command(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "register" for node in tree.body)


def test_every_command_lives_in_cli():
    from mgdn_edge.cli import COMMAND_MODULES

    commands = sorted(m for m, path in FILES.items() if _registers_a_command(path))
    assert commands == sorted(COMMAND_MODULES)
    assert all(m.startswith("mgdn_edge.cli.") for m in commands)
    assert [m for m in FILES if m.endswith("_cli")] == []
