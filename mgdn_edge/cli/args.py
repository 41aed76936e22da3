"""Command-line flags that several commands share, each declared once with its default constant.

Values are parsed in the handlers (:func:`timing_options`), not by argparse ``type=`` hooks, so a
bad value is the toolkit's one-line ``error:`` with status 2 like every other input error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.precision import PRECISIONS
from mgdn_edge.core.size import parse_sizes
from mgdn_edge.model.config import TASKS
from mgdn_edge.pipeline.bench import (
    DEFAULT_REPEATS,
    DEFAULT_SEED,
    DEFAULT_SIZES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WARMUP,
)
from mgdn_edge.runtimes.backends import backend_names


class _DeprecatedSpelling(argparse.Action):
    """An old flag spelling kept for one release: hidden from ``--help``, it sets the new flag's
    value (through ``values``, which maps old value spellings to new ones) and says so on stderr."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, new: str, values: Mapping[str, str], **kw: Any
    ):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kw)
        self.new, self.renamed = new, values

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, flag: Any = None
    ):
        value = True if self.nargs == 0 else self.renamed.get(value, value)
        shown = "" if self.nargs == 0 else f" {value}"
        print(
            f"warning: {flag} is deprecated and goes in the next release; use {self.new}{shown}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, value)


def add_deprecated_spelling(
    parser: argparse.ArgumentParser,
    old: str,
    new: str,
    dest: str,
    flag: bool = False,
    values: Mapping[str, str] | None = None,
) -> None:
    """Accept ``old`` (hidden) as a deprecated spelling of ``new``, which stores into ``dest``;
    ``flag``: a store-true option. ``values`` renames old value spellings (``onnx`` -> ``onnxruntime``)."""
    parser.add_argument(
        old,
        dest=dest,
        action=_DeprecatedSpelling,
        new=new,
        values=values or {},
        nargs=0 if flag else None,
        default=argparse.SUPPRESS,
    )


def add_quiet(parser: argparse.ArgumentParser, what: str = "no progress bars") -> None:
    """``--quiet``: no progress bars (``--no-progress``: its deprecated spelling)."""
    parser.add_argument("--quiet", action="store_true", help=what)
    add_deprecated_spelling(parser, "--no-progress", "--quiet", "quiet", flag=True)


def add_builder_runtime(parser: argparse.ArgumentParser, kind: str, old: str) -> None:
    """``--runtime R``: the backend a ``kind`` builder ("convert", "quantize") makes a file for,
    named as every other command names runtimes (an alias works too); ``old`` is the flag's
    deprecated spelling, whose value ``onnx`` means onnxruntime. Required, checked by
    :func:`builder_runtime` so that the old spelling counts."""
    from mgdn_edge.runtimes.backends import builders

    names = sorted(builders(kind))
    parser.add_argument("--runtime", help=f"the runtime to build for: {', '.join(names)} (or an alias)")
    add_deprecated_spelling(parser, old, "--runtime", "runtime", values={"onnx": "onnxruntime"})


def builder_precisions(kind: str) -> list[str]:
    """Every precision some ``kind`` builder writes, as the backend records list them."""
    from mgdn_edge.runtimes.backends import builders

    found = {str(p): None for _, builder in builders(kind).values() for p in builder.precisions}
    return list(found)


def builder_runtime(args: argparse.Namespace, kind: str) -> str:
    """The backend name ``--runtime`` (or its old spelling) chose for a ``kind`` builder."""
    from mgdn_edge.runtimes.backends import builders, get_backend

    names = sorted(builders(kind))
    if not getattr(args, "runtime", None):
        raise InputError(f"the following arguments are required: --runtime ({', '.join(names)})")
    name = get_backend(args.runtime).name
    if name not in names:
        raise InputError(f"--runtime {args.runtime}: {kind} builds for {', '.join(names)} only")
    return name


def add_task(
    parser: argparse.ArgumentParser,
    help: str = "the task (default: read from the model)",  # noqa: A002
    required: bool = False,
) -> None:
    parser.add_argument("--task", choices=TASKS, required=required, help=help)


def add_runtime(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """``--runtime``: a backend by name or alias, or ``auto`` (picked from the model file's suffix)."""
    from mgdn_edge.runtimes.backends import BACKENDS

    names = ", ".join(backend_names())
    aliases = ", ".join(a for b in BACKENDS.values() for a in b.aliases)
    parser.add_argument(
        "--runtime",
        required=required,
        default=None if required else "auto",
        help=f"{names} (or an alias: {aliases}), or auto"
        + ("" if required else " (default): picked from the model file's suffix"),
    )


def add_precision(parser: argparse.ArgumentParser, default: str | None = None, what: str = "to run") -> None:
    """``--precision``: what the runtime executes (and is judged by); checked by the runtime, so an
    unknown value is the usual one-line error rather than an argparse usage message."""
    parser.add_argument(
        "--precision",
        default=default,
        help=f"{', '.join(PRECISIONS)}: the precision {what}, where the runtime has it, or auto: the "
        "fastest that holds its budget on this CPU (OpenVINO: bf16 where the CPU executes it) "
        + (f"(default {default})" if default else "(default: the model file's own)"),
    )


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


SYNTHETIC_SPEC = "synthetic[:N]"  # how every --data help spells generated data (one parser: parse_synthetic)


def add_data(parser: argparse.ArgumentParser, what: str, synthetic: str | None = "", **kwargs: Any) -> None:
    """``--data SRC``: a folder, or ``synthetic`` / ``synthetic:N`` where the command can use it
    (``synthetic`` None: it cannot), parsed by :func:`mgdn_edge.calibration.sources.parse_synthetic`
    in every command."""
    extra = f", or {SYNTHETIC_SPEC}{synthetic}" if synthetic is not None else ""
    parser.add_argument("--data", metavar="SRC", help=f"{what}{extra}", **kwargs)


def add_json_out(parser: argparse.ArgumentParser, what: str) -> None:
    """``--json FILE``: write ``what`` as JSON to FILE ('-': stdout), like every command that has it."""
    parser.add_argument(
        "--json", dest="json_out", metavar="FILE", help=f"write {what} as JSON to FILE ('-': stdout)"
    )
