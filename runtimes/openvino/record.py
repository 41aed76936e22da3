"""The OpenVINO backend's record: its runtime, precisions, aliases, file suffixes, builders, pipeline
variants and INT8 speed targets."""

from __future__ import annotations

from mgdn_edge.core.precision import Precision
from mgdn_edge.export.artefacts import IR_SUFFIX
from mgdn_edge.runtimes.base.record import Backend, Builder, VariantSpec

FP32, FP16, BF16, INT8 = Precision.FP32, Precision.FP16, Precision.BF16, Precision.INT8

OPENVINO = Backend(
    name="openvino",
    label="OpenVINO",
    runtime="mgdn_edge.runtimes.openvino.runtime:OpenVinoRuntime",
    package="openvino",
    install="pip install 'mgdn-edge[openvino]'",
    precisions=(FP32, FP16, BF16, INT8),
    aliases=("ov",),
    suffixes=(IR_SUFFIX,),
    convert=Builder(
        "openvino", "mgdn_edge.runtimes.openvino.convert:convert_build", (FP32, FP16), IR_SUFFIX
    ),
    quantize=Builder(
        "openvino",
        "mgdn_edge.calibration.quantize_openvino:quantize_build",
        (INT8, FP16),
        IR_SUFFIX,
        requires=("nncf",),
    ),
    checks="mgdn_edge.runtimes.openvino.runtime:unavailable_reason",
    variants=(
        VariantSpec("ov-fp32", "OpenVINO FP32 IR", FP32, "convert"),
        VariantSpec("ov-fp16", "OpenVINO FP16 IR", FP16, "convert"),
        VariantSpec("ov-bf16", "OpenVINO BF16 (FP32 IR, bf16 hint)", BF16, "reuse", source="ov-fp32"),
        VariantSpec("ov-int8", "OpenVINO INT8 (NNCF)", INT8, "quantize"),
    ),
    int8_targets=((FP32, 2.5), (BF16, 1.2)),
    profiled=True,
)
