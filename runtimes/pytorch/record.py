"""The PyTorch backend's record: its runtime, precisions, aliases, file suffixes, builders, pipeline
variants and INT8 speed targets."""

from __future__ import annotations

from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import REFERENCE_VARIANT
from mgdn_edge.export.artefacts import CHECKPOINT_SUFFIXES
from mgdn_edge.runtimes.base.record import Backend, VariantSpec

FP32 = Precision.FP32

TORCH = Backend(
    name="torch",
    label="PyTorch",
    runtime="mgdn_edge.runtimes.pytorch.runtime:TorchRuntime",
    package="torch",
    install="pip install 'mgdn-edge[torch]'",
    precisions=(FP32,),
    aliases=("pytorch",),
    suffixes=CHECKPOINT_SUFFIXES,
    variants=(VariantSpec(REFERENCE_VARIANT, "PyTorch FP32 (reference)", FP32, "checkpoint"),),
    profiled=True,
)
