"""``mgdn-edge export``: checkpoint -> model.onnx + model.portable.onnx + manifest.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgdn_edge.cli_args import add_task
from mgdn_edge.export.triton_repo import DEFAULT_OP_LIBRARY


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX (mgdn.DynamicFilter node + portable fallback, dynamic sizes)",
    )
    add_task(p, "check the checkpoint against this task")
    p.add_argument("--model", required=True, help="PyTorch checkpoint (.pth) trained with the authors' code")
    p.add_argument(
        "--out",
        required=True,
        help="output folder (model.onnx, model.portable.onnx, model.fp16.onnx, model.trt.onnx, "
        "model.trt.fp16.onnx, manifest.json)",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 17..20 (default 17)")
    p.add_argument(
        "--static", metavar="HxW", help="fix height and width (batch stays dynamic); default: dynamic"
    )
    p.add_argument(
        "--decomposition",
        default="split",
        choices=["split", "slice", "flat"],
        help="portable DynamicFilter body (default split, the fastest measured in ONNX Runtime)",
    )
    p.add_argument(
        "--no-verify", action="store_true", help="skip the ONNX Runtime vs PyTorch check after export"
    )
    p.add_argument(
        "--no-fp16",
        action="store_true",
        help="do not write model.fp16.onnx (FP16 graph, float32 I/O, norms kept FP32)",
    )
    serving = p.add_argument_group("serving (a Triton Inference Server model repository beside the export)")
    serving.add_argument(
        "--serving",
        choices=["triton"],
        help="also write REPOSITORY/NAME/config.pbtxt + 1/model.onnx for Triton's ONNX Runtime backend",
    )
    serving.add_argument(
        "--repository", type=Path, metavar="DIR", help="Triton model repository (with --serving)"
    )
    serving.add_argument(
        "--model-name", metavar="NAME", help="the model name in the repository (default mgdn_TASK)"
    )
    serving.add_argument(
        "--op-library",
        default=DEFAULT_OP_LIBRARY,
        metavar="PATH",
        help="absolute path of libmgdn_ort.so (the mgdn.DynamicFilter ONNX Runtime op) on the server "
        f"(default: the placeholder {DEFAULT_OP_LIBRARY})",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.extras import require

    require("torch", "mgdn-edge export")  # the exporter traces the PyTorch network
    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.size import Size

    static = Size.parse(args.static, "--static") if args.static else None
    _check_serving(args)
    result = export_checkpoint(
        args.model,
        args.out,
        task=args.task,
        opset=args.opset,
        static=static,
        decomposition=args.decomposition,
        verify=not args.no_verify,
        fp16=not args.no_fp16,
    )
    m = result.manifest
    op = m.custom_op
    sizes = f"{static[0]}x{static[1]}" if static else "dynamic HxW"
    print(
        f"wrote {result.model_path} ({op.nodes} {op.domain}.{op.op_type} nodes), "
        f"{result.portable_path.name}, {result.manifest_path.name}: "
        f"task {m.task}, opset {m.opset}, {sizes}"
    )
    if m.verification_max_abs:
        worst = max(v for sizes_ in m.verification_max_abs.values() for v in sizes_.values())
        print(f"verified against PyTorch with onnxruntime: max abs {worst:.2e}")
    if m.fp16:
        line = (
            f"wrote {result.fp16_path.name} (FP16, float32 I/O, FP32 kept for {', '.join(m.fp16.fp32_ops)})"
        )
        if m.fp16.verification_max_abs:
            line += f": max abs {max(m.fp16.verification_max_abs.values()):.2e} vs PyTorch"
        print(line)
    trt = m.tensorrt
    if trt and trt.files:
        line = f"wrote {', '.join(trt.files)} (TensorRT: no local function, DynamicFilter -> plugin)"
        if trt.verification_max_abs:
            worst = max(v for e in trt.verification_max_abs.values() for v in e.values())
            line += f": max abs {worst:.2e} vs their ONNX Runtime siblings"
        print(line)
    if args.serving == "triton":
        from mgdn_edge.export.triton_repo import CONFIG_FILE, MODEL_FILE, VERSION, write_triton_repository

        name = args.model_name or f"mgdn_{m.task}"
        folder = write_triton_repository(result.model_path, args.repository, name, args.op_library)
        print(
            f"wrote {folder / CONFIG_FILE}, {folder / VERSION / MODEL_FILE} (Triton, onnxruntime_onnx; "
            f"custom op library {args.op_library})"
        )
        if args.op_library == DEFAULT_OP_LIBRARY:
            print(
                f"note: {DEFAULT_OP_LIBRARY} is a placeholder: put libmgdn_ort.so there or pass --op-library"
            )
    return 0


def _check_serving(args: argparse.Namespace) -> None:
    """One-line errors for the serving flags, before the export runs."""
    from mgdn_edge.errors import InputError
    from mgdn_edge.export.triton_repo import check_triton_options

    if args.serving is None:
        if args.repository or args.model_name or args.op_library != DEFAULT_OP_LIBRARY:
            raise InputError("--repository, --model-name and --op-library go with --serving triton")
        return
    if args.repository is None:
        raise InputError("--serving triton needs --repository DIR (the Triton model repository)")
    check_triton_options(args.model_name or "mgdn_model", args.op_library)
