"""The TensorRT plugin against the TensorRT releases our users run, without TensorRT or a GPU.

For each set of TensorRT headers (10.3 = JetPack 6.1/6.2 and 11.1 from ../shared/third_party,
plus any in $MGDN_TRT_EXTRA_HEADERS, e.g. ``8.5:/tmp/trt8.5/include,8.6:/tmp/trt8.6/include``):

* the production library (nvcc, sm_87) builds with the cmake on PATH, in every flavour that applies,
  and exports exactly the entry points that version's loader looks for;
* the contract harness (plugins/tensorrt/tests/plugin_contract.cpp) drives a host-kernel build of
  the same plugin through the parser/builder/runtime call sequence, and its enqueue output is
  compared here with the PyTorch oracle.

Missing headers, nvcc, cmake or a C++ compiler skip with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from cache_fakes import fake_tensorrt_headers

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import OP_TYPE, PLUGIN_NAMESPACE, PLUGIN_VERSION
from mgdn_edge.model.dynamic_filter import dynamic_filter_unfold
from mgdn_edge.plugins import tensorrt_plugin as trt_plugin
from mgdn_edge.plugins.cmake import cmake_build

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SHARED_HEADERS = SHARED / "third_party" / "tensorrt"
EXTRA_HEADERS_ENV = "MGDN_TRT_EXTRA_HEADERS"


def _header_sets() -> list[tuple[str, Path]]:
    sets = [(version, SHARED_HEADERS / version / "include") for version in ("10.3", "11.1")]
    for item in filter(None, os.environ.get(EXTRA_HEADERS_ENV, "").split(",")):
        version, _, folder = item.partition(":")
        sets.append((version.strip(), Path(folder.strip())))
    return sets


def _flavours(version: str) -> list[tuple[str, str, str]]:
    """(id, MGDN_TRT_LEGACY_PLUGIN, MGDN_TRT_STATIC_REGISTRATION) that apply to ``version``.

    8.x has only the legacy flavour (8.5 registers statically, 8.6 through loadLibrary). 10 and 11
    build IPluginV3 by default and still compile the deprecated legacy flavour, which is checked
    both as a loadLibrary library and statically registering, so CI covers the 8.5 mechanism.
    """
    major, minor = (int(x) for x in version.split(".")[:2])
    if major < 10:
        return [("legacy-static" if (major, minor) < (8, 6) else "legacy", "AUTO", "AUTO")]
    return [("v3", "AUTO", "AUTO"), ("legacy", "ON", "OFF"), ("legacy-static", "ON", "ON")]


CASES = [
    pytest.param(version, include, flavour, legacy, static, id=f"trt{version}-{flavour}")
    for version, include in _header_sets()
    for flavour, legacy, static in _flavours(version)
]


def _require_headers(version: str, include: Path) -> None:
    if not (include / "NvInferVersion.h").is_file():
        pytest.skip(f"TensorRT {version} headers not found in {include} (../shared missing?)")
    assert trt_plugin.tensorrt_header_version(include)[:2] == tuple(int(x) for x in version.split(".")[:2]), (
        f"{include} does not hold TensorRT {version}"
    )


def _exported(library: Path) -> set[str]:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    )
    return {line.split()[-1] for line in out.stdout.splitlines() if " T " in line}


def _needed(library: Path) -> set[str]:
    out = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True)
    return set(re.findall(r"Shared library: \[([^\]]+)\]", out.stdout))


# --------------------------------------------------------------------------------------------
# Production library: nvcc + the headers


# The statically registering legacy flavour of 10/11 is a harness-only variant (it links libnvinfer).
NVCC_CASES = [case for case in CASES if case.id.startswith("trt8") or not case.id.endswith("-legacy-static")]


@pytest.mark.parametrize(("version", "include", "flavour", "legacy", "static"), NVCC_CASES)
def test_plugin_builds_with_nvcc(
    request: pytest.FixtureRequest, version: str, include: Path, flavour: str, legacy: str, static: str
) -> None:
    """libmgdn_trt.so for sm_87 (Orin; this CUDA 13 nvcc still targets it) with the entry points
    that version's loader looks for, and no C++ symbols leaking out."""
    _require_headers(version, include)
    try:
        nvcc = trt_plugin.find_nvcc()
    except BackendError as exc:
        pytest.skip(f"needs nvcc: {exc}")
    if shutil.which("cmake") is None or shutil.which("nm") is None:
        pytest.skip("needs cmake and nm")
    if flavour == "legacy-static":
        static = "OFF"  # 8.5: linking the real libnvinfer is for the device; the harness checks registration
    build_dir = request.config.cache.mkdir(f"mgdn-trt-nvcc-{version}-{flavour}")
    options = {
        "MGDN_BUILD_CUDA": "ON",
        "MGDN_BUILD_HOST_TESTLIB": "OFF",
        "CMAKE_CUDA_COMPILER": str(nvcc),
        "CMAKE_CUDA_ARCHITECTURES": "87",
        "TENSORRT_INCLUDE_DIR": str(include),
        "MGDN_TRT_LEGACY_PLUGIN": legacy,
        "MGDN_TRT_STATIC_REGISTRATION": static,
    }
    cmake_build(trt_plugin.TENSORRT_SOURCE_DIR, build_dir, options, target="mgdn_trt")
    library = build_dir / trt_plugin.PLUGIN_LIBRARY
    symbols = _exported(library)
    major, minor = trt_plugin.tensorrt_header_version(include)
    if flavour == "v3":
        assert {"getCreators", "setLoggerFinder"} <= symbols and "getPluginCreators" not in symbols
    else:
        assert "getPluginCreators" in symbols and "getCreators" not in symbols
        assert ("setLoggerFinder" in symbols) == ((major, minor) >= (8, 6))
    assert not any(s.startswith("_ZN") for s in symbols), "C++ symbols leak out of the plugin"
    needed = _needed(library)
    assert not any(n.startswith("libnvinfer") for n in needed), "loadLibrary flavours need no libnvinfer"


