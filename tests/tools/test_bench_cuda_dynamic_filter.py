"""tools/bench_cuda_dynamic_filter.py without a GPU: argument parsing and the kernel model.

The model's figures are checked against arithmetic done here by hand (MFF: four k = 7 filters of
30 channels at 520x520), so the README's table cannot drift from the code that prints it.
"""

from __future__ import annotations

import pytest
import torch

from mgdn_edge.tools import bench_cuda_dynamic_filter as bench

AGX = bench.GPUS["agx-orin"]
PLANE = 520 * 520


def test_arguments() -> None:
    args = bench.build_parser().parse_args(["--model-only", "--gpu", "agx-orin", "--gpu", "orin-nano-8"])
    assert args.model_only and args.gpu == ["agx-orin", "orin-nano-8"]
    assert (args.kernel_size, args.size, args.ops, args.batch) == (7, 520, 4, 1)
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--gpu", "xavier"])


def test_shared_loads_per_output() -> None:
    before = bench.op_cost(1, 30, 520, 520, 7, "f32", AGX, bench.VARIANTS["before"])
    after = bench.op_cost(1, 30, 520, 520, 7, "f32", AGX, bench.VARIANTS["after"])
    assert before.smem_values_per_output == 49 and before.smem_load_instr_per_output == 49
    # two outputs share a run of 8 values per filter row: 7 * 8 / 2 values, read as 4 pairs per row
    assert after.smem_values_per_output == 28 and after.smem_load_instr_per_output == 14
    assert (before.smem_bytes_per_output, after.smem_bytes_per_output) == (196, 112)
    f16 = bench.op_cost(1, 30, 520, 520, 7, "f16", AGX, bench.VARIANTS["after"])
    assert f16.smem_bytes_per_output == 56


def test_mff_on_agx_orin_by_hand() -> None:
    """One MFF filter on AGX Orin: (2*30 + 49) * 520^2 elements through DRAM at 204.8 GB/s; shared
    memory: 9 x 65 tiles of 64 x 8 outputs, each output 14 pair loads (2 wavefronts each in f32)
    plus 70*14/512 staging stores, at 32 thread-accesses per wavefront per clock, 16 SMs, 1.3 GHz."""
    cost = bench.op_cost(1, 30, 520, 520, 7, "f32", AGX, bench.VARIANTS["after"])
    assert cost.dram_bytes == 109 * PLANE * 4
    assert cost.dram_ms == pytest.approx(109 * PLANE * 4 / 204.8e9 * 1e3)
    tiled_outputs = 30 * (9 * 64) * (65 * 8)
    wavefronts = tiled_outputs * (14 * 2 + 70 * 14 / 512) / 32
    assert cost.smem_ms == pytest.approx(wavefronts / 16 / 1.3e9 * 1e3)
    assert 4 * cost.predicted_ms == pytest.approx(2.30, abs=0.01) and cost.bound == "DRAM"
    old = bench.op_cost(1, 30, 520, 520, 7, "f32", AGX, bench.VARIANTS["before"])
    old_wavefronts = 30 * (17 * 32) * (65 * 8) * (49 + 38 * 14 / 256) / 32
    assert old.smem_ms == pytest.approx(old_wavefronts / 16 / 1.3e9 * 1e3)
    assert old.bound == "shared" and 4 * old.predicted_ms == pytest.approx(2.60, abs=0.01)


def test_model_only_prints_every_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--model-only"]) == 0
    out = capsys.readouterr().out
    for gpu in bench.GPUS.values():
        assert out.count(gpu.name) == 8  # C = 30/60 x f32/f16 x before/after


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed without a GPU")
def test_without_gpu_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--repeats", "1"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
