"""The portable body of ``mgdn.DynamicFilter`` as an ONNX function, and one-node test models.

Standard ops only, and only the ``onnx`` package: a runtime-only install (no torch) builds the
one-op model its native-library self-checks run. Why one custom node with a local function, and
why the ``split`` decomposition is the default: :mod:`mgdn_edge.export.dynamic_filter_onnx`.
"""

from __future__ import annotations

import onnx
from onnx import FunctionProto, helper

from mgdn_edge.export.artefacts import (
    KERNEL_SIZE_ATTR,
    OP_DOMAIN,
    OP_DOMAIN_VERSION,
    OP_TYPE,
    PLUGIN_ATTRIBUTES,
)


def _const(name: str, values: list[int]) -> onnx.NodeProto:
    return helper.make_node(
        "Constant", [], [name], value=helper.make_tensor(name, onnx.TensorProto.INT64, [len(values)], values)
    )


def _shift_bounds(offset: int, span: int) -> tuple[int, int]:
    """Slice start/end selecting rows ``offset .. offset + H`` of a map padded by ``span`` in total."""
    end = offset - span if offset < span else 2**62
    return offset, end


def _accumulate(nodes: list[onnx.NodeProto], k: int, window: str, result: str) -> None:
    """``result = sum_t window(t) * tap{t}``: one Mul and one Add per tap, in the torch lean order."""
    acc = None
    for t in range(k * k):
        prod = f"prod{t}" if k > 1 else result
        nodes.append(helper.make_node("Mul", [window.format(t=t), f"tap{t}"], [prod]))
        if acc is not None:
            out = result if t == k * k - 1 else f"acc{t}"
            nodes.append(helper.make_node("Add", [acc, prod], [out]))
            acc = out
        else:
            acc = prod


def _body_2d(kernel_size: int, variant: str) -> list[onnx.NodeProto]:
    """Pad once; per tap a 2-D Slice [N, C, H, W] of the padded map (kernel planes by Split or Slice)."""
    k, r = kernel_size, (kernel_size - 1) // 2
    nodes = [
        _const("pads", [0, 0, r, r, 0, 0, r, r]),
        helper.make_node("Pad", ["feat", "pads"], ["padded"], mode="edge"),
        _const("axes_hw", [2, 3]),
    ]
    if variant == "split":
        nodes += [
            _const("split_sizes", [1] * (k * k)),
            helper.make_node("Split", ["kernels", "split_sizes"], [f"tap{t}" for t in range(k * k)], axis=1),
        ]
    else:
        nodes.append(_const("axis_c", [1]))
    for i in range(k):
        for j in range(k):
            t = i * k + j
            (si, ei), (sj, ej) = _shift_bounds(i, 2 * r), _shift_bounds(j, 2 * r)
            nodes += [_const(f"s{t}", [si, sj]), _const(f"e{t}", [ei, ej])]
            nodes.append(helper.make_node("Slice", ["padded", f"s{t}", f"e{t}", "axes_hw"], [f"win{t}"]))
            if variant == "slice":
                nodes += [_const(f"ks{t}", [t]), _const(f"ke{t}", [t + 1])]
                nodes.append(
                    helper.make_node("Slice", ["kernels", f"ks{t}", f"ke{t}", "axis_c"], [f"tap{t}"])
                )
    _accumulate(nodes, k, "win{t}", "out")
    return nodes


