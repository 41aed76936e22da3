"""The ``mgdn-edge`` command line.

Each subcommand lives in a small ``*_cli`` module with ``register(subparsers)``; registration
must stay light (heavy imports such as openvino or onnxruntime happen inside the handler), so
``mgdn-edge --help`` is instant. Handlers raise :class:`MgdnEdgeError` for anything a user can
fix; ``main`` turns it, a filesystem that refuses a write (full, read-only, over quota, not
permitted) and an optional package that is not installed (torch, onnxruntime, openvino, ...:
named with the extra that brings it, :mod:`mgdn_edge.core.extras`) into a one-line ``error:`` message
and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from mgdn_edge import __version__
from mgdn_edge.core.errors import FILESYSTEM_ERRNOS, MgdnEdgeError, filesystem_error_line
from mgdn_edge.core.extras import missing_extra

COMMAND_MODULES = [
    "mgdn_edge.cli.info",
    "mgdn_edge.cli.fuse",
    "mgdn_edge.cli.export",
    "mgdn_edge.cli.lint",
    "mgdn_edge.cli.parity",
    "mgdn_edge.cli.diff",
    "mgdn_edge.cli.convert",
    "mgdn_edge.cli.engine",
    "mgdn_edge.cli.train",
    "mgdn_edge.cli.plugins",
    "mgdn_edge.cli.synth",
    "mgdn_edge.cli.quantize",
    "mgdn_edge.cli.pipeline",
    "mgdn_edge.cli.bench",
    "mgdn_edge.cli.report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgdn-edge", description="Deploy MGDN image-fusion networks through ONNX, OpenVINO and TensorRT."
    )
    parser.add_argument("--version", action="version", version=f"mgdn-edge {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every atomic writer removes its temporaries on the way out."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.handler(args) or 0)
    except MgdnEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an extra that is not installed, reached by a lazy import
        error = missing_extra(exc, f"mgdn-edge {args.command}")
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full, read-only or forbidden filesystem outside the atomic writers
        if exc.errno not in FILESYSTEM_ERRNOS:
            raise
        print(f"error: {filesystem_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
