"""``mgdn-edge build-engine``: an export folder / ONNX file -> TensorRT engine (+ .json sidecar)."""

from __future__ import annotations

import argparse

from mgdn_edge.cli_args import add_task, builder_precisions


def _bytes(text: str) -> int:
    """``"2G"``, ``"512M"`` or a plain byte count."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().removesuffix("b") or "0"
    scale = units.get(text[-1], 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 2G or 512M, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build-engine",
        help="build a TensorRT engine from an exported model (DynamicFilter plugin, dynamic sizes)",
        description="Build on the machine that will run the engine: engines are specific to one GPU and "
        "TensorRT version. From an export folder it builds the TensorRT graphs (model.trt.onnx, "
        "model.trt.fp16.onnx on TensorRT >= 10 (strongly typed), model.trt.int8.onnx from "
        "`mgdn-edge quantize --runtime onnxruntime`), after checking them against this TensorRT's ONNX "
        "parser (`mgdn-edge lint --tensorrt`).",
    )
    p.add_argument("--model", required=True, help="export folder or an .onnx file from it")
    p.add_argument(
        "--out", required=True, help="engine file to write (.engine or .plan); X.engine.json beside it"
    )
    p.add_argument("--precision", default="fp32", choices=builder_precisions("engine"), help="default fp32")
    p.add_argument(
        "--plugin", help="libmgdn_trt.so (default: the `mgdn-edge build-plugins --tensorrt` build)"
    )
    p.add_argument(
        "--no-plugin",
        action="store_true",
        help="build model.onnx without the plugin: TensorRT >= 9 imports the DynamicFilter function "
        "(slower; for comparison)",
    )
    add_task(p, "check the model against this task")
    p.add_argument(
        "--min", metavar="HxW", help="smallest input size (default: the smallest the model accepts)"
    )
    p.add_argument("--opt", metavar="HxW", help="size TensorRT tunes for (default 256x256)")
    p.add_argument("--max", metavar="HxW", help="largest input size (default 1024x1024)")
    p.add_argument("--max-batch", type=int, default=1, help="largest batch (default 1)")
    p.add_argument("--workspace", type=_bytes, default="2G", help="builder workspace, e.g. 2G (default)")
    p.add_argument(
        "--keep-float",
        nargs="+",
        default=[],
        metavar="MODULE",
        help="fp16 from model.trt.onnx (weakly typed, TensorRT 8.x): pin these modules' layers to FP32, "
        "named as `mgdn-edge diff` names stages; strongly typed builds take them from the graph "
        "(`quantize --runtime onnxruntime --precision fp16 --keep-float`)",
    )
    p.add_argument("--verbose", action="store_true", help="TensorRT's verbose build log")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgdn_edge.atomic import refuse_overwriting_inputs
    from mgdn_edge.errors import BackendError
    from mgdn_edge.export.artefacts import ENGINE_SUFFIXES
    from mgdn_edge.runtimes.backends import BACKENDS
    from mgdn_edge.runtimes.base import check_export_folder, export_folder_files
    from mgdn_edge.runtimes.build_contract import BuildRequest
    from mgdn_edge.runtimes.tensorrt_build import EngineOptions
    from mgdn_edge.runtimes.tensorrt_engine_file import sidecar_path

    if args.plugin and args.no_plugin:
        raise BackendError("--plugin and --no-plugin exclude each other")
    if Path(args.out).suffix.lower() not in ENGINE_SUFFIXES:
        raise BackendError(f"--out must end in {' or '.join(ENGINE_SUFFIXES)}, got {args.out}")
    refuse_overwriting_inputs(
        [("--out", args.out), ("--out", sidecar_path(Path(args.out)))],
        [*export_folder_files(args.model), args.plugin or None],
    )
    check_export_folder(args.model)  # before TensorRT is even imported
    options = EngineOptions(
        plugin=False if args.no_plugin else args.plugin,
        min_hw=args.min,
        opt_hw=args.opt,
        max_hw=args.max,
        max_batch=args.max_batch,
        workspace=args.workspace,
        task=args.task,
        log_level="VERBOSE" if args.verbose else "WARNING",
        keep_float=args.keep_float,
    )
    request = BuildRequest(Path(args.model), Path(args.out), args.precision, options)
    result = BACKENDS["tensorrt"].builder("engine").build(request).details
    prof = result.profile.to_dict()
    print(
        f"wrote {result.path} ({result.precision}{', strongly typed' if result.strongly_typed else ''}, "
        f"from {result.onnx_path.name}, TensorRT {result.tensorrt_version} on {result.device}, "
        f"{result.plugin_layers} plugin layers, profile NxHxW min {prof['min']} opt {prof['opt']} "
        f"max {prof['max']}, {result.build_seconds:.0f} s) and {result.sidecar_path.name}"
    )
    return 0
