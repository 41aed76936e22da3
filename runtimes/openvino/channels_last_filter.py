"""``model.onnx``'s DynamicFilter nodes as channels-last ``mgdn.DynamicFilterNHWC`` nodes, for OpenVINO.

OpenVINO's CPU plugin keeps convolution outputs channels-last in memory, while it hands an
extension op planar (NCHW) tensors: each DynamicFilter of the exported graph costs a layout
reorder of its feature map, of its 49-tap kernel map and of its output. Here each filter becomes
``Transpose(NHWC) -> DynamicFilterNHWC -> Transpose(NCHW)``. The plugin merges each Transpose with
the layout change it cancels, so the op reads and writes its neighbours' memory as it lies
(plugins/common/dynamic_filter_nhwc_simd.hpp), with the same sums in the same tap order.

:func:`filter_channels_last` rewrites the graph in memory just before OpenVINO reads it, like
:mod:`.window_attention`: the file on disk, ONNX Runtime and TensorRT keep the planar op.
"""

from __future__ import annotations

import onnx
from onnx import helper

from mgdn_edge.export.artefacts import KERNEL_SIZE_ATTR, OP_DOMAIN, is_filter_node

CHANNELS_LAST_OP = "DynamicFilterNHWC"
MAX_KERNEL_SIZE = 15  # kMaxChannelsLastKsize in plugins/common/dynamic_filter_cpu.hpp
_TO_NHWC = [0, 2, 3, 1]
_TO_NCHW = [0, 3, 1, 2]


def _kernel_size(node: onnx.NodeProto) -> int | None:
    return next((a.i for a in node.attribute if a.name == KERNEL_SIZE_ATTR), None)


def filter_channels_last(model: onnx.ModelProto) -> int:
    """Replace each DynamicFilter of ``model`` (in place) by DynamicFilterNHWC between Transposes,
    keeping the filter's name and output; return how many were replaced."""
    rewritten: list[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        k = _kernel_size(node) if is_filter_node(node) else None
        if k is None or k % 2 == 0 or not 0 < k <= MAX_KERNEL_SIZE:
            rewritten.append(node)
            continue
        name = node.name or f"{CHANNELS_LAST_OP}_{count}"
        feat, kernels, out = (f"{name}/{role}_nhwc" for role in ("feat", "kernels", "out"))
        rewritten += [
            helper.make_node("Transpose", [node.input[0]], [feat], name=feat, perm=_TO_NHWC),
            helper.make_node("Transpose", [node.input[1]], [kernels], name=kernels, perm=_TO_NHWC),
            helper.make_node(
                CHANNELS_LAST_OP, [feat, kernels], [out], name=name, domain=OP_DOMAIN, **{KERNEL_SIZE_ATTR: k}
            ),
            helper.make_node("Transpose", [out], [node.output[0]], name=f"{name}/out_nchw", perm=_TO_NCHW),
        ]
        count += 1
    if count:
        del model.graph.node[:]
        model.graph.node.extend(rewritten)
    return count
