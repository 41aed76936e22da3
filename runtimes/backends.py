"""One record per inference backend: everything the CLI, pipeline, bench and quantize ask about it.

A backend is a runtime class plus the artefacts it can be given (an ONNX file, an IR converted
from it, a quantized file, an engine) and the conditions under which it works on this machine.
Each fact lives in its :class:`Backend` record, and every caller asks the record instead of
keeping its own table (the pipeline's variants, the INT8 speed targets, which runtimes profile
layers, the CLI's runtime choices): adding a backend is one runtime module plus one record,
here or in a package of its own named by ``$MGDN_EDGE_BACKENDS`` (``module:attribute`` entries,
comma-separated) or by the ``mgdn_edge.backends`` entry-point group, loaded with this module so
that every process (the pipeline's workers too) sees the same table.

Records name code as ``"module:attribute"`` strings that are imported only when used, so
reading this table (``mgdn-edge --help``, availability checks) pulls in neither torch nor any
runtime package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import CHECKPOINT_SUFFIXES, ENGINE_SUFFIXES, IR_SUFFIX, ONNX_SUFFIX
from mgdn_edge.precision import Precision
from mgdn_edge.results import REFERENCE_VARIANT
from mgdn_edge.runtimes.budgets import SpeedTarget
from mgdn_edge.runtimes.build_contract import BuildRequest, BuildResult

FP32, FP16, BF16, INT8 = Precision.FP32, Precision.FP16, Precision.BF16, Precision.INT8


@dataclass(frozen=True)
class Builder:
    """How a backend makes one kind of artefact from an export folder: ``function`` and what it writes."""

    name: str  # the backend it builds for, as ``--runtime`` names it (``quantize --runtime onnxruntime``)
    function: str  # "module:attribute" of a BuildRequest -> BuildResult function (.build_contract)
    precisions: tuple[Precision, ...]  # the precisions this builder writes
    suffix: str  # the suffix of the file it writes
    requires: tuple[str, ...] = ()  # Python packages it needs beyond the backend's own

    def unavailable_reason(self, precision: str) -> str | None:
        """Why this builder cannot make a ``precision`` artefact here, or None."""
        if Precision.parse(precision) not in self.precisions:
            built = ", ".join(map(str, self.precisions))
            return f"not available: the {self.name} builder makes {built}, not {precision}"
        missing = [p for p in self.requires if _missing_module(p)]
        if missing:
            return f"not available: Python package {missing[0]!r} is not installed"
        return None

    def build(self, request: BuildRequest) -> BuildResult:
        """Make the artefact ``request`` asks for (imports the builder's module now)."""
        return load_attribute(self.function)(request)


@dataclass(frozen=True)
class VariantSpec:
    """One deployable form a backend offers the pipeline: its artefact at one precision.

    ``build``: how the artefact is made - ``checkpoint`` (the PyTorch file itself), ``export`` /
    ``export-fp16`` (the export's FP32 / FP16 graph), ``reuse`` (``source``'s artefact, run at
    another precision) or the name of one of the backend's builders (``convert``, ``quantize``,
    ``engine``; ``source``: the variant whose artefact an engine is built from).
    """

    name: str  # unique across backends: what `pipeline --runtimes` and the report call it
    label: str
    precision: Precision
    build: str
    source: str | None = None


@dataclass(frozen=True)
class Backend:
    name: str
    label: str  # how reports name it
    runtime: str | Callable[..., Any]  # "module:Class" (or the class) implementing base.Runtime
    package: str  # the Python package the runtime imports
    install: str  # what to install when the package is missing
    precisions: tuple[Precision, ...]  # what the runtime can execute; the first is its default
    aliases: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()  # model files ``--runtime auto`` gives to this backend
    convert: Builder | None = None  # export -> this backend's own format
    quantize: Builder | None = None  # export + calibration data -> a quantized file
    engine: Builder | None = None  # export -> a device-specific engine
    checks: str | None = None  # "module:function(precision) -> reason | None": machine checks
    variants: tuple[VariantSpec, ...] = ()  # what the pipeline builds and measures, in report order
    # INT8 must earn its accuracy cost in speed: (float precision, ratio) - the INT8 variant's p50
    # must be at least ``ratio`` times faster than that float variant's of this backend.
    int8_targets: tuple[tuple[Precision, float], ...] = ()
    profiled: bool = False  # the runtime implements profile_layers (`bench --profile`)

    def unavailable_reason(self, precision: str | None = None) -> str | None:
        """Why this backend (at ``precision``) cannot run on this machine now, or None."""
        if _missing_module(self.package):
            return f"not available: Python package {self.package!r} is not installed ({self.install})"
        if precision is not None and Precision.parse(precision) not in self.precisions:
            return f"not available: {self.name} does not run {precision}"
        if self.checks is not None:
            return load_attribute(self.checks)(precision)
        return None

    def builder(self, kind: str) -> Builder:
        """This backend's ``kind`` builder ("convert", "quantize", "engine"); BackendError if none."""
        found = getattr(self, kind, None)
        if not isinstance(found, Builder):
            raise BackendError(f"{self.name} has no {kind} builder")
        return found

    def runtime_class(self) -> Callable[..., Any]:
        """The runtime class; a missing package is a BackendError that says what to install."""
        if not isinstance(self.runtime, str):
            return self.runtime
        try:
            return load_attribute(self.runtime)
        except ModuleNotFoundError as exc:
            from mgdn_edge.extras import MissingExtraError, needs_line

            line = needs_line(f"the {self.label} runtime ({self.name})", exc.name or self.package)
            if line is not None:
                raise MissingExtraError(line) from exc
            raise BackendError(
                f"runtime {self.name!r} needs the Python package {exc.name!r}, which is not installed "
                f"({self.install})"
            ) from exc


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend(
            name="torch",
            label="PyTorch",
            runtime="mgdn_edge.runtimes.torch_runtime:TorchRuntime",
            package="torch",
            install="pip install 'mgdn-edge[torch]'",
            precisions=(FP32,),
            aliases=("pytorch",),
            suffixes=CHECKPOINT_SUFFIXES,
            variants=(VariantSpec(REFERENCE_VARIANT, "PyTorch FP32 (reference)", FP32, "checkpoint"),),
            profiled=True,
        ),
        Backend(
            name="onnxruntime",
            label="ONNX Runtime",
            runtime="mgdn_edge.runtimes.onnxruntime_runtime:OnnxRuntime",
            package="onnxruntime",
            install="pip install 'mgdn-edge[onnxruntime]'",
            precisions=(FP32, FP16, INT8),
            aliases=("ort",),
            suffixes=(ONNX_SUFFIX,),
            quantize=Builder(
                "onnxruntime",
                "mgdn_edge.calibration.quantize_onnx:quantize_build",
                (INT8, FP16),
                ONNX_SUFFIX,
            ),
            variants=(
                VariantSpec("ort-fp32", "ONNX Runtime FP32", FP32, "export"),
                VariantSpec("ort-fp16", "ONNX Runtime FP16 graph", FP16, "export-fp16"),
                VariantSpec("ort-int8", "ONNX Runtime INT8 (QDQ)", INT8, "quantize"),
            ),
            int8_targets=((FP32, 1.3),),
            profiled=True,
        ),
        Backend(
            name="openvino",
            label="OpenVINO",
            runtime="mgdn_edge.runtimes.openvino_runtime:OpenVinoRuntime",
            package="openvino",
            install="pip install 'mgdn-edge[openvino]'",
            precisions=(FP32, FP16, BF16, INT8),
            aliases=("ov",),
            suffixes=(IR_SUFFIX,),
            convert=Builder(
                "openvino", "mgdn_edge.runtimes.openvino_convert:convert_build", (FP32, FP16), IR_SUFFIX
            ),
            quantize=Builder(
                "openvino",
                "mgdn_edge.calibration.quantize_openvino:quantize_build",
                (INT8, FP16),
                IR_SUFFIX,
                requires=("nncf",),
            ),
            checks="mgdn_edge.runtimes.openvino_runtime:unavailable_reason",
            variants=(
                VariantSpec("ov-fp32", "OpenVINO FP32 IR", FP32, "convert"),
                VariantSpec("ov-fp16", "OpenVINO FP16 IR", FP16, "convert"),
                VariantSpec("ov-bf16", "OpenVINO BF16 (FP32 IR, bf16 hint)", BF16, "reuse", source="ov-fp32"),
                VariantSpec("ov-int8", "OpenVINO INT8 (NNCF)", INT8, "quantize"),
            ),
            int8_targets=((FP32, 2.5), (BF16, 1.2)),
            profiled=True,
        ),
        Backend(
            name="tensorrt",
            label="TensorRT",
            runtime="mgdn_edge.runtimes.tensorrt_runtime:TensorRTRuntime",
            package="tensorrt",
            install="pip install 'mgdn-edge[tensorrt]' on a machine with an NVIDIA GPU",
            precisions=(FP32, FP16, INT8),
            aliases=("trt",),
            suffixes=ENGINE_SUFFIXES,
            engine=Builder(
                "tensorrt",
                "mgdn_edge.runtimes.tensorrt_build:engine_build",
                (FP32, FP16, INT8),
                ENGINE_SUFFIXES[0],
            ),
            checks="mgdn_edge.runtimes.tensorrt_runtime:unavailable_reason",
            # TensorRT's per-layer profiler needs an IProfiler bound to a GPU context: not profiled.
            variants=(
                VariantSpec("trt-fp32", "TensorRT FP32", FP32, "engine"),
                VariantSpec("trt-fp16", "TensorRT FP16", FP16, "engine"),
                VariantSpec("trt-int8", "TensorRT INT8 (QDQ)", INT8, "engine", source="ort-int8"),
            ),
        ),
    )
}


