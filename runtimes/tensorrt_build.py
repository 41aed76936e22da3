"""Build a TensorRT engine from an exported MGDN model, with the DynamicFilter plugin loaded.

The steps are the ones NVIDIA's ONNX samples take, with the choices this network needs:

1. Load ``libmgdn_trt.so`` into TensorRT's plugin registry (``IPluginRegistry.load_library``,
   TRT >= 8.6; on 8.5 the library registers its creator statically when dlopen'ed). With the
   plugin the build reads the TensorRT graphs (``model.trt.onnx`` and twins, see
   :mod:`mgdn_edge.export.trt_graph`): they carry no local function, because TensorRT 9.0-10.6
   import a node through a local function of its name before looking for a plugin. Before
   parsing, the file is linted against the installed release's parser table
   (:mod:`mgdn_edge.export.trt_lint`), which names every node that release would fail on or
   route away from the plugin. After parsing, the number of plugin layers is checked against
   the node count, and a shortfall is explained: the parser used the nodes' ONNX function, or
   the plugin library does not match this TensorRT.
2. ``OnnxParser.parse_from_file``; on failure every parser error (node, op, message) is reported.
3. One optimisation profile for the dynamic batch/height/width (default min = the smallest valid
   input, opt 256x256, max 1024x1024, batch 1; a ``--static`` export uses its size).
4. Precision. TensorRT 11 networks are strongly typed only, and TensorRT 10 supports that mode:
   the graph's types decide, so fp16 builds ``model.fp16.onnx`` (norms kept FP32 by the export)
   and int8 builds a Q/DQ graph (``mgdn-edge quantize --backend onnx``). On TensorRT 8.x the
   network is weakly typed: fp16 sets ``BuilderFlag.FP16`` on the FP32 graph and pins the
   normalisation/reduction layers to FP32 (they overflow in FP16 on large images, see
   :mod:`mgdn_edge.export.fp16`); int8 sets INT8 (+FP16) for the Q/DQ graph. Implicit INT8
   calibration (deprecated since TensorRT 10) is refused: a graph without Q/DQ nodes is an error.
5. ``build_serialized_network``; the engine and a JSON sidecar (``X.engine.json``: TensorRT
   version, GPU, precision, profile, plugin, source files, MGDN config) are written atomically,
   so a failed build never leaves a half-written engine. Engines are specific to the GPU and the
   TensorRT version that built them; the sidecar lets the runtime say so instead of failing
   obscurely.

Everything here imports ``tensorrt`` lazily: the argument checks run without it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from mgdn_edge.errors import BackendError, MgdnEdgeError
from mgdn_edge.export.artefacts import (
    FP16_ONNX,
    FP32_SCOPE,
    INT8_ONNX,
    MODEL_ONNX,
    TRT_FP16_ONNX,
    TRT_INT8_ONNX,
    TRT_ONNX,
    is_filter_node,
    sha256_file,
)
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.runtimes.backends import BACKENDS
from mgdn_edge.runtimes.base import model_description, onnx_file_precision
from mgdn_edge.size import Size

SIDECAR_SUFFIX = ".json"
DEFAULT_OPT = (256, 256)
DEFAULT_MAX = (1024, 1024)
DEFAULT_WORKSPACE = 2 << 30  # bytes; TensorRT's default is the whole device memory
TENSORRT_PIP = "tensorrt"  # NVIDIA's wheel; on Jetson the JetPack python3-libnvinfer package


class EngineBuildError(MgdnEdgeError):
    """TensorRT could not parse or build the model (the message carries TensorRT's own errors)."""


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


@dataclass
class EngineBuildResult:
    path: Path
    sidecar_path: Path
    onnx_path: Path
    precision: str
    strongly_typed: bool
    profile: ShapeProfile
    plugin: Path | None
    plugin_layers: int
    tensorrt_version: str
    device: str
    build_seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)


