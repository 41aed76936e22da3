"""``mgdn-edge pipeline``: export, build every variant available here, check parity, time, report."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgdn_edge.cli.args import add_data, add_quiet, add_seed, add_timing, timing_options
from mgdn_edge.pipeline.state import DEFAULT_CROP, DEFAULT_DATA, DEFAULT_OUT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="export + build every runtime/precision variant, parity-check and time each, write the report",
        description=(
            "With no arguments: the bundled demo HDR model on synthetic HDR brackets, every variant this "
            "machine can build, report in ./mgdn-edge-out. Re-running reuses finished steps."
        ),
    )
    p.add_argument("--model", help="PyTorch checkpoint (.pth); default: the bundled demo HDR model")
    add_data(
        p,
        "calibration/evaluation data: a folder (Kalantari HDR scenes, MFF/MEF/GDSR pairs)",
        f" (default {DEFAULT_DATA})",
        default=DEFAULT_DATA,
    )
    p.add_argument(
        "--crop", default=DEFAULT_CROP, help=f"crop of each data item, HxW or 'full' (default {DEFAULT_CROP})"
    )
    p.add_argument("--calib", type=int, help="calibration items (default: up to 16, two thirds of the data)")
    p.add_argument("--eval", type=int, help="evaluation items, disjoint from them (default: up to 8)")
    add_seed(p, "seed of the split, crops and synthetic scenes")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument(
        "--runtimes",
        nargs="+",
        metavar="NAME",
        help="runtimes (torch onnxruntime openvino tensorrt) or variants (e.g. ort-int8 ov-bf16); "
        "default: all. The PyTorch reference is always included.",
    )
    add_timing(p)
    p.add_argument(
        "--no-verify", action="store_true", help="skip the exporter's ONNX Runtime vs PyTorch check"
    )
    p.add_argument("--force", action="store_true", help="redo every step instead of reusing finished ones")
    add_quiet(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.core.extras import require

    require("torch", "mgdn-edge pipeline")  # it exports, and its reference is the PyTorch model
    from mgdn_edge.pipeline import PipelineOptions, run_pipeline

    options = PipelineOptions(
        model=Path(args.model) if args.model else None,
        data=args.data,
        crop=None if args.crop.lower() == "full" else args.crop,
        calib=args.calib,
        eval=args.eval,
        seed=args.seed,
        out=Path(args.out),
        runtimes=args.runtimes,
        force=args.force,
        progress=not args.quiet,
        timeout_s=args.timeout,
        verify_export=not args.no_verify,
        **timing_options(args),
    )
    results = run_pipeline(options)
    counts = {s: sum(v.status == s for v in results.variants) for s in ("ok", "failed", "skipped")}
    print(
        f"{counts['ok']} variants measured, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {results.wall_s:.0f} s; report: {options.out / 'report.html'} (also report.md, report.json)"
    )
    for v in results.variants:
        if not v.ok:
            print(f"  {v.name}: {v.status}: {v.reason}")
    return 0
