"""Build and locate the TensorRT DynamicFilter plugin (``libmgdn_trt.so``) and its test libraries.

The C++/CUDA sources live in ``plugins/tensorrt`` (package data of ``mgdn_edge.plugins``), so an
installed package can build the plugin on the target (a Jetson) against the TensorRT there:
IPluginV3 for TensorRT >= 10 (JetPack 6.1/6.2), IPluginV2DynamicExt for 8.5/8.6 (JetPack 5.1/6.0).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from mgdn_edge.errors import BackendError
from mgdn_edge.plugins.cmake import PLUGINS_DIR, cmake_build, default_build_dir

TENSORRT_SOURCE_DIR = PLUGINS_DIR / "tensorrt"
PLUGIN_LIBRARY = "libmgdn_trt.so"
HOST_TEST_LIBRARY = "libmgdn_dynamic_filter_host.so"
CUDA_KERNEL_LIBRARY = "libmgdn_dynamic_filter_cuda.so"

# A third-party wheel that ships the TensorRT 10 public headers (NVIDIA's own wheels ship none);
# CI installs it with --no-deps so the plugin compiles without a TensorRT install.
HEADERS_PACKAGE = "kernel_lens"
SYSTEM_INCLUDE_DIRS = (Path("/usr/include/x86_64-linux-gnu"), Path("/usr/include/aarch64-linux-gnu"))


def _headers_package_dir() -> Path | None:
    """The wheel's include/tensorrt folder, found without importing the package (it imports torch)."""
    spec = importlib.util.find_spec(HEADERS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "include" / "tensorrt"


def find_tensorrt_include(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding NvInfer.h: ``explicit``, $TENSORRT_INCLUDE_DIR, the headers wheel, then system dirs.

    An explicit folder or the environment variable is trusted only if it really has the headers,
    so a typo fails here with its name instead of deep inside CMake.
    """
    chosen = explicit or os.environ.get("TENSORRT_INCLUDE_DIR")
    if chosen:
        folder = Path(chosen)
        if not (folder / "NvInfer.h").is_file():
            raise BackendError(f"no NvInfer.h in {folder} (from the argument or $TENSORRT_INCLUDE_DIR)")
        return folder
    candidates = [_headers_package_dir(), *SYSTEM_INCLUDE_DIRS]
    for folder in candidates:
        if folder is not None and (folder / "NvInfer.h").is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates if c is not None)
    raise BackendError(
        "TensorRT headers (NvInfer.h) not found: set TENSORRT_INCLUDE_DIR, install TensorRT's dev package "
        f"(libnvinfer-dev), or `pip install --no-deps kernel-lens==2.0.1`; looked in {looked}"
    )


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


def build_tensorrt_plugin(
    build_dir: Path | None = None,
    tensorrt_include: str | os.PathLike[str] | None = None,
    cuda_archs: str = "87",
    legacy: bool | None = None,
) -> Path:
    """Compile ``libmgdn_trt.so`` and return its path.

    ``cuda_archs`` is CMake's list ("87" = Orin, "87;89;90"); ``legacy`` forces the
    IPluginV2DynamicExt flavour (True) or IPluginV3 (False); None picks it from the headers' version.
    """
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir("tensorrt")
    options = _cuda_options(cuda_archs) | {
        "MGDN_BUILD_TRT_PLUGIN": "ON",
        "MGDN_BUILD_HOST_TESTLIB": "OFF",
        "TENSORRT_INCLUDE_DIR": str(find_tensorrt_include(tensorrt_include)),
        "MGDN_TRT_LEGACY_PLUGIN": {None: "AUTO", True: "ON", False: "OFF"}[legacy],
    }
    cmake_build(TENSORRT_SOURCE_DIR, build_dir, options, target="mgdn_trt")
    return find_tensorrt_plugin(build_dir / PLUGIN_LIBRARY)


def build_cuda_kernel_library(build_dir: Path | None = None, cuda_archs: str = "87") -> Path:
    """Compile the CUDA kernel alone behind a C ABI (no TensorRT needed): for GPU tests and benchmarks."""
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir("tensorrt-kernel")
    options = _cuda_options(cuda_archs) | {"MGDN_BUILD_TRT_PLUGIN": "OFF", "MGDN_BUILD_HOST_TESTLIB": "OFF"}
    cmake_build(TENSORRT_SOURCE_DIR, build_dir, options, target="mgdn_dynamic_filter_cuda")
    return build_dir / CUDA_KERNEL_LIBRARY


def build_host_test_library(build_dir: Path | None = None) -> Path:
    """Compile the kernel's arithmetic with the host compiler only (no CUDA): CPU tests in CI."""
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir("tensorrt-host")
    cmake_build(TENSORRT_SOURCE_DIR, build_dir, {"MGDN_BUILD_CUDA": "OFF"}, target="mgdn_dynamic_filter_host")
    return build_dir / HOST_TEST_LIBRARY


def find_tensorrt_plugin(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else the default build location of ``libmgdn_trt.so``; BackendError names a missing file."""
    library = Path(path) if path is not None else default_build_dir("tensorrt") / PLUGIN_LIBRARY
    if not library.is_file():
        raise BackendError(
            f"TensorRT plugin library not found: {library}; "
            "build it with `mgdn-edge build-plugins --tensorrt`"
        )
    return library
