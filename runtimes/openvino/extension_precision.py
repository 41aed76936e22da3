"""Run the extension's ops (the filters, WindowAttention) in a bf16 model's compute precision.

OpenVINO's CPU plugin runs an extension op in the element types its node was created with: in a
model read from f32 files that is f32, even when ``INFERENCE_PRECISION_HINT`` is bf16, so each
input and output of the op would be a precision reorder between the bf16 tensors of its
neighbours and f32.

:func:`feed_extension_ops` gives each op its inputs converted to bf16 and converts its output
back to f32. The CPU plugin then hands the op bf16 tensors (our kernels read bf16 and accumulate
in f32). The numbers do not change: in a bf16 model a filter's inputs are outputs of bf16
convolutions and its output is rounded to bf16 by the convolution that reads it, so the filter
sees and yields the same values either way (the tests compare the two compiled models' outputs).
The same holds for WindowAttention, whose q, k and v come from bf16 fully connected layers and
whose output feeds one; its bias and mask terms stay as they are. What remains is a pass per
Convert: the plugin keeps each, now bf16 to bf16, as a copy (about 3 % of a bf16 run of the
authors' MFF model at 520x520).
"""

from __future__ import annotations

from typing import Any

from mgdn_edge.export.artefacts import OP_TYPE
from mgdn_edge.runtimes.openvino.channels_last_filter import CHANNELS_LAST_OP
from mgdn_edge.runtimes.openvino.window_attention import ATTENTION_OP

COMPUTE_TYPES = ("bf16",)
"""Compute precisions for which :func:`feed_extension_ops` applies (f32 runs the model as read)."""

_FED_INPUTS = {OP_TYPE: None, CHANNELS_LAST_OP: None, ATTENTION_OP: (0, 1, 2)}  # None: every input


def feed_extension_ops(model: Any, compute: str) -> int:
    """Convert every extension op's inputs (WindowAttention: q, k, v) to ``compute`` and its output
    back, in place; return how many ops were changed (0 when ``compute`` is not in
    :data:`COMPUTE_TYPES`)."""
    if compute not in COMPUTE_TYPES:
        return 0
    import openvino as ov
    import openvino.opset13 as ops

    target = getattr(ov.Type, compute)
    changed = 0
    for op in model.get_ops():
        if op.get_type_name() not in _FED_INPUTS or op.get_input_element_type(0) == target:
            continue
        fed = _FED_INPUTS[op.get_type_name()]
        original = op.get_output_element_type(0)
        readers = list(op.output(0).get_target_inputs())
        for port in op.inputs() if fed is None else [op.input(i) for i in fed]:
            port.replace_source_output(ops.convert(port.get_source_output(), target).output(0))
        op.validate_and_infer_types()
        back = ops.convert(op.output(0), original)
        for reader in readers:
            reader.replace_source_output(back.output(0))
        # The op's tensor names go with the value readers see (``diff`` reads tensors by name).
        names = op.output(0).get_tensor().get_names()
        op.output(0).get_tensor().set_names(set())
        back.output(0).get_tensor().set_names(names)
        changed += 1
    if changed:
        model.validate_nodes_and_infer_types()
    return changed
