"""ONNX export: one mgdn.DynamicFilter node per filter with a portable body, dynamic sizes, parity.

Every numerical check compares ONNX Runtime with an independent reference: the authors' outputs
stored in the fixtures, the PyTorch model, or the unfold formulation of the dynamic filter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnx.inliner
import onnxruntime as ort
import pytest
import torch

from mgdn_edge.cli import main
from mgdn_edge.export.artefacts import OP_DOMAIN, OP_TYPE
from mgdn_edge.export.dynamic_filter_onnx import DECOMPOSITIONS, standalone_model
from mgdn_edge.export.graph_checks import largest_tensor, observed_shapes, unfold_sized
from mgdn_edge.export.onnx_export import (
    ExportError,
    check_model,
    export_checkpoint,
    export_model,
    filter_nodes,
)
from mgdn_edge.model import MGDN, dynamic_filter_unfold, preset

TOL = 1e-4  # acceptance: ORT FP32 vs the PyTorch reference, max abs
MFF_CKPT = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "official-mff" / "mff_62000_E.pth"
)


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _torch(model: MGDN, inputs: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(*(torch.from_numpy(x) for x in inputs)).numpy()


def _tiny(task: str, seed: int = 0) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset(task, embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()


@pytest.fixture(scope="module")
def tiny_hdr(tmp_path_factory) -> tuple[MGDN, Path]:
    model = _tiny("hdr")
    out = tmp_path_factory.mktemp("tiny_hdr")
    export_model(model, out)
    return model, out


@pytest.fixture(scope="module")
def mff_export(tmp_path_factory) -> Path:
    if not MFF_CKPT.exists():
        pytest.skip(f"fixture not available: {MFF_CKPT} (../shared is absent in this checkout)")
    out = tmp_path_factory.mktemp("mff_export")
    export_checkpoint(MFF_CKPT, out, task="mff")
    return out


# --------------------------------------------------------------------------- graph structure


def test_model_has_one_custom_node_per_filter_with_function_and_plugin_attributes(tiny_hdr):
    model, out = tiny_hdr
    graph = onnx.load(out / "model.onnx")
    nodes = filter_nodes(graph)
    assert len(nodes) == 2 * len(model.config.depths)  # under + over per stage
    for node in nodes:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs == {"kernel_size": 7, "plugin_namespace": b"mgdn", "plugin_version": b"1"}
        assert list(node.input)[1]  # feat, kernels
    assert [(f.domain, f.name) for f in graph.functions] == [(OP_DOMAIN, OP_TYPE)]
    assert {op.domain: op.version for op in graph.opset_import}[OP_DOMAIN] == 1
    assert [i.name for i in graph.graph.input] == ["under", "ref", "over"]
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 6, "height", "width"]
    check_model(graph, "model.onnx")  # checker (full) + strict shape inference


def test_portable_graph_has_standard_ops_only(tiny_hdr):
    _, out = tiny_hdr
    portable = onnx.load(out / "model.portable.onnx")
    assert not portable.functions
    assert {n.domain for n in portable.graph.node} <= {"", "ai.onnx"}
    assert OP_DOMAIN not in {op.domain for op in portable.opset_import}
    check_model(portable, "model.portable.onnx")


@pytest.mark.parametrize("variant", DECOMPOSITIONS)
def test_function_body_matches_unfold_oracle(variant):
    """Each portable decomposition against the authors' unfold formulation, batch 2, odd sizes."""
    session = ort.InferenceSession(standalone_model(7, 5, variant=variant).SerializeToString())
    rng = np.random.default_rng(1)
    for shape in [(2, 5, 13, 17), (1, 5, 8, 8)]:
        feat = rng.standard_normal(shape, dtype=np.float32)
        kernels = rng.standard_normal((shape[0], 49, *shape[2:]), dtype=np.float32)
        expected = dynamic_filter_unfold(torch.from_numpy(feat), torch.from_numpy(kernels), 7).numpy()
        got = session.run(None, {"feat": feat, "kernels": kernels})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", DECOMPOSITIONS)
