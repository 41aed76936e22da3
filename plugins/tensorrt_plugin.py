"""Build and locate the TensorRT DynamicFilter plugin (``libmgdn_trt.so``) and its test libraries.

The C++/CUDA sources live in ``plugins/tensorrt`` (package data of ``mgdn_edge.plugins``), so an
installed package can build the plugin on the target (a Jetson) against the TensorRT there:
IPluginV3 for TensorRT >= 10 (JetPack 6.1/6.2), IPluginV2DynamicExt for 8.5/8.6 (JetPack 5.1/6.0).

Cache: the default plugin lives in ``<cache>/tensorrt/<headers' major.minor>-<hash12>/`` where the
hash covers the TensorRT header version, the sources (``plugins/tensorrt/**`` and
``plugins/common/**``), the CUDA architectures, the plugin flavour, nvcc and the host compiler.
It is compiled in a temporary CMake tree and copied into place atomically with a manifest
(key + sha256; see :mod:`mgdn_edge.plugins.library_cache`); :func:`find_tensorrt_plugin` only
returns a library whose bytes match its manifest, so a truncated file is a one-line error
instead of a crash inside TensorRT. (Unlike the OpenVINO extension there is no child-process
self-check: that needs a GPU and TensorRT, and the engine sidecar check covers the mismatch
that matters at run time, see :mod:`mgdn_edge.runtimes.tensorrt.engine_file`.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import BackendError
from mgdn_edge.plugins import library_cache as lc
from mgdn_edge.plugins.cmake import PLUGINS_DIR, cmake_build

TENSORRT_SOURCE_DIR = PLUGINS_DIR / "tensorrt"
COMMON_SOURCE_DIR = PLUGINS_DIR / "common"
PLUGIN_HINT = "build it with `mgdn-edge build-plugins --tensorrt`"
ELSEWHERE = "pass --build-dir, and --plugin to the commands that load it"
PLUGIN_LIBRARY = "libmgdn_trt.so"
HOST_TEST_LIBRARY = "libmgdn_dynamic_filter_host.so"
CUDA_KERNEL_LIBRARY = "libmgdn_dynamic_filter_cuda.so"

# Where TensorRT's dev packages put NvInfer.h (x86_64 desktop, Jetson's aarch64 JetPack).
SYSTEM_INCLUDE_DIRS = (Path("/usr/include/x86_64-linux-gnu"), Path("/usr/include/aarch64-linux-gnu"))
# Python distributions that carry TensorRT's runtime (and so its version), newest naming first.
TENSORRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11", "tensorrt-libs")


def tensorrt_header_version(include_dir: str | os.PathLike[str]) -> tuple[int, int]:
    """(major, minor) from NvInferVersion.h, spelled directly (8.x, 10.x) or via TRT_*_ENTERPRISE (11.x)."""
    text = (Path(include_dir) / "NvInferVersion.h").read_text(errors="replace")
    parts = []
    for part in ("MAJOR", "MINOR"):
        match = re.search(rf"#define NV_TENSORRT_{part} (\d+)", text) or re.search(
            rf"#define TRT_{part}_ENTERPRISE (\d+)", text
        )
        if match is None:
            raise BackendError(f"cannot read the TensorRT version from {include_dir}/NvInferVersion.h")
        parts.append(int(match.group(1)))
    return parts[0], parts[1]


def installed_tensorrt_version() -> tuple[tuple[int, ...], str] | None:
    """The version of the libnvinfer that will load the plugin, and where it was read, or None.

    The ``tensorrt`` Python distribution's version when installed (read from its metadata, so
    nothing heavy is imported), else the file name behind ``libnvinfer.so``'s soname
    (``libnvinfer.so.10.3.0``: major.minor.patch; a bare ``libnvinfer.so.10``: major only).
    """
    for dist in TENSORRT_DISTRIBUTIONS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        numbers = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
        if numbers:
            return numbers, f"the {dist} Python package {version}"
    soname = ctypes.util.find_library("nvinfer")
    if soname is None:
        return None
    lib_dirs = (Path("/usr/lib/aarch64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/local/lib"))
    for folder in lib_dirs:
        candidate = folder / soname
        if candidate.exists():
            match = re.search(r"\.so\.(\d+(?:\.\d+)*)$", candidate.resolve().name)
            if match:
                numbers = tuple(int(x) for x in match.group(1).split(".")[:2])
                return numbers, f"{candidate.resolve()}"
    match = re.search(r"\.so\.(\d+)", soname)
    return ((int(match.group(1)),), soname) if match else None


def _check_matches_runtime(folder: Path) -> None:
    """Refuse headers of another TensorRT than the libnvinfer that will load the plugin.

    A plugin built against 10.14 headers and loaded by 10.3 (JetPack 6.1) fails at load time
    or, worse, calls virtual methods that do not exist there; the mismatch is cheap to see here.
    """
    runtime = installed_tensorrt_version()
    if runtime is None:
        return  # no TensorRT here (CI compile checks): nothing to compare with
    numbers, where = runtime
    headers = tensorrt_header_version(folder)
    if headers[: len(numbers)] != numbers:
        raise BackendError(
            f"the TensorRT headers in {folder} are version {headers[0]}.{headers[1]}, but the plugin "
            f"would be loaded by TensorRT {'.'.join(map(str, numbers))} ({where}); build against that "
            "TensorRT's own headers (set TENSORRT_INCLUDE_DIR) or pass check_runtime=False for a "
            "compile check only"
        )


def find_tensorrt_include(explicit: str | os.PathLike[str] | None = None, check_runtime: bool = True) -> Path:
    """The folder holding NvInfer.h: ``explicit``, then $TENSORRT_INCLUDE_DIR, then the system dirs.

    An explicit folder or the environment variable is trusted only if it really has the headers,
    so a typo fails here with its name instead of deep inside CMake. With ``check_runtime``, headers
    whose version differs from the installed libnvinfer are refused (see _check_matches_runtime).
    """
    chosen = explicit or os.environ.get("TENSORRT_INCLUDE_DIR")
    if chosen:
        folder = Path(chosen)
        if not (folder / "NvInfer.h").is_file():
            raise BackendError(f"no NvInfer.h in {folder} (from the argument or $TENSORRT_INCLUDE_DIR)")
    else:
        found = [d for d in SYSTEM_INCLUDE_DIRS if (d / "NvInfer.h").is_file()]
        if not found:
            looked = ", ".join(str(d) for d in SYSTEM_INCLUDE_DIRS)
            raise BackendError(
                "TensorRT headers (NvInfer.h) not found: set TENSORRT_INCLUDE_DIR or install TensorRT's dev "
                f"package (libnvinfer-dev, part of JetPack); looked in {looked}"
            )
        folder = found[0]
    if check_runtime:
        _check_matches_runtime(folder)
    return folder


def find_nvcc() -> Path:
    """nvcc from $CUDACXX, PATH or /usr/local/cuda (JetPack installs it there without adding it to PATH)."""
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise BackendError("nvcc (the CUDA compiler) was not found: install the CUDA toolkit or set CUDACXX")


def _cuda_options(cuda_archs: str) -> dict[str, str]:
    return {
        "MGDN_BUILD_CUDA": "ON",
        "CMAKE_CUDA_COMPILER": str(find_nvcc()),
        "CMAKE_CUDA_ARCHITECTURES": cuda_archs,
    }


def _nvcc_identity(nvcc: Path) -> str:
    try:
        proc = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return str(nvcc)
    lines = proc.stdout.strip().splitlines()
    return f"{nvcc.resolve()}: {lines[-1] if lines else ''}"


def plugin_key(include_dir: Path, cuda_archs: str, legacy: bool | None, nvcc: Path) -> dict[str, Any]:
    """Everything ``libmgdn_trt.so`` depends on; another value of any of it means another library."""
    major, minor = tensorrt_header_version(include_dir)
    return {
        "library": PLUGIN_LIBRARY,
        "tensorrt_headers": f"{major}.{minor}",
        "sources": lc.source_digest(TENSORRT_SOURCE_DIR, COMMON_SOURCE_DIR),
        "cuda_archs": str(cuda_archs),
        "legacy": legacy,
        "nvcc": _nvcc_identity(nvcc),
        "toolchain": lc.compiler_identity(),
    }


def plugin_dir(key: dict[str, Any]) -> Path:
    """The keyed folder under ``tensorrt/`` (relative to the cache root)."""
    return Path("tensorrt") / f"{lc.safe_name(key['tensorrt_headers'])}-{lc.key_digest(key)[:12]}"


def build_tensorrt_plugin(
    build_dir: Path | None = None,
    tensorrt_include: str | os.PathLike[str] | None = None,
    cuda_archs: str = "87",
    legacy: bool | None = None,
    check_runtime: bool = True,
    force: bool = False,
    clean: bool = False,
) -> Path:
    """Compile ``libmgdn_trt.so`` (unless a verified one for this key exists) and return its path.

    ``cuda_archs`` is CMake's list ("87" = Orin, "87;89;90"); ``legacy`` forces the
    IPluginV2DynamicExt flavour (True) or IPluginV3 (False); None picks it from the headers' version.
    ``check_runtime=False`` allows headers of another TensorRT than the installed one (compile checks).
    ``build_dir`` None: the keyed folder under the user cache; otherwise the library and its
    manifest go straight into ``build_dir``. ``force`` rebuilds even when a verified library for
    the key is there; ``clean`` first removes the folder's library, manifest and CMake leftovers.
    """
    include = find_tensorrt_include(tensorrt_include, check_runtime)
    nvcc = find_nvcc()
    key = plugin_key(include, cuda_archs, legacy, nvcc)
    folder = Path(build_dir) if build_dir is not None else lc.writable_dir(plugin_dir(key), ELSEWHERE)
    library = folder / PLUGIN_LIBRARY
    options = _cuda_options(cuda_archs) | {
        "MGDN_BUILD_TRT_PLUGIN": "ON",
        "MGDN_BUILD_HOST_TESTLIB": "OFF",
        "TENSORRT_INCLUDE_DIR": str(include),
        "MGDN_TRT_LEGACY_PLUGIN": {None: "AUTO", True: "ON", False: "OFF"}[legacy],
    }
    with lc.build_lock(folder, "pass a writable --build-dir or set $XDG_CACHE_HOME"):
        if clean:
            leftovers = ("CMakeCache.txt", "CMakeFiles", "Makefile", "cmake_install.cmake")
            lc.clean_folder(folder, (PLUGIN_LIBRARY, lc.manifest_path(library).name, *leftovers))
        elif not force and lc.problem_with(library, key) is None:
            return library
        with tempfile.TemporaryDirectory(prefix="mgdn-tensorrt-build-") as tmp:
            cmake_build(TENSORRT_SOURCE_DIR, Path(tmp), options, target="mgdn_trt")
            built = Path(tmp) / PLUGIN_LIBRARY
            if not built.is_file():
                raise BackendError(f"the build of {library} finished but produced no {PLUGIN_LIBRARY}")
            lc.install_library(built, library, key)
    return library


def build_cuda_kernel_library(build_dir: Path | None = None, cuda_archs: str = "87") -> Path:
    """Compile the CUDA kernel alone behind a C ABI (no TensorRT needed): for GPU tests and benchmarks."""
    build_dir = Path(build_dir) if build_dir is not None else lc.cache_root() / "tensorrt-kernel"
    options = _cuda_options(cuda_archs) | {"MGDN_BUILD_TRT_PLUGIN": "OFF", "MGDN_BUILD_HOST_TESTLIB": "OFF"}
    cmake_build(TENSORRT_SOURCE_DIR, build_dir, options, target="mgdn_dynamic_filter_cuda")
    return build_dir / CUDA_KERNEL_LIBRARY


def build_host_test_library(build_dir: Path | None = None) -> Path:
    """Compile the kernel's arithmetic with the host compiler only (no CUDA): CPU tests in CI."""
    build_dir = Path(build_dir) if build_dir is not None else lc.cache_root() / "tensorrt-host"
    cmake_build(TENSORRT_SOURCE_DIR, build_dir, {"MGDN_BUILD_CUDA": "OFF"}, target="mgdn_dynamic_filter_host")
    return build_dir / HOST_TEST_LIBRARY


