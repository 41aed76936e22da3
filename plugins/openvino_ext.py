"""Build, locate, verify and load the OpenVINO DynamicFilter extension (``libmgdn_openvino.so``).

The C++ sources live in ``plugins/openvino`` (package data of ``mgdn_edge.plugins``), so an
installed package builds the extension on the target against the OpenVINO wheel found there:
an extension must be compiled against the very OpenVINO release that loads it.

Cache (see :mod:`mgdn_edge.plugins.library_cache`): the default library lives in
``<cache>/openvino/<openvino version>-<hash12>/`` where the hash covers the OpenVINO version,
the sources (``plugins/openvino/**`` and ``plugins/common/**``), the compiler and its flags and
the machine; so an OpenVINO upgrade, a second venv with another OpenVINO or an edited source
gets its own library, never the old one. The extension links no Python, so no Python ABI is in
the key. A manifest beside the library records the key, its sha256 and the verdict of a
self-check run in a child process (:mod:`mgdn_edge.plugins.openvino_selfcheck`).

Loading (:func:`load_openvino_extension`) never trusts a file blindly: the bytes must match the
manifest when there is one, and the library must have passed the child-process self-check
(verdict cached per library sha256 and OpenVINO version, so the check runs once), so a truncated
or mismatched library is a one-line error -- or a rebuild, for the default location -- and never
a crash of the user's command.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.plugins import library_cache as lc
from mgdn_edge.plugins.cmake import PLUGINS_DIR
from mgdn_edge.plugins.openvino_selfcheck import run_self_check

OPENVINO_SOURCE_DIR = PLUGINS_DIR / "openvino"
COMMON_SOURCE_DIR = PLUGINS_DIR / "common"
EXTENSION_LIBRARY = "libmgdn_openvino.so"
ENV_VAR = "MGDN_OPENVINO_EXTENSION"
BUILD_HINT = "build it with `mgdn-edge build-plugins --openvino`"
REBUILD_HINT = (
    "rebuild it with `mgdn-edge build-plugins --openvino --clean`, or point "
    f"${ENV_VAR} at a library built for this OpenVINO"
)
# What an older mgdn-edge or a --build-dir build left in a folder; --clean removes them too.
BUILD_LEFTOVERS = ("CMakeCache.txt", "CMakeFiles", "Makefile", "cmake_install.cmake")
NOT_INSTALLED = "the openvino Python package is not installed: pip install 'mgdn-edge[openvino]'"
ELSEWHERE = f"point ${ENV_VAR} at a library built elsewhere"


def openvino_version() -> str:
    """The running OpenVINO's full version (with its build hash), or a BackendError saying how to install."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise BackendError(NOT_INSTALLED) from exc
    return str(ov.get_version())


def extension_key() -> dict[str, Any]:
    """Everything the built library depends on; a change of any of it means another library."""
    return {
        "library": EXTENSION_LIBRARY,
        "openvino": openvino_version(),
        "sources": lc.source_digest(OPENVINO_SOURCE_DIR, COMMON_SOURCE_DIR),
        "toolchain": lc.compiler_identity(),
        "cmake": {"CMAKE_BUILD_TYPE": "Release"},
    }


def _relative_dir(key: dict[str, Any]) -> Path:
    short = key["openvino"].split("-")[0]
    return Path("openvino") / f"{lc.safe_name(short)}-{lc.key_digest(key)[:12]}"


def default_extension_dir() -> Path:
    """The keyed folder :func:`build_openvino_extension` builds into when no build_dir is given."""
    return lc.cache_root() / _relative_dir(extension_key())


