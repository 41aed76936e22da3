"""Micro-benchmark of the CUDA DynamicFilter kernel (the one inside libmgdn_trt.so) on this GPU.

DynamicFilter is memory-bound, so the figure of merit is achieved bandwidth (read feat + read
kernels + write out) against what a plain device copy reaches, plus the speed-up over the
PyTorch implementations on the same GPU. Run: ``python tools/bench_cuda_dynamic_filter.py``.
Not a test: it prints numbers and asserts only that the kernel agrees with PyTorch.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from collections.abc import Callable

import torch

from mgdn_edge.model.dynamic_filter import dynamic_filter_lean, dynamic_filter_unfold
from mgdn_edge.plugins.tensorrt_plugin import build_cuda_kernel_library

CHANNELS = (30, 60)
SIZES = (256, 512)
DTYPES = {"f32": torch.float32, "f16": torch.float16}


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Mean milliseconds per call over `repeats` calls after a warm-up, timed with CUDA events."""
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def copy_bandwidth_gbs(repeats: int) -> float:
    """Device-to-device copy of 256 MiB: the practical bandwidth ceiling (bytes read + written)."""
    src = torch.empty(64 * 1024 * 1024, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * src.element_size() / ms / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel-size", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        message = "no CUDA GPU visible to torch (needs an NVIDIA GPU and a CUDA build of torch)"
        print(f"bench_cuda_dynamic_filter: {message}; nothing to measure.", file=sys.stderr)
        return 2

    major, minor = torch.cuda.get_device_capability()
    lib = ctypes.CDLL(str(build_cuda_kernel_library(cuda_archs=f"{major}{minor}")))
    lib.mgdn_dynamic_filter_cuda.restype = ctypes.c_int
    copy_gbs = copy_bandwidth_gbs(args.repeats)
    k = args.kernel_size
    print(f"{torch.cuda.get_device_name()} (sm_{major}{minor}), k={k}, device copy {copy_gbs:.0f} GB/s")
    print(
        f"{'dtype':>5} {'C':>3} {'HxW':>9} {'ms':>8} {'GB/s':>7} {'%copy':>6} {'x lean':>7} {'x unfold':>8}"
    )
    for name, dtype in DTYPES.items():
        for c in CHANNELS:
            for size in SIZES:
                n = args.batch
                feat = torch.randn(n, c, size, size, device="cuda").to(dtype)
                kernels = (torch.randn(n, k * k, size, size, device="cuda") / k).to(dtype)
                out = torch.empty_like(feat)
                stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
                pointers = [ctypes.c_void_p(t.data_ptr()) for t in (feat, kernels, out)]
                type_code = 0 if dtype == torch.float32 else 1

                def ours(pointers=pointers, c=c, size=size, n=n, type_code=type_code, stream=stream) -> None:
                    status = lib.mgdn_dynamic_filter_cuda(type_code, *pointers, n, c, size, size, k, stream)
                    if status != 0:
                        raise RuntimeError(f"mgdn_dynamic_filter_cuda failed with cudaError {status}")

                ms = time_ms(ours, args.repeats)
                reference = dynamic_filter_lean(feat.float(), kernels.float(), k)
                tolerance = 1e-4 if dtype == torch.float32 else 2e-2
                torch.testing.assert_close(out.float(), reference, rtol=tolerance, atol=tolerance)
                lean_ms = time_ms(lambda f=feat, w=kernels: dynamic_filter_lean(f, w, k), args.repeats)
                try:  # unfold materialises [N, H, W, C, k*k]: gigabytes at 512x512
                    unfold_ms = time_ms(
                        lambda f=feat, w=kernels: dynamic_filter_unfold(f, w, k), max(args.repeats // 5, 3)
                    )
                    unfold_ratio = f"{unfold_ms / ms:8.1f}"
                except torch.cuda.OutOfMemoryError:
                    unfold_ratio = f"{'oom':>8}"
                    torch.cuda.empty_cache()
                moved = (feat.numel() + kernels.numel() + out.numel()) * feat.element_size()
                gbs = moved / ms / 1e6
                share = 100 * gbs / copy_gbs
                print(
                    f"{name:>5} {c:>3} {size:>4}x{size:<4} {ms:8.3f} {gbs:7.0f} {share:5.0f}% "
                    f"{lean_ms / ms:7.1f} {unfold_ratio}"
                )
                del feat, kernels, out, reference
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
