"""``model.fp16.onnx``: the FP16 graph TensorRT (strongly typed) and ONNX Runtime GPU run as is.

The conversion is ONNX Runtime's own converter
(:func:`onnxruntime.transformers.float16.convert_float_to_float16`), not a hand-written pass:

* ``keep_io_types=True``: graph inputs and the output stay float32 (a Cast at each boundary), so
  callers keep passing float32 arrays whatever the file's precision.
* ``op_block_list``: the converter's default list plus :data:`FP32_OPS`, the ops whose FP16
  arithmetic is unsafe for this network:

  - ``ReduceL2``: the transposed channel attention L2-normalises q and k over H*W, so the norm
    grows with the image, and on a full-size real image its sum of squares is far past FP16's
    65504 (figures in the README). An FP16 reduction would overflow to inf and zero the
    attention on real images even though small crops pass.
  - ``ReduceMean``: the channel-gating global average over H*W (the same growth in the sum,
    and an FP16 running sum of 10^5-10^6 terms loses the low bits).
  - ``LayerNormalization``: the variance of a feature row; the usual FP16 overflow/underflow
    hazard TensorRT itself warns about.

  ``Softmax`` stays FP16: every implementation subtracts the row maximum first, and keeping it
  FP32 changed nothing measurable (fixture crops, ONNX Runtime CPU: max abs 4.6e-4 either way)
  while adding two Casts per attention block.
* The ``mgdn.DynamicFilter`` nodes are converted like any other op: their inputs become FP16, so
  TensorRT hands the plugin FP16 tensors. The node's model-local function body (Pad / Split /
  Slice / Mul / Add, constants are int64 indices only) is type-generic, so ONNX Runtime's
  inlined fallback computes the same thing in FP16 without edits.

The result carries ``mgdn_edge.core.precision = "fp16"`` next to the config metadata and must pass
the ONNX checker and strict shape inference like the FP32 files.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import onnx
from onnx import TensorProto

from mgdn_edge.core.errors import MgdnEdgeError
from mgdn_edge.export.artefacts import METADATA_PRECISION_KEY, OP_DOMAIN

FP32_OPS: tuple[str, ...] = ("LayerNormalization", "ReduceL2", "ReduceMean")
CONVERTER = "onnxruntime.transformers.float16.convert_float_to_float16"


class Fp16ConversionError(MgdnEdgeError):
    """The FP16 graph could not be produced or failed a structural check."""


def _converter():  # type: ignore[no-untyped-def]
    try:
        from onnxruntime.transformers import float16
    except ImportError as exc:
        raise Fp16ConversionError(
            "the FP16 conversion needs onnxruntime (its transformers.float16 converter): "
            "pip install 'mgdn-edge[onnx]'"
        ) from exc
    return float16


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    graph = model.graph
    return {
        v.name: v.type.tensor_type.elem_type
        for v in [*graph.input, *graph.output, *graph.value_info]
        if v.type.HasField("tensor_type")
    }


def convert_to_fp16(
    model: onnx.ModelProto,
    fp32_ops: Sequence[str] = FP32_OPS,
    custom_domain: str = OP_DOMAIN,
    fp32_nodes: Sequence[str] = (),
) -> onnx.ModelProto:
    """FP16 copy of ``model`` (float32 I/O, ``fp32_ops`` and the nodes named ``fp32_nodes`` kept
    FP32, custom nodes preserved).

    Raises :class:`Fp16ConversionError` when a custom-domain node disappears or (unless it is one
    of ``fp32_nodes``) does not receive FP16 inputs, or when the graph inputs/outputs are not
    float32 -- either would mean the file no longer is what the TensorRT plugin and callers expect.
    """
    float16 = _converter()
    source = onnx.ModelProto()
    source.CopyFrom(model)
    custom_before = [n.name for n in source.graph.node if n.domain == custom_domain]
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(fp32_ops))
    # The converter logs/warns about every initializer value it clamps to the FP16 range; the
    # graph is checked numerically against PyTorch afterwards, which is what matters.
    previous = logging.getLogger("onnxruntime.transformers.float16").level
    logging.getLogger("onnxruntime.transformers.float16").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = float16.convert_float_to_float16(
                source, keep_io_types=True, op_block_list=block, node_block_list=list(fp32_nodes) or None
            )
        # The converter appends its boundary Casts at the end of the node list; ONNX (and
        # TensorRT's parser) require topological order, so sort with ORT's own graph utility.
        from onnxruntime.transformers.onnx_model import OnnxModel

        OnnxModel.graph_topological_sort(converted.graph, is_deterministic=True)
        drop_fp16_round_trips(converted)
    except Exception as exc:  # the converter raises plain exceptions from deep inside
        raise Fp16ConversionError(f"FP16 conversion failed: {type(exc).__name__}: {exc}") from exc
    finally:
        logging.getLogger("onnxruntime.transformers.float16").setLevel(previous)

    custom_after = [n for n in converted.graph.node if n.domain == custom_domain]
    if [n.name for n in custom_after] != custom_before:
        raise Fp16ConversionError(
            f"FP16 conversion changed the {custom_domain} nodes: {custom_before} -> "
            f"{[n.name for n in custom_after]}"
        )
    inferred = onnx.shape_inference.infer_shapes(converted)
    types = _elem_types(inferred)
    for node in (n for n in custom_after if n.name not in set(fp32_nodes)):
        bad = [i for i in node.input if types.get(i) != TensorProto.FLOAT16]
        if bad:
            raise Fp16ConversionError(f"{node.name} does not get FP16 inputs after conversion: {bad}")
    for value in [*converted.graph.input, *converted.graph.output]:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            raise Fp16ConversionError(f"graph I/O {value.name!r} is not float32 after conversion")
    return converted


def drop_fp16_round_trips(model: onnx.ModelProto) -> int:
    """Remove each Cast FP32 -> FP16 -> FP32 the converter puts between two nodes it keeps FP32, in
    place; returns how many. The converter casts every kept node's output to FP16 and back even
    when an FP32 node reads it, which would round (and overflow) exactly the tensor the node was
    kept FP32 for -- a sum of squares read by a square root, say."""
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    outputs = {v.name for v in graph.output}

    def is_cast(node: onnx.NodeProto | None, to: int) -> bool:
        if node is None or node.op_type != "Cast":
            return False
        return any(a.name == "to" and a.i == to for a in node.attribute)

    types = _elem_types(onnx.shape_inference.infer_shapes(model))
    replace: dict[str, str] = {}
    for node in graph.node:
        first = producer.get(node.input[0]) if node.input else None
        if not is_cast(node, TensorProto.FLOAT) or node.output[0] in outputs:
            continue
        # Only a float32 value's round trip: one from an integer rounds on purpose.
        source = first.input[0] if first is not None and is_cast(first, TensorProto.FLOAT16) else None
        if source is not None and types.get(source) == TensorProto.FLOAT:
            replace[node.output[0]] = source
    if not replace:
        return 0
    kept = [n for n in graph.node if not (n.op_type == "Cast" and n.output[0] in replace)]
    for node in kept:
        node.input[:] = [replace.get(i, i) for i in node.input]
    used = {i for n in kept for i in n.input} | outputs
    kept = [n for n in kept if n.op_type != "Cast" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    return len(replace)


def mark_precision(model: onnx.ModelProto, precision: str = "fp16") -> None:
    """Set ``mgdn_edge.core.precision`` in the metadata, keeping every other entry (config, size, version)."""
    entries = {p.key: p.value for p in model.metadata_props if p.key != METADATA_PRECISION_KEY}
    entries[METADATA_PRECISION_KEY] = precision
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, entries)


def count_fp16_nodes(model: onnx.ModelProto) -> dict[str, int]:
    """How many nodes compute in FP16 vs are kept FP32 (by the block list), for the manifest."""
    types = _elem_types(onnx.shape_inference.infer_shapes(model))
    counts = {"fp16": 0, "fp32": 0}
    for node in model.graph.node:
        kinds = {types.get(o) for o in node.output}
        if TensorProto.FLOAT16 in kinds:
            counts["fp16"] += 1
        elif TensorProto.FLOAT in kinds and node.op_type != "Cast":
            counts["fp32"] += 1
    return counts
