"""``mgdn-edge report``: rebuild report.md / report.html / report.json / pareto.png from results,
and add rows for runs made on a device by the native runner (``--device RUN.json``), judged here."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="(re)build the trade-off report (markdown, self-contained HTML, JSON, Pareto plot) from results",
    )
    p.add_argument(
        "results",
        nargs="?",
        metavar="RESULTS.json",
        help="results.json written by `mgdn-edge pipeline` (or a report.json); optional with --device",
    )
    p.add_argument("--out", required=True, help="folder for report.md, report.html, report.json, pareto.png")
    device = p.add_argument_group("device runs (mgdn-fuse --json on a Jetson or another device)")
    device.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="RUN.json",
        help="a run record written by `mgdn-fuse --raw OUT.npy --json RUN.json`, copied back with its files; "
        "its raw output is judged here against PyTorch by the budget of its precision and it gets a row "
        "named RUNTIME-PRECISION@DEVICE (repeatable). Exit 1 when one is over budget",
    )
    device.add_argument(
        "--reference",
        metavar="CKPT",
        help="PyTorch checkpoint the device runs are judged against (default: the results' model checkpoint)",
    )
    device.add_argument(
        "--inputs-dir",
        action="append",
        default=[],
        metavar="FOLDER",
        help="where the inputs the device read are on this PC, if not beside the record (matched by sha256)",
    )
    device.add_argument(
        "--precision", help="judge device runs by this precision's budget (default: the one in the record)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgdn_edge.core.errors import InputError
    from mgdn_edge.report import load_results, write_report
    from mgdn_edge.report.device_report import add_device_runs

    if args.results is None and not args.device:
        raise InputError("give RESULTS.json, --device RUN.json, or both")
    results = load_results(args.results) if args.results else None
    passed = True
    if args.device:
        results, lines, passed = add_device_runs(
            results,
            args.device,
            reference=args.reference,
            precision=args.precision,
            search=[Path(d) for d in args.inputs_dir],
        )
        print("\n".join(lines))
    assert results is not None
    paths = write_report(results, args.out)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0 if passed else 1
