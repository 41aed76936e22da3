"""Micro-benchmark of the CUDA DynamicFilter kernel (the one inside libmgdn_trt.so) on this GPU.

The figure of merit is achieved DRAM bandwidth (read feat + read kernels + write out) against
what a plain device copy reaches, next to the kernel model below (DRAM, shared-memory and issue
floors, see plugins/tensorrt/README.md), plus the speed-up over the PyTorch implementations on
the same GPU. Run: ``python tools/bench_cuda_dynamic_filter.py``. Without a GPU,
``--model-only --gpu agx-orin`` prints the model's predictions (the README's table).
Not a test: it prints numbers and asserts only that the kernel agrees with PyTorch.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mgdn_edge.model.dynamic_filter import dynamic_filter_lean, dynamic_filter_unfold
from mgdn_edge.plugins.tensorrt_plugin import build_cuda_kernel_library

CHANNELS = (30, 60)
SIZES = (256, 512)
DTYPES = {"f32": torch.float32, "f16": torch.float16}
ELEM_BYTES = {"f32": 4, "f16": 2}


# --------------------------------------------------------------------------------------------
# Kernel model: three floors per launch, the slowest one is the prediction (perfect overlap).
#   DRAM:   N*(2C + k*k)*H*W elements once (halo re-reads of neighbouring tiles hit L2).
#   shared: 128 bytes per clock per SM (one 32-bank wavefront); a warp's load/store instruction
#           costs ceil(32 * bytes per thread / 128) wavefronts (scalar f16 still costs one).
#   issue:  4 schedulers x 32 lanes = 128 thread-instructions per clock per SM; the instruction
#           counts per output are estimates from the source (no SASS was inspected), +-20%.
# Idle lanes of partial tiles cost like busy ones: work is counted over whole tiles.


@dataclass(frozen=True)
class GpuSpec:
    name: str
    sms: int
    clock_ghz: float  # SM clock
    dram_gbs: float  # DRAM bandwidth (peak, or a measured copy)
    smem_bytes_per_clk: int = 128  # per SM
    lanes_per_clk: int = 128  # thread-instructions issued per SM per clock


# Jetson Orin modules (sm_87, 128 CUDA cores per SM), highest power mode, from NVIDIA's module data
# sheets: AGX Orin 64GB 2048 cores at 1.3 GHz with 204.8 GB/s LPDDR5; Orin NX 16GB 1024 cores at
# 918 MHz with 102.4 GB/s; Orin Nano 8GB 1024 cores at 625 MHz with 68 GB/s (JetPack 6.1's "super"
# mode raises it to 1020 MHz and 102 GB/s).
GPUS = {
    "agx-orin": GpuSpec("AGX Orin 64GB", 16, 1.3, 204.8),
    "orin-nx-16": GpuSpec("Orin NX 16GB", 8, 0.918, 102.4),
    "orin-nano-8": GpuSpec("Orin Nano 8GB", 8, 0.625, 68.0),
}


@dataclass(frozen=True)
class KernelVariant:
    """Tiling of one kernel version, per output = one (channel, pixel) value."""

    name: str
    outputs_per_thread: int  # adjacent x outputs per thread (1: scalar loads, 2: pair loads)
    staging_instr: float  # instructions per staged halo element (index math, load, store)
    overhead_instr: float  # per thread and channel: store, loop, addresses
    threads_x: int = 32
    threads_y: int = 8


# before: trt-cpp's kernel (one output per thread, per-element divisions by runtime halo sizes);
# after: this kernel (two outputs per thread, compile-time halo, one offset per 4 staged planes).
VARIANTS = {
    "before": KernelVariant("before", 1, staging_instr=20.0, overhead_instr=6.0),
    "after": KernelVariant("after", 2, staging_instr=6.0, overhead_instr=8.0),
}


@dataclass(frozen=True)
class OpCost:
    smem_values_per_output: float  # feature values read from shared memory per output
    smem_load_instr_per_output: float  # shared load instructions per output (pairs count once)
    smem_bytes_per_output: float  # shared bytes loaded per output
    dram_bytes: float
    dram_ms: float
    smem_ms: float
    issue_ms: float

    @property
    def predicted_ms(self) -> float:
        return max(self.dram_ms, self.smem_ms, self.issue_ms)

    @property
    def bound(self) -> str:
        floors = {"DRAM": self.dram_ms, "shared": self.smem_ms, "issue": self.issue_ms}
        return max(floors, key=floors.__getitem__)


def op_cost(
    n: int, c: int, h: int, w: int, k: int, dtype: str, gpu: GpuSpec, variant: KernelVariant
) -> OpCost:
    """The model's floors for one DynamicFilter launch (see the block comment above)."""
    elem = ELEM_BYTES[dtype]
    m = variant.outputs_per_thread
    r = k // 2
    tile_w, tile_h = variant.threads_x * m, variant.threads_y
    tiled_outputs = n * c * math.ceil(w / tile_w) * tile_w * math.ceil(h / tile_h) * tile_h
    if m == 1:
        load_instr = float(k * k)  # one scalar load per tap
        wavefronts_per_load = 1
    else:
        load_instr = k * (k + m - 1) / 2 / m  # a run of k+m-1 values per filter row, read as pairs
        wavefronts_per_load = math.ceil(32 * 2 * elem / 128)
    values = k * (k + m - 1) / m
    halo_per_output = (tile_w + 2 * r) * (tile_h + 2 * r) / (tile_w * tile_h)
    smem_clk = (load_instr * wavefronts_per_load + halo_per_output) / 32
    converts = values if elem == 2 else 0.0  # f16 -> f32, one per value read
    staging = halo_per_output * variant.staging_instr
    instr = load_instr + k * k + converts + staging + variant.overhead_instr / m  # loads, FFMAs, ...
    per_sm_clock = gpu.sms * gpu.clock_ghz * 1e9
    dram_bytes = n * (2 * c + k * k) * h * w * elem
    return OpCost(
        smem_values_per_output=values,
        smem_load_instr_per_output=load_instr,
        smem_bytes_per_output=values * elem,
        dram_bytes=dram_bytes,
        dram_ms=dram_bytes / (gpu.dram_gbs * 1e9) * 1e3,
        smem_ms=tiled_outputs * smem_clk / per_sm_clock * 1e3,
        issue_ms=tiled_outputs * instr / gpu.lanes_per_clk / per_sm_clock * 1e3,
    )


