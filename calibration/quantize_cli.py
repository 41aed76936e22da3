"""``mgdn-edge quantize``: an export folder + calibration data -> an INT8 (or FP16) model file."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgdn_edge.calibration.quantize_request import DEFAULT_CALIB_MEMORY_MB
from mgdn_edge.cli_args import (
    add_builder_runtime,
    add_data,
    add_quiet,
    add_seed,
    builder_precisions,
    builder_runtime,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quantize",
        help="make an INT8 (or FP16) model for ONNX Runtime/TensorRT (QDQ .onnx) or OpenVINO (.xml)",
        description="Calibrates on --data and writes --out atomically (nothing is left on failure). "
        "The dynamic filter always stays float. --max-drop keeps the fewest layers float that hold the "
        "PSNR drop against the FP32 model (measured from 58.9 dB, the FP32 output's 8-bit rounding) "
        "on a held-out quarter of the data.",
    )
    p.add_argument("--model", required=True, help="export folder from `mgdn-edge export` (or its model.onnx)")
    add_data(p, "calibration data (int8): a folder in the task's layout", " (HDR, MEF)")
    add_builder_runtime(p, "quantize", "--backend")
    p.add_argument("--precision", default="int8", choices=builder_precisions("quantize"), help="default int8")
    p.add_argument(
        "--method",
        help="onnxruntime: entropy (default) | minmax | percentile calibration; "
        "openvino: default (NNCF transformer recipe) | mixed | plain; "
        "onnxruntime --precision fp16: default (norms FP32, as model.fp16.onnx) | plain (norms FP16 too)",
    )
    p.add_argument("--max-drop", type=float, help="accuracy-aware mode: allowed PSNR drop in dB")
    p.add_argument(
        "--keep-float",
        nargs="+",
        default=[],
        metavar="MODULE",
        help="leave these modules unquantized (--precision fp16: in FP32), named as `mgdn-edge diff` "
        "names stages (e.g. layers.1.adjust_channel; `diff --suggest` prints a list)",
    )
    p.add_argument("--samples", type=int, help="calibration samples (default: one per item, or 32 crops)")
    p.add_argument("--crop", help="calibrate on random HxW crops (e.g. 256 or 256x384; default full frames)")
    add_seed(p, "crop positions and the calibration/evaluation split")
    p.add_argument(
        "--calib-memory",
        type=float,
        default=DEFAULT_CALIB_MEMORY_MB,
        metavar="MB",
        help=f"activations one calibration pass may hold (default {DEFAULT_CALIB_MEMORY_MB:g}); samples are "
        "streamed, so memory does not grow with their number. Lower: less memory; onnxruntime: more graph "
        "segments, openvino: more passes over the data",
    )
    p.add_argument("--out", required=True, type=Path, help="output .onnx (onnxruntime) or .xml (openvino)")
    add_quiet(p)
    p.set_defaults(handler=run)


# What to use instead where INT8 does not earn its speed target, per (runtime, float variant).
_INSTEAD = {
    ("openvino", "bf16"): (
        "use bf16 on this CPU (`--precision bf16`, or `auto`, on model.onnx): nearly as fast and far "
        "closer to FP32"
    ),
    ("onnxruntime", "fp32"): (
        "run model.onnx (FP32, native DynamicFilter) in ONNX Runtime on this CPU, or OpenVINO for "
        "speed; this QDQ file is for TensorRT and ONNX Runtime's GPU providers"
    ),
}


def _speed_advice(speed: dict) -> str:
    """Whether INT8 pays on this CPU against the float variant it competes with, judged by the
    INT8 speed target of that runtime (its backend record's ``int8_targets``)."""
    from mgdn_edge.precision import Precision
    from mgdn_edge.runtimes.backends import int8_speed_targets

    runtime, versus = speed["runtime"], speed["versus"]
    target = next(
        t.ratio for t in int8_speed_targets() if t.runtime == runtime and t.versus == Precision(versus)
    )
    ratio = speed["float_ms"] / speed["int8_ms"]
    label = "bf16" if versus == "bf16" else "FP32"
    figures = (
        f"on this CPU ({speed['cpu']}) at {speed['size']}, {runtime}: INT8 {speed['int8_ms']:.0f} ms, "
        f"{label} {speed['float_ms']:.0f} ms ({ratio:.2f}x)"
    )
    if ratio >= target:
        return f"speed {figures}: INT8 pays here (target {target:g}x)"
    instead = _INSTEAD[runtime, versus]
    return f"speed {figures}: below the {target:g}x INT8 must earn over {label}, so {instead}"


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.calibration.quantize_request import QuantizeOptions
    from mgdn_edge.errors import InputError
    from mgdn_edge.runtimes.backends import get_backend
    from mgdn_edge.runtimes.build_contract import BuildRequest

    if args.precision == "int8" and not args.data:
        raise InputError("--precision int8 needs calibration data (--data FOLDER or --data synthetic)")
    samples = args.samples if args.samples is not None or args.crop is None else 32
    options = QuantizeOptions(
        args.data,
        args.method,
        args.max_drop,
        samples=samples,
        crop=args.crop,
        seed=args.seed,
        progress=not args.quiet,
        keep_float=tuple(args.keep_float),
        calib_memory_mb=args.calib_memory,
    )
    builder = get_backend(builder_runtime(args, "quantize")).builder("quantize")
    result = builder.build(BuildRequest(Path(args.model), args.out, args.precision, options)).details
    print(f"wrote {result.path} ({result.backend} {result.precision}, {result.seconds:.1f} s)")
    if result.precision == "int8":
        print(f"calibration: {result.samples} samples, method {result.method}")
        for note in result.notes:
            print(f"note: {note}")
        if result.eval_psnr_db is not None:
            print(
                f"evaluation: {result.eval_samples} samples, PSNR vs FP32 {result.eval_psnr_db:.2f} dB "
                f"(drop {result.eval_drop_db:.2f} dB)"
            )
        if result.speed is not None:
            print(_speed_advice(result.speed))
    if result.precision == "int8" or result.float_layers:
        print(f"{'float' if result.precision == 'int8' else 'FP32'} layers ({len(result.float_layers)}):")
        for name, why in result.float_layers.items():
            print(f"  {name}: {why}")
    return 0
