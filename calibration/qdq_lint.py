"""TensorRT-legality lint for QDQ (QuantizeLinear / DequantizeLinear) ONNX files.

TensorRT's *explicit* quantization takes the quantization from the Q/DQ nodes in the graph and
accepts only a narrow form of them, which ONNX Runtime's quantizer does not produce by default
(it writes uint8 activations with nonzero zero points unless told otherwise). A file that breaks
these rules fails at engine build time on another machine, or - worse - builds with layers
silently left in float; so every QDQ file the toolkit writes is checked here first, and the rules
can be run on any file a user brings (``lint_qdq(path)``):

* every Q/DQ node is a standard-domain op (no ``com.microsoft`` contrib Q/DQ) with an explicit
  zero point that is a constant int8 tensor of zeros (symmetric INT8; uint8 or a nonzero zero
  point is asymmetric quantization, which TensorRT rejects), and a constant, positive, finite
  float scale; no blocked quantization;
* activations are quantized per tensor (scalar scale); weights per tensor or per channel along
  the consuming op's output-channel axis (Conv: 0, ConvTranspose: 1, Gemm: 0 with transB else 1,
  MatMul: the last axis), with one scale per channel;
* pairs are well formed: a Q feeds only DQs that use its very scale and zero point, a DQ reads
  either such a Q or an int8 weight initializer (an int32 bias DQ is not an int8 tensor);
* the ``mgdn.DynamicFilter`` nodes are all there and left in float: none of their inputs comes
  out of a DequantizeLinear, and none is a non-float tensor.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from mgdn_edge.export.artefacts import OP_DOMAIN, OP_TYPE, QDQ_OPS, is_filter_node

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16}


def _load(model_or_path: onnx.ModelProto | str | os.PathLike[str]) -> onnx.ModelProto:
    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path
    return onnx.load(os.fspath(model_or_path))


def output_channel_axis(consumer: onnx.NodeProto, weight_rank: int) -> int | None:
    """The axis of a weight that indexes the consumer's output channels (None: op not known)."""
    if consumer.op_type == "Conv":
        return 0
    if consumer.op_type == "ConvTranspose":
        return 1
    if consumer.op_type == "Gemm":
        trans_b = next((a.i for a in consumer.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if consumer.op_type == "MatMul":
        return weight_rank - 1
    return None


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class _Graph:
    """Producer / consumer / constant lookups over the main graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        graph = model.graph
        self.inits = {t.name: t for t in graph.initializer}
        self.consts: dict[str, onnx.TensorProto] = dict(self.inits)
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.consts[node.output[0]] = value
        self.types = {
            vi.name: vi.type.tensor_type.elem_type
            for vi in [*graph.input, *graph.value_info, *graph.output]
            if vi.type.HasField("tensor_type")
        }
        for name, init in self.inits.items():
            self.types[name] = init.data_type

    def const(self, name: str) -> np.ndarray | None:
        tensor = self.consts.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)


def _check_scale_zp(g: _Graph, node: onnx.NodeProto, where: str) -> list[str]:
    problems = []
    if node.domain not in ("", "ai.onnx"):
        problems.append(f"{where}: domain {node.domain!r} (contrib Q/DQ); TensorRT takes standard ONNX Q/DQ")
    scale = g.const(node.input[1]) if len(node.input) > 1 else None
    if scale is None:
        problems.append(f"{where}: scale {node.input[1] if len(node.input) > 1 else '?'} is not a constant")
    elif scale.dtype.kind != "f":
        problems.append(f"{where}: scale has dtype {scale.dtype}, not float")
    elif not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
        problems.append(f"{where}: scale is not positive and finite (min {float(np.min(scale)):g})")
    if len(node.input) < 3 or not node.input[2]:
        problems.append(f"{where}: no zero point (defaults to uint8); TensorRT needs an int8 zero point of 0")
    else:
        zp_tensor = g.consts.get(node.input[2])
        if zp_tensor is None:
            problems.append(f"{where}: zero point {node.input[2]} is not a constant")
        else:
            zp = numpy_helper.to_array(zp_tensor)
            if zp_tensor.data_type != TensorProto.INT8:
                kind = TensorProto.DataType.Name(zp_tensor.data_type).lower()
                problems.append(
                    f"{where}: zero point is {kind}, not int8 (TensorRT explicit quantization is INT8)"
                )
            if np.any(zp != 0):
                problems.append(
                    f"{where}: zero point {zp.ravel()[:4].tolist()} is not 0 (asymmetric quantization)"
                )
            if scale is not None and zp.shape != scale.shape:
                problems.append(
                    f"{where}: zero point shape {zp.shape} differs from scale shape {scale.shape}"
                )
    if _attr(node, "block_size", 0):
        problems.append(f"{where}: blocked quantization (block_size) is not TensorRT INT8 Q/DQ")
    return problems


def _weight_axis_problems(
    g: _Graph, dq: onnx.NodeProto, weight: np.ndarray, scale: np.ndarray, where: str
) -> list[str]:
    if scale.size == 1:
        return []
    if scale.ndim != 1:
        return [f"{where}: weight scale has shape {scale.shape}; per-channel scales are 1-D"]
    axis = _attr(dq, "axis", 1)
    axis = axis + weight.ndim if axis < 0 else axis
    problems = []
    if not 0 <= axis < weight.ndim or weight.shape[axis] != scale.size:
        problems.append(
            f"{where}: {scale.size} scales do not match weight shape {weight.shape} on axis {axis}"
        )
    for consumer in g.consumers.get(dq.output[0], []):
        expected = output_channel_axis(consumer, weight.ndim)
        if expected is None:
            problems.append(f"{where}: per-channel weight feeds {consumer.op_type} {consumer.name!r}")
        elif axis != expected:
            problems.append(
                f"{where}: per-channel axis {axis} is not the output-channel axis {expected} of "
                f"{consumer.op_type} {consumer.name!r}"
            )
    return problems


def lint_qdq(
    model_or_path: onnx.ModelProto | str | os.PathLike[str], require_filters: bool = True
) -> list[str]:
    """Violations of the TensorRT explicit-quantization rules (empty list: the file is legal).

    ``require_filters``: the graph must hold at least one ``mgdn.DynamicFilter`` node (every MGDN
    export does); set False to lint an arbitrary QDQ file.
    """
    model = _load(model_or_path)
    g = _Graph(model)
    problems: list[str] = []
    qs = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    if not qs and not dqs:
        problems.append("no QuantizeLinear/DequantizeLinear nodes: this is not a QDQ model")
    for q in qs:
        problems += _quantize_problems(g, q)
    for dq in dqs:
        problems += _dequantize_problems(g, dq)
    problems += _filter_problems(model, g, require_filters)
    return problems


def _quantize_problems(g: _Graph, q: onnx.NodeProto) -> list[str]:
    """What breaks the rules at one QuantizeLinear: its scale, per-channel activations, its users."""
    problems: list[str] = []
    where = f"QuantizeLinear {q.name or q.output[0]!r}"
    problems += _check_scale_zp(g, q, where)
    scale = g.const(q.input[1])
    if q.input[0] not in g.consts and scale is not None and scale.size != 1:
        problems.append(f"{where}: activation quantized per channel ({scale.size} scales); use per tensor")
    users = g.consumers.get(q.output[0], [])
    if not users:
        problems.append(f"{where}: output is not used (dangling Q)")
    for user in users:
        if user.op_type != "DequantizeLinear":
            problems.append(f"{where}: feeds {user.op_type} {user.name!r} instead of a DequantizeLinear")
            continue
        same = (
            user.input[1:3] == q.input[1:3]
            or (
                np.array_equal(g.const(user.input[1]), scale)
                and len(user.input) > 2
                and len(q.input) > 2
                and np.array_equal(g.const(user.input[2]), g.const(q.input[2]))
            )
        ) and _attr(user, "axis", 1) == _attr(q, "axis", 1)
        if not same:
            problems.append(f"{where}: paired DequantizeLinear {user.name!r} uses another scale/zero point")
    return problems


def _dequantize_problems(g: _Graph, dq: onnx.NodeProto) -> list[str]:
    """What breaks the rules at one DequantizeLinear: its scale and what it reads (int8 weight or a Q)."""
    problems: list[str] = []
    where = f"DequantizeLinear {dq.name or dq.output[0]!r}"
    problems += _check_scale_zp(g, dq, where)
    source = dq.input[0]
    scale = g.const(dq.input[1])
    if source in g.consts:
        weight_tensor = g.consts[source]
        if weight_tensor.data_type != TensorProto.INT8:
            kind = TensorProto.DataType.Name(weight_tensor.data_type).lower()
            problems.append(f"{where}: dequantizes a {kind} constant, not int8 (e.g. a quantized bias)")
        elif scale is not None:
            problems += _weight_axis_problems(g, dq, numpy_helper.to_array(weight_tensor), scale, where)
    else:
        producer = g.producer.get(source)
        if producer is None or producer.op_type != "QuantizeLinear":
            kind = "a graph input" if producer is None else f"{producer.op_type} {producer.name!r}"
            problems.append(f"{where}: reads {kind}, not a QuantizeLinear or an int8 weight")
        elif scale is not None and scale.size != 1:
            problems.append(f"{where}: activation dequantized per channel; use per tensor")
    return problems


def _filter_problems(model: onnx.ModelProto, g: _Graph, require_filters: bool) -> list[str]:
    """A missing dynamic filter node, or one fed by a Q/DQ node or a non-float tensor."""
    problems: list[str] = []
    filters = [n for n in model.graph.node if is_filter_node(n)]
    if require_filters and not filters:
        problems.append(f"no {OP_DOMAIN}.{OP_TYPE} node: the dynamic filter was lost or inlined")
    for node in filters:
        for name in node.input:
            producer = g.producer.get(name)
            if producer is not None and producer.op_type in QDQ_OPS:
                problems.append(
                    f"{OP_TYPE} {node.name!r}: input {name!r} comes from {producer.op_type} "
                    f"(the filter must run on float tensors)"
                )
            elif g.types.get(name, TensorProto.FLOAT) not in FLOAT_TYPES:
                kind = TensorProto.DataType.Name(g.types[name]).lower()
                problems.append(f"{OP_TYPE} {node.name!r}: input {name!r} is {kind}, not float")
    return problems