def openvino_cmake_dir() -> Path:
    """OpenVINOConfig.cmake's folder inside the installed ``openvino`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("openvino")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the openvino Python package is not installed: pip install 'mgdn-edge[openvino]'")
    cmake_dir = Path(next(iter(spec.submodule_search_locations))) / "cmake"
    if not (cmake_dir / "OpenVINOConfig.cmake").is_file():
        raise BackendError(f"no OpenVINOConfig.cmake in {cmake_dir}: this openvino install ships no C++ SDK")
    return cmake_dir


def self_check(library: Path) -> str | None:
    """None when ``library`` passes the child-process self-check (run once per library), else why not."""
    sha = sha256_file(library)
    if "ok" in lc.recorded_results(library, "openvino", openvino_version(), sha):
        return None
    reason = run_self_check(library)
    if reason is None:
        lc.record_verdict(library, "openvino", openvino_version(), sha, "ok")
    elif lc.read_manifest(library) is not None:  # ours: record it, so loads refuse without rebuilding
        record = {"sha256": sha, "openvino": openvino_version(), "result": reason}
        lc.update_manifest(library, self_check=record)
    return reason


def verify_library(library: Path, key: dict[str, Any] | None = None) -> str | None:
    """Why ``library`` must not be loaded into this process, or None (bytes, manifest, self-check)."""
    problem = lc.problem_with(library, key)
    if problem is not None:
        return problem
    built_for = ((lc.read_manifest(library) or {}).get("key") or {}).get("openvino")
    if key is None and built_for and built_for != openvino_version():
        return f"was built for OpenVINO {built_for}, not the installed {openvino_version()}"
    return self_check(library)


# -- building ---------------------------------------------------------------------------------
BUILD_FAILED = (
    "the OpenVINO extension just built at {library} fails its self-check ({reason}); the "
    "compiler or OpenVINO install is broken -- check `c++ --version` and the openvino wheel"
)


def build_openvino_extension(
    build_dir: str | os.PathLike[str] | None = None, force: bool = False, clean: bool = False
) -> Path:
    """Make sure a verified library for the installed OpenVINO exists; return its path.

    ``build_dir`` None: the keyed folder under the user cache (the temp fallback when that is
    read-only); otherwise the library and its manifest go straight into ``build_dir`` (what
    ``$MGDN_OPENVINO_EXTENSION`` can then point at). Without ``force``/``clean`` a library that is
    already there, matches the current key and its manifest, and has passed the self-check is
    returned as it is (no compiler runs). ``force`` rebuilds regardless. ``clean`` first removes
    the folder's library, manifest, lock and CMake leftovers (in a user's ``build_dir``, nothing
    else), then rebuilds. The CMake tree is a throw-away temp folder; the library is copied into
    place atomically and then self-checked in a child process: a library that fails is reported
    in one line (and recorded, so loads refuse it) instead of being left to crash a later command.
    """
    key = extension_key()
    folder = Path(build_dir) if build_dir is not None else lc.writable_dir(_relative_dir(key), ELSEWHERE)
    library = folder / EXTENSION_LIBRARY
    return lc.build_checked(
        library,
        key,
        force,
        clean,
        lambda: self_check(library),
        lambda: _compile_into(library, key),
        BUILD_FAILED,
        BUILD_LEFTOVERS,
    )


def _compile_into(library: Path, key: dict[str, Any]) -> None:
    """CMake against OpenVINO's CMake package in a temporary tree, then an atomic install of the
    library and its manifest."""
    release = key["openvino"].split("-")[0]
    lc.cmake_install(
        OPENVINO_SOURCE_DIR,
        {"OpenVINO_DIR": str(openvino_cmake_dir())},
        [library],
        key,
        f"building the OpenVINO extension for OpenVINO {release} (once, ~1 min) into {library.parent}",
    )


def can_build() -> bool:
    """Whether this machine has what :func:`build_openvino_extension` needs (cmake and a C++ compiler)."""
    import shutil

    compilers = [os.environ.get("CXX", ""), "c++", "g++", "clang++"]
    return shutil.which("cmake") is not None and any(c and shutil.which(c) for c in compilers)


# -- finding and loading ----------------------------------------------------------------------
def find_openvino_extension(path: str | os.PathLike[str] | None = None) -> Path:
    """The library to load: ``path`` (file or folder), else $MGDN_OPENVINO_EXTENSION, else the default build.

    An explicit path or the environment variable is not second-guessed by falling back to the
    default build, so a typo fails with its own name instead of silently loading another library.
    The default is the keyed folder of the installed OpenVINO (cache root, then temp fallback).
    """
    default_dir = lambda: _relative_dir(extension_key())  # noqa: E731 (asked for only without a path)
    return lc.find_library("OpenVINO extension", EXTENSION_LIBRARY, ENV_VAR, default_dir, BUILD_HINT, path)


def ensure_openvino_extension(path: str | os.PathLike[str] | None = None, auto_build: bool = True) -> Path:
    """A verified library to load, building (or rebuilding) the default one when needed.

    Only the *default* location is built on demand, and only when cmake and a compiler exist: an
    explicit path or $MGDN_OPENVINO_EXTENSION that does not exist is a user mistake and fails with
    the name looked for (and is verified, never replaced, by :func:`load_openvino_extension`).
    A default library that is missing, truncated, changed or fails the self-check is rebuilt; a
    file lock keeps two processes from building into the same folder at once.
    """
    if path is not None or os.environ.get(ENV_VAR) or not auto_build:
        return find_openvino_extension(path)
    key = extension_key()
    candidates = [d / EXTENSION_LIBRARY for d in lc.candidate_dirs(_relative_dir(key))]
    problems = []
    for library in candidates:
        problem = lc.problem_with(library, key)
        if problem is None:
            failed = _failed_verdict(library)
            problem = f"failed its self-check ({failed})" if failed else self_check(library)
            if problem is None:
                return library
            if failed:  # recorded after a fresh build: rebuilding again would fail the same way
                raise BackendError(f"OpenVINO extension {library} {problem}; {REBUILD_HINT}")
        problems.append((library, problem))
    library, problem = next(((lib, p) for lib, p in problems if p != "is missing"), problems[0])
    if not can_build():
        if problem == "is missing":
            raise BackendError(
                f"OpenVINO extension not found: looked for {library} (no path given, ${ENV_VAR} unset), and "
                f"it cannot be built here (needs cmake and a C++ compiler); {BUILD_HINT} where they exist"
            )
        raise BackendError(
            f"OpenVINO extension {library} {problem}, and it cannot be rebuilt here (needs cmake and a C++ "
            f"compiler); {REBUILD_HINT}"
        )
    return build_openvino_extension(force=problem != "is missing")


def _failed_verdict(library: Path) -> str | None:
    """The recorded self-check failure of exactly these bytes under this OpenVINO, if any."""
    record = (lc.read_manifest(library) or {}).get("self_check")
    if not isinstance(record, dict) or record.get("result") in (None, "ok"):
        return None
    if record.get("openvino") != openvino_version() or record.get("sha256") != sha256_file(library):
        return None
    return str(record["result"])


def load_openvino_extension(core: Any, path: str | os.PathLike[str] | None = None) -> Path:
    """Add the extension to ``core`` (an ``openvino.Core``); return the library path that was loaded.

    The library is verified first (:func:`verify_library`: manifest, bytes, child-process
    self-check), so a corrupt file or one built against another OpenVINO is a BackendError that
    names the file and says how to rebuild it, never a crash of this process. OpenVINO's own
    RuntimeError on load is reported the same way.
    """
    library = find_openvino_extension(path)
    problem = verify_library(library)
    if problem is not None:
        raise BackendError(f"OpenVINO could not load the extension {library} ({problem}); {REBUILD_HINT}")
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
