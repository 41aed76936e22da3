"""The TensorRT DynamicFilter plugin: its arithmetic against the PyTorch oracle, and that it compiles.

Three levels, so CI without a GPU still checks what runs on the GPU:
(a) the host test library runs the CUDA kernel's tile/halo/accumulation helpers on the CPU,
(b) both plugin flavours compile with nvcc against the TensorRT headers, and the contract harness
    drives them: tests/plugins/test_tensorrt_headers.py (skipped, with the reason, when tools are missing),
(c) with a CUDA GPU, the real kernel is launched and compared with the oracle.
"""

from __future__ import annotations

import ctypes
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import BackendError
from mgdn_edge.model.dynamic_filter import dynamic_filter_unfold
from mgdn_edge.plugins import tensorrt_plugin as trt_plugin

# (n, c, h, w, k): H or W below k, N = 2, odd channel counts, the published k = 7, generic k = 9 / 1;
# W odd or not a multiple of a 64-column tile (fast paths: 2 outputs per thread, 64 x 8 tiles).
SHAPES = [
    (2, 3, 5, 6, 7),
    (1, 4, 2, 40, 7),
    (2, 5, 33, 3, 5),
    (1, 1, 1, 1, 3),
    (2, 7, 9, 65, 3),
    (1, 30, 17, 13, 7),
    (2, 6, 11, 34, 9),
    (1, 3, 4, 4, 1),
    (1, 5, 9, 131, 7),
    (2, 3, 10, 64, 5),
    (1, 2, 3, 129, 3),
    (1, 3, 17, 65, 7),
]
RANDOM_SHAPES = [
    (rng.choice([1, 2]), rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 70), rng.choice([3, 5, 7]))
    for rng in [random.Random(1234)]
    for _ in range(6)
]
# target_blocks of the emulated launch: 1 keeps every channel in one group, 10_000 splits them.
TARGETS = [1, 64, 10_000]