def test_function_body_shapes_stay_below_unfold_size(variant):
    """The inlined body at a concrete size: static inference where it resolves, ORT for the rest.

    The 2-D bodies resolve completely in ``onnx.shape_inference``; the flat body's Slice bounds
    come from Shape arithmetic, which ONNX's data propagation does not carry into Slice, so its
    windows are measured in ONNX Runtime (and every statically resolved shape must agree).
    """
    n, c, h, w, k = 1, 30, 40, 48, 7
    model = onnx.inliner.inline_local_functions(standalone_model(k, c, variant=variant))
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = n, h, w
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    static = {}
    for value in inferred.graph.value_info:
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            static[value.name] = tuple(d.dim_value for d in dims)
    rng = np.random.default_rng(0)
    feeds = {
        "feat": rng.random((n, c, h, w), dtype=np.float32),
        "kernels": rng.random((n, k * k, h, w), dtype=np.float32),
    }
    observed = observed_shapes(model, feeds)
    assert all(observed[name] == shape for name, shape in static.items() if name in observed)
    if variant != "flat":
        assert len(static) >= len(observed) - 1  # everything resolved statically
    assert len(observed) > 3 * k * k  # every window, product and partial sum
    _, largest = largest_tensor(observed)
    # The biggest things are the padded feature map or the (flat body's) row-padded kernels.
    assert largest <= max(c, k * k) * (h + k) * (w + k - 1)
    assert not unfold_sized({**observed, **static}, n, c, h, w, k)


def test_whole_graphs_never_hold_unfold_sized_tensors(mff_export):
    """Every tensor ONNX Runtime creates, for both files, at a window multiple and a non-multiple."""
    rng = np.random.default_rng(0)
    for name in ("model.onnx", "model.portable.onnx"):
        graph = onnx.inliner.inline_local_functions(onnx.load(mff_export / name))
        for h, w in [(40, 48), (61, 75)]:
            feeds = {n: rng.random((1, 3, h, w), dtype=np.float32) for n in ("a", "b")}
            shapes = observed_shapes(graph, feeds)
            assert len(shapes) > 500
            assert not unfold_sized(shapes, 1, 30, h, w, 7), name
            _, largest = largest_tensor(shapes)
            assert largest < 49 * 30 * h * w / 8  # far below the unfold footprint
    manifest = json.loads((mff_export / "manifest.json").read_text())
    assert manifest["largest_tensor"]["vs_feature_map"] < 49


# --------------------------------------------------------------------------- numerics


def test_mff_checkpoint_matches_authors_outputs_on_all_crops(mff_export, mff_crop):
    """One dynamic export, three crop sizes (64, 96 and the non-multiple 61x75)."""
    for name in ("model.onnx", "model.portable.onnx"):
        got = _session(mff_export / name).run(None, {"a": mff_crop["A"], "b": mff_crop["B"]})[0]
        assert got.shape == mff_crop["out"].shape
        assert np.abs(got - mff_crop["out"]).max() <= TOL, name


def test_mff_export_matches_pytorch_reference_batch_two(mff_export, mff_checkpoint):
    from mgdn_edge.model import load_model

    model = load_model(mff_checkpoint)
    rng = np.random.default_rng(3)
    inputs = [rng.random((2, 3, 37, 50), dtype=np.float32) for _ in range(2)]
    expected = _torch(model, inputs)
    for name in ("model.onnx", "model.portable.onnx"):
        got = _session(mff_export / name).run(None, dict(zip("ab", inputs, strict=True)))[0]
        assert np.abs(got - expected).max() <= TOL


def test_hdr_architecture_fixture_two_sizes_from_one_file(hdr_arch, tmp_path):
    ckpt, io = hdr_arch
    export_checkpoint(ckpt, tmp_path, task="hdr")
    for name in ("model.onnx", "model.portable.onnx"):
        session = _session(tmp_path / name)
        for size in ("64x80", "61x75"):
            feeds = {n: io[f"{size}_in{i}"] for i, n in enumerate(("under", "ref", "over"))}
            got = session.run(None, feeds)[0]
            assert np.abs(got - io[f"{size}_out"]).max() <= TOL, (name, size)


def test_gdsr_architecture_fixture(gdsr_arch, tmp_path):
    ckpt, io = gdsr_arch
    export_checkpoint(ckpt, tmp_path, task="gdsr")
    for name in ("model.onnx", "model.portable.onnx"):
        got = _session(tmp_path / name).run(None, {"rgb": io["rgb"], "depth": io["depth"]})[0]
        assert got.shape == io["out"].shape == (1, 1, 48, 56)
        assert np.abs(got - io["out"]).max() <= TOL, name


