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
   and int8 builds a Q/DQ graph (``mgdn-edge quantize --runtime onnxruntime``). On TensorRT 8.x the
   network is weakly typed: fp16 sets ``BuilderFlag.FP16`` on the FP32 graph and pins the
   normalisation/reduction layers to FP32 (they overflow in FP16 on large images, see
   :mod:`mgdn_edge.export.fp16`); int8 sets INT8 (+FP16) for the Q/DQ graph. Implicit INT8
   calibration (deprecated since TensorRT 10) is refused: a graph without Q/DQ nodes is an error.
5. ``build_serialized_network``; the engine and a JSON sidecar (``X.engine.json``: TensorRT
   version, GPU, precision, profile, plugin, source files, MGDN config) are written atomically,
   so a failed build never leaves a half-written engine. Engines are specific to the GPU and the
   TensorRT version that built them; the sidecar lets the runtime say so instead of failing
   obscurely.

Everything here imports ``tensorrt`` lazily; the plan (:mod:`.tensorrt_plan`) and the engine file
(:mod:`.tensorrt_engine_file`) need no TensorRT at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import (
    ENGINE_FILE,
    FP32_SCOPE,
    TRT_ONNX,
    is_filter_node,
    sha256_file,
)
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.runtimes.base import model_description
from mgdn_edge.runtimes.build_contract import BuildRequest, BuildResult
from mgdn_edge.runtimes.tensorrt_engine_file import (
    SIDECAR_FORMAT,
    EngineBuildError,
    EngineSidecar,
    sidecar_path,
    write_engine,
)
from mgdn_edge.runtimes.tensorrt_plan import BuildPlan, ShapeProfile, make_profile, plan_build, tensorrt_major

DEFAULT_WORKSPACE = 2 << 30  # bytes; TensorRT's default is the whole device memory
TENSORRT_PIP = "tensorrt"  # NVIDIA's wheel; on Jetson the JetPack python3-libnvinfer package


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
    sidecar: EngineSidecar | None = None


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


def load_plugin_library(trt: Any, library: Path) -> Path:
    """Register the plugin creators of ``library`` with TensorRT, once per process (returns its path)."""
    from mgdn_edge.plugins.tensorrt_plugin import load_tensorrt_plugin

    return load_tensorrt_plugin(trt, library)


