"""The TensorRT backend's record: its runtime, precisions, aliases, file suffixes, builders, pipeline
variants and INT8 speed targets."""

from __future__ import annotations

from mgdn_edge.core.precision import Precision
from mgdn_edge.export.artefacts import ENGINE_SUFFIXES
from mgdn_edge.runtimes.base.record import Backend, Builder, VariantSpec

FP32, FP16, INT8 = Precision.FP32, Precision.FP16, Precision.INT8

TENSORRT = Backend(
    name="tensorrt",
    label="TensorRT",
    runtime="mgdn_edge.runtimes.tensorrt.runtime:TensorRTRuntime",
    package="tensorrt",
    install="pip install 'mgdn-edge[tensorrt]' on a machine with an NVIDIA GPU",
    precisions=(FP32, FP16, INT8),
    aliases=("trt",),
    suffixes=ENGINE_SUFFIXES,
    engine=Builder(
        "tensorrt",
        "mgdn_edge.runtimes.tensorrt.build:engine_build",
        (FP32, FP16, INT8),
        ENGINE_SUFFIXES[0],
    ),
    checks="mgdn_edge.runtimes.tensorrt.runtime:unavailable_reason",
    # TensorRT's per-layer profiler needs an IProfiler bound to a GPU context: not profiled.
    variants=(
        VariantSpec("trt-fp32", "TensorRT FP32", FP32, "engine"),
        VariantSpec("trt-fp16", "TensorRT FP16", FP16, "engine"),
        VariantSpec("trt-int8", "TensorRT INT8 (QDQ)", INT8, "engine", source="ort-int8"),
    ),
)
