"""The TensorRT graph rewrite and the ONNX-parser lint, on small graphs (the MFF model's checks are
in test_onnx_export.py).

References are independent of the code under test: LayerNormalization written out is compared
with ONNX Runtime's own LayerNormalization kernel and a numpy formula; lint verdicts are checked
against facts read from the onnx-tensorrt sources (named in each assertion).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mgdn_edge.cli import main
from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.export.artefacts import (
    OP_TYPE,
    PLUGIN_NAMESPACE,
    PLUGIN_VERSION,
    TRT_FP16_ONNX,
    TRT_INT8_ONNX,
    TRT_ONNX,
    tensorrt_file,
)
from mgdn_edge.export.dynamic_filter_onnx import standalone_model
from mgdn_edge.export.trt_graph import decompose_layer_norms, tensorrt_graph, with_function_bodies
from mgdn_edge.export.trt_lint import check_tensorrt, lint_tensorrt, parser_table


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------------------------- tables


def test_file_names_come_from_one_rule() -> None:
    assert (TRT_ONNX, TRT_FP16_ONNX, TRT_INT8_ONNX) == (
        "model.trt.onnx",
        "model.trt.fp16.onnx",
        "model.trt.int8.onnx",
    )
    assert tensorrt_file("q.onnx") == "q.trt.onnx"


def test_tables_hold_the_facts_read_from_onnx_tensorrt() -> None:
    # LayerNormalization's importer arrived in 8.6 (DEFINE_BUILTIN_OP_IMPORTER list, 8.5 vs 8.6).
    assert "LayerNormalization" not in parser_table("8.5").ops
    assert "LayerNormalization" in parser_table("8.6").ops
    # ModelImporter.cpp dispatch: 8.x no local functions; 9.0-10.6 function first; 10.7 registry first.
    assert [
        parser_table(v).routing for v in ("8.5", "8.6", "9.0", "10.0", "10.3", "10.6", "10.7", "10.10")
    ] == [
        "plugin",
        "plugin",
        "function_first",
        "function_first",
        "function_first",
        "function_first",
        "plugin_then_function",
        "plugin_then_function",
    ]
    for version in ("8.5", "10.3", "10.7"):
        table = parser_table(version)
        assert table.plugin_attributes == {"plugin_version": "1", "plugin_namespace": ""}
        assert re.fullmatch(r"[0-9a-f]{40}", table.source["parser_commit"])
        assert re.fullmatch(r"[0-9a-f]{40}", table.source["tensorrt_commit"])
    assert parser_table("8.5").max_opset == 17 and parser_table("10.3").max_opset == 20


def test_versions_resolve_to_their_table_or_the_newest_below() -> None:
    assert parser_table("10.3.0.26").source["tensorrt_branch"] == "release/10.3"
    assert parser_table("8.5.2-1+cuda11.4").source["tensorrt_branch"] == "release/8.5"
    late = parser_table("10.12")
    assert late.inherited_from == "10.10" and late.version == "10.12"
    assert parser_table("11").inherited_from == "10.10"
    assert parser_table("11.1.0").inherited_from == "10.10"
    with pytest.raises(InputError, match="no ONNX parser table for TensorRT 7.2"):
        parser_table("7.2")
    with pytest.raises(InputError, match="not a TensorRT version"):
        parser_table("latest")


# -------------------------------------------------------------------------------------- lint


def test_function_graph_is_routed_to_its_function_on_9_to_10_6_only() -> None:
    model = standalone_model(kernel_size=3, channels=4)  # one DynamicFilter + its local function
    for version in ("9.0", "10.0", "10.3", "10.6"):
        report = lint_tensorrt(model, version)
        assert not report.ok and report.function_nodes == [
            model.graph.node[0].name or "<unnamed DynamicFilter>"
        ]
        assert "local ONNX function, not the plugin" in report.message()
    for version in ("8.5", "8.6", "10.7", "11"):
        report = lint_tensorrt(model, version)
        assert report.ok, report.message()
        assert len(report.plugin_nodes) == 1
    # Without the plugin, 9.0+ build the node from its function; 8.x cannot.
    assert lint_tensorrt(model, "10.3", plugin=False).ok
    assert "no local-function support" in lint_tensorrt(model, "8.6", plugin=False).message()


def test_plugin_attributes_must_match_the_creator() -> None:
    model = tensorrt_graph(standalone_model(kernel_size=3, channels=4))
    node = model.graph.node[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["plugin_version"] == PLUGIN_VERSION.encode()
    assert attrs["plugin_namespace"] == PLUGIN_NAMESPACE.encode()
    assert not model.functions
    for version in ("8.5", "10.3", "10.7", "11"):
        assert lint_tensorrt(model, version).ok
    # A node without plugin_namespace is looked up in the default namespace "": no creator there.
    kept = [a for a in node.attribute if a.name != "plugin_namespace"]
    del node.attribute[:]
    node.attribute.extend(kept)
    message = lint_tensorrt(model, "10.3").message()
    assert f"misses the creator {OP_TYPE}/{PLUGIN_VERSION}/'{PLUGIN_NAMESPACE}'" in message
    # With the function back, 10.7 falls back to the function on that miss.
    model.functions.extend(standalone_model(kernel_size=3, channels=4).functions)
    assert "so the local function is used" in lint_tensorrt(model, "10.7").message()


def test_unknown_ops_and_high_opsets_are_named() -> None:
    graph = helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["y"], name="act")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    message = lint_tensorrt(model, "8.6").message()
    assert "Gelu act: no builtin importer" in message and "opsets up to 17" in message
    assert lint_tensorrt(model, "10.0").ok  # Gelu importer from 10.0, opsets to 20
    with pytest.raises(BackendError, match="Gelu act"):
        check_tensorrt(model, "9.0")


def test_lint_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = standalone_model(kernel_size=3, channels=4)
    onnx.save(src, tmp_path / "model.onnx")
    onnx.save(tensorrt_graph(src), tmp_path / TRT_ONNX)
    assert main(["lint", "--tensorrt", "10.3", str(tmp_path / "model.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.onnx: TensorRT 10.3's ONNX parser") and err.count("\n") == 1
    assert main(["lint", "--tensorrt", "8.5", "--tensorrt", "10.3", str(tmp_path / TRT_ONNX)]) == 0
    assert capsys.readouterr().out.count("ok: ") == 2
    assert main(["lint", "--tensorrt", "10.3", str(tmp_path / "missing.onnx")]) == 2
    assert "model file not found" in capsys.readouterr().err


# --------------------------------------------------------------------- LayerNormalization


def _layer_norm_model(opset: int, dtype: int, axis: int, shape: list[int]) -> onnx.ModelProto:
    rng = np.random.default_rng(opset + axis)
    norm_shape = shape[axis:]
    np_type = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    scale = numpy_helper.from_array((1 + rng.standard_normal(norm_shape)).astype(np_type), "scale")
    bias = numpy_helper.from_array(rng.standard_normal(norm_shape).astype(np_type), "bias")
    node = helper.make_node(
        "LayerNormalization", ["x", "scale", "bias"], ["y"], name="ln", axis=axis, epsilon=1e-5
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", dtype, shape)],
        [helper.make_tensor_value_info("y", dtype, shape)],
        [scale, bias],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize(
    ("opset", "dtype", "axis", "shape"),
    [
        (17, TensorProto.FLOAT, -1, [2, 7, 30]),
        (18, TensorProto.FLOAT, -1, [2, 7, 30]),
        (17, TensorProto.FLOAT, 1, [2, 7, 30]),
        (17, TensorProto.FLOAT16, -1, [2, 7, 30]),
    ],
)
def test_written_out_layer_norm_matches_onnxruntime_and_numpy(
    opset: int, dtype: int, axis: int, shape: list[int]
) -> None:
    model = _layer_norm_model(opset, dtype, axis, shape)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    assert decompose_layer_norms(rewritten) == 1
    onnx.checker.check_model(rewritten, full_check=True)
    ops = {n.op_type for n in rewritten.graph.node}
    assert "LayerNormalization" not in ops and ops <= parser_table("8.5").ops
    np_type = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    x = (np.random.default_rng(1).standard_normal(shape) * 40 + 3).astype(np_type)
    ours = _session(rewritten).run(None, {"x": x})[0]
    theirs = _session(model).run(None, {"x": x})[0]
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    axes = tuple(range(axis % len(shape), len(shape)))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    formula = (x64 - mean) / np.sqrt(var + 1e-5) * inits["scale"] + inits["bias"]
    tol = 2e-3 if dtype == TensorProto.FLOAT16 else 1e-5
    assert ours.dtype == np_type
    assert np.abs(ours.astype(np.float64) - formula).max() <= tol
    assert np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max() <= tol


def test_function_bodies_reattach_for_onnxruntime() -> None:
    src = standalone_model(kernel_size=3, channels=4)
    trt = tensorrt_graph(src)
    runnable = with_function_bodies(trt, src)
    rng = np.random.default_rng(0)
    feeds = {"feat": rng.random((1, 4, 9, 11), np.float32), "kernels": rng.random((1, 9, 9, 11), np.float32)}
    assert np.array_equal(_session(runnable).run(None, feeds)[0], _session(src).run(None, feeds)[0])
