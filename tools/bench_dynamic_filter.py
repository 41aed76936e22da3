"""CPU micro-benchmark of DynamicFilter implementations (k=7, N=1, C in {30, 60}, 256^2 and 512^2).

Variants: the PyTorch unfold oracle, the memory-lean PyTorch op, the op's portable ONNX body
(standard ops) run by OpenVINO, and the native OpenVINO op, the last also timed by OpenVINO's
per-node counters ("op alone": without the plugin's copy of a graph output into the user's
tensor). Prints median latency per variant, the speed-up over the oracle, and two floors: a
memory floor (bytes the op must move / measured single-thread copy bandwidth) and a compute view
(49 MACs per output value). Run: ``python -m mgdn_edge.tools.bench_dynamic_filter`` (builds the
OpenVINO extension on first use). Not a test: it only checks that every variant agrees with the
oracle. The machine is shared, so run it twice and compare.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mgdn_edge.core.timing import median_ms
from mgdn_edge.model.dynamic_filter import dynamic_filter_lean, dynamic_filter_unfold
from mgdn_edge.tools.timing import copy_bandwidth_gbs

CHANNELS = (30, 60)
SIZES = (256, 512)
BYTES_PER_VALUE = 4  # f32
IDLE_BETWEEN_VARIANTS_S = 0.5

# A prepared variant: call it with (feat, kernels) as contiguous f32 numpy arrays.
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Variant:
    """One implementation under test; ``prepare(feat_shape, kernel_size)`` returns its runner."""

    name: str
    prepare: Callable[[tuple[int, ...], int], Runner]


def torch_variant(name: str, fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> Variant:
    def prepare(shape: tuple[int, ...], k: int) -> Runner:
        def run(feat: np.ndarray, kernels: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return fn(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()

        return run

    return Variant(name, prepare)


def openvino_native_variant() -> Variant:
    """The mgdn::DynamicFilter op from libmgdn_openvino.so, read from a one-node ONNX model."""
    import openvino as ov

    from mgdn_edge.export.dynamic_filter_onnx import standalone_model
    from mgdn_edge.plugins.openvino_ext import build_openvino_extension, load_openvino_extension

    core = ov.Core()
    load_openvino_extension(core, build_openvino_extension())

    def prepare(shape: tuple[int, ...], k: int) -> Runner:
        n, c, h, w = shape
        model = core.read_model(standalone_model(k, c).SerializeToString())
        model.reshape({0: [n, c, h, w], 1: [n, k * k, h, w]})  # static, as a shape-specialised model runs
        return OpenVinoRunner(core, model, shape, profile=True)

    return Variant("openvino native op", prepare)


def openvino_portable_variant() -> Variant:
    """The standard-op body of ``mgdn.DynamicFilter`` (export/dynamic_filter_onnx.py), inlined, run by
    OpenVINO without the extension: what OpenVINO would do with ``model.portable.onnx``."""
    import onnx.inliner
    import openvino as ov

    from mgdn_edge.export.dynamic_filter_onnx import standalone_model

    core = ov.Core()  # no extension: only standard ops may appear

    def prepare(shape: tuple[int, ...], k: int) -> Runner:
        model = onnx.inliner.inline_local_functions(standalone_model(k, shape[1]))
        return OpenVinoRunner(core, core.read_model(model.SerializeToString()), shape)

    return Variant("openvino portable body", prepare)


class OpenVinoRunner:
    """A compiled one-op model; inputs and output are zero-copy, so the timed call is the op plus
    OpenVINO's own per-call work (for a graph whose output is the op's, the CPU plugin copies the
    op's output into the user's tensor: ~4 ms at C=60, 512x512, which no real model pays).

    ``profile=True`` turns on OpenVINO's per-node counters, so :meth:`node_ms` can also report the
    op's own time without that copy.
    """

    def __init__(self, core: object, model: object, shape: tuple[int, ...], profile: bool = False) -> None:
        import openvino as ov

        # f32 explicitly: on CPUs with bf16 the CPU plugin would otherwise run standard ops in bf16.
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": profile}
        self.profile = profile
        self._ov = ov
        self.request = core.compile_model(model, "CPU", config).create_infer_request()  # type: ignore[attr-defined]
        self.out = np.empty(shape, np.float32)
        self.request.set_output_tensor(0, ov.Tensor(self.out, shared_memory=True))

    def __call__(self, feat: np.ndarray, kernels: np.ndarray) -> np.ndarray:
        self.request.set_input_tensor(0, self._ov.Tensor(feat, shared_memory=True))
        self.request.set_input_tensor(1, self._ov.Tensor(kernels, shared_memory=True))
        self.request.infer()
        return self.out

    def node_ms(self) -> float:
        """Time the last call spent inside the graph's nodes (OpenVINO's counters), in ms."""
        return sum(info.real_time.total_seconds() for info in self.request.profiling_info) * 1e3


def variants() -> list[Variant]:
    """Everything benchmarked; the first is the oracle the others are checked and compared against."""
    return [
        torch_variant("pytorch unfold (oracle)", dynamic_filter_unfold),
        torch_variant("pytorch lean", dynamic_filter_lean),
        openvino_portable_variant(),
        openvino_native_variant(),
    ]


def bench_case(
    chosen: list[Variant], shape: tuple[int, ...], k: int, repeats: tuple[int, int], bandwidth: float
) -> None:
    """Time every variant on one shape and print a table row each; the first variant is the oracle."""
    _, c, h, w = shape
    rng = np.random.default_rng(c * h)
    feat = rng.standard_normal(shape, dtype=np.float32)
    kernels = rng.standard_normal((1, k * k, h, w), dtype=np.float32)
    moved = (2 * c + k * k) * h * w * BYTES_PER_VALUE  # read feat + kernels, write out
    floor_ms = moved / bandwidth / 1e6
    gflop = 2 * k * k * c * h * w / 1e9
    print(f"\nC={c} {h}x{w}: {moved / 1e6:.0f} MB moved -> memory floor {floor_ms:.2f} ms; {gflop:.2f} GFLOP")
    print(f"  {'variant':28s} {'median ms':>10s} {'vs unfold':>10s} {'x floor':>8s} {'GFLOP/s':>8s}")
    reference: np.ndarray | None = None
    oracle_ms = float("nan")
    for index, variant in enumerate(chosen):
        # PyTorch's OpenMP workers spin for a while after each call; with few cores they would
        # steal the cores from the next variant's thread pool, so let them go idle first.
        time.sleep(IDLE_BETWEEN_VARIANTS_S)
        run = variant.prepare(shape, k)
        result = run(feat, kernels)
        if reference is None:
            reference = result.copy()
        err = float(np.abs(result - reference).max())
        if err > 1e-4:
            raise SystemExit(f"{variant.name} disagrees with the oracle: max abs error {err:.3g}")
        ms = median_ms(lambda run=run: run(feat, kernels), repeats[0] if index == 0 else repeats[1])
        oracle_ms = ms if index == 0 else oracle_ms
        row(variant.name, ms, oracle_ms, floor_ms, gflop)
        if isinstance(run, OpenVinoRunner) and run.profile:
            op_ms = []
            for _ in range(repeats[1]):
                run(feat, kernels)
                op_ms.append(run.node_ms())
            row("  op alone (OV counters)", statistics.median(op_ms), oracle_ms, floor_ms, gflop)


def row(name: str, ms: float, oracle_ms: float, floor_ms: float, gflop: float) -> None:
    print(f"  {name:28s} {ms:10.2f} {oracle_ms / ms:9.1f}x {ms / floor_ms:7.1f}x {gflop / ms * 1e3:8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel-size", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--oracle-repeats", type=int, default=3, help="the unfold oracle is slow")
    args = parser.parse_args(argv)

    bandwidth = copy_bandwidth_gbs()
    print(f"torch threads: {torch.get_num_threads()}; numpy copy: {bandwidth:.1f} GB/s (read + write)")
    chosen = variants()
    for c in CHANNELS:
        for size in SIZES:
            bench_case(
                chosen, (1, c, size, size), args.kernel_size, (args.oracle_repeats, args.repeats), bandwidth
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
