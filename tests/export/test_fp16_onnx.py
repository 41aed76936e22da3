"""model.fp16.onnx: FP16 graph with float32 I/O, the DynamicFilter node kept, within the FP16 budget.

The reference is the fixture's ``out`` (the authors' own PyTorch code, FP32), not our export.
ONNX Runtime's CPU provider runs FP16 ops that lack a CPU kernel through inserted Casts, so
these numbers bound the graph (weights rounded to FP16, FP16 tensors between ops) rather than
FP16 arithmetic on a GPU; the TensorRT tests in test_tensorrt_runtime.py cover the latter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from mgdn_edge.core.budgets import budget_for
from mgdn_edge.export.artefacts import FP16_ONNX, METADATA_CONFIG_KEY, METADATA_PRECISION_KEY
from mgdn_edge.runtimes.parity import image_metrics, violations

pytest.importorskip("onnxruntime")


def test_fp16_file_structure(mff_export: Path) -> None:
    model = onnx.load(str(mff_export / FP16_ONNX))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[METADATA_PRECISION_KEY] == "fp16"
    assert json.loads(meta[METADATA_CONFIG_KEY])["task"] == "mff"
    # Callers pass and get float32.
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT, value.name
    # The custom nodes survive as nodes, with their plugin attributes, and get FP16 tensors.
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    filters = [n for n in model.graph.node if n.domain == "mgdn" and n.op_type == "DynamicFilter"]
    assert len(filters) == 4
    for node in filters:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["plugin_namespace"] == b"mgdn"
        assert all(types[i] == TensorProto.FLOAT16 for i in node.input), node.name
    assert len(model.functions) == 1 and model.functions[0].name == "DynamicFilter"
    # Weights are FP16 (only small FP32 tensors remain, e.g. LayerNorm scales kept FP32).
    sizes = {TensorProto.FLOAT16: 0, TensorProto.FLOAT: 0}
    for init in model.graph.initializer:
        if init.data_type in sizes:
            sizes[init.data_type] += int(np.prod(init.dims))
    assert sizes[TensorProto.FLOAT16] > 10 * sizes[TensorProto.FLOAT]
    # The norms the export keeps FP32 really compute in FP32.
    for node in model.graph.node:
        if node.op_type in ("ReduceL2", "ReduceMean", "LayerNormalization"):
            assert types[node.output[0]] == TensorProto.FLOAT, node.name
    manifest = json.loads((mff_export / "manifest.json").read_text())
    assert FP16_ONNX in manifest["files"] and manifest["fp16"]["io_dtype"] == "float32"


def test_fp16_onnx_within_budget_on_fixtures(mff_export: Path, mff_crop: dict[str, np.ndarray]) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(mff_export / FP16_ONNX), providers=["CPUExecutionProvider"])
    out = session.run(None, {"a": mff_crop["A"], "b": mff_crop["B"]})[0]
    assert out.dtype == np.float32 and out.shape == mff_crop["out"].shape
    metrics = image_metrics(mff_crop["out"], out, "mff")
    assert violations(metrics, budget_for("fp16"), "mff") == []
    # It is an FP16 graph, not the FP32 one: it cannot match the reference to FP32 accuracy.
    assert metrics["max_abs"] > budget_for("fp32").max_abs


def test_open_runtime_runs_fp16_at_file_precision(mff_export: Path, mff_crop: dict[str, np.ndarray]) -> None:
    from mgdn_edge.runtimes import open_runtime

    by_file = open_runtime("onnxruntime", mff_export / FP16_ONNX, providers="cpu")
    by_folder = open_runtime("onnxruntime", mff_export, precision="fp16", providers="cpu")
    for runtime in (by_file, by_folder):
        assert runtime.describe()["precision"] == "fp16"
        assert Path(runtime.describe()["model"]).name == FP16_ONNX
    out = by_folder.run([mff_crop["A"], mff_crop["B"]])
    assert violations(image_metrics(mff_crop["out"], out, "mff"), budget_for("fp16"), "mff") == []


def test_no_fp16_flag_skips_the_file(tmp_path: Path) -> None:
    import torch

    from mgdn_edge.export.onnx_export import export_model
    from mgdn_edge.model import MGDN, preset

    torch.manual_seed(0)
    config = preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2])
    stale = tmp_path / FP16_ONNX
    stale.write_bytes(b"old")
    result = export_model(MGDN(config).eval(), tmp_path, verify=False, fp16=False)
    assert result.fp16_path is None and not stale.exists()
    assert result.manifest.fp16 is None and FP16_ONNX not in result.manifest.files