def gpu_name(device: int | None = None) -> str:
    """The GPU as the engine sidecar records it ("NVIDIA Orin (sm_87)"): build and runtime compare it."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device)
            return f"{torch.cuda.get_device_name(device)} (sm_{major}{minor})"
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


def pinned_layers(layer_names: Sequence[str], config: Any, modules: Sequence[str]) -> list[str]:
    """The layers ``build-engine --keep-float MODULE...`` pins to FP32. TensorRT's ONNX parser names
    each layer after the ONNX node it comes from, so the node-scope patterns ``quantize
    --keep-float`` uses (:mod:`mgdn_edge.calibration.keep_float`, matched from the start of the
    name) pick the same layers; an unknown module is an InputError listing the valid ones."""
    from mgdn_edge.calibration.keep_float import keep_float_patterns, matching

    patterns = [p for found in keep_float_patterns(config, modules).values() for p in found]
    return matching(layer_names, patterns)


def check_keep_float(plan: Any, keep_float: Sequence[str]) -> None:
    """``--keep-float`` pins layers in weakly typed FP16 builds only: elsewhere it would do nothing."""
    if not keep_float:
        return
    if plan.precision != "fp16":
        raise BackendError(f"--keep-float pins layers of fp16 engines to FP32, not of {plan.precision} ones")
    if plan.strongly_typed:
        raise BackendError(
            f"a strongly typed build takes every layer's type from {plan.onnx_path.name}: make the graph "
            "with `mgdn-edge quantize --runtime onnxruntime --precision fp16 --keep-float MODULE... "
            "--out X.onnx` "
            "and build the engine from X.trt.onnx"
        )


def _pin_fp32(trt: Any, network: Any, layer_types: Sequence[str], names: Sequence[str] = ()) -> int:
    kinds = {getattr(trt.LayerType, n) for n in layer_types if hasattr(trt.LayerType, n)}
    named = set(names)
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        # Only floating-point layers: integer reductions belong to shape arithmetic. The written-out
        # LayerNormalization of the TensorRT graph is pinned by the scope in its node names, the
        # modules kept FP32 (``keep_float``) by theirs.
        wanted = layer.type in kinds or FP32_SCOPE in layer.name or layer.name in named
        if wanted and layer.get_output(0).dtype in (trt.float32, trt.float16):
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
            pinned += 1
    return pinned


def _expected_filters(path: Path) -> int:
    model = onnx.load(str(path), load_external_data=False)
    return sum(1 for n in model.graph.node if is_filter_node(n))


@dataclass(frozen=True)
class EngineOptions:
    """What an engine build takes beyond the request's source, output and precision.

    ``plugin``: the plugin library path; None finds the default build (`mgdn-edge build-plugins
    --tensorrt`); False builds without it (TensorRT inlines the DynamicFilter function body into
    standard layers -- slower, for comparison only). ``keep_float``: modules whose layers a weakly
    typed FP16 build pins to FP32 (:func:`pinned_layers`). ``extra_outputs``: ONNX tensor names
    marked as network outputs too (``diff``, :mod:`.tensorrt_runtime`), recorded in the sidecar.
    """

    plugin: str | os.PathLike[str] | bool | None = None
    min_hw: str | Sequence[int] | None = None
    opt_hw: str | Sequence[int] | None = None
    max_hw: str | Sequence[int] | None = None
    max_batch: int = 1
    workspace: int = DEFAULT_WORKSPACE
    task: str | None = None
    log_level: str = "WARNING"
    keep_float: Sequence[str] = ()
    extra_outputs: Sequence[str] = ()


@dataclass
class _Prepared:
    """Everything settled before TensorRT parses: the plan, the plugin, the config and profile."""

    trt: Any
    plan: BuildPlan
    library: Path | None
    config: MGDNConfig
    static: tuple[int, int] | None
    profile: ShapeProfile


def build_engine(
    model: str | os.PathLike[str],
    engine_path: str | os.PathLike[str],
    precision: str = "fp32",
    **options: Any,
) -> EngineBuildResult:
    """Build ``engine_path`` (+ ``.json`` sidecar) from an export folder or ONNX file;
    ``options``: the fields of :class:`EngineOptions`."""
    return _build(Path(model), engine_path, precision, EngineOptions(**options))


def engine_build(request: BuildRequest) -> BuildResult:
    """The TensorRT engine builder (the backend record names it): :func:`build_engine` on a request
    (``out`` a folder: its ``model.engine``)."""
    out = request.out / ENGINE_FILE if request.out.is_dir() else request.out
    result = _build(request.source, out, request.precision, request.options or EngineOptions())
    return BuildResult(result.path, result.precision, result.build_seconds, result)


def _build(
    model: Path, engine_path: str | os.PathLike[str], precision: str, options: EngineOptions
) -> EngineBuildResult:
    """Prepare, parse, configure, build and write (the module doc's steps)."""
    if options.workspace < 1 << 20:
        raise BackendError(f"workspace must be at least 1 MiB, got {options.workspace} bytes")
    prep = _prepare(model, precision, options)
    trt, plan = prep.trt, prep.plan
    logger = trt.Logger(getattr(trt.Logger, options.log_level.upper(), trt.Logger.WARNING))
    if prep.library is not None:
        prep.library = load_plugin_library(trt, prep.library)
    builder, network, plugin_layers = _parsed_network(prep, logger)
    build_config, pinned = _builder_config(prep, builder, network, options)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, build_config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise EngineBuildError(
            f"TensorRT failed to build an engine from {plan.onnx_path.name} ({precision}); its log above "
            "says why (out of workspace? try --workspace, or a smaller --max)"
        )
    device = gpu_name()
    sidecar = _sidecar(prep, options, device, pinned, plugin_layers, seconds)
    path = write_engine(engine_path, memoryview(serialized).tobytes(), sidecar)
    return EngineBuildResult(
        path, sidecar_path(path), plan.onnx_path, plan.precision, plan.strongly_typed, prep.profile,
        prep.library, plugin_layers, trt.__version__, device, seconds, sidecar,
    )  # fmt: skip


def _prepare(model: Path, precision: str, options: EngineOptions) -> _Prepared:
    """The plugin library (a missing file is named before TensorRT is even needed), the plan for
    this TensorRT, the linted source graph, its MGDN config and the shape profile."""
    from mgdn_edge.plugins.tensorrt_plugin import find_tensorrt_plugin

    plugin = options.plugin
    library = None if plugin is False else find_tensorrt_plugin(None if plugin in (None, True) else plugin)
    trt = import_tensorrt()
    plan = plan_build(model, precision, tensorrt_major(trt.__version__), plugin=library is not None)
    check_keep_float(plan, options.keep_float)
    lint_before_parse(plan.onnx_path, trt.__version__, plugin=library is not None)
    metadata = {
        p.key: p.value for p in onnx.load(str(plan.onnx_path), load_external_data=False).metadata_props
    }
    config, static = model_description(plan.onnx_path, metadata, options.task)
    profile = make_profile(config, static, options.min_hw, options.opt_hw, options.max_hw, options.max_batch)
    return _Prepared(trt, plan, library, config, static, profile)


def _parsed_network(prep: _Prepared, logger: Any) -> tuple[Any, Any, int]:
    """(builder, network parsed from the plan's graph, its plugin layers), the count checked."""
    trt, plan = prep.trt, prep.plan
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
    if prep.library is not None and plugin_layers != expected:
        why = explain_missing_plugin_layers(
            plan.onnx_path, trt.__version__, prep.library, expected, plugin_layers
        )
        raise EngineBuildError(why)
    return builder, network, plugin_layers


def _builder_config(prep: _Prepared, builder: Any, network: Any, options: EngineOptions) -> tuple[Any, int]:
    """(builder config, layers pinned to FP32): workspace, precision flags, pinned layers, marked
    outputs and the optimisation profile."""
    trt, plan, config = prep.trt, prep.plan, prep.config
    build_config = builder.create_builder_config()
    build_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace))
    for flag in plan.builder_flags:
        build_config.set_flag(getattr(trt.BuilderFlag, flag))
    names = [network.get_layer(i).name for i in range(network.num_layers)]
    kept = pinned_layers(names, config, options.keep_float) if options.keep_float else []
    pinned = _pin_fp32(trt, network, plan.fp32_layer_types, kept) if plan.fp32_layer_types else 0
    if options.extra_outputs:
        from mgdn_edge.runtimes.tensorrt_runtime import mark_outputs

        mark_outputs(network, options.extra_outputs)
    opt_profile = builder.create_optimization_profile()
    channels = dict(zip(config.io.input_names, config.io.input_channels, strict=True))
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        if tensor.name not in channels:
            raise EngineBuildError(f"network input {tensor.name!r} is not one of {list(channels)}")
        opt_profile.set_shape(tensor.name, *prep.profile.shapes(channels[tensor.name]))
    build_config.add_optimization_profile(opt_profile)
    return build_config, pinned


def _sidecar(
    prep: _Prepared, options: EngineOptions, device: str, pinned: int, plugin_layers: int, seconds: float
) -> EngineSidecar:
    """The engine's ``.json`` sidecar: what it was built from, with and for (module doc, step 5)."""
    plan, library, static = prep.plan, prep.library, prep.static
    return EngineSidecar(
        format=SIDECAR_FORMAT,
        tensorrt_version=prep.trt.__version__,
        device=device,
        precision=plan.precision,
        strongly_typed=plan.strongly_typed,
        builder_flags=tuple(plan.builder_flags),
        fp32_pinned_layers=pinned,
        keep_float=tuple(options.keep_float),
        extra_outputs=tuple(options.extra_outputs),
        profile=prep.profile,
        inputs=tuple(prep.config.io.input_names),
        plugin=str(library.resolve()) if library is not None else None,
        plugin_sha256=sha256_file(library) if library is not None else None,
        plugin_layers=plugin_layers,
        onnx=str(plan.onnx_path.resolve()),
        onnx_sha256=sha256_file(plan.onnx_path),
        config=prep.config.to_dict(),
        static_size=static,
        workspace=int(options.workspace),
        build_seconds=round(seconds, 2),
    )