def _oracle(feat: np.ndarray, kernels: np.ndarray, k: int) -> np.ndarray:
    return dynamic_filter_unfold(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()


def _inputs(
    n: int, c: int, h: int, w: int, k: int, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(n * 1000 + c * 100 + h * 10 + w + k)
    feat = gen.standard_normal((n, c, h, w)).astype(dtype)
    kernels = (gen.standard_normal((n, k * k, h, w)) / k).astype(dtype)
    return feat, kernels


def _ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("cmake and g++ are needed to build the host test library")
    lib = ctypes.CDLL(str(trt_plugin.build_host_test_library(tmp_path_factory.mktemp("trt-host"))))
    for name in ("mgdn_df_reference_f32", "mgdn_df_tiled_f32", "mgdn_df_reference_f16", "mgdn_df_tiled_f16"):
        getattr(lib, name).restype = ctypes.c_int
    return lib


def _run_host(
    lib: ctypes.CDLL, fn: str, feat: np.ndarray, kernels: np.ndarray, k: int, *extra: int
) -> np.ndarray:
    n, c, h, w = feat.shape
    out = np.full_like(feat, np.nan)  # NaN-filled: a pixel the kernel forgets fails the comparison
    if feat.dtype == np.float16:
        args = [_ptr(a.view(np.uint16)) for a in (feat, kernels, out)]
    else:
        args = [_ptr(a) for a in (feat, kernels, out)]
    assert getattr(lib, fn)(*args, n, c, h, w, k, *extra) == 0
    return out


@pytest.mark.parametrize("shape", SHAPES + RANDOM_SHAPES, ids=str)
def test_host_reference_matches_oracle(host_lib: ctypes.CDLL, shape: tuple[int, ...]) -> None:
    *nchw, k = shape
    feat, kernels = _inputs(*nchw, k)
    out = _run_host(host_lib, "mgdn_df_reference_f32", feat, kernels, k)
    np.testing.assert_allclose(out, _oracle(feat, kernels, k), rtol=0, atol=1e-5)


@pytest.mark.parametrize("target_blocks", TARGETS)
@pytest.mark.parametrize("shape", SHAPES + RANDOM_SHAPES, ids=str)
def test_host_tiled_kernel_matches_oracle(
    host_lib: ctypes.CDLL, shape: tuple[int, ...], target_blocks: int
) -> None:
    """The CUDA kernel's own tiling (halo staging, channel groups, fast paths) on the CPU."""
    *nchw, k = shape
    feat, kernels = _inputs(*nchw, k)
    out = _run_host(host_lib, "mgdn_df_tiled_f32", feat, kernels, k, target_blocks)
    np.testing.assert_allclose(out, _oracle(feat, kernels, k), rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES[:6] + SHAPES[8:], ids=str)
def test_host_tiled_kernel_f16(host_lib: ctypes.CDLL, shape: tuple[int, ...]) -> None:
    """Half storage, float accumulation: one rounding of the exact result, plus float noise."""
    *nchw, k = shape
    feat, kernels = _inputs(*nchw, k, np.float16)
    expected = _oracle(feat.astype(np.float32), kernels.astype(np.float32), k)
    for fn, extra in (("mgdn_df_tiled_f16", (64,)), ("mgdn_df_reference_f16", ())):
        out = _run_host(host_lib, fn, feat, kernels, k, *extra).astype(np.float32)
        np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-3)


def test_host_half_rounding_is_numpy_rounding(host_lib: ctypes.CDLL) -> None:
    """k = 1: one exact f32 product per pixel, so the f16 result must equal numpy's rounding exactly.

    Magnitudes from 2^-20 to 2^7 put products in the subnormal, normal and overflow-free ranges.
    """
    gen = np.random.default_rng(7)
    size = 4096
    feat = (
        (gen.standard_normal(size) * 2.0 ** gen.integers(-12, 4, size))
        .astype(np.float16)
        .reshape(1, 1, 1, -1)
    )
    kernels = (
        (gen.standard_normal(size) * 2.0 ** gen.integers(-12, 4, size))
        .astype(np.float16)
        .reshape(1, 1, 1, -1)
    )
    expected = (feat.astype(np.float32) * kernels.astype(np.float32)).astype(np.float16)
    assert np.count_nonzero(np.abs(expected) < np.finfo(np.float16).tiny) > 50  # subnormals are exercised
    out = _run_host(host_lib, "mgdn_df_tiled_f16", feat, kernels, 1, 1)
    np.testing.assert_array_equal(out, expected)


PLAN_FIELDS = [
    "tiles_x", "tiles_y", "groups", "channels_per_group", "stage", "halo_w", "halo_h", "smem_bytes",
    "outputs_per_thread", "tile_w", "tile_h", "blocks_per_sm",
]  # fmt: skip


def _plan(lib: ctypes.CDLL, fn: str, *args: int) -> dict[str, int]:
    plan = (ctypes.c_int64 * len(PLAN_FIELDS))()
    getattr(lib, fn)(*args, plan)
    return dict(zip(PLAN_FIELDS, plan, strict=True))


def test_launch_plan_geometry(host_lib: ctypes.CDLL) -> None:
    """Whole-channel blocks on a full GPU (taps read once), channel groups only for tiny images;
    fast paths: 2 outputs per thread, so 64 x 8 tiles with a 70 x 14 halo at k = 7."""
    plan = _plan(host_lib, "mgdn_df_plan_device", 1, 60, 256, 256, 7, 4, 16, 164 * 1024)  # AGX Orin
    assert plan == dict(
        tiles_x=4, tiles_y=32, groups=1, channels_per_group=60, stage=4, halo_w=70, halo_h=14,
        smem_bytes=4 * 70 * 14 * 4, outputs_per_thread=2, tile_w=64, tile_h=8, blocks_per_sm=2,
    )  # fmt: skip
    # H100 (132 SMs): 128 tiles would leave SMs idle, so 60 channels split into 3 groups of 20.
    plan = _plan(host_lib, "mgdn_df_plan_device", 1, 60, 256, 256, 7, 4, 132, 228 * 1024)
    assert [plan[f] for f in ("groups", "channels_per_group", "stage")] == [3, 20, 4]
    plan = _plan(host_lib, "mgdn_df_plan", 1, 30, 8, 64, 7, 2, 64)
    fields = ("tiles_x", "tiles_y", "groups", "channels_per_group", "stage")
    assert [plan[f] for f in fields] == [1, 1, 30, 1, 1]
    # k = 5 / 3 / generic: 3 / 4 / 4 blocks per SM; generic k keeps 1 output per thread.
    assert _plan(host_lib, "mgdn_df_plan", 1, 4, 8, 8, 5, 4, 1)["blocks_per_sm"] == 3
    generic = _plan(host_lib, "mgdn_df_plan", 1, 4, 8, 8, 9, 4, 1)
    assert (generic["outputs_per_thread"], generic["tile_w"], generic["blocks_per_sm"]) == (1, 32, 4)
    # A huge k shrinks the stage to one plane; smem_bytes beyond 48 KiB would be refused.
    plan = _plan(host_lib, "mgdn_df_plan", 1, 4, 8, 8, 61, 4, 1)
    assert plan["stage"] == 1 and plan["smem_bytes"] == (32 + 60) * (8 + 60) * 4
    # The stage also shrinks to the SM's share: 64 KiB per SM (sm_75) / 4 blocks leaves 15 KiB,
    # so the generic k = 15 plane (46 x 22 x 4 = 4048 B) is staged 3 at a time, not 4.
    plan = _plan(host_lib, "mgdn_df_plan_device", 1, 8, 64, 64, 15, 4, 1, 64 * 1024)
    assert plan["stage"] == 3 and plan["smem_bytes"] == 3 * 46 * 22 * 4


def test_kernel_config(host_lib: ctypes.CDLL) -> None:
    config = (ctypes.c_int64 * 4)()
    rows = {}
    for k in (1, 3, 5, 7, 9):
        host_lib.mgdn_df_kernel_config(k, config)
        rows[k] = list(config)
    # path, outputs per thread, threads per block, blocks per SM
    generic = [0, 1, 256, 4]
    assert rows == {1: generic, 3: [3, 2, 256, 4], 5: [5, 2, 256, 3], 7: [7, 2, 256, 2], 9: generic}


def test_huge_plane_refused(host_lib: ctypes.CDLL) -> None:
    """The kernel indexes inside a plane with 32-bit offsets: H*W >= 2^31 is refused, not wrapped."""
    buf = np.zeros(1, np.float32)
    assert host_lib.mgdn_df_tiled_f32(*[_ptr(buf)] * 3, 1, 1, 65536, 32768, 7, 64) == 1


@pytest.mark.parametrize(
    ("feat", "kernels", "k", "message"),
    [
        ((1, 4, 8, 8), (1, 49, 8, 8), 7, ""),
        ((-1, 4, -1, -1), (-1, 49, -1, -1), 7, ""),
        ((1, 4, 8, 8), (1, 9, 8, 8), 7, "kernels have 9 channels, expected kernel_size^2 = 49"),
        ((1, 4, 8, 8), (1, 49, 8, 7), 7, "disagree in W (8 vs 7)"),
        ((2, 4, 8, 8), (1, 25, 8, 8), 5, "disagree in N (2 vs 1)"),
        ((1, 4, 8), (1, 49, 8, 8), 7, "must be 4-D"),
        ((1, 4, 8, 8), (1, 16, 8, 8), 4, "kernel_size must be odd and positive"),
    ],
)
def test_plugin_shape_validation(host_lib: ctypes.CDLL, feat, kernels, k, message) -> None:
    """The check configurePlugin/onShapeChange run: -1 (dynamic) dims pass, mismatches are named."""
    buf = ctypes.create_string_buffer(256)
    f, kk = (ctypes.c_int64 * len(feat))(*feat), (ctypes.c_int64 * len(kernels))(*kernels)
    failed = host_lib.mgdn_df_check_shapes(f, len(feat), kk, len(kernels), k, buf, len(buf))
    assert failed == bool(message)
    assert message in buf.value.decode()


def test_find_tensorrt_plugin_names_the_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "libmgdn_trt.so"
    with pytest.raises(BackendError, match=str(missing)):
        trt_plugin.find_tensorrt_plugin(missing)


def test_bad_tensorrt_include_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORRT_INCLUDE_DIR", str(tmp_path))
    with pytest.raises(BackendError, match=f"no NvInfer.h in {tmp_path}"):
        trt_plugin.find_tensorrt_include()


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch"
)