def print_model(gpus: list[GpuSpec], size: int, k: int, ops: int, channels: tuple[int, ...]) -> None:
    """The README's table: `ops` launches of [1, C, size, size] per model forward."""
    print(f"model: {ops} DynamicFilter ops at {size}x{size}, k={k}; ms per forward (floors and prediction)")
    header = f"{'GPU':<15} {'C':>3} {'dtype':>5} {'kernel':>7} {'DRAM':>6} {'shared':>7} {'issue':>6}"
    print(f"{header} {'pred.':>6}  bound")
    for gpu in gpus:
        for c in channels:
            for dtype in ELEM_BYTES:
                for variant in VARIANTS.values():
                    cost = op_cost(1, c, size, size, k, dtype, gpu, variant)
                    floors = f"{ops * cost.dram_ms:6.2f} {ops * cost.smem_ms:7.2f} {ops * cost.issue_ms:6.2f}"
                    print(
                        f"{gpu.name:<15} {c:>3} {dtype:>5} {variant.name:>7} {floors} "
                        f"{ops * cost.predicted_ms:6.2f}  {cost.bound}"
                    )


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel-size", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--model-only",
        action="store_true",
        help="print the kernel model's predictions (no GPU needed) instead of measuring",
    )
    parser.add_argument(
        "--gpu",
        choices=sorted(GPUS),
        action="append",
        help="with --model-only: GPUs to predict for (repeatable; default: all Orin modules)",
    )
    parser.add_argument("--size", type=int, default=520, help="with --model-only: image side (MFF: 520)")
    parser.add_argument("--ops", type=int, default=4, help="with --model-only: filter ops per forward (4)")
    return parser


def device_spec(lib: ctypes.CDLL, dram_gbs: float) -> GpuSpec:
    """This GPU for the model: SMs and SM clock from the CUDA runtime, DRAM = the measured copy."""
    info = (ctypes.c_int * 5)()
    status = lib.mgdn_dynamic_filter_cuda_device_info(info)
    if status != 0:
        raise RuntimeError(f"mgdn_dynamic_filter_cuda_device_info failed with cudaError {status}")
    return GpuSpec(torch.cuda.get_device_name(), info[0], info[1] / 1e6, dram_gbs)


def main(argv: list[str] | None = None) -> int:
    """Time the DynamicFilter kernel on this GPU (or print the model's predictions only).

    It stays one function because it is a benchmark script read top to bottom: check the
    GPU, then time every dtype, channel count and size in the order the table prints.
    """
    args = build_parser().parse_args(argv)
    if args.model_only:
        gpus = [GPUS[name] for name in (args.gpu or GPUS)]
        print_model(gpus, args.size, args.kernel_size, args.ops, CHANNELS)
        return 0
    if not torch.cuda.is_available():
        message = "no CUDA GPU visible to torch (needs an NVIDIA GPU and a CUDA build of torch)"
        print(f"bench_cuda_dynamic_filter: {message}; nothing to measure.", file=sys.stderr)
        return 2

    major, minor = torch.cuda.get_device_capability()
    lib = ctypes.CDLL(str(build_cuda_kernel_library(cuda_archs=f"{major}{minor}")))
    lib.mgdn_dynamic_filter_cuda.restype = ctypes.c_int
    lib.mgdn_dynamic_filter_cuda_device_info.restype = ctypes.c_int
    copy_gbs = copy_bandwidth_gbs(args.repeats)
    gpu = device_spec(lib, copy_gbs)
    k = args.kernel_size
    print(
        f"{gpu.name} (sm_{major}{minor}), {gpu.sms} SMs at {gpu.clock_ghz:.2f} GHz, k={k}, "
        f"device copy {copy_gbs:.0f} GB/s (the model's DRAM figure)"
    )
    print(
        f"{'dtype':>5} {'C':>3} {'HxW':>9} {'ms':>8} {'GB/s':>7} {'%copy':>6} {'model':>7} {'bound':>6} "
        f"{'%model':>6} {'x lean':>7} {'x unfold':>8}"
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
                model = op_cost(n, c, size, size, k, name, gpu, VARIANTS["after"])
                print(
                    f"{name:>5} {c:>3} {size:>4}x{size:<4} {ms:8.3f} {gbs:7.0f} {share:5.0f}% "
                    f"{model.predicted_ms:7.3f} {model.bound:>6} {100 * model.predicted_ms / ms:5.0f}% "
                    f"{lean_ms / ms:7.1f} {unfold_ratio}"
                )
                del feat, kernels, out, reference
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
