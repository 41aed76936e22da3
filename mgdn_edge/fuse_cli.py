"""``mgdn-edge fuse``: run a model on image files and write the fused image (and the raw output).

HDR writes two files from one run: the linear radiance (Radiance ``.hdr``, or ``.exr`` if asked)
and a mu-law tonemapped 8-bit image (``.png``, or ``.jpg``/``.tif`` if asked), with the same stem;
``-o`` names either one and the other lands beside it.

Large images run in overlapping tiles (:mod:`mgdn_edge.tiling`) when their estimated working
memory exceeds ``--max-memory`` (default 2048 MB; 0 never tiles), or with an explicit ``--tile``.
A model exported for a fixed size runs tiles of that size on any larger image.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgdn_edge.cli_args import add_precision, add_quiet, add_runtime, add_task

if TYPE_CHECKING:
    from mgdn_edge.runtimes.base import Runtime

TASK_HELP = (
    "mff/mef: A B | hdr: UNDER REF OVER (+ --exposures) or one Kalantari scene folder | gdsr: RGB DEPTH; "
    "or one folder of items (A/ + B/, rgb/ + depth/, or HDR scene folders) with --out FOLDER"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fuse", help="fuse input images with a model on a chosen runtime")
    add_task(p, "what the inputs are (see INPUT)", required=True)
    p.add_argument(
        "--model", required=True, help="checkpoint (.pth) for torch; exported model for other runtimes"
    )
    add_runtime(p)
    add_precision(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=TASK_HELP)
    p.add_argument("--exposures", nargs=3, type=float, metavar="EV", help="HDR: exposure values in stops")
    p.add_argument(
        "--out",
        "-o",
        "--output",
        dest="out",
        metavar="OUT",
        help="output image (.png/.jpg/.tif; GDSR .npy; optional with --raw). HDR writes both OUT.hdr "
        "(linear radiance; or .exr) and OUT.png (mu-law tonemapped; or .jpg/.tif): name either one. "
        "-o and --output are accepted spellings",
    )
    p.add_argument("--raw", help="also save the network's float32 HxWxC output as .npy (for parity checks)")
    add_quiet(p, "no progress bar (folder input)")
    tiling = p.add_argument_group("tiling (large images)")
    tiling.add_argument(
        "--tile", metavar="HxW", help="run in tiles of this size (N or HxW pixels) instead of whole"
    )
    tiling.add_argument(
        "--overlap",
        type=int,
        metavar="PX",
        help="pixels shared by neighbouring tiles (default 32, less where a small tile needs it)",
    )
    tiling.add_argument(
        "--max-memory",
        type=float,
        default=2048.0,
        metavar="MB",
        help="tile automatically when the estimated working memory exceeds this (default 2048; 0: never)",
    )
    p.set_defaults(handler=run)


def _runner(args: argparse.Namespace, runtime: Runtime) -> Callable[[Any], Any]:
    """prepared inputs -> NCHW output: whole, or in tiles when asked or over --max-memory."""
    from mgdn_edge.size import Size
    from mgdn_edge.tiling import plan_tiles, run_tiled

    tile = Size.parse(args.tile, "tile size", square=True) if args.tile else None

    def run(prepared: Any) -> Any:
        h, w = prepared.inputs[0].shape[2:]
        plan = plan_tiles(
            h,
            w,
            runtime.config,
            tile=tile,
            overlap=args.overlap,
            max_memory_mb=args.max_memory,
            static_size=runtime.static_size,
        )
        if plan.grid is None:
            return runtime.run(prepared.inputs)
        g = plan.grid
        rows, cols = g.shape
        print(
            f"tiling: {rows}x{cols} tiles of {min(g.tile_h, h)}x{min(g.tile_w, w)} (HxW), "
            f"overlap {g.overlap} px ({plan.reason}); MGCA attention is global, so tiles differ "
            "slightly from a whole-image run",
            file=sys.stderr,
        )
        return run_tiled(runtime.run, prepared.inputs, g, progress=sys.stderr.isatty())

    return run


def _say_precision_choice(args: argparse.Namespace, runtime: Any) -> None:
    """With ``--precision auto``, one line on stderr: what runs, and why."""
    if args.precision == "auto":
        info = runtime.describe()
        why = info.get("precision_choice") or "the model file's own precision"
        print(f"precision auto: {info.get('precision')} ({why})", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.atomic import refuse_overwriting_inputs
    from mgdn_edge.errors import InputError
    from mgdn_edge.fuse_batch import fuse_folder, is_batch_folder
    from mgdn_edge.imageio import from_nchw
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.tasks import plan_outputs, postprocess, prepare_inputs, write_fused

    if not (args.out or args.raw):
        raise InputError("nothing to write: give -o OUT (--out, the image) and/or --raw OUT.npy")
    if args.max_memory < 0:
        raise InputError(f"--max-memory must be >= 0 MB (0 never tiles), got {args.max_memory:g}")
    if is_batch_folder(args.task, args.inputs):
        if args.raw or args.exposures or not args.out:
            raise InputError(
                "a folder input takes --out FOLDER only (one output per item; HDR exposures come from "
                "each scene's exposure.txt)"
            )
        runtime = open_runtime(args.runtime, args.model, task=args.task, precision=args.precision)
        _say_precision_choice(args, runtime)
        summary = fuse_folder(
            args.task, Path(args.inputs[0]), Path(args.out), _runner(args, runtime), progress=not args.quiet
        )
        print("\n".join(summary.lines()))
        return 2 if summary.failed else 0
    # Every output is checked before the network runs; inputs (the images, the model) are never
    # overwritten, and all outputs appear together at the end or none does.
    sources = [Path(p) for p in args.inputs] + [Path(args.model)]
    outputs = plan_outputs(args.task, args.out, args.raw, sources)
    prepared = prepare_inputs(args.task, args.inputs, args.exposures)
    refuse_overwriting_inputs([("--out", p) for p in outputs.paths], prepared.sources)  # scene files
    runtime = open_runtime(args.runtime, args.model, task=args.task, precision=args.precision)
    _say_precision_choice(args, runtime)
    output = from_nchw(_runner(args, runtime)(prepared))
    image = postprocess(prepared, output) if args.out else None
    written = write_fused(outputs, output, image, prepared.depth_range)
    shown = " + ".join(str(p) for p in written)
    print(f"wrote {shown} ({output.shape[1]}x{output.shape[0]}, runtime {runtime.name})")
    return 0