# --------------------------------------------------------------------------------------------
# Contract harness: host-kernel library + plugin_contract


def _build_harness(
    request: pytest.FixtureRequest, version: str, include: Path, flavour: str, legacy: str, static: str
) -> tuple[Path, Path]:
    _require_headers(version, include)
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("the contract harness needs cmake and g++")
    build_dir = request.config.cache.mkdir(f"mgdn-trt-contract-{version}-{flavour}")
    options = {
        "MGDN_BUILD_CUDA": "OFF",
        "MGDN_BUILD_HOST_TESTLIB": "OFF",
        "MGDN_TRT_HOST_KERNEL": "ON",
        "MGDN_BUILD_CONTRACT_HARNESS": "ON",
        "TENSORRT_INCLUDE_DIR": str(include),
        "MGDN_TRT_LEGACY_PLUGIN": legacy,
        "MGDN_TRT_STATIC_REGISTRATION": static,
    }
    try:
        cmake_build(trt_plugin.TENSORRT_SOURCE_DIR, build_dir, options)
    except BackendError as exc:
        if "cuda_runtime_api.h not found" in str(exc):
            pytest.skip("TensorRT's headers include cuda_runtime_api.h: needs the CUDA headers")
        raise
    return build_dir / "tests" / "mgdn_plugin_contract", build_dir / "libmgdn_trt_host.so"


