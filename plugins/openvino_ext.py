"""Build, locate and load the OpenVINO DynamicFilter extension (``libmgdn_openvino.so``).

The C++ sources live in ``plugins/openvino`` (package data of ``mgdn_edge.plugins``), so an
installed package builds the extension on the target against the OpenVINO wheel found there:
an extension must be compiled against the very OpenVINO release that loads it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from mgdn_edge.errors import BackendError
from mgdn_edge.plugins.cmake import PLUGINS_DIR, cmake_build, default_build_dir

OPENVINO_SOURCE_DIR = PLUGINS_DIR / "openvino"
EXTENSION_LIBRARY = "libmgdn_openvino.so"
ENV_VAR = "MGDN_OPENVINO_EXTENSION"
BUILD_HINT = "build it with `mgdn-edge build-plugins --openvino`"


def default_extension_dir() -> Path:
    """Where :func:`build_openvino_extension` puts the library when no build_dir is given."""
    return default_build_dir("openvino")


def openvino_cmake_dir() -> Path:
    """OpenVINOConfig.cmake's folder inside the installed ``openvino`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("openvino")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the openvino Python package is not installed: pip install 'mgdn-edge[openvino]'")
    cmake_dir = Path(next(iter(spec.submodule_search_locations))) / "cmake"
    if not (cmake_dir / "OpenVINOConfig.cmake").is_file():
        raise BackendError(f"no OpenVINOConfig.cmake in {cmake_dir}: this openvino install ships no C++ SDK")
    return cmake_dir


def build_openvino_extension(build_dir: Path | None = None) -> Path:
    """Compile the extension against the installed OpenVINO; return the path of the built library."""
    build_dir = Path(build_dir) if build_dir is not None else default_extension_dir()
    cmake_build(OPENVINO_SOURCE_DIR, build_dir, {"OpenVINO_DIR": str(openvino_cmake_dir())})
    library = build_dir / EXTENSION_LIBRARY
    if not library.is_file():
        raise BackendError(f"the build in {build_dir} finished but produced no {EXTENSION_LIBRARY}")
    return library


def find_openvino_extension(path: str | os.PathLike[str] | None = None) -> Path:
    """The library to load: ``path`` (file or folder), else $MGDN_OPENVINO_EXTENSION, else the default build.

    An explicit path or the environment variable is not second-guessed by falling back to the
    default build, so a typo fails with its own name instead of silently loading another library.
    """
    chosen = path if path is not None else os.environ.get(ENV_VAR)
    if chosen:
        candidate = Path(chosen)
        if candidate.is_dir():
            candidate = candidate / EXTENSION_LIBRARY
        source = "argument" if path is not None else f"${ENV_VAR}"
        if not candidate.is_file():
            raise BackendError(f"OpenVINO extension not found: {candidate} (from the {source}); {BUILD_HINT}")
        return candidate
    candidate = default_extension_dir() / EXTENSION_LIBRARY
    if not candidate.is_file():
        raise BackendError(
            f"OpenVINO extension not found: looked for {candidate} (no path given, ${ENV_VAR} unset); "
            f"{BUILD_HINT}"
        )
    return candidate


def can_build() -> bool:
    """Whether this machine has what :func:`build_openvino_extension` needs (cmake and a C++ compiler)."""
    compilers = [os.environ.get("CXX", ""), "c++", "g++", "clang++"]
    return shutil.which("cmake") is not None and any(c and shutil.which(c) for c in compilers)


def ensure_openvino_extension(path: str | os.PathLike[str] | None = None, auto_build: bool = True) -> Path:
    """:func:`find_openvino_extension`, building the default library first if it is missing.

    Only the *default* location is built on demand, and only when cmake and a compiler exist: an
    explicit path or $MGDN_OPENVINO_EXTENSION that does not exist is a user mistake and fails with
    the name looked for. The build takes about a minute and says so in one line on stderr; a file
    lock keeps two processes from building into the same folder at once.
    """
    if path is not None or os.environ.get(ENV_VAR) or not auto_build:
        return find_openvino_extension(path)
    library = default_extension_dir() / EXTENSION_LIBRARY
    if library.is_file():
        return library
    if not can_build():
        raise BackendError(
            f"OpenVINO extension not found: looked for {library} (no path given, ${ENV_VAR} unset), and "
            f"it cannot be built here (needs cmake and a C++ compiler); {BUILD_HINT} where they exist"
        )
    build_dir = default_extension_dir()
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not library.is_file():  # another process may have built it while we waited
            print(
                f"mgdn-edge: building the OpenVINO DynamicFilter extension into {build_dir} (first use, "
                f"about a minute)",
                file=sys.stderr,
            )
            build_openvino_extension(build_dir)
    return library


def load_openvino_extension(core: Any, path: str | os.PathLike[str] | None = None) -> Path:
    """Add the extension to ``core`` (an ``openvino.Core``); return the library path that was loaded.

    OpenVINO reports a library built against another release, or a corrupt file, as a bare
    RuntimeError; it becomes a BackendError that names the file and says how to rebuild it.
    """
    library = find_openvino_extension(path)
    try:
        core.add_extension(str(library))
    except RuntimeError as exc:
        # OpenVINO's message starts with its own source location; the cause is on the last line.
        lines = str(exc).strip().splitlines()
        cause = lines[-1] if lines else type(exc).__name__
        raise BackendError(
            f"OpenVINO could not load the extension {library} ({cause}); it must be built against the "
            f"installed OpenVINO: rebuild it with `mgdn-edge build-plugins --openvino`"
        ) from exc
    return library
