"""``mgdn-edge build-plugins``: build the native DynamicFilter libraries from the installed package."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgdn_edge.plugins.cmake import clean_build_dir, default_build_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build-plugins",
        help="build the OpenVINO extension and/or the TensorRT plugin for DynamicFilter",
        description="With neither flag, builds the OpenVINO extension. Libraries go to ~/.cache/mgdn-edge/ "
        "unless --build-dir is given; the runtimes look there (or where MGDN_OPENVINO_EXTENSION / "
        "--plugin point).",
    )
    p.add_argument(
        "--openvino", action="store_true", help="build libmgdn_openvino.so (needs the openvino wheel)"
    )
    p.add_argument(
        "--tensorrt", action="store_true", help="build libmgdn_trt.so (needs nvcc and TensorRT headers)"
    )
    p.add_argument("--build-dir", type=Path, help="where to build (default: ~/.cache/mgdn-edge/<plugin>)")
    p.add_argument("--tensorrt-include", type=Path, help="folder holding NvInfer.h (default: searched)")
    p.add_argument(
        "--cuda-archs", default="87", help="CMAKE_CUDA_ARCHITECTURES, e.g. 72 (Xavier), 87 (Orin), 90"
    )
    p.add_argument("--force", action="store_true", help="rebuild even if a built library is up to date")
    p.add_argument(
        "--clean", action="store_true", help="delete the build folder first (a CMake build folder only)"
    )
    p.set_defaults(handler=run)


def _build(builder: Callable[..., Path], default_dir: Path, args: argparse.Namespace, **kwargs: Any) -> Path:
    """Call ``builder`` with ``force``/``clean`` where it takes them; otherwise clean here (``--force``
    is clean + build then, since a fresh build folder cannot be reused)."""
    accepted = inspect.signature(builder).parameters
    flags = {"force": args.force, "clean": args.clean}
    if all(name in accepted for name in flags):
        return builder(args.build_dir, **flags, **kwargs)
    if args.force or args.clean:
        clean_build_dir(args.build_dir or default_dir)
    return builder(args.build_dir, **kwargs)


def run(args: argparse.Namespace) -> int:
    if not args.tensorrt or args.openvino:
        from mgdn_edge.plugins.openvino_ext import build_openvino_extension, default_extension_dir

        print(f"built {_build(build_openvino_extension, default_extension_dir(), args)}")
    if args.tensorrt:
        from mgdn_edge.plugins.tensorrt_plugin import build_tensorrt_plugin

        path = _build(
            build_tensorrt_plugin,
            default_build_dir("tensorrt"),
            args,
            tensorrt_include=args.tensorrt_include,
            cuda_archs=args.cuda_archs,
        )
        print(f"built {path}")
    return 0
