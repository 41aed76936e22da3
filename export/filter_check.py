"""One verdict per file: every ``mgdn.DynamicFilter`` node's attributes against its inputs.

Why one shared check: the runtimes disagree about a node whose ``kernel_size`` attribute does not
fit its inputs. The OpenVINO op refuses it ("kernels have 48 channels, expected kernel_size^2 =
49"); ONNX Runtime never reads the attribute (it runs the model-local function body, specialised
to one k) and may exit 0 with a wrong result; TensorRT's plugin reads the attribute. So the rules
of the op (mirroring ``plugins/openvino/dynamic_filter_op.cpp``, with the same wording) live here
and every runtime applies them: statically to the shapes ONNX shape inference knows, before a
session exists, and at run time to the arrays fed to a node whose inputs are graph inputs of
dynamic size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import BackendError, InputError, one_line
from mgdn_edge.export.artefacts import KERNEL_SIZE_ATTR, OP_TYPE, is_filter_node

Dim = int | None  # None: not known until run time
# ONNX element types the op computes in (float, float16, bfloat16); I/O arrays are float32 only.
_REAL_ONNX_TYPES = {1: "float", 10: "float16", 16: "bfloat16"}


def filter_problem(
    kernel_size: object, feat: Sequence[Dim] | None, kernels: Sequence[Dim] | None
) -> str | None:
    """Why ``(feat, kernels)`` shapes cannot feed a DynamicFilter of ``kernel_size``; None if they can.

    Unknown shapes (None) or dimensions (None) pass: they are checked when known.
    """
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool):
        return f"{KERNEL_SIZE_ATTR} must be an integer, got {kernel_size!r}"
    if kernel_size < 1 or kernel_size % 2 == 0:
        return f"kernel_size must be odd and positive, got {kernel_size}"
    if feat is not None and len(feat) != 4:
        return f"feat must be 4-D [N,C,H,W], got {list(feat)}"
    if kernels is not None and len(kernels) != 4:
        return f"kernels must be 4-D [N,k*k,H,W], got {list(kernels)}"
    if kernels is None:
        return None
    taps = kernel_size * kernel_size
    if kernels[1] is not None and kernels[1] != taps:
        return (
            f"kernels have {kernels[1]} channels, expected kernel_size^2 = {taps} (kernel_size {kernel_size})"
        )
    if feat is not None:
        for axis, i in (("N", 0), ("H", 2), ("W", 3)):
            if feat[i] is not None and kernels[i] is not None and feat[i] != kernels[i]:
                return f"feat and kernels differ in {axis} (feat {feat[i]}, kernels {kernels[i]})"
    return None


def check_filter_arrays(feat: Any, kernels: Any, kernel_size: object, where: str = OP_TYPE) -> None:
    """Refuse (InputError) arrays that cannot feed the op: float32 only, shapes as the op requires.

    Either array may be None (not known here, e.g. computed inside the graph).
    """
    for name, x in (("feat", feat), ("kernels", kernels)):
        if x is None:
            continue
        dtype = str(getattr(x, "dtype", type(x).__name__)).replace("torch.", "")
        if dtype != "float32":
            raise InputError(f"{where}: {name} must be float32, got {dtype}")
    problem = filter_problem(
        kernel_size,
        None if feat is None else tuple(feat.shape),
        None if kernels is None else tuple(kernels.shape),
    )
    if problem:
        raise InputError(f"{where}: {problem}")


@dataclass(frozen=True)
class FedFilter:
    """A DynamicFilter node whose inputs are graph inputs: checked on the arrays at run time."""

    node: str
    kernel_size: int
    feat: str
    kernels: str


def _kernel_size(node: Any) -> object:
    import onnx

    for attr in node.attribute:
        if attr.name == KERNEL_SIZE_ATTR:
            return onnx.helper.get_attribute_value(attr)
    return None


def _function_kernel_size(function: Any) -> object:
    """The kernel size a model-local function body was specialised to (its attribute default)."""
    import onnx

    for attr in function.attribute_proto:
        if attr.name == KERNEL_SIZE_ATTR:
            return onnx.helper.get_attribute_value(attr)
    return None


def _shapes(model: Any) -> dict[str, tuple[tuple[Dim, ...] | None, int]]:
    """name -> (shape with None for symbolic dims, element type) for every typed value."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # shape inference may fail on foreign graphs: check what the file declares
        inferred = model
    graph = inferred.graph
    table: dict[str, tuple[tuple[Dim, ...] | None, int]] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor = info.type.tensor_type
        shape = None
        if tensor.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        table[info.name] = (shape, tensor.elem_type)
    for init in graph.initializer:
        table[init.name] = (tuple(init.dims), init.data_type)
    return table


