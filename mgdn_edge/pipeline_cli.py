"""``mgdn-edge pipeline``: export, build every variant available here, check parity, time, report."""

from __future__ import annotations

import argparse
from pathlib import Path


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
    p.add_argument(
        "--data",
        default="synthetic:24",
        help="calibration/evaluation data: a folder (Kalantari HDR scenes, MFF/MEF/GDSR pairs) or "
        "synthetic:N (default synthetic:24)",
    )
    p.add_argument(
        "--crop", default="128x128", help="crop of each data item, HxW or 'full' (default 128x128)"
    )
    p.add_argument("--calib", type=int, help="calibration items (default: up to 16, two thirds of the data)")
    p.add_argument("--eval", type=int, help="evaluation items, disjoint from them (default: up to 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, crops and synthetic scenes")
    p.add_argument("--out", default="mgdn-edge-out", help="output folder (default ./mgdn-edge-out)")
    p.add_argument(
        "--runtimes",
        nargs="+",
        metavar="NAME",
        help="runtimes (torch onnxruntime openvino tensorrt) or variants (e.g. ort-int8 ov-bf16); "
        "default: all. The PyTorch reference is always included.",
    )
    p.add_argument(
        "--sizes", nargs="+", default=["128x128", "256x256"], metavar="HxW", help="benchmark sizes"
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per size (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per size (default 5)")
    p.add_argument("--threads", type=int, help="threads for every runtime (default: the CPU count)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per build / measurement")
    p.add_argument(
        "--no-verify", action="store_true", help="skip the exporter's ONNX Runtime vs PyTorch check"
    )
    p.add_argument("--force", action="store_true", help="redo every step instead of reusing finished ones")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.bench import parse_sizes
    from mgdn_edge.errors import InputError
    from mgdn_edge.pipeline import PipelineOptions, run_pipeline

    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    options = PipelineOptions(
        model=Path(args.model) if args.model else None,
        data=args.data,
        crop=None if args.crop.lower() == "full" else args.crop,
        calib=args.calib,
        eval=args.eval,
        seed=args.seed,
        out=Path(args.out),
        runtimes=args.runtimes,
        sizes=parse_sizes(args.sizes),
        warmup=args.warmup,
        repeats=args.repeats,
        threads=args.threads,
        force=args.force,
        progress=not args.quiet,
        timeout_s=args.timeout,
        verify_export=not args.no_verify,
    )
    results = run_pipeline(options)
    counts = {s: sum(v["status"] == s for v in results["variants"]) for s in ("ok", "failed", "skipped")}
    out = options.out
    print(
        f"{counts['ok']} variants measured, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {results['wall_s']:.0f} s; report: {out / 'report.html'} (also report.md, report.json)"
    )
    for v in results["variants"]:
        if v["status"] != "ok":
            print(f"  {v['name']}: {v['status']}: {v['reason']}")
    return 0
