"""Whole-model CPU latency: the authors' MFF model at 520x520 (Lytro size) in PyTorch and OpenVINO.

    python -m mgdn_edge.tools.bench_openvino [--model CKPT] [--size 520] [--runs 5]
                                             [--int8-xml PATH] [--inputs PAIR.npz]

Rows: PyTorch eager FP32 with the authors' unfold filter (their exact op sequence, kernels
repeated over channels: ``filter="authors"``), with the unfold oracle (the same unfold with
broadcast kernels, a lighter stand-in that earlier versions of this table used) and with the
memory-lean filter (the ``use_dynamic_filter`` seam, through the torch runtime's ``filter=``),
then OpenVINO FP32 on the exported ``model.onnx`` (native DynamicFilter op), an FP16-weight IR,
bf16 execution where the CPU has it, and an INT8 IR when ``--int8-xml`` names one. Every row
runs the same input with the same thread count, reports its max abs difference to the lean
PyTorch output (a sanity check, not the parity test) and its speed-up over both PyTorch rows,
all measured in this one run; the rows are timed round-robin (one call each per round, median
over rounds) so that load changes on a shared machine shift every row alike.
Targets: OpenVINO FP32 >= 10x vs the authors' unfold filter and >= 2x vs lean. The machine may
be shared: run it twice and compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from mgdn_edge.core.timing import round_robin_ms

AUTHORS, ORACLE, LEAN = (
    "pytorch eager, authors' unfold",
    "pytorch eager, unfold oracle",
    "pytorch eager, lean filter",
)
TARGETS = {AUTHORS: 10.0, LEAN: 2.0}  # OpenVINO FP32 speed-up wanted over these rows


def make_inputs(args: argparse.Namespace) -> list[np.ndarray]:
    if args.inputs:
        data = np.load(args.inputs)
        return [np.ascontiguousarray(data[k], dtype=np.float32) for k in ("a", "b")]
    rng = np.random.default_rng(0)
    return [rng.random((1, 3, args.size, args.size), dtype=np.float32) for _ in range(2)]


def main(argv: list[str] | None = None) -> int:
    """Time the PyTorch and OpenVINO rows of the module docstring and print the table.

    It stays one function because it is a benchmark script read top to bottom: parse the
    arguments, build the inputs, open and time every row, then print the table and targets.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the authors' MFF checkpoint")
    parser.add_argument("--size", type=int, default=520, help="square input size (ignored with --inputs)")
    parser.add_argument("--inputs", type=Path, help=".npz with arrays a, b (e.g. a preprocessed Lytro pair)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--unfold-runs", type=int, default=2, help="the unfold rows are slow")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="default: all cores, same for every row")
    parser.add_argument("--int8-xml", type=Path, help="an INT8 IR (NNCF) of the same model to time as well")
    args = parser.parse_args(argv)

    import os

    import openvino as ov
    import torch

    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.openvino.convert import convert_to_openvino

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    inputs = make_inputs(args)
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    size = f"{inputs[0].shape[2]}x{inputs[0].shape[3]}"
    print(f"MFF {size}, {threads} threads, OpenVINO {ov.__version__}, CPU capabilities {caps}")

    with tempfile.TemporaryDirectory() as tmp:
        export_checkpoint(args.model, Path(tmp) / "export", verify=False)
        fp16_xml = convert_to_openvino(Path(tmp) / "export", Path(tmp) / "fp16.xml", "fp16")
        rows: list[tuple[str, Callable[[], object]]] = [
            (
                AUTHORS,
                lambda: open_runtime("torch", args.model, threads=threads, filter="authors"),
            ),
            (
                ORACLE,
                lambda: open_runtime("torch", args.model, threads=threads, filter="unfold"),
            ),
            (
                LEAN,
                lambda: open_runtime("torch", args.model, threads=threads, filter="lean"),
            ),
            (
                "openvino fp32 (model.onnx)",
                lambda: open_runtime("openvino", Path(tmp) / "export", threads=threads),
            ),
            (
                "openvino fp16-weight IR",
                lambda: open_runtime("openvino", fp16_xml, precision="fp16", threads=threads),
            ),
        ]
        if "BF16" in caps:
            rows.append(
                (
                    "openvino bf16",
                    lambda: open_runtime("openvino", Path(tmp) / "export", precision="bf16", threads=threads),
                )
            )
        else:
            print("(no bf16 row: this CPU has no BF16 capability in OpenVINO)")
        if args.int8_xml:
            rows.append(
                (
                    "openvino int8 IR",
                    lambda: open_runtime("openvino", args.int8_xml, precision="int8", threads=threads),
                )
            )

        opened = {name: opener() for name, opener in rows}
        outputs = {name: runtime.run(inputs) for name, runtime in opened.items()}
        calls = {name: partial(runtime.run, inputs) for name, runtime in opened.items()}
        limits = {AUTHORS: args.unfold_runs, ORACLE: args.unfold_runs}
        samples = round_robin_ms(calls, args.runs, args.warmup, limits)
        timings = {name: statistics.median(values) for name, values in samples.items()}
        reference = outputs[LEAN]
        header = f"{'variant':32s} {'median ms':>10s} {'vs authors':>10s} {'vs lean':>8s} {'max abs':>9s}"
        print(f"\n  {header}  executes")
        for name, runtime in opened.items():
            info = runtime.describe()
            executes = info.get("executes", f"torch, {info.get('dynamic_filter', '')} filter")
            ms = timings[name]
            ratios = f"{timings[AUTHORS] / ms:9.1f}x {timings[LEAN] / ms:7.1f}x"
            err = float(np.abs(outputs[name] - reference).max())
            print(f"  {name:32s} {ms:10.1f} {ratios} {err:9.2e}  {executes}")
        print("  (runs per row: " + ", ".join(f"{len(v)}" for v in samples.values()) + ")")

    fp32 = timings["openvino fp32 (model.onnx)"]
    for row, target in TARGETS.items():
        ratio = timings[row] / fp32
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"openvino fp32 vs {row}: {ratio:.1f}x ({verdict} the >= {target:g}x target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
