"""Structural checks on exported graphs: the size of every tensor they create.

The memory rule: no graph may hold a tensor with k*k*C*H*W elements (what an unfold-style
dynamic filter materialises). Static ONNX shape inference cannot resolve sizes downstream of the
in-graph padding arithmetic (``Pad`` with computed pads), so the whole-graph check records the
shape of *every* node output that ONNX Runtime produces for concrete inputs: each node output is
exposed as a graph output and the session is run once. The DynamicFilter body alone is fully
resolvable statically, so it is also checked from ``onnx.shape_inference`` (see tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx

from mgdn_edge.core.errors import ExportError
from mgdn_edge.export.artefacts import PORTABLE_ONNX
from mgdn_edge.export.verify import example_inputs
from mgdn_edge.model import MGDN


def observed_shapes(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Shape of every node output of a graph *without functions* when run on ``feeds`` (CPU EP)."""
    import onnxruntime as ort

    if model.functions:
        raise ValueError("inline the model's functions first (observed shapes only see graph-level tensors)")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    names = [out for node in probe.graph.node for out in node.output if out and out not in existing]
    probe.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    values = session.run(output_names, feeds)
    return {name: tuple(np.shape(v)) for name, v in zip(output_names, values, strict=True)}


def largest_tensor(shapes: dict[str, Sequence[int]]) -> tuple[str, int]:
    name = max(shapes, key=lambda n: math.prod(shapes[n]))
    return name, math.prod(shapes[name])


def unfold_sized(
    shapes: dict[str, Sequence[int]], batch: int, channels: int, height: int, width: int, kernel_size: int
) -> list[str]:
    """Tensors with at least k*k*C*H*W*N elements (the unfold footprint); empty means the rule holds."""
    limit = kernel_size * kernel_size * channels * height * width * batch
    return [n for n, s in shapes.items() if math.prod(s) >= limit]


def largest_tensor_report(model: MGDN, portable_path: Path, size: tuple[int, int]) -> dict[str, object]:
    """Every tensor of the portable graph at ``size``: ExportError if one is unfold-sized."""
    config = model.config
    feeds = dict(zip(config.io.input_names, example_inputs(config, size), strict=True))
    shapes = observed_shapes(onnx.load(portable_path), feeds)
    too_big = unfold_sized(shapes, 1, config.embed_dim, size[0], size[1], config.kernel_size)
    if too_big:
        raise ExportError(f"{PORTABLE_ONNX} materialises k*k*C*H*W-sized tensors: {too_big[:5]}")
    name, elements = largest_tensor(shapes)
    feature_map = config.embed_dim * size[0] * size[1]
    return {
        "size": f"{size[0]}x{size[1]}",
        "name": name,
        "elements": elements,
        "vs_feature_map": round(elements / feature_map, 3),
    }
