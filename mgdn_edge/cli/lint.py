"""``mgdn-edge lint --tensorrt VERSION MODEL``: will that release's ONNX parser take this graph?

Checked from the parser tables (:mod:`mgdn_edge.export.trt_lint`), so it runs anywhere, before a
TensorRT install or a GPU is involved: every node the release would fail on, or route away from
the DynamicFilter plugin, is named on one ``error:`` line (exit 2).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lint",
        help="check an ONNX file against a TensorRT release's ONNX parser (ops, plugin routing)",
        description="Exit 0 when TensorRT VERSION's ONNX parser imports every node and maps every "
        "mgdn.DynamicFilter onto the plugin; exit 2 naming each node it would fail on or route elsewhere.",
    )
    p.add_argument(
        "--tensorrt",
        required=True,
        metavar="VERSION",
        action="append",
        help="TensorRT release, e.g. 8.5, 10.3 or 10.3.0.26 (repeat for several)",
    )
    p.add_argument(
        "--no-plugin",
        action="store_true",
        help="check a build without the plugin library (DynamicFilter through its ONNX function)",
    )
    p.add_argument("model", help="the .onnx file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.export.trt_lint import check_tensorrt

    for version in args.tensorrt:
        print(f"ok: {check_tensorrt(args.model, version, plugin=not args.no_plugin).message()}")
    return 0
