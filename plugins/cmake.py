"""Configure and build a CMake project of ours from Python, so users never call CMake themselves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mgdn_edge.errors import BackendError

PLUGINS_DIR = Path(__file__).resolve().parent


def default_build_dir(name: str) -> Path:
    """Where built libraries go unless the user says otherwise: ~/.cache/mgdn-edge/<name>."""
    return Path.home() / ".cache" / "mgdn-edge" / name


def clean_build_dir(build_dir: Path) -> bool:
    """Delete a build folder of ours (``--clean``); True when there was one to delete.

    Only a CMake build folder (it has a CMakeCache.txt) or an empty one is removed: ``--build-dir``
    is user input, and a typo such as ``--build-dir ~`` must not delete a home folder.
    """
    build_dir = Path(build_dir)
    if not build_dir.exists():
        return False
    if not build_dir.is_dir():
        raise BackendError(f"--build-dir {build_dir} is a file, not a build folder")
    if not (build_dir / "CMakeCache.txt").is_file() and any(build_dir.iterdir()):
        raise BackendError(
            f"refusing to delete {build_dir}: it is not a CMake build folder (no CMakeCache.txt)"
        )
    shutil.rmtree(build_dir)
    return True


def cmake_build(
    source_dir: Path,
    build_dir: Path,
    options: dict[str, str],
    target: str | None = None,
    fresh: bool = False,
) -> None:
    """Run ``cmake -S .. -B .. -D..`` then ``cmake --build``; raise BackendError with the log tail.

    ``fresh``: delete the build folder first (:func:`clean_build_dir`), so nothing cached from an
    earlier configure (another OpenVINO, other options) survives into this build.
    """
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BackendError("cmake was not found on PATH; install it (pip install cmake) to build the plugins")
    if fresh:
        clean_build_dir(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    configure = [cmake, "-S", str(source_dir), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"]
    configure += [f"-D{k}={v}" for k, v in options.items()]
    build = [cmake, "--build", str(build_dir), "--parallel"] + (["--target", target] if target else [])
    for cmd in (configure, build):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BackendError(f"{' '.join(cmd[:2])} failed in {build_dir}:\n{tail}")
