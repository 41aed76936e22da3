"""Build runtimes/native/examples/fuse_pair.cpp the way docs/jetson.md does, for the tests that run it."""

from __future__ import annotations

import subprocess
from pathlib import Path

NATIVE = Path(__file__).resolve().parents[2] / "runtimes" / "native"


def compile_example(compiler: str, library_dir: Path, out: Path, rpath: str | None = None) -> None:
    """``compiler`` -std=c++17 (warnings as errors) against include/ and ``library_dir``'s
    libmgdn_edge.so, runtime path ``rpath`` (default: ``library_dir``); asserts it compiled."""
    source = NATIVE / "examples" / "fuse_pair.cpp"
    cmd = [compiler, "-std=c++17", "-Wall", "-Wextra", "-Werror", str(source), f"-I{NATIVE / 'include'}"]
    cmd += [f"-L{library_dir}", "-lmgdn_edge", f"-Wl,-rpath,{rpath or library_dir}", "-o", str(out)]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
