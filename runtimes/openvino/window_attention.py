"""Each window attention of ``model.onnx`` as one ``mgdn.WindowAttention`` node, for OpenVINO.

The exported graph spells a Swin block's attention in standard ops: per-head reshapes and
transposes of q, k and v, ``MatMul``, the relative-position bias ``Add``, the shifted-window mask
``Add`` (of a ``Tile`` of the per-image mask), ``Softmax``, ``MatMul``, and a transpose back.
OpenVINO's CPU plugin runs that as one attention snippet, but MGDN's windows are tiny (16 tokens,
head dim 10 for the MFF model), so the snippet is bound by per-window overhead and leaves the key
and output transposes, the mask's ``Tile`` and the window partition's row gathers as separate
passes. The extension's WindowAttention op does the whole thing per window in registers
(plugins/common/window_attention_simd.hpp), reading and writing the rows in image order; the
README's CPU table has the measured difference.

:func:`fuse_window_attention` rewrites exactly that pattern and leaves anything else alone, so
the file's other runtimes (ONNX Runtime, TensorRT) keep reading the standard ops from disk: the
rewrite happens in memory, just before OpenVINO reads the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from mgdn_edge.export.artefacts import OP_DOMAIN

ATTENTION_OP = "WindowAttention"
# The op's limits (kMaxAttentionTokens / kMaxAttentionChannels in plugins/common): larger
# attentions (no published MGDN config has one) stay standard ops.
MAX_TOKENS = 64
MAX_CHANNELS = 256
_HEADS_FIRST = [0, 2, 1, 3]  # [windows, tokens, heads, dim] <-> [windows, heads, tokens, dim]
_KEYS_TRANSPOSED = [0, 2, 3, 1]  # [windows, tokens, heads, dim] -> [windows, heads, dim, tokens]


@dataclass(frozen=True)
class _Match:
    q: str
    k: str
    v: str
    bias: str
    mask: str | None
    scale: float
    out_shape: str  # the shape input of the final Reshape back to tokens
    out: str  # that Reshape's output: what the fused node's Reshape must produce
    last: onnx.NodeProto  # the final Reshape, replaced
    name: str  # the fused node's: the attention's scope, as profiles show it


class _Graph:
    """Producer, consumer and constant lookups over one ONNX graph."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in graph.node:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)
        self.initializers = {i.name: i for i in graph.initializer}
        self.outputs = {o.name for o in graph.output}

    def constant(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if (
            node is not None
            and node.op_type == "Constant"
            and node.attribute
            and node.attribute[0].name == "value"
        ):
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def node(self, name: str, op_type: str) -> onnx.NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def readers(self, name: str) -> int:
        """How many nodes read ``name``, plus one if it is a graph output."""
        return len(self.consumers.get(name, [])) + (name in self.outputs)

    def only_consumer(self, name: str, op_type: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        return users[0] if self.readers(name) == 1 and users[0].op_type == op_type else None


def _perm(node: onnx.NodeProto | None) -> list[int] | None:
    if node is None:
        return None
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


def _heads_input(g: _Graph, name: str, perm: list[int]) -> tuple[str, np.ndarray] | None:
    """(tokens tensor, [-1, n, heads, dim] shape) of ``Transpose(perm)(Reshape(tokens, shape))``."""
    transpose = g.node(name, "Transpose")
    if _perm(transpose) != perm:
        return None
    reshape = g.node(transpose.input[0], "Reshape")
    if reshape is None:
        return None
    shape = g.constant(reshape.input[1])
    if shape is None or shape.shape != (4,) or shape[0] != -1 or min(shape[1:]) < 1:
        return None
    return reshape.input[0], shape


def _match(g: _Graph, softmax: onnx.NodeProto) -> _Match | None:
    axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
    if axis not in (-1, 3):
        return None
    # Softmax(Add(Add(MatMul(q * scale, k^T), bias)[, mask])): peel the added terms off.
    terms: list[str] = []
    chain = softmax.input[0]
    while (add := g.node(chain, "Add")) is not None:
        inner = [i for i in add.input if g.node(i, "Add") is not None or g.node(i, "MatMul") is not None]
        if len(inner) != 1:
            return None
        terms.append(next(i for i in add.input if i != inner[0]))
        chain = inner[0]
    scores = g.node(chain, "MatMul")
    if scores is None or len(terms) not in (1, 2):
        return None
    scaled = g.node(scores.input[0], "Mul")
    constants = [g.constant(i) for i in scaled.input] if scaled is not None else []
    if sum(c is not None for c in constants) != 1:  # q times one constant
        return None
    scale = next(c for c in constants if c is not None)
    if scale.size != 1:
        return None
    q = _heads_input(
        g, next(i for i, c in zip(scaled.input, constants, strict=True) if c is None), _HEADS_FIRST
    )
    k = _heads_input(g, scores.input[1], _KEYS_TRANSPOSED)
    weighted = g.only_consumer(softmax.output[0], "MatMul")
    if q is None or k is None or weighted is None or weighted.input[0] != softmax.output[0]:
        return None
    v = _heads_input(g, weighted.input[1], _HEADS_FIRST)
    back = g.only_consumer(weighted.output[0], "Transpose")
    last = g.only_consumer(back.output[0], "Reshape") if _perm(back) == _HEADS_FIRST else None
    if v is None or last is None or not (np.array_equal(q[1], k[1]) and np.array_equal(q[1], v[1])):
        return None
    _, tokens, heads, head_dim = (int(d) for d in q[1])
    if tokens > MAX_TOKENS or heads * head_dim > MAX_CHANNELS:
        return None

    bias = mask = None  # exactly one bias term, at most one mask term
    for term in terms:
        value = g.constant(term)
        if value is not None and value.shape in ((1, heads, tokens, tokens), (heads, tokens, tokens)):
            if bias is not None:
                return None
            bias = term
        else:  # the shifted-window mask: Unsqueeze(Tile(mask [windows, n, n]), axis 1)
            unsqueeze = g.node(term, "Unsqueeze")
            tile = g.node(unsqueeze.input[0], "Tile") if unsqueeze is not None else None
            axes = (
                g.constant(unsqueeze.input[1]) if unsqueeze is not None and len(unsqueeze.input) > 1 else None
            )
            if tile is None or axes is None or axes.tolist() != [1] or mask is not None:
                return None
            mask = tile.input[0]
    if bias is None:
        return None
    scope = softmax.name.rpartition("/")[0]
    name = f"{scope}/{ATTENTION_OP}" if scope else f"{softmax.name}_{ATTENTION_OP}"
    return _Match(
        q[0], k[0], v[0], bias, mask, float(scale.reshape(())), last.input[1], last.output[0], last, name
    )


def _axis(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 0)


def _projection_input(g: _Graph, name: str) -> str | None:
    """X of the per-token projection ``X @ W (+ b)`` (constant W, b) that produces ``name``."""
    add = g.node(name, "Add")
    if add is not None:
        if sum(g.constant(i) is not None for i in add.input) != 1:
            return None
        name = next(i for i in add.input if g.constant(i) is None)
    matmul = g.node(name, "MatMul")
    return matmul.input[0] if matmul is not None and g.constant(matmul.input[1]) is not None else None


def _projection_output(g: _Graph, name: str) -> str | None:
    """The output of the per-token projection that is the only reader of ``name``: a Gemm of
    constant weights, or a MatMul of constant weights (plus a constant)."""
    gemm = g.only_consumer(name, "Gemm")
    if gemm is not None:
        trans_a = next((a.i for a in gemm.attribute if a.name == "transA"), 0)
        weights = all(g.constant(i) is not None for i in gemm.input[1:])
        return gemm.output[0] if gemm.input[0] == name and trans_a == 0 and weights else None
    matmul = g.only_consumer(name, "MatMul")
    if matmul is None or matmul.input[0] != name or g.constant(matmul.input[1]) is None:
        return None
    add = g.only_consumer(matmul.output[0], "Add")
    if add is not None and any(g.constant(i) is not None for i in add.input):
        return add.output[0]
    return matmul.output[0]


def _absorb_window_order(model: onnx.ModelProto, g: _Graph, node: onnx.NodeProto) -> bool:
    """Let a fused attention read and write its rows in image order: drop the window partition's
    Gather before the q/k/v projections and the reverse Gather after the output projection (both
    per token, so they commute with a row permutation) and hand their indices to the node, which
    checks at run time that they are inverse permutations."""
    sources = {_projection_input(g, i) for i in node.input[:3]}
    tokens = sources.pop() if len(sources) == 1 else None
    if tokens is None or g.readers(tokens) != 3:  # read by the q, k, v projections only
        return False
    reshape_in = g.node(tokens, "Reshape")
    gather_in = g.node(reshape_in.input[0], "Gather") if reshape_in is not None else None
    if gather_in is None or _axis(gather_in) != 1 or g.readers(gather_in.output[0]) != 1:
        return False
    back = g.only_consumer(node.output[0], "Reshape")
    projected = _projection_output(g, back.output[0]) if back is not None else None
    reshape_out = None  # the last of the Reshapes from the projection's rows to [images, tokens, C]
    while projected is not None and (after := g.only_consumer(projected, "Reshape")) is not None:
        reshape_out, projected = after, after.output[0]
    gather_out = g.only_consumer(reshape_out.output[0], "Gather") if reshape_out is not None else None
    if gather_out is None or _axis(gather_out) != 1:
        return False
    node.input.extend([gather_in.input[1], gather_out.input[1]])
    reshape_in.input[0] = gather_in.input[0]
    reshape_out.output[0] = gather_out.output[0]
    model.graph.node.remove(gather_out)
    return True


def _drop_dead_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is read (repeatedly), keeping graph outputs."""
    while True:
        used = {o.name for o in graph.output} | {i for n in graph.node for i in n.input}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for n in dead:
            graph.node.remove(n)


def _sort_nodes(graph: onnx.GraphProto) -> None:
    """Order the nodes so each comes after the producers of its inputs (ONNX requires it)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        left = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(onnx.NodeProto())
                ordered[-1].CopyFrom(n)  # a reference would not survive clearing the field
                ready.update(n.output)
            else:
                left.append(n)
        if len(left) == len(pending):
            raise ValueError("the rewritten graph has a cycle or a dangling input")
        pending = left
    del graph.node[:]
    graph.node.extend(ordered)


def fuse_window_attention(model: onnx.ModelProto) -> int:
    """Replace every window attention of ``model`` (in place) by one WindowAttention node that
    also takes over the window partition's row gathers where it can.

    Returns how many attentions were fused; a model without the pattern is left as it was.
    """
    g = _Graph(model.graph)
    matches = [
        m for n in list(model.graph.node) if n.op_type == "Softmax" and (m := _match(g, n)) is not None
    ]
    fused = []
    for m in matches:
        output = f"{m.name}_output_0"
        inputs = [m.q, m.k, m.v, m.bias] + ([m.mask] if m.mask is not None else [])
        position = list(model.graph.node).index(m.last)
        model.graph.node.remove(m.last)
        node = helper.make_node(ATTENTION_OP, inputs, [output], name=m.name, domain=OP_DOMAIN, scale=m.scale)
        model.graph.node.insert(position, node)
        fused.append(m.name)
        model.graph.node.insert(
            position + 1,
            helper.make_node("Reshape", [output, m.out_shape], [m.out], name=m.last.name or None),
        )
    if not matches:
        return 0
    _drop_dead_nodes(model.graph)
    g = _Graph(model.graph)
    for name in fused:  # the graph's own node: protobuf inserts a copy of the one given
        if _absorb_window_order(model, g, next(n for n in model.graph.node if n.name == name)):
            g = _Graph(model.graph)
    _drop_dead_nodes(model.graph)
    _sort_nodes(model.graph)
    return len(matches)
