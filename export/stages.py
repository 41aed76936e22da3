"""The stages of an MGDN and where each lies in an exported graph.

A *stage* is one call of a module whose output is one tensor: the input stems, in every MGDN
stage the channel attention (TCA) and the kernel predictors it feeds, each DynamicFilter call and
the 1x1 conv after it, the fusing convs, every transformer block, and the head. Its name is the
module path (``layers.1.MGF.dynamic_filter``), with ``#2`` for a module's second call.

How a stage is found in an exported graph: the ONNX exporter names every node and tensor after
the module scope it ran in (``/layers.1/MGF/dynamic_filter_1/DynamicFilter_output_0`` is the second
call of ``layers.1.MGF.dynamic_filter``), and OpenVINO keeps those tensor names through IR
conversion and NNCF quantization. A stage's tensor is the last one, in execution order, whose name
lies in its scope; the torch-vs-ONNX test checks every stage of every task this way. ``diff``
(:mod:`mgdn_edge.calibration.divergence`) compares variants stage by stage and ``--keep-float``
(:mod:`mgdn_edge.export.keep_float`) names layers by these module paths.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Modules whose output is their last child's: the exporter names the output after that child.
_OUTPUT_CHILD = {"MutualGuidedCrossAttention": "project_out"}


@dataclass(frozen=True)
class StagePoint:
    """One stage: its module path, which call of that module, and the ONNX scope of its output."""

    module: str
    call: int  # 1-based
    scope: str  # e.g. "layers.1/MGF/dynamic_filter_1"

    @property
    def name(self) -> str:
        return self.module if self.call == 1 else f"{self.module}#{self.call}"


def _stage_modules(model: Any) -> dict[str, Any]:
    """The modules whose calls are stages (see the module doc), by path."""
    chosen: dict[str, Any] = {}
    for name, child in model.named_children():
        if name not in ("layers", "patch_embed", "norm"):
            chosen[name] = child
    for i, stage in enumerate(model.layers):
        for name, child in stage.MGF.named_children():
            chosen[f"layers.{i}.MGF.{name}"] = child
        for name, child in stage.named_children():
            if name == "residual_group":
                for j, block in enumerate(child.blocks):
                    chosen[f"layers.{i}.residual_group.blocks.{j}"] = block
            elif name != "MGF":
                chosen[f"layers.{i}.{name}"] = child
    return chosen


def onnx_scope(module: str, call: int, class_name: str) -> str:
    """The exporter's scope for a module call: ``layers.0.residual_group.blocks.1`` (call 1) ->
    ``layers.0/blocks.1``; ``layers.0.MGF.dynamic_filter`` (call 2) -> ``layers.0/MGF/dynamic_filter_1``."""
    parts: list[str] = []
    for part in module.split("."):
        if part.isdigit() and parts:
            parts[-1] += f".{part}"
        elif part != "residual_group":  # a plain container the exporter leaves out of scopes
            parts.append(part)
    if class_name in _OUTPUT_CHILD:
        parts.append(_OUTPUT_CHILD[class_name])
    if call > 1:
        parts[-1] += f"_{call - 1}"
    return "/".join(parts)


def stage_points(config: Any) -> list[StagePoint]:
    """Every stage of an MGDN with ``config``, in execution order (recorded on a tiny input)."""
    return list(_recorded_stage_points(config))


@functools.lru_cache(maxsize=8)
def _recorded_stage_points(config: Any) -> tuple[StagePoint, ...]:
    """:func:`stage_points`, recorded once per config (a config is frozen): ``diff --suggest`` and
    every ``--keep-float`` conversion ask again for the same network."""
    import torch

    from mgdn_edge.model import MGDN

    model = MGDN(config).eval()
    modules = _stage_modules(model)
    order: list[tuple[str, str]] = []
    hooks = [
        module.register_forward_hook(lambda m, i, o, path=path: order.append((path, type(m).__name__)))
        for path, module in modules.items()
    ]
    size = 2 * config.window_size
    inputs = [torch.rand(1, c, size, size) for c in config.io.input_channels]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    calls: dict[str, int] = {}
    points = []
    for path, class_name in order:
        calls[path] = calls.get(path, 0) + 1
        points.append(StagePoint(path, calls[path], onnx_scope(path, calls[path], class_name)))
    return tuple(points)


def tensors_for(points: Sequence[StagePoint], ordered_tensors: Sequence[str]) -> dict[str, str]:
    """Stage name -> the graph tensor that holds its output: the last tensor (in execution order)
    named inside the stage's scope. Stages the graph does not show are left out."""
    found: dict[str, str] = {}
    for point in points:
        prefix = f"/{point.scope}/"
        inside = [t for t in ordered_tensors if t.startswith(prefix)]
        if inside:
            found[point.name] = inside[-1]
    return found