def _run_harness(harness: Path, library: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(harness), str(library), OP_TYPE, PLUGIN_VERSION, PLUGIN_NAMESPACE, *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(("version", "include", "flavour", "legacy", "static"), CASES)
def test_plugin_contract(
    request: pytest.FixtureRequest, version: str, include: Path, flavour: str, legacy: str, static: str
) -> None:
    """Every check of the harness passes, and the ones this flavour must run did run.

    The creator is looked up by what our exporter writes on the node (op_type, plugin_version,
    plugin_namespace = PLUGIN_NAMESPACE), so renaming either side fails here.
    """
    harness, library = _build_harness(request, version, include, flavour, legacy, static)
    proc = _run_harness(harness, library)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    checks = [line[3:] for line in proc.stdout.splitlines() if line.startswith("ok ")]
    summary = re.search(r"# (\d+) checks, (\d+) failed", proc.stdout)
    assert summary is not None and summary.group(2) == "0" and int(summary.group(1)) == len(checks), report
    required = [
        f"found as {PLUGIN_NAMESPACE}::{OP_TYPE} version {PLUGIN_VERSION}",
        "missing kernel_size refused",
        "kernel_size=4 refused with a reason",
        "supportsFormatCombination: FP32/FP16 LINEAR, inputs and output of one type",
        "configurePlugin accepts a dynamic 64x64..4000x3000 profile",
        "enqueue matches the naive reference at n,c,h,w,k=1,3,17,45,7",
        "noexcept methods report allocation failures instead of terminating",
    ]
    major = trt_plugin.tensorrt_header_version(include)[0]
    if major >= 10:
        required.append("createPlugin(kernel_size=7 as INT64)")
    if flavour == "v3":
        required += [
            "getOutputShapes refuses constant taps != kernel_size^2",
            "createPlugin(kRUNTIME) from the serialized fields after clone and original are gone",
            "onShapeChange accepts 1x30x4000x3000",
        ]
    else:
        required += [
            "deserializePlugin restores the plugin after the original and its clone are gone",
            "serialized blob of 3 bytes refused",
            "constant taps != kernel_size^2 reported",
        ]
    if flavour == "legacy-static":
        required += [
            "static initialiser registered exactly one creator",
            "the registered creator is the exported one",
        ]
    missing = [name for name in required if not any(name in check for check in checks)]
    assert not missing, f"checks that did not run: {missing}\n{report}"


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["f32", "f16"])
@pytest.mark.parametrize(
    ("version", "include", "flavour", "legacy", "static"),
    [case for case in CASES if case.id.endswith(("-v3", "-legacy"))],
)
def test_plugin_enqueue_matches_torch(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    version: str,
    include: Path,
    flavour: str,
    legacy: str,
    static: str,
    dtype: type,
) -> None:
    """The plugin's enqueue (kernel tile code on the host) against dynamic_filter_unfold."""
    harness, library = _build_harness(request, version, include, flavour, legacy, static)
    n, c, h, w, k = 2, 5, 19, 37, 7
    gen = np.random.default_rng(11)
    feat = gen.standard_normal((n, c, h, w)).astype(dtype)
    kernels = (gen.standard_normal((n, k * k, h, w)) / k).astype(dtype)
    feat.tofile(tmp_path / "feat.bin")
    kernels.tofile(tmp_path / "kernels.bin")
    kind = "f16" if dtype == np.float16 else "f32"
    proc = _run_harness(harness, library, "--io", str(tmp_path), *map(str, (n, c, h, w, k)), kind)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = np.fromfile(tmp_path / "out.bin", dtype=dtype).reshape(n, c, h, w).astype(np.float32)
    expected = dynamic_filter_unfold(
        torch.from_numpy(feat.astype(np.float32)), torch.from_numpy(kernels.astype(np.float32)), k
    ).numpy()
    tol = 1e-5 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------
# Header discovery and the process-wide loader (pure Python)


def test_header_version_reads_both_spellings() -> None:
    for version, include in _header_sets()[:2]:
        _require_headers(version, include)
    assert trt_plugin.tensorrt_header_version(SHARED_HEADERS / "10.3" / "include") == (10, 3)
    # 11.1 spells it through TRT_MAJOR_ENTERPRISE / TRT_MINOR_ENTERPRISE.
    assert trt_plugin.tensorrt_header_version(SHARED_HEADERS / "11.1" / "include") == (11, 1)


