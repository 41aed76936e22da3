"""The ONNX Runtime backend's record: its runtime, precisions, aliases, file suffixes, builders, pipeline
variants and INT8 speed targets."""

from __future__ import annotations

from mgdn_edge.core.precision import Precision
from mgdn_edge.export.artefacts import ONNX_SUFFIX
from mgdn_edge.runtimes.base.record import Backend, Builder, VariantSpec

FP32, FP16, INT8 = Precision.FP32, Precision.FP16, Precision.INT8

ONNXRUNTIME = Backend(
    name="onnxruntime",
    label="ONNX Runtime",
    runtime="mgdn_edge.runtimes.onnxruntime.runtime:OnnxRuntime",
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
)