def import_tensorrt():  # type: ignore[no-untyped-def]
    """``tensorrt``, or a BackendError naming the package to install."""
    try:
        import tensorrt
    except ImportError as exc:  # ModuleNotFoundError, or libnvinfer.so missing under the wheel
        raise BackendError(
            f"TensorRT's Python package is not importable ({exc}): `pip install {TENSORRT_PIP}` "
            "(x86_64 with CUDA 12/13), or on Jetson install JetPack's python3-libnvinfer"
        ) from exc
    return tensorrt


def tensorrt_major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        raise BackendError(f"cannot read the TensorRT version {version!r}") from None


# --------------------------------------------------------------------------------------------
# argument checks and the build plan (no TensorRT needed)


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
                INT8_ONNX: "quantize it with `mgdn-edge quantize --backend onnx --out "
                f"{path / INT8_ONNX}` (explicit Q/DQ quantization)",
                TRT_ONNX: "re-export with `mgdn-edge export` (it writes the TensorRT graph, which has "
                "no ONNX function for the parser to prefer over the plugin)",
                TRT_FP16_ONNX: "re-export with `mgdn-edge export` without --no-fp16",
                TRT_INT8_ONNX: "quantize it with `mgdn-edge quantize --backend onnx --out "
                f"{path / INT8_ONNX}` (writes {TRT_INT8_ONNX} beside it)",
            }[name]
            raise BackendError(f"{candidate} not found for a {precision} engine: {how}")
        path = candidate
    elif not path.is_file():
        raise BackendError(f"model file not found: {path}")
    elif path.suffix.lower() != ".onnx":
        raise BackendError(f"{path} is not an .onnx file (pass an export folder or its ONNX file)")

    own = file_precision(path)
    if precision == "int8":
        if own != "int8":
            raise BackendError(
                f"{path.name} has no QuantizeLinear/DequantizeLinear nodes: INT8 engines are built only "
                "from an explicitly quantized (Q/DQ) graph; implicit calibration is not supported. "
                "Run `mgdn-edge quantize --backend onnx` first"
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


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    path = Path(engine_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(engine_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The JSON written beside an engine by :func:`build_engine`, if any."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"cannot read the engine sidecar {path}: {exc}") from exc


def _atomic_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file in ``path``'s folder; the caller renames it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_engine(engine_path: str | os.PathLike[str], engine: bytes, sidecar: dict[str, Any]) -> Path:
    """Write the engine and its sidecar so that neither is ever seen half-written.

    Both go to temporary files first; the sidecar is removed before the engine is renamed into
    place and renamed in last, so a reader never pairs a new engine with an old sidecar.
    """
    path = Path(engine_path)
    if not engine:
        raise EngineBuildError("refusing to write an empty engine")
    path.parent.mkdir(parents=True, exist_ok=True)
    side = sidecar_path(path)
    tmp_engine = _atomic_bytes(path, bytes(engine))
    try:
        tmp_side = _atomic_bytes(side, (json.dumps(sidecar, indent=2) + "\n").encode())
    except BaseException:
        tmp_engine.unlink(missing_ok=True)
        raise
    side.unlink(missing_ok=True)
    os.replace(tmp_engine, path)
    os.replace(tmp_side, side)
    return path


# --------------------------------------------------------------------------------------------
# TensorRT


def load_plugin_library(trt: Any, library: Path) -> Path:
    """Register the plugin creators of ``library`` with TensorRT, once per process (returns its path)."""
    from mgdn_edge.plugins.tensorrt_plugin import load_tensorrt_plugin

    return load_tensorrt_plugin(trt, library)


def gpu_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
            return f"{torch.cuda.get_device_name()} (sm_{major}{minor})"
    except ImportError:
        pass
    return "unknown"


def lint_before_parse(path: Path, tensorrt_version: str, plugin: bool) -> None:
    """Refuse a file the installed TensorRT's parser would fail on or route away from the plugin."""
    from mgdn_edge.export.trt_lint import lint_tensorrt

    report = lint_tensorrt(path, tensorrt_version, plugin=plugin)
    if report.ok:
        return
    hint = ""
    if report.function_nodes and plugin:
        hint = (
            f" -- the parser would use the nodes' ONNX function instead of the plugin; build {TRT_ONNX} "
            "(and its fp16/int8 twins), which carry no function"
        )
    raise EngineBuildError(report.message() + hint)


def explain_missing_plugin_layers(
    path: Path, tensorrt_version: str, library: Path, expected: int, found: int
) -> str:
    """Why the parsed network has fewer plugin layers than the file has DynamicFilter nodes.

    Either the parser imported the nodes through their ONNX function (a file with local
    functions on TensorRT 9.0-10.6, or a plugin lookup that misses on 10.7+), or the library
    registered no creator this TensorRT accepts.
    """
    from mgdn_edge.export.trt_lint import lint_tensorrt

    report = lint_tensorrt(path, tensorrt_version, plugin=True)
    head = (
        f"{path.name} has {expected} mgdn.DynamicFilter nodes but the parsed network has {found} "
        "plugin layers"
    )
    if report.function_nodes:
        return (
            f"{head}: the parser used the node's ONNX function ({report.table.describe()} routes "
            f"{len(report.function_nodes)} of them to their local function); build {TRT_ONNX} instead"
        )
    return (
        f"{head}: the plugin library is for another TensorRT -- {library.name} registered no creator "
        f"TensorRT {tensorrt_version} accepts; rebuild it here with `mgdn-edge build-plugins --tensorrt`"
    )


def _parse(trt: Any, network: Any, logger: Any, path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    # parse_from_file resolves external data and local functions relative to the file.
    if parser.parse_from_file(str(path)):
        return
    errors = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        where = ""
        if hasattr(err, "node_name"):
            where = f" [node {err.node_name()} ({err.node_operator()})]"
        errors.append(f"{err.desc()}{where}")
    detail = "; ".join(errors) or "no error recorded"
    hint = ""
    if "Plugin not found" in detail:
        hint = (
            " -- the plugin library is for another TensorRT or was not loaded (rebuild it with "
            "`mgdn-edge build-plugins --tensorrt` against this TensorRT)"
        )
    raise EngineBuildError(f"TensorRT's ONNX parser rejected {path.name}: {detail}{hint}")


def _plugin_layers(trt: Any, network: Any) -> int:
    kinds = {
        getattr(trt.LayerType, n) for n in ("PLUGIN", "PLUGIN_V2", "PLUGIN_V3") if hasattr(trt.LayerType, n)
    }
    return sum(1 for i in range(network.num_layers) if network.get_layer(i).type in kinds)


def _pin_fp32(trt: Any, network: Any, layer_types: Sequence[str]) -> int:
    kinds = {getattr(trt.LayerType, n) for n in layer_types if hasattr(trt.LayerType, n)}
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        # Only floating-point layers: integer reductions belong to shape arithmetic. The written-out
        # LayerNormalization of the TensorRT graph is pinned by the scope in its node names.
        wanted = layer.type in kinds or FP32_SCOPE in layer.name
        if wanted and layer.get_output(0).dtype in (trt.float32, trt.float16):
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
            pinned += 1
    return pinned


def _expected_filters(path: Path) -> int:
    model = onnx.load(str(path), load_external_data=False)
    return sum(1 for n in model.graph.node if is_filter_node(n))


def build_engine(
    model: str | os.PathLike[str],
    engine_path: str | os.PathLike[str],
    precision: str = "fp32",
    plugin: str | os.PathLike[str] | bool | None = None,
    min_hw: str | Sequence[int] | None = None,
    opt_hw: str | Sequence[int] | None = None,
    max_hw: str | Sequence[int] | None = None,
    max_batch: int = 1,
    workspace: int = DEFAULT_WORKSPACE,
    task: str | None = None,
    log_level: str = "WARNING",
) -> EngineBuildResult:
    """Build ``engine_path`` (+ ``.json`` sidecar) from an export folder or ONNX file.

    ``plugin``: the plugin library path; None finds the default build (`mgdn-edge build-plugins
    --tensorrt`); False builds without it (TensorRT inlines the DynamicFilter function body into
    standard layers -- slower, for comparison only).
    """
    from mgdn_edge.plugins.tensorrt_plugin import find_tensorrt_plugin

    if workspace < 1 << 20:
        raise BackendError(f"workspace must be at least 1 MiB, got {workspace} bytes")
    # The plugin library first: a missing file is named before TensorRT is even needed.
    library = None if plugin is False else find_tensorrt_plugin(None if plugin in (None, True) else plugin)
    trt = import_tensorrt()
    plan = plan_build(model, precision, tensorrt_major(trt.__version__), plugin=library is not None)
    lint_before_parse(plan.onnx_path, trt.__version__, plugin=library is not None)
    metadata = {
        p.key: p.value for p in onnx.load(str(plan.onnx_path), load_external_data=False).metadata_props
    }
    config, static = model_description(plan.onnx_path, metadata, task)
    profile = make_profile(config, static, min_hw, opt_hw, max_hw, max_batch)

    logger = trt.Logger(getattr(trt.Logger, log_level.upper(), trt.Logger.WARNING))
    if library is not None:
        library = load_plugin_library(trt, library)
    builder = trt.Builder(logger)
    flags = 0
    if tensorrt_major(trt.__version__) < 10:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if plan.strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    _parse(trt, network, logger, plan.onnx_path)

    expected = _expected_filters(plan.onnx_path)
    plugin_layers = _plugin_layers(trt, network)
    if library is not None and plugin_layers != expected:
        raise EngineBuildError(
            explain_missing_plugin_layers(plan.onnx_path, trt.__version__, library, expected, plugin_layers)
        )

    build_config = builder.create_builder_config()
    build_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace))
    for flag in plan.builder_flags:
        build_config.set_flag(getattr(trt.BuilderFlag, flag))
    pinned = _pin_fp32(trt, network, plan.fp32_layer_types) if plan.fp32_layer_types else 0
    opt_profile = builder.create_optimization_profile()
    channels = dict(zip(config.io.input_names, config.io.input_channels, strict=True))
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        if tensor.name not in channels:
            raise EngineBuildError(f"network input {tensor.name!r} is not one of {list(channels)}")
        opt_profile.set_shape(tensor.name, *profile.shapes(channels[tensor.name]))
    build_config.add_optimization_profile(opt_profile)

    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, build_config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise EngineBuildError(
            f"TensorRT failed to build an engine from {plan.onnx_path.name} ({precision}); its log above "
            "says why (out of workspace? try --workspace, or a smaller --max)"
        )
    device = gpu_name()
    sidecar = {
        "format": "mgdn-edge tensorrt engine",
        "tensorrt_version": trt.__version__,
        "device": device,
        "precision": plan.precision,
        "strongly_typed": plan.strongly_typed,
        "builder_flags": plan.builder_flags,
        "fp32_pinned_layers": pinned,
        "profile": profile.to_dict(),
        "inputs": list(config.io.input_names),
        "plugin": str(library.resolve()) if library is not None else None,
        "plugin_layers": plugin_layers,
        "onnx": str(plan.onnx_path.resolve()),
        "onnx_sha256": sha256_file(plan.onnx_path),
        "config": config.to_dict(),
        "static_size": list(static) if static else None,
        "workspace": int(workspace),
        "build_seconds": round(seconds, 2),
    }
    path = write_engine(engine_path, memoryview(serialized).tobytes(), sidecar)
    return EngineBuildResult(
        path,
        sidecar_path(path),
        plan.onnx_path,
        plan.precision,
        plan.strongly_typed,
        profile,
        library,
        plugin_layers,
        trt.__version__,
        device,
        seconds,
        sidecar,
    )
