"""Configure and build a CMake project of ours from Python, so users never call CMake themselves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mgdn_edge.core.errors import BackendError

PLUGINS_DIR = Path(__file__).resolve().parent


def cmake_build(
    source_dir: Path,
    build_dir: Path,
    options: dict[str, str],
    target: str | None = None,
) -> None:
    """Run ``cmake -S .. -B .. -D..`` then ``cmake --build``; raise BackendError with the log tail."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BackendError("cmake was not found on PATH; install it (pip install cmake) to build the plugins")
    build_dir.mkdir(parents=True, exist_ok=True)
    configure = [cmake, "-S", str(source_dir), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"]
    configure += [f"-D{k}={v}" for k, v in options.items()]
    build = [cmake, "--build", str(build_dir), "--parallel"] + (["--target", target] if target else [])
    for cmd in (configure, build):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BackendError(f"{' '.join(cmd[:2])} failed in {build_dir}:\n{tail}")
