"""``mgdn-edge report``: rebuild report.md / report.html / report.json / pareto.png from results."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="(re)build the trade-off report (markdown, self-contained HTML, JSON, Pareto plot) from results",
    )
    p.add_argument("results", metavar="RESULTS.json", help="results.json written by `mgdn-edge pipeline`")
    p.add_argument("--out", required=True, help="folder for report.md, report.html, report.json, pareto.png")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.report import load_results, write_report

    paths = write_report(load_results(args.results), args.out)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
