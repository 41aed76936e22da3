"""``mgdn-edge export``: checkpoint -> model.onnx + model.portable.onnx + manifest.json."""

from __future__ import annotations

import argparse

from mgdn_edge.cli_args import add_task


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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.size import Size

    static = Size.parse(args.static, "--static") if args.static else None
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
    op = m["custom_op"]
    sizes = f"{static[0]}x{static[1]}" if static else "dynamic HxW"
    print(
        f"wrote {result.model_path} ({op['nodes']} {op['domain']}.{op['op_type']} nodes), "
        f"{result.portable_path.name}, {result.manifest_path.name}: "
        f"task {m['task']}, opset {m['opset']}, {sizes}"
    )
    if m["verification_max_abs"]:
        worst = max(v for sizes_ in m["verification_max_abs"].values() for v in sizes_.values())
        print(f"verified against PyTorch with onnxruntime: max abs {worst:.2e}")
    fp16 = m.get("fp16")
    if fp16:
        line = (
            f"wrote {result.fp16_path.name} (FP16, float32 I/O, FP32 kept for {', '.join(fp16['fp32_ops'])})"
        )
        if fp16["verification_max_abs"]:
            line += f": max abs {max(fp16['verification_max_abs'].values()):.2e} vs PyTorch"
        print(line)
    trt = m.get("tensorrt") or {}
    if trt.get("files"):
        line = f"wrote {', '.join(trt['files'])} (TensorRT: no local function, DynamicFilter -> plugin)"
        if trt.get("verification_max_abs"):
            worst = max(v for e in trt["verification_max_abs"].values() for v in e.values())
            line += f": max abs {worst:.2e} vs their ONNX Runtime siblings"
        print(line)
    return 0