def _body_flat(kernel_size: int) -> list[onnx.NodeProto]:
    """Work on rows flattened to one axis, so every tap's window is ONE contiguous run per channel.

    The padded map [N, C, H+2r+1, W+2r] is viewed as [N, C, L]; the window of tap (i, j) starts at
    i*(W+2r) + j and spans H*(W+2r) values: a memcpy-like Slice instead of a strided 2-D copy. The
    accumulator carries 2r garbage columns per row (computed from the row wrap-around), cropped
    once at the end; the extra bottom row keeps the last tap's run inside the buffer. Kernels are
    zero-padded on the right to the same row pitch and split into k*k planes [N, 1, H*(W+2r)].
    """
    k, r = kernel_size, (kernel_size - 1) // 2
    mk = helper.make_node
    nodes = [
        _const("pads", [0, 0, r, r, 0, 0, r + 1, r]),
        mk("Pad", ["feat", "pads"], ["padded"], mode="edge"),
        mk("Shape", ["feat"], ["shape"]),
        _const("i0", [0]),
        _const("i2", [2]),
        _const("i3", [3]),
        _const("i4", [4]),
        _const("minus1", [-1]),
        mk("Slice", ["shape", "i0", "i2"], ["nc"]),
        mk("Slice", ["shape", "i2", "i3"], ["h"]),
        mk("Slice", ["shape", "i3", "i4"], ["w"]),
        _const("two_r", [2 * r]),
        mk("Add", ["w", "two_r"], ["pitch"]),
        mk("Mul", ["h", "pitch"], ["run"]),
        mk("Concat", ["nc", "minus1"], ["flat_shape"], axis=0),
        mk("Reshape", ["padded", "flat_shape"], ["flat"]),
        _const("kpads", [0, 0, 0, 0, 0, 0, 0, 2 * r]),
        mk("Pad", ["kernels", "kpads"], ["kernels_wide"]),
        _const("taps_shape", [0, k * k, -1]),
        mk("Reshape", ["kernels_wide", "taps_shape"], ["kernels_flat"]),
        _const("split_sizes", [1] * (k * k)),
        mk("Split", ["kernels_flat", "split_sizes"], [f"tap{t}" for t in range(k * k)], axis=1),
    ]
    for i in range(k):
        nodes += [_const(f"row{i}", [i]), mk("Mul", [f"row{i}", "pitch"], [f"row_start{i}"])]
        for j in range(k):
            t = i * k + j
            nodes += [
                _const(f"col{t}", [j]),
                mk("Add", [f"row_start{i}", f"col{t}"], [f"start{t}"]),
                mk("Add", [f"start{t}", "run"], [f"end{t}"]),
                mk("Slice", ["flat", f"start{t}", f"end{t}", "i2"], [f"win{t}"]),
            ]
    _accumulate(nodes, k, "win{t}", "acc_flat")
    nodes += [
        mk("Concat", ["nc", "h", "pitch"], ["wide_shape"], axis=0),
        mk("Reshape", ["acc_flat", "wide_shape"], ["acc_wide"]),
        mk("Slice", ["acc_wide", "i0", "w", "i3"], ["out"]),
    ]
    return nodes


def _body(kernel_size: int, variant: str) -> list[onnx.NodeProto]:
    return _body_flat(kernel_size) if variant == "flat" else _body_2d(kernel_size, variant)


DECOMPOSITIONS = ("split", "slice", "flat")
DEFAULT_DECOMPOSITION = "split"


def build_function(kernel_size: int, opset: int, variant: str = DEFAULT_DECOMPOSITION) -> FunctionProto:
    """The model-local function ``mgdn.DynamicFilter(feat, kernels) -> out`` for one kernel size."""
    if variant not in DECOMPOSITIONS:
        raise ValueError(f"unknown decomposition {variant!r}; known: {DECOMPOSITIONS}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    function = helper.make_function(
        OP_DOMAIN,
        OP_TYPE,
        inputs=["feat", "kernels"],
        outputs=["out"],
        nodes=_body(kernel_size, variant),
        opset_imports=[helper.make_opsetid("", opset)],
        attributes=[],
        doc_string=(
            f"Per-pixel {kernel_size}x{kernel_size} dynamic filter with replicate borders, "
            "out[n,c,y,x] = sum_ij kernels[n,i*k+j,y,x] * feat[n,c,clamp(y+i-r),clamp(x+j-r)]. "
            f"Portable body specialised to kernel_size={kernel_size} ({variant} decomposition)."
        ),
    )
    # Attributes the plugins read; the portable body ignores them (it is specialised to k).
    function.attribute_proto.extend(
        [
            helper.make_attribute(KERNEL_SIZE_ATTR, kernel_size),
            *(helper.make_attribute(k, v) for k, v in PLUGIN_ATTRIBUTES.items()),
        ]
    )
    return function


def standalone_model(
    kernel_size: int, channels: int, opset: int = 17, variant: str = DEFAULT_DECOMPOSITION
) -> onnx.ModelProto:
    """A model holding one DynamicFilter node with dynamic N, H, W (tests and benchmarks)."""
    node = helper.make_node(OP_TYPE, ["feat", "kernels"], ["out"], domain=OP_DOMAIN, kernel_size=kernel_size)
    node.attribute.extend(
        [
            *(helper.make_attribute(k, v) for k, v in PLUGIN_ATTRIBUTES.items()),
        ]
    )
    graph = helper.make_graph(
        [node],
        "dynamic_filter",
        [
            helper.make_tensor_value_info("feat", onnx.TensorProto.FLOAT, ["N", channels, "H", "W"]),
            helper.make_tensor_value_info("kernels", onnx.TensorProto.FLOAT, ["N", kernel_size**2, "H", "W"]),
        ],
        [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, ["N", channels, "H", "W"])],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(OP_DOMAIN, OP_DOMAIN_VERSION)],
        functions=[build_function(kernel_size, opset, variant)],
        producer_name="mgdn-edge",
    )


__all__ = ["DECOMPOSITIONS", "DEFAULT_DECOMPOSITION", "build_function", "standalone_model"]
