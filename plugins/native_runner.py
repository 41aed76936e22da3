"""Build and locate the native runner: ``libmgdn_edge.so`` (the C API) and ``mgdn-fuse`` (its CLI).

The C++ sources live in ``runtimes/native`` (package data of ``mgdn_edge.runtimes``) and are
compiled on the target against the installed OpenVINO wheel's C++ SDK and the system's OpenCV
C++ headers (Debian / JetPack: ``libopencv-dev``), like the OpenVINO extension.

Cache (:mod:`mgdn_edge.plugins.library_cache`): both files live in
``<cache>/native/<openvino version>-<hash12>/``, the hash covering the OpenVINO version, the
sources, the OpenCV version, the C and C++ compilers with their flags and the machine, so an
upgrade of any of them builds a fresh pair. Each file has a manifest (key, sha256); the pair is
checked by running ``mgdn-fuse --version`` in a child process, which loads the library and
OpenVINO, so a broken build is reported here in one line rather than by the user's first run.
The runner finds the library beside it (RPATH ``$ORIGIN``) and OpenVINO in the wheel it was
built against.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import BackendError
from mgdn_edge.plugins import library_cache as lc
from mgdn_edge.plugins.openvino_ext import COMMON_SOURCE_DIR, openvino_cmake_dir, openvino_version

# runtimes/native beside plugins/ in the repository, mgdn_edge/runtimes/native once installed
NATIVE_SOURCE_DIR = Path(__file__).resolve().parent.parent / "runtimes" / "native"
LIBRARY = "libmgdn_edge.so"
RUNNER = "mgdn-fuse"
ELSEWHERE = "pass --build-dir"
OPENCV_HEADER_DIRS = (Path("/usr/include/opencv4"), Path("/usr/local/include/opencv4"))
INSTALL_OPENCV = "install OpenCV's C++ headers (Debian / JetPack: apt install libopencv-dev)"


def opencv_version() -> str | None:
    """The system OpenCV's version from its headers (``4.6.0``), or None when they are missing."""
    for folder in OPENCV_HEADER_DIRS:
        header = folder / "opencv2" / "core" / "version.hpp"
        if header.is_file():
            found = dict(re.findall(r"#define CV_VERSION_(MAJOR|MINOR|REVISION)\s+(\d+)", header.read_text()))
            if len(found) == 3:
                return f"{found['MAJOR']}.{found['MINOR']}.{found['REVISION']}"
    return None


def missing_tools() -> str | None:
    """What this machine lacks to build the runner (cmake, compilers, OpenCV headers), or None."""
    if shutil.which("cmake") is None:
        return "cmake was not found on PATH (pip install cmake)"
    if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c):
        return "no C++ compiler found (c++, g++ or clang++)"
    if not any(shutil.which(c) for c in (os.environ.get("CC", ""), "cc", "gcc", "clang") if c):
        return "no C compiler found (cc, gcc or clang)"
    if opencv_version() is None:
        looked = ", ".join(map(str, OPENCV_HEADER_DIRS))
        return f"OpenCV's C++ headers were not found in {looked}: {INSTALL_OPENCV}"
    return None


def runner_key() -> dict[str, Any]:
    return {
        "files": [LIBRARY, RUNNER],
        "openvino": openvino_version(),
        "opencv": opencv_version(),
        "sources": lc.source_digest(NATIVE_SOURCE_DIR, COMMON_SOURCE_DIR),  # cxx_defaults.cmake
        "toolchain": lc.compiler_identity(),
        "c_toolchain": lc.compiler_identity("CC", ("cc", "gcc", "clang")),
        "cmake": {"CMAKE_BUILD_TYPE": "Release"},
    }


def _relative_dir(key: dict[str, Any]) -> Path:
    return Path("native") / f"{lc.safe_name(key['openvino'].split('-')[0])}-{lc.key_digest(key)[:12]}"


def self_check(runner: Path) -> str | None:
    """None when ``mgdn-fuse --version`` runs (library and OpenVINO load), else one line why not."""
    try:
        proc = subprocess.run([str(runner), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run it: {exc}"
    if proc.returncode == 0:
        return None
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"it exited with status {proc.returncode}"


def build_native_runner(
    build_dir: str | os.PathLike[str] | None = None, force: bool = False, clean: bool = False
) -> tuple[Path, Path]:
    """Make sure a checked (runner, library) pair for the installed OpenVINO exists; return both.

    ``build_dir`` None: the keyed folder under the user cache; otherwise both files go straight
    into ``build_dir``. An up-to-date pair (key and sha256 match, the runner starts) is returned
    as it is; ``force`` rebuilds; ``clean`` first removes our files from the folder.
    """
    missing = missing_tools()
    if missing is not None:
        raise BackendError(f"cannot build the native runner: {missing}")
    key = runner_key()
    folder = Path(build_dir) if build_dir is not None else lc.writable_dir(_relative_dir(key), ELSEWHERE)
    runner, library = folder / RUNNER, folder / LIBRARY
    announce = (
        f"building the native runner for OpenVINO {key['openvino'].split('-')[0]} and OpenCV "
        f"{key['opencv']} (once, ~1 min) into {folder}"
    )
    defines = {"OpenVINO_DIR": str(openvino_cmake_dir())}
    reason = lc.build_once(
        folder,
        [library, runner],  # the library first: the runner needs it beside it
        key,
        force,
        clean,
        lambda: self_check(runner),
        lambda: lc.cmake_install(NATIVE_SOURCE_DIR, defines, [library, runner], key, announce),
    )
    if reason is not None:
        raise BackendError(f"the native runner just built at {runner} does not start ({reason})")
    return runner, library
