"""The TensorRT graphs (``model.trt.onnx`` and its FP16 / INT8 twins) made from the ONNX Runtime ones.

``model.onnx`` carries each ``mgdn.DynamicFilter``'s portable body as a model-local function,
which is right for ONNX Runtime but wrong for TensorRT 9.0-10.6: their ONNX parser imports a node
through a local function of the same name before it looks for a plugin, so the plugin is never
used. And it holds ``LayerNormalization``, which TensorRT 8.5's parser (JetPack 5.1) has no
importer for, so the node falls to the plugin path and the parse fails. The TensorRT graph fixes
both and nothing else:

* no local function at all; the DynamicFilter nodes stay custom nodes with ``plugin_version``
  and ``plugin_namespace`` set to the plugin creator's (from :mod:`.artefacts`);
* every ``LayerNormalization`` written out with ops every parser since 8.5 imports:
  ``ReduceMean``, ``Sub``, ``Mul``, ``Add``, ``Sqrt``, ``Div`` (biased variance, epsilon inside
  the square root, as the op defines). They compute in FP32 whatever the graph's precision: the
  variance is a mean of squares, the FP16 hazard the export already keeps norms FP32 for
  (:mod:`.fp16`). An FP16 input gets a Cast to FP32 and the result a Cast back, which is what
  ``stash_type=1`` specifies. The nodes carry :data:`FP32_SCOPE` in their names, so a weakly
  typed FP16 build (TensorRT 8.x) can pin their layers to FP32 by name.

The same transform makes the FP16 twin from ``model.fp16.onnx`` (whose norms already read FP32
tensors) and the INT8 twin from a Q/DQ graph, so each TensorRT file computes what its ONNX
Runtime sibling computes. ONNX Runtime cannot run a file without the function bodies, so it is
verified with them re-attached in memory (:func:`with_function_bodies`): the comparison then
isolates exactly what this module changed.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mgdn_edge.core.errors import MgdnEdgeError
from mgdn_edge.export.artefacts import (
    FP32_SCOPE,
    METADATA_TARGET_KEY,
    PLUGIN_ATTRIBUTES,
    TARGET_TENSORRT,
    is_filter_node,
)

REDUCE_AXES_AS_INPUT_OPSET = 18  # ReduceMean takes its axes as an input from opset 18 on


class TrtGraphError(MgdnEdgeError):
    """The graph cannot be rewritten for TensorRT (an unexpected LayerNormalization form)."""


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _value_types(model: onnx.ModelProto) -> dict[str, tuple[int, int | None]]:
    """Tensor name -> (elem type, rank or None) from shape inference over the graph with its functions."""
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    out: dict[str, tuple[int, int | None]] = {}
    for v in [*graph.input, *graph.output, *graph.value_info]:
        t = v.type.tensor_type
        out[v.name] = (t.elem_type, len(t.shape.dim) if t.HasField("shape") else None)
    for init in graph.initializer:
        out[init.name] = (init.data_type, len(init.dims))
    return out


def _layer_norm_settings(
    node: onnx.NodeProto, types: dict[str, tuple[int, int | None]]
) -> tuple[int, list[int], float]:
    """Element type, normalized axes and epsilon of a LayerNormalization this rewrite can write out."""
    if len(node.output) > 1 and any(node.output[1:]):
        raise TrtGraphError(f"{node.name}: LayerNormalization's Mean/InvStdDev outputs are used")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axis, eps = int(attrs.get("axis", -1)), float(attrs.get("epsilon", 1e-5))
    x = node.input[0]
    elem, rank = types.get(x, (TensorProto.UNDEFINED, None))
    if axis < 0:
        axes = list(range(axis, 0))
    elif rank is not None:
        axes = list(range(axis, rank))
    else:
        raise TrtGraphError(f"{node.name}: LayerNormalization axis {axis} on an input of unknown rank")
    if elem not in (TensorProto.FLOAT, TensorProto.FLOAT16):
        raise TrtGraphError(f"{node.name}: LayerNormalization input {x!r} is not float32/float16")
    return elem, axes, eps


def _layer_norm_nodes(
    node: onnx.NodeProto, types: dict[str, tuple[int, int | None]], opset: int
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The written-out LayerNormalization ``node`` (its nodes and the constants they read)."""
    x = node.input[0]
    elem, axes, eps = _layer_norm_settings(node, types)
    base = f"{node.name or node.output[0]}{FP32_SCOPE}"
    name = lambda part: f"{base}{part}"  # noqa: E731 - one naming rule for nodes and tensors
    nodes: list[onnx.NodeProto] = []
    inits = [numpy_helper.from_array(np.array(eps, dtype=np.float32), name("epsilon"))]
    if elem == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", [x], [name("x32")], name("cast_in"), to=TensorProto.FLOAT))
        x = name("x32")
    scale, bias = node.input[1], (node.input[2] if len(node.input) > 2 and node.input[2] else None)
    for role, tensor in (("scale", scale), ("bias", bias)):
        if tensor is not None and types.get(tensor, (TensorProto.FLOAT,))[0] == TensorProto.FLOAT16:
            nodes.append(
                helper.make_node(
                    "Cast", [tensor], [name(f"{role}32")], name(f"cast_{role}"), to=TensorProto.FLOAT
                )
            )
            if role == "scale":
                scale = name("scale32")
            else:
                bias = name("bias32")

    def reduce_mean(src: str, part: str) -> onnx.NodeProto:
        if opset >= REDUCE_AXES_AS_INPUT_OPSET:
            if not any(i.name == name("axes") for i in inits):
                inits.append(numpy_helper.from_array(np.array(axes, dtype=np.int64), name("axes")))
            return helper.make_node("ReduceMean", [src, name("axes")], [name(part)], name(part), keepdims=1)
        return helper.make_node("ReduceMean", [src], [name(part)], name(part), axes=axes, keepdims=1)

    y32 = name("y32") if elem == TensorProto.FLOAT16 else node.output[0]
    normed = name("normed")
    nodes += [
        reduce_mean(x, "mean"),
        helper.make_node("Sub", [x, name("mean")], [name("centered")], name("centered")),
        helper.make_node("Mul", [name("centered"), name("centered")], [name("squared")], name("squared")),
        reduce_mean(name("squared"), "variance"),
        helper.make_node("Add", [name("variance"), name("epsilon")], [name("var_eps")], name("var_eps")),
        helper.make_node("Sqrt", [name("var_eps")], [name("std")], name("std")),
        helper.make_node("Div", [name("centered"), name("std")], [normed], name("normed")),
    ]
    if bias is None:
        nodes.append(helper.make_node("Mul", [normed, scale], [y32], name("scaled")))
    else:
        nodes.append(helper.make_node("Mul", [normed, scale], [name("scaled")], name("scaled")))
        nodes.append(helper.make_node("Add", [name("scaled"), bias], [y32], name("shifted")))
    if elem == TensorProto.FLOAT16:
        nodes.append(
            helper.make_node("Cast", [y32], [node.output[0]], name("cast_out"), to=TensorProto.FLOAT16)
        )
    return nodes, inits


