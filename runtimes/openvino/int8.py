"""Which INT8 graphs OpenVINO's CPU plugin must not run through its snippets, and how we avoid them.

Guarantee: mgdn-edge never runs an INT8 IR in which int8 data reaches the channel attention's
MatMuls inside an MHA snippet. OpenVINO's CPU plugin (2026.4) tokenises the mutual-guided
cross attention (module ``TCA``: ``softmax(q @ k^T) @ v`` over channels, reducing over all H*W
pixels) into one MHA snippet; when NNCF has quantized those MatMuls, the int8 MHA kernel it
generates on AVX-512 VNNI CPUs corrupts the heap of shape-specialised INT8 IRs at run time
(SIGSEGV or "double free or corruption" in a later node). The fault needs both the int8 TCA
MatMuls and the VNNI int8 brgemm (``ONEDNN_MAX_CPU_ISA=AVX512_CORE`` avoids it), and it does not
depend on our extension (the portable graph, quantized without it, faults alike).

Two rules follow:

* :mod:`mgdn_edge.calibration.quantize_openvino` keeps the TCA MatMuls float (under 1 % of the
  multiply-adds), so the IRs it writes run with snippets on, which fuse the element-wise chains
  around every quantized layer.
* An IR whose TCA MatMul reads int8 data (:func:`quantized_channel_attention` finds it; quantized by
  other settings or tools) runs with snippets disabled: slower, but it never reaches that kernel.
"""

from __future__ import annotations

import re
from typing import Any

CHANNEL_ATTENTION_MATMUL = re.compile(r".*/TCA(_\d+)?/MatMul(_\d+)?$")
"""Friendly names of the channel attention's two MatMuls in our exports (q@k^T, then @v)."""

LAYOUT_OPS = {
    "Pad",
    "Concat",
    "Reshape",
    "Transpose",
    "Gather",
    "Split",
    "Slice",
    "StridedSlice",
    "Squeeze",
    "Unsqueeze",
}


def int8_fed(node: Any, depth: int = 6) -> bool:
    """Whether a tensor comes from int8 data: a FakeQuantize or an int8 weight's Convert, possibly
    through layout-only ops (which NNCF puts after the FakeQuantize they share)."""
    kind = node.get_type_name()
    if kind in ("FakeQuantize", "Convert"):
        return True
    if kind == "Multiply" or (kind in LAYOUT_OPS and depth > 0):
        sources = [i.get_source_output().get_node() for i in node.inputs()]
        return any(int8_fed(s, depth - 1) for s in sources if s.get_type_name() != "Constant")
    return False


def quantized_channel_attention(ov_model: Any) -> list[str]:
    """The channel-attention MatMuls of ``ov_model`` that read int8 data (the snippet-crash pattern)."""
    return [
        op.get_friendly_name()
        for op in ov_model.get_ops()
        if op.get_type_name() == "MatMul"
        and CHANNEL_ATTENTION_MATMUL.match(op.get_friendly_name())
        and any(int8_fed(i.get_source_output().get_node()) for i in op.inputs())
    ]
