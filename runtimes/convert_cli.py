"""``mgdn-edge convert --runtime openvino``: an exported ONNX model -> OpenVINO IR (model.xml + model.bin)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgdn_edge.cli_args import add_builder_runtime, builder_precisions, builder_runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert an exported model to a backend's own format (OpenVINO IR)",
        description="The IR keeps the DynamicFilter op, so loading it needs the OpenVINO extension "
        "(built on first use, or with `mgdn-edge build-plugins --openvino`).",
    )
    add_builder_runtime(p, "convert", "--to")
    p.add_argument("--model", required=True, help="export folder or its model.onnx")
    p.add_argument("--out", required=True, type=Path, help="output .xml (the .bin is written beside it)")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=builder_precisions("convert"),
        help="fp32 (default) or fp16 (FP16-compressed weights; OpenVINO CPU computes in f32)",
    )
    p.add_argument("--extension", help="the OpenVINO extension library (default: found as `fuse` finds it)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.atomic import refuse_overwriting_inputs
    from mgdn_edge.export.artefacts import IR_XML, ir_weights
    from mgdn_edge.runtimes.backends import get_backend
    from mgdn_edge.runtimes.base import export_folder_files, resolve_onnx_path
    from mgdn_edge.runtimes.build_contract import BuildRequest
    from mgdn_edge.runtimes.openvino_convert import ConvertOptions, describe_ir

    builder = get_backend(builder_runtime(args, "convert")).builder("convert")
    source = resolve_onnx_path(args.model)  # also checks it against its manifest
    xml = args.out / IR_XML if args.out.is_dir() else args.out
    refuse_overwriting_inputs(
        [("--out", xml), ("--out", ir_weights(xml))],
        [*export_folder_files(source), args.extension],
    )
    request = BuildRequest(Path(args.model), args.out, args.precision, ConvertOptions(args.extension))
    out = builder.build(request).path
    print(f"wrote {out} ({args.precision}, {describe_ir(out, args.extension)})")
    return 0
