"""One verdict per file: a DynamicFilter node that disagrees with its inputs is refused by every runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import KERNEL_SIZE_ATTR, is_filter_node
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes.openvino.ir import ov_error_line

onnx = pytest.importorskip("onnx")

# OpenVINO 2026's text for a model its DynamicFilter op refuses (read with the extension loaded).
OV_CONVERSION_FAILURE = (
    "Exception from src/inference/src/cpp/core.cpp:84:\n"
    "Check 'false' failed at src/frontends/common_translators/src/unconverted_ops_report.cpp:151:\n"
    "FrontEnd API failed with OpConversionFailure:\n"
    "Model wasn't fully converted. Failed operations detailed log:\n"
    "-- mgdn.DynamicFilter with a message:\n"
    "While validating ONNX node '<Node(DynamicFilter): out>': Check 'kern[1].compatible(taps)' failed at "
    "dynamic_filter_op.cpp:51:\n"
    "While validating node 'mgdn::DynamicFilter DynamicFilter_3 (opset1::Parameter feat[0]:f32[?,4,?,?], "
    "opset1::Parameter kernels[0]:f32[?,48,?,?]) -> ()' with friendly_name 'DynamicFilter_3':\n"
    "DynamicFilter: kernels have 48 channels, expected kernel_size^2 = 49 (kernel_size 7)\n\n"
    "Summary:\n-- Conversion is failed for: mgdn.DynamicFilter\n\n"
)


def test_openvino_error_line_keeps_the_ops_reason() -> None:
    line = ov_error_line(RuntimeError(OV_CONVERSION_FAILURE))
    assert line == (
        "Conversion is failed for: mgdn.DynamicFilter (DynamicFilter: kernels have 48 channels, "
        "expected kernel_size^2 = 49 (kernel_size 7))"
    )
    # Without a detailed log the summary alone is kept, as before.
    assert (
        ov_error_line(RuntimeError("Summary:\n-- Conversion is failed for: X\n"))
        == "Conversion is failed for: X"
    )


@pytest.fixture(scope="module")
def bad_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MFF export whose first DynamicFilter node says kernel_size 5 (its body and kernels: 7)."""
    from mgdn_edge.export.onnx_export import export_model

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bad")
    export_model(
        MGDN(preset("mff", embed_dim=12, depths=[1], swin_heads=[2])).eval(), out, verify=False, fp16=False
    )
    path = out / "model.onnx"
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if is_filter_node(n))
    next(a for a in node.attribute if a.name == KERNEL_SIZE_ATTR).i = 5
    onnx.save(model, str(path))
    (out / "manifest.json").unlink()  # a hand-edited file: the manifest check would refuse it first
    return path


def test_onnxruntime_refuses_before_the_session(bad_export: Path) -> None:
    pytest.importorskip("onnxruntime")
    from mgdn_edge.runtimes import open_runtime

    with pytest.raises(
        BackendError, match=r"DynamicFilter node '.+' in model.onnx: kernel_size 5 but its function body"
    ):
        open_runtime("onnxruntime", bad_export)


def test_openvino_refuses_it_with_the_same_verdict(bad_export: Path, ov_extension: Path) -> None:
    """OpenVINO's op would use the attribute and ignore the body: one file, one verdict, refused,
    whether the extension is found or named."""
    pytest.importorskip("openvino")
    from mgdn_edge.runtimes import open_runtime

    for extension in (None, ov_extension):
        with pytest.raises(
            BackendError, match=r"DynamicFilter node '.+' in model.onnx: kernel_size 5 but its function body"
        ):
            open_runtime("openvino", bad_export, extension=extension)


def test_tensorrt_lint_names_the_node(bad_export: Path) -> None:
    from mgdn_edge.export.trt_lint import lint_tensorrt

    report = lint_tensorrt(bad_export, "10.7")
    assert not report.ok
    assert "kernel_size 5 but its function body is built for kernel_size 7" in report.message()


def test_full_model_with_consistent_nodes_passes(bad_export: Path) -> None:
    """The same export unmodified: every node checks (static shapes known), none needs run-time checks."""
    from mgdn_edge.export.filter_check import check_onnx_filters, onnx_filter_problems

    model = onnx.load(str(bad_export))
    problems, _ = onnx_filter_problems(model)
    assert len(problems) == 1
    node = next(n for n in model.graph.node if is_filter_node(n))
    next(a for a in node.attribute if a.name == KERNEL_SIZE_ATTR).i = 7
    assert check_onnx_filters(model) == []
    assert np.all([is_filter_node(n) for n in model.graph.node if n.op_type == "DynamicFilter"])


def test_static_shapes_of_a_full_model_are_checked(bad_export: Path) -> None:
    """Node and body both say 5, the predictor makes 49 channels: shape inference knows, so refused."""
    from mgdn_edge.export.filter_check import check_onnx_filters

    model = onnx.load(str(bad_export))
    for node in model.graph.node:
        if is_filter_node(node):
            next(a for a in node.attribute if a.name == KERNEL_SIZE_ATTR).i = 5
    for function in model.functions:
        next(a for a in function.attribute_proto if a.name == KERNEL_SIZE_ATTR).i = 5
    with pytest.raises(
        BackendError,
        match=r"kernels have 49 channels, expected kernel_size\^2 = 25 \(kernel_size 5\) \(\+1 more nodes\)",
    ):
        check_onnx_filters(model, "model.onnx")
