"""``mgdn-edge parity``: a backend against the PyTorch reference, JSON report, exit 1 on a broken budget.

The reference is a checkpoint run in PyTorch, or the PyTorch outputs stored with their inputs in
a ``.npz`` (``--save-reference`` writes one where torch is installed): a box that runs only
OpenVINO or ONNX Runtime checks its models against that file without installing torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mgdn_edge.cli_args import add_data, add_json_out, add_precision, add_runtime, add_seed, add_task

if TYPE_CHECKING:
    from mgdn_edge.model.config import MGDNConfig
    from mgdn_edge.runtimes.base import Runtime
    from mgdn_edge.runtimes.parity import Case, RunResults


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "parity",
        help="compare a runtime with the PyTorch reference (JSON report; exit 1 when a budget is broken)",
    )
    add_runtime(p, required=True)
    p.add_argument("--model", required=True, help="the model that runtime loads (e.g. export_dir/model.onnx)")
    p.add_argument(
        "--reference",
        help="PyTorch checkpoint for the reference (default: the export manifest's source checkpoint), "
        "or a .npz of stored reference outputs with their inputs (from --save-reference; needs no torch)",
    )
    p.add_argument(
        "--save-reference",
        metavar="NPZ",
        help="also store the cases and the checkpoint's outputs in NPZ, for --reference NPZ elsewhere",
    )
    add_task(p)
    add_precision(p, what="to run and budget to judge by")
    p.add_argument("--inputs", nargs="+", metavar="NPZ", help=".npz files with the task's inputs")
    add_data(p, "image data: a folder (MFF/MEF/GDSR pairs, Kalantari HDR scenes)", " (HDR, MEF)")
    p.add_argument("--crop", metavar="HxW", help="random crops of --data (default: full frames)")
    p.add_argument("--samples", type=int, help="number of samples drawn from --data (default: one per item)")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="HxW",
        help="synthetic inputs at these sizes (default 64x64 61x75)",
    )
    p.add_argument("--batch", type=int, default=1, help="batch size of synthetic inputs")
    add_seed(p, "seed of the synthetic inputs and crops")
    p.add_argument("--threads", type=int, help="threads for the runtime under test")
    add_json_out(p, "the report (also printed)")
    p.set_defaults(handler=run)


def reference_checkpoint(model: str, explicit: str | None) -> Path:
    """The reference checkpoint: explicit, a .pth model itself, or the manifest's (sha256-checked)."""
    from mgdn_edge.errors import BackendError
    from mgdn_edge.export.artefacts import CHECKPOINT_SUFFIXES, ONNX_SUFFIX, sha256_file
    from mgdn_edge.runtimes.base import read_manifest, resolve_onnx_path

    if explicit:
        return Path(explicit)
    if Path(model).suffix.lower() in CHECKPOINT_SUFFIXES:
        return Path(model)
    if not Path(model).is_dir() and Path(model).suffix.lower() != ONNX_SUFFIX:
        raise BackendError(f"{Path(model).name} names no source checkpoint: pass --reference CKPT")
    manifest = read_manifest(resolve_onnx_path(model))
    source = manifest.source_checkpoint if manifest else None
    if source is None:
        raise BackendError(
            "no reference checkpoint: pass --reference CKPT (the model has no manifest naming one)"
        )
    path = Path(source.path)
    if not path.is_file():
        raise BackendError(f"the manifest's source checkpoint {path} is missing; pass --reference CKPT")
    if sha256_file(path) != source.sha256:
        raise BackendError(f"{path} is not the checkpoint this model was exported from (sha256 differs)")
    return path


def _cases(args: argparse.Namespace, config: MGDNConfig, task: str) -> list[Case]:
    """The cases ``--inputs``, ``--data`` and ``--sizes`` ask for (seeded synthetic ones by default)."""
    from mgdn_edge.runtimes.parity import Case, npz_cases, synthetic_cases
    from mgdn_edge.size import parse_sizes

    cases = npz_cases(args.inputs, config) if args.inputs else []
    if args.data:
        from mgdn_edge.calibration import open_source

        source = open_source(task, args.data, crop=args.crop, samples=args.samples, seed=args.seed)
        cases += [Case(sample.name, sample.inputs) for sample in source]
    if args.sizes or not (args.inputs or args.data):
        sizes = parse_sizes(args.sizes or ["64x64", "61x75"])
        cases += synthetic_cases(config, sizes, batch=args.batch, seed=args.seed)
    return cases


def _stored_reference(args: argparse.Namespace, runtime: Runtime) -> tuple[RunResults, list[Case]]:
    """The reference results and cases of ``--reference REF.npz``: its stored outputs and their inputs."""
    from mgdn_edge.errors import InputError
    from mgdn_edge.runtimes.parity import read_stored_split

    extra = [
        flag
        for flag, value in (
            ("--inputs", args.inputs),
            ("--data", args.data),
            ("--sizes", args.sizes),
            ("--save-reference", args.save_reference),
        )
        if value
    ]
    if extra:
        raise InputError(f"--reference {args.reference} brings its own inputs: drop {', '.join(extra)}")
    cases, reference, _ = read_stored_split(args.reference, runtime.config)
    return reference, cases


def _checkpoint_reference(args: argparse.Namespace, task: str) -> tuple[RunResults, list[Case]]:
    """PyTorch's results on the cases the flags ask for (stored to ``--save-reference`` if given)."""
    from mgdn_edge.extras import require
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.parity import run_cases, write_stored_split

    checkpoint = reference_checkpoint(args.model, args.reference)
    require(
        "torch",
        f"mgdn-edge parity against the checkpoint {checkpoint.name} "
        "(stored outputs, --reference REF.npz, need no torch)",
    )
    torch_runtime = open_runtime("torch", checkpoint, task=task)
    cases = _cases(args, torch_runtime.config, task)
    reference = run_cases(torch_runtime, cases)
    if args.save_reference:
        print(f"wrote {write_stored_split(args.save_reference, cases, reference)}", file=sys.stderr)
    return reference, cases


def run(args: argparse.Namespace) -> int:
    import json

    from mgdn_edge.atomic import write_text_or_stdout
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.budgets import budget_for
    from mgdn_edge.runtimes.parity import compare, run_cases

    runtime = open_runtime(
        args.runtime, args.model, task=args.task, precision=args.precision, threads=args.threads
    )
    precision = runtime.describe()["precision"]
    task = args.task or runtime.config.task
    budget = budget_for(precision, task)
    if args.reference and Path(args.reference).suffix.lower() == ".npz":
        reference, cases = _stored_reference(args, runtime)
    else:
        reference, cases = _checkpoint_reference(args, task)
    result = compare(run_cases(runtime, cases), reference, budget)
    text = json.dumps(result.report(precision), indent=2)
    print(text)
    if args.json_out and args.json_out != "-":  # '-': the report printed above is the JSON
        write_text_or_stdout(args.json_out, text + "\n")
    return 0 if result.passed else 1