@pytest.mark.parametrize("task", ["mff", "mef", "gdsr"])
def test_tiny_models_of_every_task_at_sizes_the_trace_never_saw(task, tmp_path):
    model = _tiny(task, seed=7)
    export_model(model, tmp_path, verify=False)
    session = _session(tmp_path / "model.portable.onnx")
    rng = np.random.default_rng(5)
    for batch, h, w in [(1, 32, 48), (2, 23, 29), (1, 9, 70)]:
        inputs = [rng.random((batch, c, h, w), dtype=np.float32) for c in model.config.io.input_channels]
        expected = _torch(model, inputs)
        got = session.run(None, dict(zip(model.config.io.input_names, inputs, strict=True)))[0]
        assert np.abs(got - expected).max() <= TOL, (batch, h, w)


def test_static_export_fixes_height_and_width_but_not_batch(tmp_path):
    model = _tiny("mff")
    export_model(model, tmp_path, static=(24, 28))
    graph = onnx.load(tmp_path / "model.onnx")
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 24, 28]
    rng = np.random.default_rng(0)
    inputs = [rng.random((2, 3, 24, 28), dtype=np.float32) for _ in range(2)]
    got = _session(tmp_path / "model.onnx").run(None, dict(zip("ab", inputs, strict=True)))[0]
    assert np.abs(got - _torch(model, inputs)).max() <= TOL


def test_opset_18_export_checks_and_runs(tmp_path):
    model = _tiny("gdsr")
    result = export_model(model, tmp_path, opset=18)
    assert result.manifest.opset == 18
    assert {op.domain: op.version for op in onnx.load(result.model_path).opset_import}[""] == 18


def test_unsupported_opset_is_refused(tmp_path):
    with pytest.raises(ExportError, match="opset"):
        export_model(_tiny("mff"), tmp_path, opset=13)


# --------------------------------------------------------------------------- CLI + manifest


