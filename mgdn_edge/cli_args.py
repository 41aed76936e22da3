"""Command-line flags that several commands share, each declared once with its default constant.

Values are parsed in the handlers (:func:`timing_options`), not by argparse ``type=`` hooks, so a
bad value is the toolkit's one-line ``error:`` with status 2 like every other input error.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mgdn_edge.bench import DEFAULT_REPEATS, DEFAULT_SEED, DEFAULT_SIZES, DEFAULT_TIMEOUT_S, DEFAULT_WARMUP
from mgdn_edge.errors import InputError
from mgdn_edge.model.config import TASKS
from mgdn_edge.size import parse_sizes


def add_task(parser: argparse.ArgumentParser, help: str = "the task (default: read from the model)") -> None:  # noqa: A002
    parser.add_argument("--task", choices=TASKS, help=help)


def add_seed(parser: argparse.ArgumentParser, help: str) -> None:  # noqa: A002
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"{help} (default {DEFAULT_SEED})")


def add_timing(parser: argparse.ArgumentParser) -> None:
    """``--sizes --warmup --repeats --threads --timeout``: how a benchmark measures."""
    sizes = " ".join(str(s) for s in DEFAULT_SIZES)
    parser.add_argument(
        "--sizes", nargs="+", default=[str(s) for s in DEFAULT_SIZES], metavar="HxW", help=f"default {sizes}"
    )
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed runs per size (default {DEFAULT_WARMUP})"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"timed runs per size (default {DEFAULT_REPEATS})",
    )
    parser.add_argument("--threads", type=int, help="threads for every runtime (default: the CPU count)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds allowed per worker (build or measurement; default {DEFAULT_TIMEOUT_S:.0f})",
    )


def timing_options(args: argparse.Namespace) -> dict[str, Any]:
    """The checked values of :func:`add_timing`'s flags (threads resolved to the CPU count)."""
    if args.warmup < 0 or args.repeats < 1:
        raise InputError(f"need --warmup >= 0 and --repeats >= 1, got {args.warmup} and {args.repeats}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    if not args.timeout > 0:
        raise InputError(f"--timeout must be > 0 seconds, got {args.timeout}")
    return {
        "sizes": parse_sizes(args.sizes),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "threads": args.threads or os.cpu_count() or 1,
    }
