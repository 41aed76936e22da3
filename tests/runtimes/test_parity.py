"""Parity harness: metrics agree with independent formulas, budgets judge, the CLI exits accordingly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from mgdn_edge.cli import main
from mgdn_edge.core.budgets import BUDGETS, Budget, budget_for
from mgdn_edge.core.errors import InputError
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes.parity import image_metrics, npz_cases, synthetic_cases, violations

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


def test_identical_outputs_are_perfect():
    ref = np.random.default_rng(0).random((1, 3, 16, 20), dtype=np.float32)
    m = image_metrics(ref, ref.copy(), "mff")
    assert m["max_abs"] == 0 and m["mean_abs"] == 0
    assert m["psnr"] is None  # infinite -> JSON null
    assert m["ssim"] == pytest.approx(1.0)
    assert violations(m, budget_for("fp32"), "mff") == []


def test_metrics_match_independent_formulas():
    rng = np.random.default_rng(1)
    ref = rng.random((2, 3, 24, 32), dtype=np.float32) * 0.8 + 0.1
    noise = rng.standard_normal(ref.shape).astype(np.float32) * 1e-3
    out = ref + noise
    m = image_metrics(ref, out, "mef")
    assert m["max_abs"] == pytest.approx(float(np.abs(noise).max()), rel=1e-5)
    assert m["mean_abs"] == pytest.approx(float(np.abs(noise).mean()), rel=1e-4)
    worst_psnr = min(_psnr(ref[i], out[i]) for i in range(2))  # worst image of the batch
    assert m["psnr"] == pytest.approx(worst_psnr, abs=1e-3)
    assert 0.99 < m["ssim"] < 1.0


def test_hdr_reports_mu_law_and_linear_metrics():
    rng = np.random.default_rng(2)
    ref = rng.random((1, 3, 20, 20), dtype=np.float32) * 0.5
    out = np.clip(ref + 2e-3, 0, 1)
    m = image_metrics(ref, out, "hdr")
    assert {"psnr_mu", "ssim_mu", "psnr_l", "ssim_l"} <= set(m)
    mu = lambda x: np.log1p(5000 * x.astype(np.float64)) / np.log1p(5000)  # noqa: E731
    assert m["psnr_mu"] == pytest.approx(_psnr(mu(ref[0]), mu(out[0])), abs=1e-3)
    assert m["psnr_l"] == pytest.approx(_psnr(ref[0], out[0]), abs=1e-3) == m["psnr"]
    assert m["psnr_mu"] < m["psnr_l"]  # the tonemapping magnifies dark errors


def test_single_channel_outputs_work():
    ref = np.random.default_rng(3).random((1, 1, 12, 12), dtype=np.float32)
    m = image_metrics(ref, ref + 1e-2, "gdsr")
    assert m["max_abs"] == pytest.approx(1e-2, rel=1e-3) and m["psnr"] == pytest.approx(40.0, abs=1e-2)


def test_violations_name_each_broken_bound():
    budget = Budget(max_abs=1e-4, mean_abs=1e-5, psnr_min=90.0, ssim_min=0.999, psnr_mu_min=70.0)
    metrics = {"max_abs": 3e-3, "mean_abs": 1e-6, "psnr": 60.0, "ssim": 0.9999, "psnr_mu": 50.0}
    broken = violations(metrics, budget, "hdr")
    assert len(broken) == 3
    assert any(b.startswith("max_abs") for b in broken) and any(b.startswith("psnr_mu") for b in broken)
    assert len(violations(metrics, budget, "mff")) == 2  # mu-law bounds are HDR-only


def test_budgets_cover_every_precision_and_fp32_is_the_acceptance_bound():
    assert set(BUDGETS) == {"fp32", "fp16", "bf16", "int8"}
    assert BUDGETS["fp32"].max_abs == 1e-4
    ordered = [BUDGETS[p].max_abs for p in ("fp32", "fp16", "bf16", "int8")]
    assert ordered == sorted(ordered)
    with pytest.raises(InputError, match="unknown precision 'fp8'"):  # a user's error, not a KeyError
        budget_for("fp8")


def test_cases_from_fixture_npz_layouts():
    mff = FIXTURES / "official-mff" / "mff_lytro01_crop61x75.npz"
    hdr = FIXTURES / "architecture" / "hdr_arch_io.npz"
    if not (mff.exists() and hdr.exists()):
        pytest.skip("fixtures not available (../shared is absent)")
    cases = npz_cases([mff], preset("mff"))
    assert [c.name for c in cases] == ["mff_lytro01_crop61x75"]
    assert [x.shape for x in cases[0].inputs] == [(1, 3, 61, 75)] * 2
    hdr_cases = npz_cases([hdr], preset("hdr"))
    assert sorted(c.name.split(":")[1] for c in hdr_cases) == ["61x75", "64x80"]
    synthetic = synthetic_cases(preset("gdsr"), [(9, 13)], batch=2)
    assert [x.shape for x in synthetic[0].inputs] == [(2, 3, 9, 13), (2, 1, 9, 13)]
    assert all(x.min() >= 0 and x.max() <= 1 for x in synthetic[0].inputs)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_hdr_export(tmp_path_factory) -> tuple[Path, Path]:
    torch.manual_seed(0)
    model = MGDN(preset("hdr", embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()
    folder = tmp_path_factory.mktemp("parity_hdr")
    ckpt = folder / "tiny.pth"
    torch.save(model.state_dict(), ckpt)
    export_model(model, folder / "onnx", checkpoint=ckpt, verify=False)
    return ckpt, folder / "onnx"


def test_parity_cli_passes_on_the_real_mff_export(tmp_path, capsys):
    ckpt = FIXTURES / "official-mff" / "mff_62000_E.pth"
    crops = [FIXTURES / "official-mff" / f"mff_lytro01_crop{c}.npz" for c in ("64", "61x75")]
    if not ckpt.exists():
        pytest.skip("fixtures not available (../shared is absent)")
    assert main(["export", "--model", str(ckpt), "--out", str(tmp_path / "onnx"), "--no-verify"]) == 0
    capsys.readouterr()
    report_file = tmp_path / "report.json"
    argv = ["parity", "--runtime", "onnxruntime", "--model", str(tmp_path / "onnx" / "model.onnx")]
    code = main([*argv, "--inputs", *map(str, crops), "--sizes", "40x44", "--json", str(report_file)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["passed"]
    assert report == json.loads(report_file.read_text())
    assert report["reference"]["model"] == str(ckpt.resolve())  # found through the manifest
    assert [c["case"] for c in report["cases"]] == [
        "mff_lytro01_crop64",
        "mff_lytro01_crop61x75",
        "synthetic_40x44",
    ]
    for case in report["cases"]:
        metrics = case["outputs"]["output"]
        assert metrics["max_abs"] <= 1e-4 and metrics["ssim"] > 0.99999
    assert report["worst"]["max_abs"] <= 1e-4


def test_parity_cli_hdr_metrics_and_exit_1_on_a_broken_budget(tiny_hdr_export, tmp_path, capsys):
    ckpt, folder = tiny_hdr_export
    argv = ["parity", "--runtime", "onnxruntime", "--model", str(folder / "model.onnx"), "--sizes", "24x30"]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)["cases"][0]["outputs"]["output"]
    assert {"psnr_mu", "ssim_mu", "psnr_l", "ssim_l"} <= set(metrics)

    # A tampered copy: the last conv's bias shifted by 0.01 -> max abs error ~ sigmoid' * 0.01.
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    graph = onnx.load(broken / "model.onnx")
    for init in graph.graph.initializer:
        if init.name == "conv_last.0.bias":
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + np.float32(0.01), init.name))
            break
    else:
        pytest.fail("conv_last.0.bias not found among the initializers")
    onnx.save(graph, broken / "model.onnx")
    # A tampered file no longer matches its folder's manifest (refused, see test_manifest_check.py);
    # as a loose file it runs on the config recorded in its own metadata.
    (broken / "manifest.json").unlink()
    code = main(
        [
            "parity",
            "--runtime",
            "onnxruntime",
            "--model",
            str(broken / "model.onnx"),
            "--reference",
            str(ckpt),
            "--sizes",
            "24x30",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["passed"]
    assert 1e-3 < report["worst"]["max_abs"] <= 0.01
    assert any(v.startswith("max_abs") for v in report["cases"][0]["violations"])


def test_parity_cli_torch_against_itself_and_bad_arguments(tiny_hdr_export, capsys):
    ckpt, folder = tiny_hdr_export
    assert (
        main(["parity", "--runtime", "torch", "--model", str(ckpt), "--sizes", "17x33", "--batch", "2"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["worst"]["max_abs"] == 0.0 and report["cases"][0]["shape"] == [2, 6, 17, 33]
    assert main(["parity", "--runtime", "onnxruntime", "--model", str(folder), "--precision", "fp8"]) == 2
    assert "unknown precision 'fp8'" in capsys.readouterr().err
    assert main(["parity", "--runtime", "onnxruntime", "--model", str(folder), "--sizes", "tall"]) == 2
    assert "HxW" in capsys.readouterr().err


def test_parity_cli_on_image_data(tiny_hdr_export, capsys):
    """--data draws cases from a data source (here two synthetic HDR scenes, 40x48 crops)."""
    _, folder = tiny_hdr_export
    argv = ["parity", "--runtime", "onnxruntime", "--model", str(folder), "--data", "synthetic:2"]
    assert main([*argv, "--crop", "40x48", "--samples", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["cases"]) == 2 and all(c["shape"] == [1, 6, 40, 48] for c in report["cases"])
    assert report["worst"]["max_abs"] <= 1e-4