def _default_plugins() -> list[Path]:
    """Cached plugins whose bytes match their manifests, for these sources and this TensorRT, newest first."""
    sources = lc.source_digest(TENSORRT_SOURCE_DIR, COMMON_SOURCE_DIR)
    runtime = installed_tensorrt_version()
    found = []
    for root in lc.candidate_dirs(Path("tensorrt")):
        for library in root.glob(f"*/{PLUGIN_LIBRARY}"):
            key = (lc.read_manifest(library) or {}).get("key") or {}
            if key.get("sources") != sources or lc.problem_with(library, None) is not None:
                continue
            headers = tuple(int(x) for x in str(key.get("tensorrt_headers", "0.0")).split("."))
            if runtime is not None and headers[: len(runtime[0])] != runtime[0]:
                continue
            found.append(library)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def find_tensorrt_plugin(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else the newest verified default build of ``libmgdn_trt.so`` for these sources and
    this TensorRT; BackendError names a missing or corrupt file.

    A library with a manifest beside it must match it (sha256), so a truncated file is refused
    here in one line rather than handed to TensorRT.
    """
    if path is not None:
        library = Path(path)
        if not library.is_file():
            raise BackendError(f"TensorRT plugin library not found: {library}; {PLUGIN_HINT}")
        problem = lc.problem_with(library, None)
        if problem is not None:
            raise BackendError(
                f"TensorRT plugin library {library} {problem}; rebuild it with "
                "`mgdn-edge build-plugins --tensorrt --clean`"
            )
        return library
    found = _default_plugins()
    if not found:
        looked = lc.cache_root() / "tensorrt"
        raise BackendError(
            f"TensorRT plugin library not found: no verified {PLUGIN_LIBRARY} for these sources and this "
            f"TensorRT under {looked}; {PLUGIN_HINT}"
        )
    return found[0]


@dataclass(frozen=True)
class _Registration:
    path: Path
    handle: Any  # keeps the library (and TensorRT's registration of it) alive for the process


_REGISTRATION: _Registration | None = None
_REGISTRATION_LOCK = threading.Lock()


def load_tensorrt_plugin(trt: Any, library: str | os.PathLike[str]) -> Path:
    """Register ``library``'s creators with TensorRT once per process; return the registered path.

    TensorRT's plugin registry is process-wide, and ``IPluginRegistry::loadLibrary`` returns null
    when the library's plugins are already registered, so building an engine and then running it
    in one process must not load the library twice. Every caller (engine build, runtime) comes
    through here: the first call registers, later calls for the same file return at once, and a
    different file is refused, since TensorRT would keep using the first one's creators anyway.
    TensorRT 8.5 has no loadLibrary: its library registers itself when dlopen()ed.
    """
    global _REGISTRATION
    path = Path(library).resolve()
    with _REGISTRATION_LOCK:
        if _REGISTRATION is not None:
            if _REGISTRATION.path != path:
                raise BackendError(
                    "the DynamicFilter plugin is already registered in this process from "
                    f"{_REGISTRATION.path}; TensorRT cannot register {path} beside it (use the same "
                    "library, or a new process)"
                )
            return _REGISTRATION.path
        registry = trt.get_plugin_registry()
        if hasattr(registry, "load_library"):  # TensorRT >= 8.6
            handle = registry.load_library(str(path))
            if handle is None:
                raise BackendError(
                    f"TensorRT could not load the plugin library {path}: built for another TensorRT "
                    "version or GPU architecture, or its plugins are already registered by another "
                    "library in this process (rebuild with `mgdn-edge build-plugins --tensorrt`)"
                )
        else:  # TensorRT 8.5: the library registers its creator from a static initialiser
            try:
                handle = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                raise BackendError(f"cannot load the plugin library {path}: {exc}") from exc
        _REGISTRATION = _Registration(path, handle)
        return path
