"""filter_channels_last: each DynamicFilter as DynamicFilterNHWC between Transposes, for OpenVINO.

The rewrite itself on exported graphs, and what it is for: OpenVINO gives the same image, and
the compiled graph hands the filters their neighbours' channels-last memory with no reorder
(each Transpose merged into a no-op "_fake" reorder). The fixture tests in
test_openvino_runtime.py judge the numbers of the rewritten authors' model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ov = pytest.importorskip("openvino")

from mgdn_edge.export.artefacts import MODEL_ONNX, OP_DOMAIN, OP_TYPE  # noqa: E402
from mgdn_edge.runtimes import open_runtime  # noqa: E402
from mgdn_edge.runtimes.openvino import ir  # noqa: E402
from mgdn_edge.runtimes.openvino.channels_last_filter import CHANNELS_LAST_OP, filter_channels_last  # noqa: E402


def test_each_filter_becomes_channels_last(tiny_mff_export: Path) -> None:
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    filters = [n for n in model.graph.node if n.domain == OP_DOMAIN and n.op_type == OP_TYPE]
    transposes = Counter(n.op_type for n in model.graph.node)["Transpose"]
    assert filters and filter_channels_last(model) == len(filters)
    nodes = {n.name: n for n in model.graph.node}
    for old in filters:  # the name (profiles), inputs and output (readers, `diff`) are kept
        new = nodes[old.name]
        assert new.op_type == CHANNELS_LAST_OP and new.domain == OP_DOMAIN
        feat, kernels = (nodes[name] for name in new.input)
        assert [feat.input[0], kernels.input[0]] == list(old.input)
        assert all(list(t.attribute[0].ints) == [0, 2, 3, 1] for t in (feat, kernels))
        back = nodes[f"{old.name}/out_nchw"]
        assert list(back.attribute[0].ints) == [0, 3, 1, 2] and list(back.output) == list(old.output)
    assert Counter(n.op_type for n in model.graph.node)["Transpose"] == transposes + 3 * len(filters)
    onnx.checker.check_model(model)
    assert filter_channels_last(model) == 0  # nothing planar left


def test_an_unsupported_kernel_size_stays_planar(tiny_mff_export: Path) -> None:
    model = onnx.load(str(tiny_mff_export / MODEL_ONNX))
    for node in model.graph.node:
        if node.op_type == OP_TYPE:
            next(a for a in node.attribute if a.name == "kernel_size").i = 17
    assert filter_channels_last(model) == 0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_image_and_no_reorder_around_the_filters(
    tiny_mff_export: Path, ov_extension: Path, precision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if precision == "bf16" and "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("CPU has no bf16")
    rng = np.random.default_rng(0)
    inputs = [rng.random((1, 3, 40, 56), dtype=np.float32) for _ in range(2)]
    kwargs = {"precision": precision, "extension": ov_extension, "cache": False}
    channels_last = open_runtime("openvino", tiny_mff_export / MODEL_ONNX, **kwargs)
    monkeypatch.setattr(ir, "filter_channels_last", lambda model: 0)
    planar = open_runtime("openvino", tiny_mff_export / MODEL_ONNX, **kwargs)
    got, expected = channels_last.run(inputs), planar.run(inputs)
    assert np.abs(got - expected).max() <= 1e-6  # the same sums in the same order
    for rt, reorders in ((channels_last, False), (planar, True)):
        filters = [
            op
            for op in rt.compiled.get_runtime_model().get_ops()
            if "dynamic_filter" in op.get_friendly_name()
        ]
        neighbours = [i.get_source_output().get_node() for f in filters for i in f.inputs()]
        neighbours += [t.get_node() for f in filters for t in f.output(0).get_target_inputs()]
        real = [
            n.get_friendly_name()
            for n in neighbours
            if n.get_rt_info()["layerType"].astype(str) == "Reorder"
            and not n.get_friendly_name().endswith("_fake")
        ]
        assert bool(real) == reorders, real
