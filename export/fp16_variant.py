"""FP16 graphs with named MGDN modules kept FP32 (``quantize --runtime onnxruntime --precision fp16
--keep-float``).

``model.fp16.onnx`` (:mod:`.fp16`) is one recipe: every op FP16 except the norms. Two things vary
here, so that ``mgdn-edge diff --suggest`` can bisect over them on an FP16 variant exactly as it
does over ``--keep-float`` for INT8:

* the recipe (``--method``): ``default`` is the export's (norm ops FP32, :data:`.fp16.FP32_OPS`);
  ``plain`` converts the norms too and writes each ReduceL2 out as its sum of squares and a square
  root (OpenVINO's ReduceL2Decomposition makes the same split). The sum of squares over H*W is
  then a tensor of its own, stored in FP16 as an FP16 build stores a layer's output, so on a
  large image it overflows past 65504 -- which the FP16 emulation (:mod:`.fp16_emulation`) shows
  on a CPU, where ONNX Runtime's CPU provider would compute the chain in FP32 and hide it.
* the modules kept FP32 (``--keep-float``): the same module names and node-scope patterns as for
  INT8 (:mod:`mgdn_edge.export.keep_float`), matched against the node names of the graph
  being converted; the converter puts Casts at their boundaries. A kept ``dynamic_filter`` runs
  its node in FP32 (the plugin and the CPU kernels take either type).

The file carries the export's metadata, ``mgdn_edge.core.precision = "fp16"``, and a TensorRT twin
(``X.trt.onnx``, :mod:`.trt_graph`) beside it as INT8 files have, so ``build-engine`` can take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from mgdn_edge.core.errors import InputError
from mgdn_edge.export.fp16 import FP32_OPS, convert_to_fp16, mark_precision
from mgdn_edge.export.trt_graph import linted_tensorrt_graph

FP16_METHODS = ("default", "plain")  # the first is the default
SUM_SQUARE_SUFFIX = "_SumSquare"


def write_out_l2_norms(model: onnx.ModelProto) -> int:
    """Replace every ReduceL2 by ReduceSumSquare -> Sqrt in place (same attributes, same output
    name, node names kept inside the original's scope); returns how many were split."""
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        if node.op_type != "ReduceL2" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        squares = f"{node.name}{SUM_SQUARE_SUFFIX}_output_0"
        summed = helper.make_node(
            "ReduceSumSquare", list(node.input), [squares], name=f"{node.name}{SUM_SQUARE_SUFFIX}"
        )
        summed.attribute.extend(node.attribute)  # axes / keepdims mean the same for both ops
        nodes.extend([summed, helper.make_node("Sqrt", [squares], list(node.output), name=node.name)])
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return count


def fp32_nodes_for(model: onnx.ModelProto, config: Any, modules: Sequence[str]) -> dict[str, str]:
    """Node name -> the ``--keep-float`` module that keeps it FP32 (unknown names: InputError)."""
    from mgdn_edge.export.keep_float import keep_float_patterns, matching

    names = [n.name for n in model.graph.node if n.name]
    kept: dict[str, str] = {}
    for module, patterns in keep_float_patterns(config, modules).items():
        for node in matching(names, patterns):
            kept.setdefault(node, module)
    return kept


def fp16_variant(
    model: onnx.ModelProto, config: Any, method: str | None = None, keep_float: Sequence[str] = ()
) -> tuple[onnx.ModelProto, dict[str, str]]:
    """(the FP16 graph of ``model`` for ``method``, node -> why it stays FP32); see the module doc."""
    method = method or FP16_METHODS[0]
    if method not in FP16_METHODS:
        raise InputError(f"--method {method!r}: FP16 graphs are made as {' or '.join(FP16_METHODS)}")
    source = onnx.ModelProto()
    source.CopyFrom(model)
    fp32_ops: Sequence[str] = FP32_OPS
    if method == "plain":
        write_out_l2_norms(source)
        fp32_ops = ()
    kept = fp32_nodes_for(source, config, keep_float)
    half = convert_to_fp16(source, fp32_ops=fp32_ops, fp32_nodes=list(kept))
    mark_precision(half, "fp16")
    reasons = {node: f"kept FP32: --keep-float {module}" for node, module in kept.items()}
    reasons.update(
        {n.name: f"FP32 op: {n.op_type} ({method})" for n in source.graph.node if n.op_type in fp32_ops}
    )
    return half, reasons


def write_fp16_variant(
    onnx_path: Path, config: Any, out: Path, method: str | None, keep_float: Sequence[str]
) -> dict[str, Any]:
    """Write ``out`` and its TensorRT twin atomically from the export's ``onnx_path``; the quantize
    builder's report (method, FP32 layers, the twin's path and lint verdicts)."""
    from mgdn_edge.core.atomic import atomic_files
    from mgdn_edge.export.artefacts import tensorrt_file

    half, reasons = fp16_variant(onnx.load(onnx_path), config, method, keep_float)
    trt, verdicts = linted_tensorrt_graph(half)
    trt_path = out.with_name(tensorrt_file(out.name))
    with atomic_files(out, trt_path) as (tmp, trt_tmp):
        onnx.save(half, tmp)
        onnx.save(trt, trt_tmp)
    return {
        "method": method or FP16_METHODS[0],
        "float_layers": reasons,
        "eval_psnr_db": None,
        "tensorrt_path": trt_path,
        "tensorrt_lint": verdicts,
    }
