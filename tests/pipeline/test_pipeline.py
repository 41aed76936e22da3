"""``mgdn-edge pipeline`` end to end on a tiny random HDR model at a tiny size, then again from cache.

Real runtimes in real worker processes (PyTorch, ONNX Runtime, OpenVINO where installed); the
figures are checked against independent computations (hashlib for the manifest, scikit-image
for the PSNR-mu against ground truth, numpy for the percentiles), not read back from the code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from quick_pipeline import quick_options
from skimage.metrics import peak_signal_noise_ratio

from mgdn_edge.core.errors import InputError
from mgdn_edge.model import MGDN, preset
from mgdn_edge.model.tasks import mu_law
from mgdn_edge.pipeline import Variant, catalogue, run_pipeline, select_variants

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
# A variant whose build kind no worker knows: it must fail in its worker with a one-line reason.
BROKEN = Variant("broken-fp32", "Deliberately broken", "onnxruntime", "fp32", "no-such-build")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = MGDN(preset("hdr", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()
    path = tmp_path_factory.mktemp("pipeline") / "tiny_hdr.pth"
    torch.save(model.state_dict(), path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pipeline_end_to_end_then_from_cache(tiny_checkpoint, tmp_path, monkeypatch):
    every = catalogue.all_variants()
    monkeypatch.setattr(catalogue, "all_variants", lambda: (*every, BROKEN))
    wanted = ["torch", "ort-fp32", "ort-int8", "trt-fp32", "broken-fp32"]
    wanted += ["ov-fp32"] if HAS_OPENVINO else []
    out = tmp_path / "out"
    options = quick_options(tiny_checkpoint, out, wanted, repeats=3)
    results = run_pipeline(options).to_dict()
    by_name = {v["name"]: v for v in results["variants"]}
    expected = {"torch-fp32", "ort-fp32", "ort-int8", "trt-fp32", "broken-fp32"} | (
        {"ov-fp32"} if HAS_OPENVINO else set()
    )
    assert set(by_name) == expected

    for name in ("report.md", "report.html", "report.json", "pareto.png", "results.json", "manifest.json"):
        assert (out / name).is_file(), name

    # skipped / failed variants carry one-line reasons and do not stop the others
    trt = next(v for v in catalogue.all_variants() if v.name == "trt-fp32")
    if catalogue.unavailable_reason(trt) is not None:  # no TensorRT + GPU here
        assert by_name["trt-fp32"]["status"] == "skipped"
        assert by_name["trt-fp32"]["reason"].startswith("not available: ")
    broken = by_name["broken-fp32"]
    assert broken["status"] == "failed" and broken["stage"] == "build"
    assert broken["reason"] == "unknown build kind 'no-such-build'"
    report_md = (out / "report.md").read_text(encoding="utf-8")
    for v in results["variants"]:
        assert v["label"] in report_md
        if v["status"] != "ok":
            assert v["reason"] in report_md

    # the split is disjoint and the evaluation uses only its own items
    data = json.loads((out / "data" / "data.json").read_text())
    assert len(data["calib_items"]) == 2 and len(data["eval_items"]) == 2
    assert not set(data["calib_items"]) & set(data["eval_items"])

    # parity: ONNX Runtime FP32 within the FP32 budget; the reference against itself exact
    torch_v, ort_v = by_name["torch-fp32"], by_name["ort-fp32"]
    assert torch_v["status"] == ort_v["status"] == "ok"
    assert ort_v["parity"]["passed"] and ort_v["parity"]["max_abs"] <= 1e-4 and ort_v["parity"]["cases"] == 2
    assert torch_v["parity"]["max_abs"] <= 1e-6
    # PSNR-mu of the reference output against ground truth, recomputed here with scikit-image
    with np.load(out / "data" / "eval.npz") as npz:
        psnrs = [
            peak_signal_noise_ratio(
                mu_law(npz[f"s{i}_target"][0].astype(np.float64)),
                mu_law(npz[f"s{i}_ref"][0].astype(np.float64)),
                data_range=1.0,
            )
            for i in range(2)
        ]
        assert npz["s0_in0"].shape == (1, 6, 32, 32)
    assert ort_v["quality"]["reference_mean_vs_gt"] == pytest.approx(np.mean(psnrs), abs=1e-3)
    assert abs(ort_v["quality"]["drop_db"]) < 0.01

    # benchmark rows: requested size, repeats, percentiles of the recorded times, threads
    for v in [torch_v, ort_v] + ([by_name["ov-fp32"]] if HAS_OPENVINO else []):
        (row,) = v["bench"]
        assert row["size"] == [32, 32] and len(row["times_ms"]) == 3
        assert row["p50_ms"] == pytest.approx(np.median(row["times_ms"]), rel=1e-3)
        assert row["peak_rss_mb"] > 0
        assert v["describe"]["threads"] == 1
    if HAS_OPENVINO:
        ov = by_name["ov-fp32"]
        assert ov["status"] == "ok" and ov["parity"]["passed"], ov.get("reason")
        assert (out / "variants" / "ov-fp32" / "model.xml").is_file()
        assert ov["build"]["info"] == {"converted_from": str(out / "export"), "weights": "fp32"}

    # a quantize builder, called through the same BuildRequest: its result records the recipe's
    # method and the calibration split's size, and the file is the INT8 QDQ graph
    int8 = by_name["ort-int8"]
    assert int8["status"] == "ok", int8.get("reason")
    info = int8["build"]["info"]
    assert info["precision"] == "int8" and info["method"] == "entropy" and info["samples"] == 2
    assert info["path"] == str(out / "variants" / "ort-int8" / "model.int8.onnx")
    qdq = onnx.load(str(out / "variants" / "ort-int8" / "model.int8.onnx"), load_external_data=False)
    assert sum(n.op_type == "QuantizeLinear" for n in qdq.graph.node) > 0

    # manifest: sha256 of every artefact, recomputed independently
    manifest = json.loads((out / "manifest.json").read_text())
    for rel in ("export/model.onnx", "variants/torch-fp32/model.pth", "report.html", "pareto.png"):
        assert manifest["files"][rel]["sha256"] == _sha(out / rel)
    assert manifest["source_checkpoint"]["sha256"] == _sha(tiny_checkpoint)
    assert all((out / rel).is_file() for rel in manifest["files"])

    # second run: everything that succeeded is reused, the artefacts are not rewritten
    model_file = out / "export" / "model.onnx"
    stamp = model_file.stat().st_mtime_ns
    again = run_pipeline(options).to_dict()
    by_name2 = {v["name"]: v for v in again["variants"]}
    for name, v in by_name.items():
        assert by_name2[name]["status"] == v["status"]
        if v["status"] == "ok":
            assert by_name2[name]["cached"] and by_name2[name]["run_id"] == v["run_id"]
            assert by_name2[name]["bench"] == v["bench"]
    assert model_file.stat().st_mtime_ns == stamp
    assert by_name2["broken-fp32"]["status"] == "failed"  # failures are retried, not cached
    assert "Reused from an earlier run" in (out / "report.md").read_text(encoding="utf-8")


def test_variant_selection():
    names = [v.name for v in select_variants(["ort"])]
    assert names[0] == "torch-fp32" and {"ort-fp32", "ort-int8"} <= set(names)
    assert all(n == "torch-fp32" or n.startswith("ort-") for n in names)
    # bf16 runs the FP32 IR, TensorRT INT8 the QDQ ONNX: selecting them brings those along
    assert [v.name for v in select_variants(["ov-bf16"])] == ["torch-fp32", "ov-fp32", "ov-bf16"]
    assert [v.name for v in select_variants(["trt-int8"])] == ["torch-fp32", "ort-int8", "trt-int8"]
    assert len(select_variants(None)) == len(catalogue.all_variants())
    with pytest.raises(InputError, match="unknown runtime or variant 'onnx'"):
        select_variants(["onnx"])


def test_pipeline_cli_errors_are_one_line(tmp_path, capsys):
    from mgdn_edge.cli import main

    assert main(["pipeline", "--model", str(tmp_path / "none.pth"), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["pipeline", "--runtimes", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown runtime or variant 'nope'" in capsys.readouterr().err