def test_export_cli_writes_files_and_manifest(tmp_path, capsys):
    model = _tiny("hdr", seed=3)
    ckpt = tmp_path / "tiny_hdr.pth"
    torch.save(model.state_dict(), ckpt)
    out = tmp_path / "export"
    assert main(["export", "--task", "hdr", "--model", str(ckpt), "--out", str(out)]) == 0
    assert "4 mgdn.DynamicFilter nodes" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "hdr" and manifest["opset"] == 17
    assert manifest["config"]["embed_dim"] == 12 and manifest["config"]["window_size"] == 8
    assert [(i["name"], i["shape"][1], i["layout"]) for i in manifest["inputs"]] == [
        ("under", 6, "NCHW"),
        ("ref", 6, "NCHW"),
        ("over", 6, "NCHW"),
    ]
    assert manifest["outputs"][0]["shape"] == ["batch", 3, "height", "width"]
    assert manifest["source_checkpoint"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert {"torch", "onnx", "onnxruntime", "onnxsim"} <= set(manifest["tool_versions"])
    assert manifest["custom_op"]["nodes"] == 4 and manifest["custom_op"]["plugin_namespace"] == "mgdn"
    worst = max(v for sizes in manifest["verification_max_abs"].values() for v in sizes.values())
    assert worst <= TOL


def test_export_cli_reports_bad_arguments_in_one_line(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "missing.pth"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: checkpoint not found")
    model = _tiny("mff")
    ckpt = tmp_path / "m.pth"
    torch.save(model.state_dict(), ckpt)
    assert main(["export", "--model", str(ckpt), "--out", str(tmp_path / "o"), "--static", "big"]) == 2
    assert "HxW" in capsys.readouterr().err


@pytest.mark.slow
def test_full_lytro_size_520_matches_pytorch(mff_export, mff_checkpoint):
    """520x520 (the Lytro pair size) from the same dynamic export; inputs are the 96x96 fixture
    crop reflect-extended, since the full pairs are not among the fixtures."""
    from mgdn_edge.model import load_model

    crop = np.load(MFF_CKPT.parent / "mff_lytro01_crop96.npz")
    inputs = [np.pad(crop[k], ((0, 0), (0, 0), (0, 424), (0, 424)), mode="reflect") for k in ("A", "B")]
    inputs = [np.ascontiguousarray(x, dtype=np.float32) for x in inputs]
    expected = _torch(load_model(mff_checkpoint), inputs)
    for name in ("model.onnx", "model.portable.onnx"):
        got = _session(mff_export / name).run(None, dict(zip("ab", inputs, strict=True)))[0]
        assert got.shape == (1, 3, 520, 520)
        assert np.abs(got - expected).max() <= TOL, name


# --------------------------------------------------------------------------- TensorRT graphs


def test_mff_tensorrt_graph_is_function_free_8_5_native_and_matches_model_onnx(mff_export, mff_crop):
    """Acceptance on the authors' MFF model: model.trt.onnx has no local function, only ops
    TensorRT 8.5's parser imports, four DynamicFilter nodes carrying the plugin's version and
    namespace, and computes what model.onnx computes (ONNX Runtime, function bodies re-attached)."""
    from mgdn_edge.export.artefacts import PLUGIN_NAMESPACE, PLUGIN_VERSION, TRT_ONNX
    from mgdn_edge.export.trt_graph import with_function_bodies
    from mgdn_edge.export.trt_lint import parser_table

    src = onnx.load(mff_export / "model.onnx")
    trt = onnx.load(mff_export / TRT_ONNX)
    assert len(trt.functions) == 0
    filters = [n for n in trt.graph.node if n.domain == OP_DOMAIN and n.op_type == OP_TYPE]
    assert len(filters) == 4
    for node in filters:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["plugin_version"].decode() == PLUGIN_VERSION
        assert attrs["plugin_namespace"].decode() == PLUGIN_NAMESPACE
    others = {n.op_type for n in trt.graph.node if n not in filters}
    assert others <= parser_table("8.5").ops, others - parser_table("8.5").ops
    assert "LayerNormalization" in {n.op_type for n in src.graph.node}
    a, b = mff_crop["A"], mff_crop["B"]
    feeds = dict(zip([i.name for i in src.graph.input], [a, b], strict=True))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    runnable = with_function_bodies(trt, src).SerializeToString()
    got = ort.InferenceSession(runnable, options, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    expected = _session(mff_export / "model.onnx").run(None, feeds)[0]
    assert float(np.abs(got - expected).max()) <= TOL


def test_mff_lint_verdicts_on_every_graph_the_export_writes(mff_export):
    """model.onnx is routed to its function on TensorRT 10.3 (and fails 8.5 on LayerNormalization);
    the TensorRT graphs pass 8.5, 8.6, 10.3 and 11."""
    from mgdn_edge.export.artefacts import TRT_FP16_ONNX, TRT_ONNX
    from mgdn_edge.export.trt_lint import lint_tensorrt

    on_10_3 = lint_tensorrt(mff_export / "model.onnx", "10.3")
    assert not on_10_3.ok and len(on_10_3.function_nodes) == 4 and not on_10_3.plugin_nodes
    assert {i.op for i in on_10_3.issues} == {f"{OP_DOMAIN}.{OP_TYPE}"}
    assert "local ONNX function, not the plugin" in on_10_3.message()
    on_8_5 = lint_tensorrt(mff_export / "model.onnx", "8.5")
    assert {i.op for i in on_8_5.issues} == {"LayerNormalization"}
    assert lint_tensorrt(mff_export / "model.onnx", "10.7").ok  # registry before function
    for name in (TRT_ONNX, TRT_FP16_ONNX):
        for version in ("8.5", "8.6", "10.3", "11"):
            report = lint_tensorrt(mff_export / name, version)
            assert report.ok, report.message()
            assert len(report.plugin_nodes) == 4


def test_mff_manifest_lists_tensorrt_graphs_with_hashes(mff_export):
    from mgdn_edge.export.artefacts import TRT_FP16_ONNX, TRT_ONNX

    manifest = json.loads((mff_export / "manifest.json").read_text())
    for name in (TRT_ONNX, TRT_FP16_ONNX):
        digest = hashlib.sha256((mff_export / name).read_bytes()).hexdigest()
        assert manifest["files"][name]["sha256"] == digest
        assert set(manifest["tensorrt"]["lint"][name].values()) == {"ok"}
    errors = manifest["tensorrt"]["verification_max_abs"]
    assert max(errors[TRT_ONNX].values()) <= TOL


def test_mff_tensorrt_fp16_keeps_layer_norm_in_fp32(mff_export):
    """The written-out norms of model.trt.fp16.onnx compute in FP32 (their outputs are float32)."""
    from mgdn_edge.export.artefacts import FP32_SCOPE, TRT_FP16_ONNX
    from mgdn_edge.export.trt_graph import with_function_bodies

    trt = onnx.load(mff_export / TRT_FP16_ONNX)
    src = onnx.load(mff_export / "model.fp16.onnx")
    inferred = onnx.shape_inference.infer_shapes(with_function_bodies(trt, src))
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    island = [n for n in trt.graph.node if FP32_SCOPE in n.name]
    assert len(island) >= 9 * 4  # >= 9 nodes per norm, several norms
    assert {types[n.output[0]] for n in island} == {onnx.TensorProto.FLOAT}
    assert onnx.TensorProto.FLOAT16 in set(types.values())
