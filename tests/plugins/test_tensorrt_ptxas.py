"""The CUDA DynamicFilter kernel's registers against the launch plan, from ptxas, without a GPU.

nvcc compiles plugins/tensorrt/dynamic_filter_kernel.cu for sm_87 (Orin) and sm_90 with
``-Xptxas -v``; every kernel instantiation (f32/f16 x k = 3, 5, 7, generic) must have no spills
and no stack frame, and its registers and shared memory must let as many blocks be resident per SM
as the launch plan assumes (``blocks_per_sm``, read through the host test library, which is built
from the same dynamic_filter_tile.h as the kernel). Skipped with the reason when nvcc, cmake or a
C++ compiler is missing.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgdn_edge.core.errors import BackendError
from mgdn_edge.plugins import tensorrt_plugin as trt_plugin


@dataclass(frozen=True)
class SmLimits:
    """Per-SM resources that bound residency (CUDA occupancy rules, compute capability tables)."""

    regs: int = 65536  # 32-bit registers per SM, split over 4 sub-partitions (one per scheduler)
    sub_partitions: int = 4
    reg_unit: int = 256  # registers are allocated per warp in units of 256
    max_threads: int = 1536
    max_blocks: int = 16
    smem: int = 164 * 1024  # shared memory per SM usable by blocks
    smem_reserved: int = 1024  # the driver's per-block reservation (sm_80+)


ARCHS = {
    "87": SmLimits(max_threads=1536, max_blocks=16, smem=164 * 1024),  # Orin
    "90": SmLimits(max_threads=2048, max_blocks=32, smem=228 * 1024),  # H100/H200
}
# Kernel sizes that select each compiled path (0 = the generic runtime-k kernel).
PATH_KSIZES = {3: [3], 5: [5], 7: [7], 0: [1, 9, 11]}
DTYPES = {"f": ("f32", 4), "6__half": ("f16", 2)}


@dataclass(frozen=True)
class PtxasEntry:
    arch: str
    dtype: str  # f32 / f16
    path: int  # template K: 3, 5, 7, 0 = generic
    registers: int
    stack: int
    spill_stores: int
    spill_loads: int


_ENTRY = re.compile(r"Compiling entry function '(\S+)' for 'sm_(\d+)'")
_PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_KERNEL = re.compile(r"dynamic_filter_kernelI(f|6__half)Li(\d+)EE")


def parse_ptxas(text: str) -> list[PtxasEntry]:
    """ptxas -v output -> one entry per dynamic_filter_kernel instantiation and architecture."""
    entries = []
    current: dict | None = None
    for line in text.splitlines():
        if match := _ENTRY.search(line):
            kernel = _KERNEL.search(match.group(1))
            current = None
            if kernel:
                current = {
                    "arch": match.group(2),
                    "dtype": DTYPES[kernel.group(1)][0],
                    "path": int(kernel.group(2)),
                }
        elif current is not None and (match := _PROPS.search(line)):
            current.update(stack=int(match.group(1)), spill_stores=int(match.group(2)))
            current["spill_loads"] = int(match.group(3))
        elif current is not None and (match := _USED.search(line)):
            entries.append(PtxasEntry(registers=int(match.group(1)), **current))
            current = None
    return entries


def resident_blocks(limits: SmLimits, registers: int, threads: int, smem_bytes: int) -> int:
    """Blocks of `threads` threads that fit one SM: registers (per warp, per sub-partition),
    threads, blocks and shared memory, as the CUDA occupancy calculator counts them."""
    warps = -(-threads // 32)
    regs_per_warp = -(-registers * 32 // limits.reg_unit) * limits.reg_unit
    warps_by_regs = (limits.regs // limits.sub_partitions // regs_per_warp) * limits.sub_partitions
    by_smem = limits.smem // (smem_bytes + limits.smem_reserved)
    return min(warps_by_regs // warps, limits.max_threads // threads, limits.max_blocks, by_smem)


def test_parse_ptxas_and_occupancy_rules() -> None:
    """The parser and the occupancy arithmetic on known figures (no compiler needed)."""
    text = (
        "ptxas info    : Compiling entry function "
        "'_ZN4mgdn12_GLOBAL__N_121dynamic_filter_kernelIfLi7EEEvPKT_' for 'sm_87'\n"
        "ptxas info    : Function properties for _ZN4mgdn...\n"
        "    0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
        "ptxas info    : Used 80 registers, used 1 barriers, 456 bytes cmem[0]\n"
        "ptxas info    : Compiling entry function '_Z5otherv' for 'sm_87'\n"
        "ptxas info    : Used 12 registers\n"
    )
    assert parse_ptxas(text) == [PtxasEntry("87", "f32", 7, 80, 0, 8, 4)]
    orin = ARCHS["87"]
    # The previous k = 7 kernel: 80 registers x 256 threads: 6 warps per sub-partition = 3 blocks.
    assert resident_blocks(orin, 80, 256, 0) == 3
    assert resident_blocks(orin, 128, 256, 0) == 2
    assert resident_blocks(orin, 129, 256, 0) == 1
    assert resident_blocks(orin, 32, 256, 0) == 6  # 1536 threads
    assert resident_blocks(orin, 32, 256, 40 * 1024) == 4  # 4 x 41 KiB <= 164 KiB


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("cmake and g++ are needed to build the host test library (the launch plan)")
    return ctypes.CDLL(str(trt_plugin.build_host_test_library(tmp_path_factory.mktemp("ptxas-host"))))


@pytest.fixture(scope="module")
def ptxas_entries(tmp_path_factory: pytest.TempPathFactory) -> list[PtxasEntry]:
    try:
        nvcc = trt_plugin.find_nvcc()
    except BackendError as exc:
        pytest.skip(f"needs nvcc: {exc}")
    source = trt_plugin.TENSORRT_SOURCE_DIR / "dynamic_filter_kernel.cu"
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    out = Path(tmp_path_factory.mktemp("ptxas")) / "kernel.o"
    cmd = [str(nvcc), "-std=c++17", *gencode, "-Xptxas", "-v", "-c", str(source), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "Unsupported gpu architecture" in proc.stderr:
        pytest.skip(f"this nvcc cannot target sm_{'/sm_'.join(ARCHS)}: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    return parse_ptxas(proc.stdout + proc.stderr)


def _plan(lib: ctypes.CDLL, ksize: int, elem_bytes: int, limits: SmLimits) -> dict[str, int]:
    """The plan launch_dynamic_filter() makes for a large MEF-like input (C = 60, all stages full)."""
    fields = ["tiles_x", "tiles_y", "groups", "channels_per_group", "stage", "halo_w", "halo_h"]
    fields += ["smem_bytes", "outputs_per_thread", "tile_w", "tile_h", "blocks_per_sm"]
    plan = (ctypes.c_int64 * len(fields))()
    lib.mgdn_df_plan_device(1, 60, 512, 512, ksize, elem_bytes, 16, limits.smem, plan)
    config = (ctypes.c_int64 * 4)()
    lib.mgdn_df_kernel_config(ksize, config)
    return dict(zip(fields, plan, strict=True)) | {"path": config[0], "threads": config[2]}


def test_every_instantiation_was_compiled(ptxas_entries: list[PtxasEntry]) -> None:
    found = {(e.arch, e.dtype, e.path) for e in ptxas_entries}
    expected = {(a, d, k) for a in ARCHS for d in ("f32", "f16") for k in PATH_KSIZES}
    assert found == expected


@pytest.mark.parametrize("arch", list(ARCHS))
def test_no_spills(ptxas_entries: list[PtxasEntry], arch: str) -> None:
    bad = [e for e in ptxas_entries if e.arch == arch and (e.spill_stores or e.spill_loads or e.stack)]
    assert not bad, f"spills or local memory: {bad}"


@pytest.mark.parametrize("arch", list(ARCHS))
def test_launch_plan_blocks_fit(host_lib: ctypes.CDLL, ptxas_entries: list[PtxasEntry], arch: str) -> None:
    """The resident blocks per SM the plan counts on really fit: registers, threads, shared memory."""
    limits = ARCHS[arch]
    checked = 0
    for entry in (e for e in ptxas_entries if e.arch == arch):
        elem_bytes = 4 if entry.dtype == "f32" else 2
        for ksize in PATH_KSIZES[entry.path]:
            plan = _plan(host_lib, ksize, elem_bytes, limits)
            assert plan["path"] == entry.path
            fits = resident_blocks(limits, entry.registers, plan["threads"], plan["smem_bytes"])
            checked += 1
            assert fits >= plan["blocks_per_sm"], (
                f"sm_{arch} {entry.dtype} k={ksize}: {entry.registers} registers x {plan['threads']} threads "
                f"and {plan['smem_bytes']} B shared memory allow {fits} blocks/SM, the plan assumes "
                f"{plan['blocks_per_sm']}"
            )
    assert checked == 2 * sum(len(sizes) for sizes in PATH_KSIZES.values())