@pytest.fixture(scope="module")
def cuda_lib(request: pytest.FixtureRequest) -> ctypes.CDLL:
    major, minor = torch.cuda.get_device_capability()
    try:
        path = trt_plugin.build_cuda_kernel_library(
            request.config.cache.mkdir("mgdn-cuda"), f"{major}{minor}"
        )
    except BackendError as exc:
        pytest.skip(f"cannot build the CUDA kernel: {exc}")
    lib = ctypes.CDLL(str(path))
    lib.mgdn_dynamic_filter_cuda.restype = ctypes.c_int
    return lib


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("shape", SHAPES + RANDOM_SHAPES + [(1, 60, 256, 256, 7)], ids=str)
def test_cuda_kernel_matches_oracle(
    cuda_lib: ctypes.CDLL, shape: tuple[int, ...], dtype: torch.dtype
) -> None:
    *nchw, k = shape
    n, c, h, w = nchw
    gen = torch.Generator().manual_seed(sum(shape))
    feat = torch.randn(n, c, h, w, generator=gen).to(dtype).cuda()
    kernels = (torch.randn(n, k * k, h, w, generator=gen) / k).to(dtype).cuda()
    out = torch.full_like(feat, float("nan"))
    stream = torch.cuda.current_stream()
    status = cuda_lib.mgdn_dynamic_filter_cuda(
        0 if dtype == torch.float32 else 1,
        ctypes.c_void_p(feat.data_ptr()),
        ctypes.c_void_p(kernels.data_ptr()),
        ctypes.c_void_p(out.data_ptr()),
        n,
        c,
        h,
        w,
        k,
        ctypes.c_void_p(stream.cuda_stream),
    )
    assert status == 0, f"cudaError {status}"
    torch.cuda.synchronize()
    expected = dynamic_filter_unfold(feat.float().cpu(), kernels.float().cpu(), k)
    if dtype == torch.float32:
        torch.testing.assert_close(out.cpu(), expected, rtol=0, atol=1e-5)
    else:
        torch.testing.assert_close(out.float().cpu(), expected, rtol=1e-2, atol=1e-2)