def decompose_layer_norms(model: onnx.ModelProto) -> int:
    """Replace every LayerNormalization of ``model``'s main graph in place; returns how many."""
    types = _value_types(model)
    opset = _opset(model)
    graph = model.graph
    rebuilt: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        if node.op_type == "LayerNormalization" and node.domain in ("", "ai.onnx"):
            nodes, inits = _layer_norm_nodes(node, types, opset)
            rebuilt.extend(nodes)
            graph.initializer.extend(inits)
            count += 1
        else:
            rebuilt.append(node)
    del graph.node[:]
    graph.node.extend(rebuilt)
    return count


def tensorrt_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """A TensorRT copy of ``model``: no functions, LayerNormalization written out, plugin attributes set."""
    trt = onnx.ModelProto()
    trt.CopyFrom(model)
    decompose_layer_norms(trt)
    for node in trt.graph.node:
        if is_filter_node(node):
            keep = [a for a in node.attribute if a.name not in PLUGIN_ATTRIBUTES]
            del node.attribute[:]
            node.attribute.extend(keep)
            node.attribute.extend(helper.make_attribute(k, v) for k, v in PLUGIN_ATTRIBUTES.items())
    del trt.functions[:]
    # Inferred shapes of the function-backed graph stay valid, but an inference pass on the
    # function-less file could not refresh them: drop them rather than ship stale ones.
    del trt.graph.value_info[:]
    entries = {p.key: p.value for p in trt.metadata_props}
    entries[METADATA_TARGET_KEY] = TARGET_TENSORRT
    del trt.metadata_props[:]
    helper.set_model_props(trt, entries)
    return trt


def with_function_bodies(trt: onnx.ModelProto, source: onnx.ModelProto) -> onnx.ModelProto:
    """``trt`` with ``source``'s local functions attached again, so that ONNX Runtime can run it."""
    runnable = onnx.ModelProto()
    runnable.CopyFrom(trt)
    del runnable.functions[:]
    runnable.functions.extend(source.functions)
    return runnable


def linted_tensorrt_graph(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The TensorRT graph of ``model`` and its parser-lint verdict per target release; a node a
    release would reject is an ExportError (a release documenting a lower opset than the graph's
    is only recorded in the verdicts, as in the export)."""
    from mgdn_edge.core.errors import ExportError
    from mgdn_edge.export.trt_lint import TARGET_RELEASES, lint_tensorrt

    trt = tensorrt_graph(model)
    verdicts: dict[str, str] = {}
    for release in TARGET_RELEASES:
        report = lint_tensorrt(trt, release)
        verdicts[release] = "ok" if report.ok else report.message()
        if not report.ok and any(i.node != "(model)" for i in report.issues):
            raise ExportError(report.message())
    return trt, verdicts
