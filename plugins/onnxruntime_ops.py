"""Build, locate, verify and register the ONNX Runtime DynamicFilter op library (``libmgdn_ort.so``).

ONNX Runtime runs an exported model's ``mgdn.DynamicFilter`` through its portable ONNX function
body unless a kernel for ``(mgdn, DynamicFilter)`` is registered; this library is that kernel
(the shared CPU kernel of ``plugins/common``, the one the OpenVINO extension runs). The sources
live in ``plugins/onnxruntime`` (package data), compiled on the target against ONNX Runtime's C
API headers, which the onnxruntime wheel does not ship. Headers are looked for in
``$ONNXRUNTIME_INCLUDE_DIR``, then ``/usr/include/onnxruntime`` and
``/usr/local/include/onnxruntime`` (Debian's ``libonnxruntime-dev``), then the repository's
``../shared/third_party/onnxruntime/1.21/include`` (tests, CI). The library asks the loading
onnxruntime for API 21 at registration, so it needs onnxruntime >= 1.21 and links no
onnxruntime: headers of any release from 1.21 build the same library.

Cache (:mod:`mgdn_edge.plugins.library_cache`): the default library lives in
``<cache>/onnxruntime/<onnxruntime version>-<hash12>/``; the key covers the onnxruntime version
(the self-check is only valid for the release it ran in), the header API version, the sources
(``plugins/onnxruntime/**`` and ``plugins/common/**``), the compiler and its flags and the
machine. A manifest records the key, the library's sha256 and the verdict of a self-check run in
a child process (:mod:`mgdn_edge.plugins.onnxruntime_selfcheck`), so a truncated or broken
library is rebuilt (or refused in one line), never loaded into the user's process.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.plugins import library_cache as lc
from mgdn_edge.plugins.cmake import PLUGINS_DIR
from mgdn_edge.plugins.onnxruntime_selfcheck import run_self_check

ORT_SOURCE_DIR = PLUGINS_DIR / "onnxruntime"
COMMON_SOURCE_DIR = PLUGINS_DIR / "common"
OPS_LIBRARY = "libmgdn_ort.so"
ENV_VAR = "MGDN_ONNXRUNTIME_OPS"
INCLUDE_ENV_VAR = "ONNXRUNTIME_INCLUDE_DIR"
API_VERSION = 21  # what the library asks GetApi for: onnxruntime 1.21 and later
HEADER = "onnxruntime_c_api.h"
SYSTEM_INCLUDE_DIRS = (Path("/usr/include/onnxruntime"), Path("/usr/local/include/onnxruntime"))
REPO_INCLUDE_DIR = PLUGINS_DIR.parent.parent / "shared" / "third_party" / "onnxruntime" / "1.21" / "include"
BUILD_HINT = "build it with `mgdn-edge build-plugins --onnxruntime`"
REBUILD_HINT = (
    "rebuild it with `mgdn-edge build-plugins --onnxruntime --clean`, or point "
    f"${ENV_VAR} at a library built for onnxruntime >= 1.{API_VERSION}"
)
NOT_INSTALLED = "the onnxruntime Python package is not installed: pip install 'mgdn-edge[onnx]'"
ELSEWHERE = f"point ${ENV_VAR} at a library built elsewhere"
BUILD_FAILED = (
    "the ONNX Runtime op library just built at {library} fails its self-check ({reason}); the "
    "compiler or the onnxruntime install is broken -- check `c++ --version` and the onnxruntime wheel"
)


def onnxruntime_version() -> str:
    """The installed onnxruntime's version, or a BackendError saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(NOT_INSTALLED) from exc
    return str(onnxruntime.__version__)


