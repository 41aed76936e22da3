"""What a TensorRT build will do, decided without TensorRT: the shape profile and the build plan.

Separate from the build itself so every argument check and every choice (which file, strongly or
weakly typed, which builder flags, which layers pinned to FP32) is made and tested on a machine
without TensorRT, and fails before a long build starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import (
    FP16_ONNX,
    INT8_ONNX,
    MODEL_ONNX,
    ONNX_SUFFIX,
    TRT_FP16_ONNX,
    TRT_INT8_ONNX,
    TRT_ONNX,
)
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.runtimes.backends import BACKENDS
from mgdn_edge.runtimes.base import onnx_file_precision
from mgdn_edge.size import Size

DEFAULT_OPT = (256, 256)
DEFAULT_MAX = (1024, 1024)


@dataclass(frozen=True)
class ShapeProfile:
    """Batch and HxW ranges of the one optimisation profile (every input shares them)."""

    min_hw: tuple[int, int]
    opt_hw: tuple[int, int]
    max_hw: tuple[int, int]
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 1

    def shapes(self, channels: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) NCHW shapes for an input with ``channels`` channels."""
        return (
            (self.min_batch, channels, *self.min_hw),
            (self.opt_batch, channels, *self.opt_hw),
            (self.max_batch, channels, *self.max_hw),
        )

    def to_dict(self) -> dict[str, list[int]]:
        return {
            "min": [self.min_batch, *self.min_hw],
            "opt": [self.opt_batch, *self.opt_hw],
            "max": [self.max_batch, *self.max_hw],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[int]]) -> ShapeProfile:
        lo, mid, hi = (tuple(int(v) for v in data[k]) for k in ("min", "opt", "max"))
        return cls(lo[1:], mid[1:], hi[1:], lo[0], mid[0], hi[0])  # type: ignore[arg-type]


@dataclass
class BuildPlan:
    """What a build will do, decided without TensorRT (so it can be checked and tested on its own)."""

    onnx_path: Path
    precision: str
    strongly_typed: bool
    builder_flags: list[str]
    fp32_layer_types: list[str]  # weakly typed fp16: layers pinned to FP32


def tensorrt_major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        raise BackendError(f"cannot read the TensorRT version {version!r}") from None


def min_valid_size(config: MGDNConfig) -> tuple[int, int]:
    """The smallest HxW the network accepts (found with its own input validation)."""
    import numpy as np

    from mgdn_edge.errors import InputError
    from mgdn_edge.model.inputs import validate_inputs

    for side in range(1, 4 * config.window_size + config.kernel_size + 1):
        arrays = [np.zeros((1, c, side, side), np.float32) for c in config.io.input_channels]
        try:
            validate_inputs(config, arrays)
        except InputError:
            continue
        return side, side
    return config.window_size, config.window_size


def make_profile(
    config: MGDNConfig,
    static: tuple[int, int] | None = None,
    min_hw: str | Sequence[int] | None = None,
    opt_hw: str | Sequence[int] | None = None,
    max_hw: str | Sequence[int] | None = None,
    max_batch: int = 1,
    opt_batch: int | None = None,
) -> ShapeProfile:
    """Validated optimisation profile: min <= opt <= max per dimension, within the model's limits."""
    if max_batch < 1:
        raise BackendError(f"max batch must be >= 1, got {max_batch}")
    opt_b = 1 if opt_batch is None else int(opt_batch)
    if not 1 <= opt_b <= max_batch:
        raise BackendError(f"opt batch must be within 1..{max_batch}, got {opt_b}")
    if static is not None:
        given = {n: v for n, v in (("min", min_hw), ("opt", opt_hw), ("max", max_hw)) if v is not None}
        for name, value in given.items():
            if Size.parse(value, f"--{name}") != static:
                raise BackendError(
                    f"the model was exported for a fixed {static[0]}x{static[1]}; --{name} {value} "
                    "cannot differ (re-export without --static for a size range)"
                )
        return ShapeProfile(static, static, static, 1, opt_b, max_batch)
    floor = min_valid_size(config)
    lo = Size.parse(min_hw, "--min") if min_hw is not None else floor
    hi = Size.parse(max_hw, "--max") if max_hw is not None else DEFAULT_MAX
    if opt_hw is not None:
        mid = Size.parse(opt_hw, "--opt")
    else:  # the default opt, moved into [min, max] when those were given narrower
        mid = tuple(min(max(d, lo_d), hi_d) for d, lo_d, hi_d in zip(DEFAULT_OPT, lo, hi, strict=True))
    if lo[0] < floor[0] or lo[1] < floor[1]:
        raise BackendError(
            f"--min {lo[0]}x{lo[1]} is below the smallest input this model accepts ({floor[0]}x{floor[1]})"
        )
    for axis, name in ((0, "height"), (1, "width")):
        if not lo[axis] <= mid[axis] <= hi[axis]:
            raise BackendError(
                f"profile {name}s must satisfy min <= opt <= max, got {lo[axis]} / {mid[axis]} / {hi[axis]}"
            )
    return ShapeProfile(lo, mid, hi, 1, opt_b, max_batch)  # type: ignore[arg-type]


