"""``mgdn-edge bench``: latency (p50/p90), threads and peak memory of one runtime + model.

Each measured runtime runs in its own worker process (see :mod:`mgdn_edge.bench` for why); with
``--reference CKPT`` the PyTorch FP32 reference is measured the same way right after, so the
speed-up printed is a ratio of two measurements from one run.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark one runtime/model: warm-up, repeated runs, p50/p90 latency, threads, peak memory",
    )
    p.add_argument("--runtime", required=True, help="torch, onnxruntime, openvino, tensorrt or auto")
    p.add_argument("--model", required=True, help="the model that runtime loads (.pth, .onnx, .xml, .engine)")
    p.add_argument("--precision", default="fp32", help="fp32 (default), fp16, bf16 or int8")
    p.add_argument("--task", choices=["mff", "mef", "hdr", "gdsr"])
    p.add_argument(
        "--sizes", nargs="+", default=["128x128", "256x256"], metavar="HxW", help="default 128x128 256x256"
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per size (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per size (default 5)")
    p.add_argument("--threads", type=int, help="threads for the runtime (default: the CPU count)")
    p.add_argument(
        "--reference", metavar="CKPT", help="also measure the PyTorch FP32 reference and print the speed-up"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic inputs")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per measured runtime")
    p.add_argument("--json", dest="json_out", help="write the measurements to this file")
    p.set_defaults(handler=run)


def format_rows(result: dict, reference: dict | None = None) -> list[str]:
    """Human-readable lines: one per size, with the speed-up over the reference where measured."""
    ref = {tuple(r["size"]): r["p50_ms"] for r in (reference or {}).get("bench", [])}
    desc = result["describe"]
    lines = [
        f"{desc.get('runtime')} {desc.get('precision')} on {desc.get('provider')}, "
        f"threads {desc.get('threads')}, load {result['load']['seconds']:.2f} s; "
        f"memory: {result['memory_method']}",
        f"{'size':>11} {'p50 ms':>10} {'p90 ms':>10} {'peak MB':>9} {'+MB':>8} {'vs torch':>9}",
    ]
    for row in result["bench"]:
        size = tuple(row["size"])
        speedup = f"{ref[size] / row['p50_ms']:.2f}x" if size in ref else "-"
        delta = row.get("peak_delta_mb")
        lines.append(
            f"{size[0]:>5}x{size[1]:<5} {row['p50_ms']:>10.1f} {row['p90_ms']:>10.1f} "
            f"{row.get('peak_rss_mb', float('nan')):>9.1f} "
            f"{'-' if delta is None else f'{delta:.1f}':>8} {speedup:>9}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from mgdn_edge.bench import BenchJob, parse_sizes, run_job_isolated
    from mgdn_edge.errors import InputError

    if args.warmup < 0 or args.repeats < 1:
        raise InputError(f"need --warmup >= 0 and --repeats >= 1, got {args.warmup} and {args.repeats}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    if not Path(args.model).exists():
        raise InputError(f"model not found: {args.model}")
    threads = args.threads or os.cpu_count() or 1
    common = {
        "sizes": parse_sizes(args.sizes),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "threads": threads,
        "seed": args.seed,
        "task": args.task,
    }
    job = BenchJob(runtime=args.runtime, model=str(args.model), precision=args.precision, **common)
    result = run_job_isolated(job, timeout_s=args.timeout)
    reference = None
    if args.reference:
        if not Path(args.reference).is_file():
            raise InputError(f"reference checkpoint not found: {args.reference}")
        ref_job = BenchJob(runtime="torch", model=str(args.reference), precision="fp32", **common)
        reference = run_job_isolated(ref_job, timeout_s=args.timeout)
    print("\n".join(format_rows(result, reference)))
    if args.json_out:
        out = {"result": result, "reference": reference}
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    return 0
