"""fuse_window_attention on exported graphs: what it takes, what it leaves, and when it declines.

The numbers of the fused graphs are checked in test_openvino_runtime.py (FP32 against the
authors' and the architecture fixtures' outputs, bf16 within budget); here the rewrite itself.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from mgdn_edge.export.artefacts import MODEL_ONNX, OP_DOMAIN  # noqa: E402
from mgdn_edge.runtimes.openvino.window_attention import ATTENTION_OP, fuse_window_attention  # noqa: E402


def _ops(model) -> Counter:
    return Counter(n.op_type for n in model.graph.node)


def test_each_block_becomes_one_node(tiny_mff_export: Path) -> None:
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    before = _ops(model)
    assert fuse_window_attention(model) == 1  # the tiny network has one transformer block
    after = _ops(model)
    assert after[ATTENTION_OP] == 1
    assert after["Softmax"] == before["Softmax"] - 1  # channel attention's Softmax stays
    assert after["MatMul"] < before["MatMul"] and after["Tile"] == before["Tile"]  # unshifted: no mask
    node = next(n for n in model.graph.node if n.op_type == ATTENTION_OP)
    # q, k, v, bias and the window orders: the partition's two row gathers moved into the node
    assert node.domain == OP_DOMAIN and len(node.input) == 6
    assert after["Gather"] <= before["Gather"] - 2
    assert next(a.f for a in node.attribute if a.name == "scale") == pytest.approx(6**-0.5)
    onnx.checker.check_model(model)
    assert fuse_window_attention(model) == 0  # nothing left to fuse


def test_shifted_blocks_take_the_per_image_mask(mff_export: Path) -> None:
    model = onnx.load(str(mff_export / MODEL_ONNX))
    assert fuse_window_attention(model) == 6  # depths [3, 3]
    nodes = [n for n in model.graph.node if n.op_type == ATTENTION_OP]
    assert [len(n.input) for n in nodes] == [6, 7, 6, 6, 7, 6]  # odd blocks are shifted: + mask
    assert "Tile" not in _ops(model)  # the masks are read per image, not repeated per window


def test_a_graph_off_the_pattern_is_left_alone(tiny_mff_export: Path) -> None:
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    keys = next(
        n for n in model.graph.node if n.op_type == "Transpose" and list(n.attribute[0].ints) == [0, 2, 3, 1]
    )
    keys.attribute[0].CopyFrom(helper.make_attribute("perm", [0, 2, 1, 3]))  # not k^T any more
    before = model.SerializeToString()
    assert fuse_window_attention(model) == 0
    assert model.SerializeToString() == before


def test_a_partition_read_elsewhere_stays_a_gather(tiny_mff_export: Path) -> None:
    """The row gather before q, k, v has a second reader: the node takes the gathered rows."""
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    rows = next(
        n for n in model.graph.node if n.op_type == "Gather" and n.attribute and n.attribute[0].i == 1
    )
    model.graph.output.append(
        helper.make_tensor_value_info(rows.output[0], onnx.TensorProto.FLOAT, [None] * 3)
    )
    assert fuse_window_attention(model) == 1
    node = next(n for n in model.graph.node if n.op_type == ATTENTION_OP)
    assert len(node.input) == 4
    assert rows.output[0] in {i for n in model.graph.node for i in n.input} | {
        o.name for o in model.graph.output
    }
    onnx.checker.check_model(model)


def test_a_second_bias_term_is_not_dropped(tiny_mff_export: Path) -> None:
    """Scores with two constant terms added are not the pattern: nothing is fused (a fused node
    would take one of them)."""
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax" and "/attn/" in n.name)
    bias_add = next(n for n in model.graph.node if n.output[0] == softmax.input[0])
    bias = next(i for i in bias_add.input if i in {t.name for t in model.graph.initializer})
    twice = helper.make_node("Add", [bias_add.output[0], bias], ["bias_twice"], name="bias_twice")
    softmax.input[0] = "bias_twice"
    model.graph.node.insert(list(model.graph.node).index(softmax), twice)
    assert fuse_window_attention(model) == 0