def _onnx_to_build(path: Path, precision: str, plugin: bool, strongly_typed_ok: bool) -> Path:
    """The ONNX file :func:`plan_build` builds from: ``path`` itself, or the right graph in that folder."""
    if path.is_dir():
        if plugin:
            names = {"fp32": TRT_ONNX, "fp16": TRT_FP16_ONNX, "int8": TRT_INT8_ONNX}
        else:
            names = {"fp32": MODEL_ONNX, "fp16": FP16_ONNX, "int8": INT8_ONNX}
        name = names[precision]
        if precision == "fp16" and not strongly_typed_ok:
            name = names["fp32"]  # TRT 8.x: FP16 flag on the FP32 graph
        candidate = path / name
        if not candidate.is_file():
            how = {
                MODEL_ONNX: "export the checkpoint with `mgdn-edge export`",
                FP16_ONNX: "re-export without --no-fp16 (`mgdn-edge export` writes it)",
                INT8_ONNX: "quantize it with `mgdn-edge quantize --runtime onnxruntime --out "
                f"{path / INT8_ONNX}` (explicit Q/DQ quantization)",
                TRT_ONNX: "re-export with `mgdn-edge export` (it writes the TensorRT graph, which has "
                "no ONNX function for the parser to prefer over the plugin)",
                TRT_FP16_ONNX: "re-export with `mgdn-edge export` without --no-fp16",
                TRT_INT8_ONNX: "quantize it with `mgdn-edge quantize --runtime onnxruntime --out "
                f"{path / INT8_ONNX}` (writes {TRT_INT8_ONNX} beside it)",
            }[name]
            raise BackendError(f"{candidate} not found for a {precision} engine: {how}")
        path = candidate
    elif not path.is_file():
        raise BackendError(f"model file not found: {path}")
    elif path.suffix.lower() != ONNX_SUFFIX:
        raise BackendError(f"{path} is not an .onnx file (pass an export folder or its ONNX file)")
    return path


def plan_build(
    model: str | os.PathLike[str],
    precision: str,
    trt_major: int,
    file_precision: Callable[[Path], str] = onnx_file_precision,
    plugin: bool = False,
) -> BuildPlan:
    """Which ONNX file to build and how, for ``precision`` on TensorRT ``trt_major``.

    ``model`` is an export folder or one .onnx file, whose own precision must fit the request.
    ``plugin``: the plugin library will be loaded (:func:`build_engine` says so), and from a
    folder the TensorRT graphs are picked (model.trt.onnx / model.trt.fp16.onnx /
    model.trt.int8.onnx); without it the build needs the nodes' function bodies and picks
    model.onnx / model.fp16.onnx / model.int8.onnx.
    """
    precision = precision.lower()
    builds = BACKENDS["tensorrt"].builder("engine").precisions
    if precision not in builds:
        raise BackendError(f"TensorRT engines are built as {', '.join(builds)}, not {precision!r}")
    path = Path(model)
    strongly_typed_ok = trt_major >= 10  # NetworkDefinitionCreationFlag.STRONGLY_TYPED
    strongly_typed_only = trt_major >= 11  # precision builder flags are gone
    path = _onnx_to_build(path, precision, plugin, strongly_typed_ok)

    own = file_precision(path)
    if precision == "int8":
        if own != "int8":
            raise BackendError(
                f"{path.name} has no QuantizeLinear/DequantizeLinear nodes: INT8 engines are built only "
                "from an explicitly quantized (Q/DQ) graph; implicit calibration is not supported. "
                "Run `mgdn-edge quantize --runtime onnxruntime` first"
            )
        if strongly_typed_ok:
            return BuildPlan(path, precision, True, [], [])
        return BuildPlan(path, precision, False, ["INT8", "FP16"], [])
    if own == "int8":
        raise BackendError(f"{path.name} is a Q/DQ (int8) graph; build it with precision int8")
    if precision == "fp32":
        if own != "fp32":
            raise BackendError(f"{path.name} is an {own} graph; an fp32 engine needs {MODEL_ONNX}")
        return BuildPlan(path, precision, strongly_typed_only, [], [])
    # fp16
    if own == "fp16":
        if not strongly_typed_ok:
            raise BackendError(
                f"TensorRT {trt_major}.x has no strongly typed networks; build fp16 from {MODEL_ONNX} "
                "(the FP16 builder flag is set for you)"
            )
        return BuildPlan(path, precision, True, [], [])
    if strongly_typed_only:
        raise BackendError(
            f"TensorRT {trt_major} builds strongly typed networks: the graph's types set the precision, so "
            f"an fp16 engine needs {FP16_ONNX} (written by `mgdn-edge export`), not {path.name}"
        )
    # Weakly typed FP16 from the FP32 graph (TRT 8.x, or TRT 10 given model.onnx explicitly).
    return BuildPlan(
        path, precision, False, ["FP16", "PREFER_PRECISION_CONSTRAINTS"], ["NORMALIZATION", "REDUCE"]
    )