def test_include_order_explicit_env_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = fake_tensorrt_headers(tmp_path / "explicit", 10, 3)
    env = fake_tensorrt_headers(tmp_path / "env", 10, 3)
    system = fake_tensorrt_headers(tmp_path / "system", 10, 3)
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: None)
    monkeypatch.setattr(trt_plugin, "SYSTEM_INCLUDE_DIRS", (tmp_path / "nothing", system))
    monkeypatch.setenv("TENSORRT_INCLUDE_DIR", str(env))
    assert trt_plugin.find_tensorrt_include(explicit) == explicit
    assert trt_plugin.find_tensorrt_include() == env
    monkeypatch.delenv("TENSORRT_INCLUDE_DIR")
    assert trt_plugin.find_tensorrt_include() == system
    monkeypatch.setattr(trt_plugin, "SYSTEM_INCLUDE_DIRS", (tmp_path / "nothing",))
    with pytest.raises(BackendError, match="TENSORRT_INCLUDE_DIR"):
        trt_plugin.find_tensorrt_include()


def test_headers_of_another_tensorrt_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel_like = fake_tensorrt_headers(tmp_path / "wheel", 10, 14)
    jetson = ((10, 3), "/usr/lib/aarch64-linux-gnu/libnvinfer.so.10.3.0")
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: jetson)
    mismatch = r"version 10\.14, but the plugin would be loaded by TensorRT 10\.3 "
    with pytest.raises(BackendError, match=mismatch):
        trt_plugin.find_tensorrt_include(wheel_like)
    assert trt_plugin.find_tensorrt_include(wheel_like, check_runtime=False) == wheel_like
    # Only the soname's major known (libnvinfer.so.10): the major decides.
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: ((10,), "libnvinfer.so.10"))
    assert trt_plugin.find_tensorrt_include(wheel_like) == wheel_like
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: ((8,), "libnvinfer.so.8"))
    with pytest.raises(BackendError, match="loaded by TensorRT 8 "):
        trt_plugin.find_tensorrt_include(wheel_like)


class _FakeRegistry:
    """Like TensorRT's registry: a second load_library of already registered plugins returns None."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def load_library(self, path: str) -> object | None:
        if self.loaded:
            return None
        self.loaded.append(path)
        return object()


def test_plugin_is_registered_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build-then-run in one process: the second load (the runtime's) reuses the registration."""
    from mgdn_edge.runtimes.tensorrt.build import load_plugin_library

    monkeypatch.setattr(trt_plugin, "_REGISTRATION", None)
    registry = _FakeRegistry()
    trt = types.SimpleNamespace(get_plugin_registry=lambda: registry)
    library = tmp_path / "libmgdn_trt.so"
    library.write_bytes(b"")
    assert load_plugin_library(trt, library) == library.resolve()  # engine build
    assert trt_plugin.load_tensorrt_plugin(trt, tmp_path / "." / library.name) == library.resolve()  # runtime
    assert registry.loaded == [str(library.resolve())]
    other = tmp_path / "other" / "libmgdn_trt.so"
    with pytest.raises(BackendError, match=f"already registered in this process from {library.resolve()}"):
        trt_plugin.load_tensorrt_plugin(trt, other)


def test_failed_load_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trt_plugin, "_REGISTRATION", None)
    trt = types.SimpleNamespace(
        get_plugin_registry=lambda: types.SimpleNamespace(load_library=lambda path: None)
    )
    with pytest.raises(BackendError, match="could not load the plugin library"):
        trt_plugin.load_tensorrt_plugin(trt, tmp_path / "libmgdn_trt.so")
    assert trt_plugin._REGISTRATION is None


def test_no_third_party_header_wheel() -> None:
    """CI compiles against ../shared/third_party/tensorrt, not headers from an unrelated wheel."""
    source = Path(trt_plugin.__file__).read_text()
    assert "kernel_lens" not in source and "kernel-lens" not in source
    ci = Path(__file__).resolve().parents[2] / ".ci" / "run"
    if ci.is_file():
        assert "kernel-lens" not in ci.read_text()
