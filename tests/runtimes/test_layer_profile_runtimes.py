"""Layer profiles from each runtime on the tiny MFF export, checked against the graph it runs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import OP_TYPE
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.onnxruntime.runtime import trace_samples


def _inputs(size: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((1, 3, size, size), dtype=np.float32) for _ in range(2)]


@pytest.fixture(scope="module")
def graph_ops(tiny_mff_export) -> Counter[str]:
    """Op types of the exported graph's own nodes (a DynamicFilter counts once, not its body)."""
    onnx = pytest.importorskip("onnx")
    return Counter(n.op_type for n in onnx.load(str(tiny_mff_export / "model.onnx")).graph.node)


def test_onnxruntime_counts_every_conv_of_the_graph_on_its_provider(tiny_mff_export, graph_ops):
    pytest.importorskip("onnxruntime")
    # optimization "disable": no node is fused, so the session runs exactly the file's Conv nodes
    rt = open_runtime(
        "onnxruntime", tiny_mff_export / "model.onnx", threads=1, optimization="disable", profile=True
    )
    rows = rt.profile_layers(_inputs(), runs=2)
    conv = [r for r in rows if r.layer_type == "Conv"]
    assert [(r.exec_type, r.count) for r in conv] == [("CPUExecutionProvider f32", graph_ops["Conv"])]
    assert sum(r.share for r in rows) == pytest.approx(1.0, abs=1e-3)
    # the timed session is not the profiled one: it never pays for the profiler
    assert not rt.session.get_session_options().enable_profiling


def test_onnxruntime_profile_needs_profile_true(tiny_mff_export):
    pytest.importorskip("onnxruntime")
    rt = open_runtime("onnxruntime", tiny_mff_export / "model.onnx", threads=1)
    with pytest.raises(BackendError, match="profile=True"):
        rt.profile_layers(_inputs(), runs=1)


def test_onnxruntime_trace_keeps_only_the_last_runs():
    """A warm-up run's node events precede the kept runs' model_run events and are left out."""

    def run(ts: int, ms: float) -> list[dict]:
        node = {"cat": "Node", "name": "/c/Conv_kernel_time", "ts": ts + 1, "dur": int(ms * 1000)}
        node["args"] = {"op_name": "Conv", "provider": "CPUExecutionProvider"}
        node["args"]["input_type_shape"] = [{"uint8": [1, 8, 4, 4]}]
        fence = {**node, "name": "/c/Conv_fence_before"}  # not a kernel time
        return [{"cat": "Session", "name": "model_run", "ts": ts, "dur": 50}, node, fence]

    events = run(0, 100.0) + run(100, 2.0) + run(200, 4.0)
    samples = trace_samples(events, runs=2)
    assert [(s.layer_type, s.exec_type, s.ms) for s in samples] == [
        ("Conv", "CPUExecutionProvider u8", 2.0),
        ("Conv", "CPUExecutionProvider u8", 4.0),
    ]
    with pytest.raises(BackendError, match="holds 3 runs"):
        trace_samples(events, runs=4)


def test_openvino_rows_cover_every_executed_node(tiny_mff_export, graph_ops):
    ov = pytest.importorskip("openvino")
    onnx = pytest.importorskip("onnx")
    from mgdn_edge.runtimes.openvino.window_attention import fuse_window_attention

    rt = open_runtime("openvino", tiny_mff_export / "model.onnx", threads=1, cache=False, profile=True)
    rt.run(_inputs())
    rows = rt.layer_times()
    kinds = {r.layer_type: r for r in rows}
    # the extension's ops (each DynamicFilter, each block's WindowAttention) run as OpenVINO's
    # Reference nodes, in f32 here
    attentions = fuse_window_attention(onnx.load(str(tiny_mff_export / "model.onnx")))
    reference = [r for r in rows if r.layer_type == "Reference"]
    assert attentions == 1
    assert [(r.exec_type, r.count) for r in reference] == [("ref_f32", graph_ops[OP_TYPE] + attentions)]
    convs = sum(r.count for r in rows if r.layer_type in ("Convolution", "GroupConvolution"))
    assert "Convolution" in kinds and convs == graph_ops["Conv"]
    executed = ov.ProfilingInfo.Status.EXECUTED
    records = rt._last_request.profiling_info
    assert sum(r.count for r in rows) == sum(p.status == executed for p in records) < len(records)
    # several runs: counts stay per run
    again = rt.profile_layers(_inputs(), runs=3)
    assert sorted((r.layer_type, r.exec_type, r.count) for r in again) == sorted(
        (r.layer_type, r.exec_type, r.count) for r in rows
    )


def test_openvino_layer_times_need_profile_true(tiny_mff_export):
    pytest.importorskip("openvino")
    rt = open_runtime("openvino", tiny_mff_export / "model.onnx", threads=1, cache=False)
    rt.run(_inputs())
    with pytest.raises(BackendError, match="profile=True"):
        rt.layer_times()


def test_torch_rows_are_self_times_of_aten_ops(tiny_mff_export, one_thread):
    rt = open_runtime("torch", tiny_mff_export.parent / "model.pth", profile=True)
    rows = rt.profile_layers(_inputs(), runs=1)
    assert {r.exec_type for r in rows} == {"cpu f32"}
    assert any("convolution" in r.layer_type for r in rows)
    assert sum(r.share for r in rows) == pytest.approx(1.0, abs=1e-3)
