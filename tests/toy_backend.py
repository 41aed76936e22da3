"""A fifth backend that exists only in the tests: ONNX Runtime's CPU session under another name.

It is one record plus one runtime class, registered through ``$MGDN_EDGE_BACKENDS`` (this
module on ``PYTHONPATH``), the way a plugin package adds a backend without editing the toolkit.
"""

from __future__ import annotations

from typing import Any

from mgdn_edge.core.precision import Precision
from mgdn_edge.runtimes.backends import Backend, VariantSpec
from mgdn_edge.runtimes.onnxruntime.runtime import OnnxRuntime


class ToyRuntime(OnnxRuntime):
    """ONNX Runtime's portable graph, reported as the ``toy`` runtime."""

    name = "toy"

    def __init__(self, model_path: str, **options: Any) -> None:
        super().__init__(model_path, **{**options, "native_op": False})


TOY = Backend(
    name="toy",
    label="Toy",
    runtime="toy_backend:ToyRuntime",
    package="onnxruntime",
    install="(a test backend)",
    precisions=(Precision.FP32,),
    aliases=("toyrt",),
    suffixes=(".toy",),
    variants=(VariantSpec("toy-fp32", "Toy runtime FP32", Precision.FP32, "export"),),
    int8_targets=(),
    profiled=True,
)
