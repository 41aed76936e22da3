"""``mgdn-edge fuse``: run a model on image files and write the fused image (and the raw output)."""

from __future__ import annotations

import argparse
from pathlib import Path

TASK_HELP = (
    "mff/mef: A B | hdr: UNDER REF OVER (+ --exposures) or one Kalantari scene folder | gdsr: RGB DEPTH"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fuse", help="fuse input images with a model on a chosen runtime")
    p.add_argument("--task", required=True, choices=["mff", "mef", "hdr", "gdsr"])
    p.add_argument(
        "--model", required=True, help="checkpoint (.pth) for torch; exported model for other runtimes"
    )
    p.add_argument(
        "--runtime",
        default="auto",
        help="torch, onnxruntime, openvino, tensorrt; auto (default) picks by the model file's suffix",
    )
    p.add_argument(
        "--precision", default="fp32", help="fp32 (default), fp16, bf16, int8 where the runtime has it"
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=TASK_HELP)
    p.add_argument("--exposures", nargs=3, type=float, metavar="EV", help="HDR: exposure values in stops")
    p.add_argument(
        "-o", "--output", required=True, help="output image (.png/.jpg/.tif; HDR also .hdr; GDSR .npy)"
    )
    p.add_argument("--raw", help="also save the network's float32 HxWxC output as .npy (for parity checks)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from mgdn_edge.imageio import from_nchw
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.tasks import postprocess, prepare_inputs, save_output

    prepared = prepare_inputs(args.task, args.inputs, args.exposures)
    runtime = open_runtime(args.runtime, args.model, task=args.task, precision=args.precision)
    output = from_nchw(runtime.run(prepared.inputs))
    if args.raw:
        Path(args.raw).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.raw, output)
    save_output(args.task, args.output, postprocess(prepared, output), prepared.depth_range)
    print(f"wrote {args.output} ({output.shape[1]}x{output.shape[0]}, runtime {runtime.name})")
    return 0