def register_backend(backend: Backend) -> None:
    """Add (or replace) a backend record, e.g. from a plugin package."""
    BACKENDS[backend.name] = backend


PLUGINS_ENV = "MGDN_EDGE_BACKENDS"
ENTRY_POINT_GROUP = "mgdn_edge.backends"


def load_plugin_backends() -> None:
    """Register the records named by ``$MGDN_EDGE_BACKENDS`` and the ``mgdn_edge.backends``
    entry points; a name that does not load is a BackendError naming it."""
    specs = [s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(",") if s.strip()]
    specs += [ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for spec in specs:
        try:
            record = load_attribute(spec)
        except (ImportError, AttributeError, ValueError) as exc:
            raise BackendError(f"backend plugin {spec!r} ({PLUGINS_ENV}) does not load: {exc}") from exc
        if not isinstance(record, Backend):
            raise BackendError(f"backend plugin {spec!r} is a {type(record).__name__}, not a Backend record")
        register_backend(record)


def int8_speed_targets() -> tuple[SpeedTarget, ...]:
    """Every backend's INT8 speed targets (what the report, quantize and bench_int8 judge by)."""
    return tuple(
        SpeedTarget(b.name, versus, ratio) for b in BACKENDS.values() for versus, ratio in b.int8_targets
    )


def profiled_backends() -> list[str]:
    """The backends whose runtimes time layers (`bench --profile`)."""
    return [b.name for b in BACKENDS.values() if b.profiled]


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def get_backend(name: str) -> Backend:
    """The record for a name or alias (case-insensitive); unknown names list the known ones."""
    key = name.strip().lower()
    for backend in BACKENDS.values():
        if key == backend.name or key in backend.aliases:
            return backend
    known = ", ".join(f"{b.name} ({'/'.join(b.aliases)})" if b.aliases else b.name for b in BACKENDS.values())
    raise BackendError(f"unknown runtime {name!r}; available: {known}")


def backend_for_model(model_path: str | Path) -> Backend:
    """The backend ``--runtime auto`` means for this model file (an export folder -> ONNX Runtime)."""
    path = Path(model_path)
    if path.is_dir():
        return BACKENDS["onnxruntime"]
    suffix = path.suffix.lower()
    for backend in BACKENDS.values():
        if suffix in backend.suffixes:
            return backend
    known = sorted(s for b in BACKENDS.values() for s in b.suffixes)
    raise BackendError(
        f"cannot tell which runtime runs {path.name!r} from its suffix (known: {', '.join(known)}); "
        "pass --runtime"
    )


def builders(kind: str) -> dict[str, tuple[Backend, Builder]]:
    """Every backend's builder of one ``kind`` ("convert", "quantize", "engine"), by builder name."""
    found = {}
    for backend in BACKENDS.values():
        builder = getattr(backend, kind)
        if builder is not None:
            found[builder.name] = (backend, builder)
    return found


def load_attribute(spec: str) -> Any:
    """``"package.module:attribute"`` -> the attribute (imports the module)."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _missing_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


load_plugin_backends()
