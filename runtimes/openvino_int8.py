"""Which INT8 graphs OpenVINO's CPU plugin must not run through its snippets, and how we avoid them.

Root cause of the INT8 crash (SIGSEGV, "double free or corruption" in a later node) that
OpenVINO 2026.4 showed on shape-specialised INT8 IRs: the CPU plugin tokenises the mutual-guided
cross attention (module ``TCA``: ``softmax(q @ k^T) @ v`` over channels, reducing over all
H*W pixels) into one MHA snippet. When NNCF has quantized that attention's MatMuls, the int8
MHA kernel it generates corrupts the heap at run time. How it was pinned down: bisection over
NNCF ignored scopes (the crash stays with every other layer quantized and goes as soon as the two
TCA MatMuls stay float); ``ONEDNN_MAX_CPU_ISA=AVX512_CORE`` (no VNNI, so no int8 brgemm inside
the snippet) also makes it go; gdb shows the SIGSEGV inside the plugin's node execution, reading a
pointer clobbered earlier. valgrind cannot reproduce it: its virtual CPU has no AVX-512, so
OpenVINO takes other kernels. The extension is not involved (the portable graph, quantized
without it, crashed alike).

So :mod:`mgdn_edge.calibration.quantize_openvino` keeps the TCA MatMuls float (under 1 % of the
multiply-adds), and the runtime keeps snippets on for INT8 IRs, which fuse the element-wise
chains around every quantized layer. An IR quantized before that (its TCA MatMul reads int8
data) still runs, with snippets disabled: slower, never a crash.
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