def _node_problem(node: Any, functions: Mapping[Any, Any], shapes: Mapping[str, Any]) -> str | None:
    k = _kernel_size(node)
    if k is None:
        return f"no {KERNEL_SIZE_ATTR} attribute"
    if len(node.input) != 2:
        return f"expected 2 inputs (feat, kernels), got {len(node.input)}"
    function = functions.get((node.domain, node.op_type))
    body_k = None if function is None else _function_kernel_size(function)
    if body_k is not None and body_k != k:
        return f"{KERNEL_SIZE_ATTR} {k} but its function body is built for kernel_size {body_k}"
    (feat_shape, feat_type), (kern_shape, kern_type) = (
        shapes.get(node.input[0], (None, 0)),
        shapes.get(node.input[1], (None, 0)),
    )
    for name, elem in (("feat", feat_type), ("kernels", kern_type)):
        if elem and elem not in _REAL_ONNX_TYPES:
            return f"{name} must be floating point, got ONNX element type {elem}"
    if feat_type and kern_type and feat_type != kern_type:
        return (
            f"feat ({_REAL_ONNX_TYPES[feat_type]}) and kernels ({_REAL_ONNX_TYPES[kern_type]}) "
            "must have the same element type"
        )
    return filter_problem(k, feat_shape, kern_shape)


def onnx_filter_problems(model: Any) -> tuple[list[tuple[str, str]], list[FedFilter]]:
    """((node name, why) for every DynamicFilter node no runtime should run, nodes to check at run).

    Checked per node: the ``kernel_size`` attribute (present, odd, positive), that it equals the
    kernel size its model-local function body was built for, the input element types, and the
    shapes shape inference knows. The second list holds the nodes fed by graph inputs, whose
    dynamic dimensions :func:`check_fed_arrays` checks on the actual arrays.
    """
    nodes = [n for n in model.graph.node if is_filter_node(n)]
    if not nodes:
        return [], []
    functions = {(f.domain, f.name): f for f in model.functions}
    shapes = _shapes(model)
    graph_inputs = {i.name for i in model.graph.input}
    problems: list[tuple[str, str]] = []
    fed: list[FedFilter] = []
    for node in nodes:
        name = node.name or "<unnamed>"
        problem = _node_problem(node, functions, shapes)
        if problem:
            problems.append((name, problem))
        elif node.input[0] in graph_inputs or node.input[1] in graph_inputs:
            fed.append(FedFilter(name, int(_kernel_size(node)), node.input[0], node.input[1]))  # type: ignore[call-overload]
    return problems, fed


def check_onnx_filters(model: Any, source: str = "the model") -> list[FedFilter]:
    """Raise :class:`BackendError` naming the DynamicFilter nodes no runtime should run (see
    :func:`onnx_filter_problems`); return the nodes to check at run time."""
    problems, fed = onnx_filter_problems(model)
    if problems:
        name, why = problems[0]
        more = f" (+{len(problems) - 1} more nodes)" if len(problems) > 1 else ""
        raise BackendError(f"{OP_TYPE} node {name!r} in {source}: {why}{more}")
    return fed


def check_fed_arrays(fed: Sequence[FedFilter], feeds: Mapping[str, Any], source: str = "the model") -> None:
    """The run-time half of :func:`check_onnx_filters`: the actual arrays against each node."""
    for f in fed:
        where = f"{OP_TYPE} node {f.node!r} in {source}"
        check_filter_arrays(feeds.get(f.feat), feeds.get(f.kernels), f.kernel_size, where)


def check_onnx_file_filters(path: Path) -> list[FedFilter]:
    """:func:`check_onnx_filters` on an ONNX file: what every runtime that reads one calls first."""
    return check_onnx_filters(_load_graph(path), path.name)


def load_checked_onnx(path: Path) -> Any:
    """An ONNX file's ModelProto (external data not loaded) once :func:`check_onnx_filters` has
    passed it, for a caller that reads the file itself."""
    model = _load_graph(path)
    check_onnx_filters(model, path.name)
    return model


def _load_graph(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors
        raise BackendError(f"{path} is not a readable ONNX file: {one_line(exc)}") from exc