def too_old(version: str) -> str | None:
    """Why onnxruntime ``version`` cannot load the library (older than 1.21), or None."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None or (int(match[1]), int(match[2])) >= (1, API_VERSION):
        return None
    return (
        f"onnxruntime {version} is older than 1.{API_VERSION}, the first release with the API "
        f"{OPS_LIBRARY} is built for (ORT API {API_VERSION})"
    )


# -- headers and tools ------------------------------------------------------------------------
def header_api_version(folder: Path) -> int | None:
    """ORT_API_VERSION of the ``onnxruntime_c_api.h`` in ``folder``, or None if there is none."""
    try:
        text = (folder / HEADER).read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"#define\s+ORT_API_VERSION\s+(\d+)", text)
    return int(match[1]) if match else None


def _header_folder(folder: Path) -> Path:
    """``folder`` itself, or its ``onnxruntime/`` subfolder where the headers are one level down."""
    return folder if (folder / HEADER).is_file() else folder / "onnxruntime"


def find_include_dir() -> Path | None:
    """The folder of ONNX Runtime's C API headers (API >= 21) to compile against, or None.

    ``$ONNXRUNTIME_INCLUDE_DIR`` is taken as the user's word: headers missing there, or of an API
    older than 21, are a one-line BackendError rather than a silent fallback to other headers.
    """
    chosen = os.environ.get(INCLUDE_ENV_VAR)
    if chosen:
        folder = _header_folder(Path(chosen))
        api = header_api_version(folder)
        if api is None:
            raise BackendError(f"no {HEADER} in {chosen} (from ${INCLUDE_ENV_VAR})")
        if api < API_VERSION:
            raise BackendError(
                f"{folder / HEADER} is ONNX Runtime API {api}; {OPS_LIBRARY} needs API >= {API_VERSION} "
                f"(onnxruntime 1.{API_VERSION} headers or later; from ${INCLUDE_ENV_VAR})"
            )
        return folder
    for candidate in (*SYSTEM_INCLUDE_DIRS, REPO_INCLUDE_DIR):
        folder = _header_folder(candidate)
        api = header_api_version(folder)
        if api is not None and api >= API_VERSION:
            return folder
    return None


def can_build() -> bool:
    """Whether cmake and a C++ compiler exist (the headers are :func:`find_include_dir`'s business)."""
    compilers = [os.environ.get("CXX", ""), "c++", "g++", "clang++"]
    return shutil.which("cmake") is not None and any(c and shutil.which(c) for c in compilers)


def unavailable_reason() -> str | None:
    """Why the default library can be neither found nor built here, or None when it can."""
    reason = too_old(onnxruntime_version())
    if reason is not None:
        return reason
    relative = _relative_dir(ops_key_or_none())
    if relative is not None and any((d / OPS_LIBRARY).is_file() for d in lc.candidate_dirs(relative)):
        return None
    if find_include_dir() is None:
        return (
            f"no ONNX Runtime C API headers (API >= {API_VERSION}) to build {OPS_LIBRARY}: set "
            f"${INCLUDE_ENV_VAR} or install libonnxruntime-dev"
        )
    if not can_build():
        return f"{OPS_LIBRARY} cannot be built here (needs cmake and a C++ compiler)"
    return None


# -- the key ----------------------------------------------------------------------------------
def ops_key() -> dict[str, Any]:
    """Everything the built library and its self-check depend on; BackendError without headers."""
    include = find_include_dir()
    if include is None:
        raise BackendError(
            f"no ONNX Runtime C API headers (API >= {API_VERSION}) found in ${INCLUDE_ENV_VAR}, "
            f"{', '.join(map(str, SYSTEM_INCLUDE_DIRS))} or {REPO_INCLUDE_DIR}; set ${INCLUDE_ENV_VAR}"
        )
    return {
        "library": OPS_LIBRARY,
        "onnxruntime": onnxruntime_version(),
        "headers": {"api": header_api_version(include), "sha256": sha256_file(include / HEADER)},
        "sources": lc.source_digest(ORT_SOURCE_DIR, COMMON_SOURCE_DIR),
        "toolchain": lc.compiler_identity(),
        "cmake": {"CMAKE_BUILD_TYPE": "Release"},
    }


def ops_key_or_none() -> dict[str, Any] | None:
    try:
        return ops_key()
    except BackendError:
        return None


def _relative_dir(key: dict[str, Any] | None) -> Path | None:
    if key is None:
        return None
    return Path("onnxruntime") / f"{lc.safe_name(key['onnxruntime'])}-{lc.key_digest(key)[:12]}"


def self_check(library: Path) -> str | None:
    """None when ``library`` passes the child-process self-check (run once per bytes), else why not."""
    sha = sha256_file(library)
    recorded = lc.recorded_results(library, "onnxruntime", onnxruntime_version(), sha)
    if "ok" in recorded:
        return None
    if recorded:
        return recorded[0]
    reason = run_self_check(library)
    lc.record_verdict(library, "onnxruntime", onnxruntime_version(), sha, reason or "ok")
    return reason


def verify_library(library: Path, key: dict[str, Any] | None = None) -> str | None:
    """Why ``library`` must not be registered in this process, or None (bytes, manifest, self-check)."""
    problem = lc.problem_with(library, key)
    return problem if problem is not None else self_check(library)


# -- building ---------------------------------------------------------------------------------
def build_onnxruntime_ops(
    build_dir: str | os.PathLike[str] | None = None, force: bool = False, clean: bool = False
) -> Path:
    """Make sure a verified library for the installed onnxruntime exists; return its path.

    ``build_dir`` None: the keyed folder under the user cache (the temp fallback when that is
    read-only); otherwise the library and its manifest go straight into ``build_dir``. An
    up-to-date, self-checked library is returned as it is; ``force`` rebuilds; ``clean`` first
    removes our files from the folder. The CMake tree is a throw-away temp folder; the library is
    installed atomically and then self-checked in a child process.
    """
    reason = too_old(onnxruntime_version())
    if reason is not None:
        raise BackendError(f"{reason}: upgrade onnxruntime (pip install -U onnxruntime)")
    key = ops_key()
    relative = _relative_dir(key)
    assert relative is not None
    folder = Path(build_dir) if build_dir is not None else lc.writable_dir(relative, ELSEWHERE)
    library = folder / OPS_LIBRARY
    check, compile_into = lambda: self_check(library), lambda: _compile_into(library, key)
    return lc.build_checked(library, key, force, clean, check, compile_into, BUILD_FAILED)


def _compile_into(library: Path, key: dict[str, Any]) -> None:
    """CMake against the C API headers in a temporary tree, then an atomic install with the manifest."""
    what = f"the ONNX Runtime DynamicFilter op for onnxruntime {key['onnxruntime']} (once, ~20 s)"
    defines = {"ONNXRUNTIME_INCLUDE_DIR": str(find_include_dir())}
    lc.cmake_install(ORT_SOURCE_DIR, defines, [library], key, f"building {what} into {library.parent}")


# -- finding ----------------------------------------------------------------------------------
def find_onnxruntime_ops(path: str | os.PathLike[str] | None = None) -> Path:
    """The library to register: ``path``, else $MGDN_ONNXRUNTIME_OPS, else the default build (whose
    folder is keyed by the C API headers, so only the default needs them)."""

    def default_dir() -> Path:
        relative = _relative_dir(ops_key())
        assert relative is not None
        return relative

    return lc.find_library("ONNX Runtime op library", OPS_LIBRARY, ENV_VAR, default_dir, BUILD_HINT, path)


def ensure_onnxruntime_ops(path: str | os.PathLike[str] | None = None, auto_build: bool = True) -> Path:
    """A verified library to register, building (or rebuilding) the default one when needed.

    Only the default location is built on demand: an explicit path is checked, never replaced.
    A default library that is missing, truncated, changed or stale is rebuilt under a file lock;
    one whose fresh build failed its self-check is refused (no rebuild loop).
    """
    reason = too_old(onnxruntime_version())
    if reason is not None:
        raise BackendError(f"{reason}: upgrade onnxruntime, or run the portable body (native_op=False)")
    if path is not None or os.environ.get(ENV_VAR) or not auto_build:
        library = find_onnxruntime_ops(path)
        problem = verify_library(library)
        if problem is not None:
            raise BackendError(f"ONNX Runtime op library {library} {problem}; {REBUILD_HINT}")
        return library
    key = ops_key()
    relative = _relative_dir(key)
    assert relative is not None
    problems = []
    for library in (d / OPS_LIBRARY for d in lc.candidate_dirs(relative)):
        problem = lc.problem_with(library, key)
        if problem is None:
            problem = self_check(library)
            if problem is None:
                return library
            raise BackendError(
                f"ONNX Runtime op library {library} failed its self-check ({problem}); {REBUILD_HINT}"
            )
        problems.append(problem)
    if not can_build():
        raise BackendError(
            f"ONNX Runtime op library {lc.cache_root() / relative / OPS_LIBRARY} {problems[0]}, and it "
            f"cannot be built here (needs cmake and a C++ compiler); {BUILD_HINT} where they exist"
        )
    return build_onnxruntime_ops(force=any(p != "is missing" for p in problems))
