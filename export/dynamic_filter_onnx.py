"""``mgdn.DynamicFilter``: the one ONNX node every dynamic filter becomes, and its portable body.

Why one custom node with a model-local ONNX function behind it
---------------------------------------------------------------
The deployable file must let three kinds of runtime run the same graph:

* TensorRT claims the node with its ``DynamicFilter`` plugin (namespace ``mgdn``, version ``1``):
  its ONNX parser prefers a registered plugin over a local function when the node carries the
  ``plugin_namespace`` / ``plugin_version`` string attributes, and inlines the function otherwise.
* OpenVINO claims ``(DynamicFilter, domain mgdn)`` through a frontend ``OpExtension`` of our
  native op.
* ONNX Runtime (and anything else that understands ONNX functions) inlines the
  :class:`onnx.FunctionProto` body, which is made of standard ops only.

So a single ``model.onnx`` carries the op for accelerated runtimes *and* its portable fallback.
A second file with the functions inlined (``model.portable.onnx``) serves tools that do not read
functions at all.

Why the TorchScript exporter
----------------------------
torch 2.13's default (dynamo) exporter needs onnxscript and ``torch.export``; the network's
``if pad_h == 0 and pad_w == 0`` branch and its ``H // ws`` window reshapes become guards on
symbolic sizes there, which specialise or reject dynamic H and W. The tracing exporter records
``Shape``/``Div``/``Mod`` arithmetic for every size-derived value, so the reflect padding, window
partition and shifted-window masks are computed in-graph for any size (the padding branch is
traced on a non-multiple example, so a zero pad simply becomes a no-op ``Pad``). The custom op
below is a ``torch.library.custom_op`` (so tracing sees one opaque call) plus a symbolic that
emits the ``mgdn::DynamicFilter`` node; the function body and plugin attributes are attached
afterwards with the onnx API.

The portable body (and why "split")
-----------------------------------
Pad the features once (``edge`` = replicate), then k*k times take the shifted window of the
padded map, ``Mul`` it by that tap's [N, 1, H, W] kernel plane and ``Add`` it into the
accumulator, in the same tap order as the torch lean filter. Nothing k*k times the feature map
exists; the peak is the padded map plus a few feature maps. Three decompositions were measured
in ONNX Runtime (``python -m mgdn_edge.tools.bench_onnxruntime --decompositions``; the figures
are in the README):

* ``split``: one ``Split`` of the kernels into k*k planes, 2-D ``Slice`` windows with constant
  (negative-end) bounds -- kept as the default: fastest or tied at every size, the fewest nodes,
  and every shape in it resolves in static ONNX shape inference.
* ``slice``: one ``Slice`` of the kernels per tap instead of the ``Split`` (ties with split).
* ``flat``: rows flattened so each window is one contiguous run per channel, cropped once at the
  end; it saves strided copies but not memory traffic and was slower or tied.

An ORT profile of the split body puts most of the time in the broadcasting ``Mul``, then
``Slice`` and ``Add``: the body is memory-bound at ~3 passes over C*H*W per tap, against
one fused in-place pass (``addcmul_``) in torch, so ORT's filter is several times slower than
the torch lean filter. That is the price of standard ops; TensorRT and OpenVINO run their native op
instead. The body is specialised to the model's kernel size (the node count depends on k); one
MGDN model uses one k, recorded in the node's ``kernel_size`` attribute for the plugins.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mgdn_edge.export.artefacts import OP_DOMAIN, OP_TYPE, TORCH_OP
from mgdn_edge.export.dynamic_filter_function import (  # the torch-free half, re-exported here
    DECOMPOSITIONS,
    DEFAULT_DECOMPOSITION,
    build_function,
    standalone_model,
)
from mgdn_edge.model.dynamic_filter import dynamic_filter_lean


@torch.library.custom_op(TORCH_OP, mutates_args=())
def dynamic_filter_op(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """The dynamic filter as one opaque torch op, so tracing records a single call."""
    return dynamic_filter_lean(feat, kernels, kernel_size)


@dynamic_filter_op.register_fake
def _dynamic_filter_fake(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    return torch.empty_like(feat)


def _symbolic(g, feat, kernels, kernel_size):  # type: ignore[no-untyped-def]
    from torch.onnx import symbolic_helper

    k = symbolic_helper._get_const(kernel_size, "i", "kernel_size")
    out = g.op(f"{OP_DOMAIN}::{OP_TYPE}", feat, kernels, kernel_size_i=k)
    out.setType(feat.type())
    return out


_registered_opsets: set[int] = set()


def register_onnx_symbolic(opset: int) -> None:
    """Tell the TorchScript exporter how to write the custom op (idempotent per opset)."""
    if opset not in _registered_opsets:
        torch.onnx.register_custom_op_symbolic(TORCH_OP, _symbolic, opset)
        _registered_opsets.add(opset)


def export_filter_impl(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """Implementation to select with ``use_dynamic_filter`` while exporting."""
    return dynamic_filter_op(feat, kernels, kernel_size)


__all__ = [
    "DECOMPOSITIONS",
    "DEFAULT_DECOMPOSITION",
    "build_function",
    "dynamic_filter_op",
    "export_filter_impl",
    "register_onnx_symbolic",
    "standalone_model",
]
