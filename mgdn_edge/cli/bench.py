"""``mgdn-edge bench``: latency (p50/p90), threads and peak memory of one runtime + model.

Each measured runtime runs in its own worker process (see :mod:`mgdn_edge.pipeline.bench` for why); with
``--reference CKPT`` the PyTorch FP32 reference is measured the same way right after, so the
speed-up printed is a ratio of two measurements from one run. ``--profile`` adds a table of
where the time of the largest size goes, per layer type and kernel (:mod:`mgdn_edge.runtimes.layer_profile`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgdn_edge.cli.args import (
    add_json_out,
    add_precision,
    add_runtime,
    add_seed,
    add_task,
    add_timing,
    timing_options,
)
from mgdn_edge.core.atomic import write_text_or_stdout
from mgdn_edge.core.results import Measurement


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark one runtime/model: warm-up, repeated runs, p50/p90 latency, threads, peak memory",
    )
    add_runtime(p, required=True)
    p.add_argument("--model", required=True, help="the model that runtime loads (.pth, .onnx, .xml, .engine)")
    add_precision(p)
    add_task(p)
    add_timing(p)
    p.add_argument(
        "--reference", metavar="CKPT", help="also measure the PyTorch FP32 reference and print the speed-up"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, profile --repeats more runs of the largest size and print the time "
        "per layer type and kernel (openvino, onnxruntime, torch)",
    )
    add_seed(p, "seed of the synthetic inputs")
    add_json_out(p, "the measurements")
    p.set_defaults(handler=run)


def format_rows(result: Measurement, reference: Measurement | None = None) -> list[str]:
    """Human-readable lines: one per size, with the speed-up over the reference where measured."""
    ref = {tuple(r.size): r.p50_ms for r in (reference.bench if reference else [])}
    desc = result.describe
    lines = [
        f"{desc.get('runtime')} {desc.get('precision')} on {desc.get('provider')}, "
        f"threads {desc.get('threads')}, load {result.load.seconds:.2f} s; "
        f"memory: {result.memory_method}",
        f"{'size':>11} {'p50 ms':>10} {'p90 ms':>10} {'peak MB':>9} {'+MB':>8} {'vs torch':>9}",
    ]
    for row in result.bench:
        size = tuple(row.size)
        speedup = f"{ref[size] / row.p50_ms:.2f}x" if size in ref else "-"
        peak = float("nan") if row.peak_rss_mb is None else row.peak_rss_mb
        delta = "-" if row.peak_delta_mb is None else f"{row.peak_delta_mb:.1f}"
        lines.append(
            f"{size[0]:>5}x{size[1]:<5} {row.p50_ms:>10.1f} {row.p90_ms:>10.1f} {peak:>9.1f} "
            f"{delta:>8} {speedup:>9}"
        )
    return lines


def format_profile(result: Measurement) -> list[str]:
    """The layer-time table of a profiled measurement (nothing when it was not profiled)."""
    from mgdn_edge.runtimes.layer_profile import format_layer_table, profiled_row

    if result.layer_times is None:
        return []
    row = profiled_row(result.bench)
    runs = result.job.get("repeats")
    if row is None:
        return format_layer_table(result.layer_times)
    title = f"layer profile at {row.size[0]}x{row.size[1]}: per run, mean of {runs} runs after the timed ones"
    return format_layer_table(result.layer_times, row.p50_ms, title)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.core.errors import InputError
    from mgdn_edge.pipeline.bench import BenchJob, run_job_isolated

    common = timing_options(args)
    if args.profile:
        from mgdn_edge.runtimes.layer_profile import check_profiled

        check_profiled(args.runtime, args.model)
    if not Path(args.model).exists():
        raise InputError(f"model not found: {args.model}")
    if args.reference:  # before the main measurement, not after it
        from mgdn_edge.core.extras import require

        require("torch", "mgdn-edge bench --reference (the PyTorch FP32 reference)")
    common.update(seed=args.seed, task=args.task)
    options = {"profile": True} if args.profile else {}
    job = BenchJob(
        runtime=args.runtime, model=str(args.model), precision=args.precision, options=options, **common
    )
    result = run_job_isolated(job, timeout_s=args.timeout)
    reference = None
    if args.reference:
        if not Path(args.reference).is_file():
            raise InputError(f"reference checkpoint not found: {args.reference}")
        ref_job = BenchJob(runtime="torch", model=str(args.reference), precision="fp32", **common)
        reference = run_job_isolated(ref_job, timeout_s=args.timeout)
    print("\n".join(format_rows(result, reference) + format_profile(result)))
    if args.json_out:
        out = {"result": result.to_dict(), "reference": reference.to_dict() if reference else None}
        write_text_or_stdout(args.json_out, json.dumps(out, indent=2, default=str) + "\n")
    return 0
