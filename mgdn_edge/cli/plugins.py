"""``mgdn-edge build-plugins``: build the native DynamicFilter libraries from the installed package."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build-plugins",
        help="build the OpenVINO extension, the ONNX Runtime op library, the TensorRT plugin and/or the "
        "native runner",
        description="With no runtime flag, builds the OpenVINO extension. Libraries go to "
        "$XDG_CACHE_HOME/mgdn-edge (default ~/.cache/mgdn-edge), one folder per runtime version and "
        "source hash, unless --build-dir is given; the runtimes look there (or where "
        "MGDN_OPENVINO_EXTENSION / MGDN_ONNXRUNTIME_OPS / --plugin point). An up-to-date library is "
        "not rebuilt.",
    )
    p.add_argument(
        "--openvino", action="store_true", help="build libmgdn_openvino.so (needs the openvino wheel)"
    )
    p.add_argument(
        "--onnxruntime",
        action="store_true",
        help="build libmgdn_ort.so (needs onnxruntime >= 1.21 and its C API headers: "
        "$ONNXRUNTIME_INCLUDE_DIR, /usr/include/onnxruntime or ../shared/third_party)",
    )
    p.add_argument(
        "--tensorrt", action="store_true", help="build libmgdn_trt.so (needs nvcc and TensorRT headers)"
    )
    p.add_argument(
        "--native",
        action="store_true",
        help="build the native runner mgdn-fuse and its C API library libmgdn_edge.so (needs the openvino "
        "wheel and OpenCV's C++ headers: apt install libopencv-dev); prints both paths",
    )
    p.add_argument("--build-dir", type=Path, help="where to build (default: ~/.cache/mgdn-edge/<plugin>)")
    p.add_argument("--tensorrt-include", type=Path, help="folder holding NvInfer.h (default: searched)")
    p.add_argument(
        "--cuda-archs", default="87", help="CMAKE_CUDA_ARCHITECTURES, e.g. 72 (Xavier), 87 (Orin), 90"
    )
    p.add_argument("--force", action="store_true", help="rebuild even if a built library is up to date")
    p.add_argument(
        "--clean", action="store_true", help="delete the library and its build files first, then build"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.openvino or not (args.tensorrt or args.onnxruntime or args.native):
        from mgdn_edge.plugins.openvino_ext import build_openvino_extension

        print(f"built {build_openvino_extension(args.build_dir, force=args.force, clean=args.clean)}")
    if args.onnxruntime:
        from mgdn_edge.plugins.onnxruntime_ops import build_onnxruntime_ops

        print(f"built {build_onnxruntime_ops(args.build_dir, force=args.force, clean=args.clean)}")
    if args.native:
        from mgdn_edge.plugins.native_runner import build_native_runner

        runner, library = build_native_runner(args.build_dir, force=args.force, clean=args.clean)
        print(f"built {runner}")
        print(f"built {library}")
    if args.tensorrt:
        from mgdn_edge.plugins.tensorrt_plugin import build_tensorrt_plugin

        path = build_tensorrt_plugin(
            args.build_dir,
            tensorrt_include=args.tensorrt_include,
            cuda_archs=args.cuda_archs,
            force=args.force,
            clean=args.clean,
        )
        print(f"built {path}")
    return 0
