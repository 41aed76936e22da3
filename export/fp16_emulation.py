"""An FP16 graph rewritten to run on a CPU with the rounding a GPU's FP16 build has.

ONNX Runtime's CPU provider has FP16 kernels for few ops; for the rest it inserts Casts and runs
every chain of such ops in FP32, rounding to FP16 only where a chain meets an op with an FP16
kernel (Reshape, Transpose, Clip, ...). So an intermediate tensor a GPU stores in FP16 -- the sum
of squares of an L2 norm over H*W, say -- is never rounded there, and its overflow past 65504 never
shows: an FP16 graph that breaks on a GPU passes on the CPU. (Measured on the authors' MFF model
at 520x520: the norms-in-FP16 graph gives 80.4 dB against PyTorch, like the export's own.)

:func:`emulated_fp16` computes every op in FP32 and rounds each tensor the FP16 graph stores in
FP16 to FP16 right after it is written (a Cast to FP16 and back, which ONNX Runtime keeps in an
FP32 graph): the weights hold their FP16 values, the ops the FP16 graph keeps FP32 keep their
unrounded outputs, and an FP16 overflow becomes inf where the GPU's would. A tensor keeps its
name (its unrounded value is ``NAME/fp32``), so stages are found by the same scope names.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper, numpy_helper

from mgdn_edge.core.errors import BackendError

UNROUNDED = "/fp32"  # suffix of a tensor's value before it is rounded to FP16
ROUNDED = "/fp16"  # suffix of the FP16 copy between the two Casts


def _float_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    if tensor.data_type != TensorProto.FLOAT16:
        return tensor
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype("float32"), tensor.name)


def _fp16_outputs(model: onnx.ModelProto) -> set[str]:
    """The tensors the graph stores in FP16 (ONNX shape inference, through local functions)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.value_info, *inferred.graph.output]
    fp16 = {v.name for v in values if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    produced = {o for n in model.graph.node for o in n.output if o}
    typed = {v.name for v in values} | {i.name for i in model.graph.initializer}
    untyped = sorted(produced - typed)
    if untyped:
        raise BackendError(f"cannot tell the element type of {len(untyped)} tensors (e.g. {untyped[0]})")
    return fp16


def _rounding(name: str) -> list[onnx.NodeProto]:
    """``NAME/fp32`` -> FP16 -> ``NAME``: the value rounded to FP16, held in FP32."""
    return [
        helper.make_node("Cast", [name + UNROUNDED], [name + ROUNDED], to=TensorProto.FLOAT16,
                         name=name + ROUNDED),
        helper.make_node("Cast", [name + ROUNDED], [name], to=TensorProto.FLOAT, name=name + UNROUNDED),
    ]  # fmt: skip


def _node_in_fp32(node: onnx.NodeProto) -> onnx.NodeProto:
    """``node`` with FP16 constants and Cast targets made FP32 (its inputs now are FP32)."""
    out = onnx.NodeProto()
    out.CopyFrom(node)
    for attr in out.attribute:
        if attr.name == "to" and node.op_type == "Cast" and attr.i == TensorProto.FLOAT16:
            attr.i = TensorProto.FLOAT
        elif attr.type == onnx.AttributeProto.TENSOR:
            attr.t.CopyFrom(_float_tensor(attr.t))
    return out


def emulated_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The FP32 graph that rounds what ``model`` (an FP16 graph) stores in FP16; see the module doc."""
    fp16 = _fp16_outputs(model)
    emulated = onnx.ModelProto()
    emulated.CopyFrom(model)
    graph = emulated.graph
    nodes: list[onnx.NodeProto] = []
    for node in model.graph.node:
        converted = _node_in_fp32(node)
        rounded = [o for o in node.output if o in fp16]
        converted.output[:] = [o + UNROUNDED if o in fp16 else o for o in node.output]
        nodes.append(converted)
        for name in rounded:
            nodes.extend(_rounding(name))
    del graph.node[:]
    graph.node.extend(nodes)
    initializers = [_float_tensor(t) for t in model.graph.initializer]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    for value in graph.value_info:  # the shapes stay; the stored type is FP32 now
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    return emulated
