"""The parity harness runs, then compares: typed results of a runtime or of stored outputs, one
comparison for both, checked against numbers computed here with numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.errors import InputError
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.budgets import budget_for
from mgdn_edge.runtimes.parity import (
    STORED_REFERENCE,
    CaseRun,
    RunResults,
    compare,
    evaluate_stored_split,
    npz_cases,
    read_stored_split,
    run_cases,
    synthetic_cases,
    write_stored_split,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "official-mff"


def _results(outputs: dict[str, np.ndarray], runner: str = "numpy") -> RunResults:
    runs = tuple(CaseRun(name, out.shape, out) for name, out in outputs.items())
    return RunResults({"runtime": runner}, "mff", runs)


def test_compare_judges_each_case_and_names_the_worst():
    rng = np.random.default_rng(0)
    ref = {name: rng.random((1, 3, 16, 20), dtype=np.float32) * 0.5 + 0.25 for name in ("a", "b")}
    got = {"a": ref["a"].copy(), "b": ref["b"] + np.float32(0.01)}
    result = compare(_results(got), _results(ref, "reference"), budget_for("fp32"))
    a, b = result.cases
    assert a.passed and a.metrics["max_abs"] == 0.0 and a.metrics["psnr"] is None  # identical: infinite
    assert not b.passed and b.metrics["max_abs"] == pytest.approx(0.01, rel=1e-4)
    assert b.metrics["psnr"] == pytest.approx(40.0, abs=1e-3)  # 10 log10(1 / 0.01^2)
    assert [v.split()[0] for v in b.violations] == ["max_abs", "mean_abs", "psnr", "ssim"]
    assert not result.passed and result.worst_case is b
    assert result.worst("max_abs") == b.metrics["max_abs"] and result.lowest("psnr") == b.metrics["psnr"]
    report = result.report("fp32")
    assert report["runtime"] == {"runtime": "numpy"} and report["reference"] == {"runtime": "reference"}
    assert [c["case"] for c in report["cases"]] == ["a", "b"] and report["cases"][1]["shape"] == [
        1,
        3,
        16,
        20,
    ]
    assert report["cases"][1]["outputs"] == {"output": b.metrics} and report["passed"] is False
    assert report["worst"] == {"max_abs": b.metrics["max_abs"], "mean_abs": b.metrics["mean_abs"]}


def test_compare_refuses_runs_of_different_cases():
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(InputError, match="different cases"):
        compare(_results({"a": x}), _results({"b": x}), budget_for("fp32"))


def test_stored_outputs_compare_exactly_as_the_live_pytorch_run(tiny_mff_export, tmp_path):
    """The fixture's crops and a synthetic size: ONNX Runtime against PyTorch run now, and against
    PyTorch's outputs stored and read back, give the same comparison."""
    ckpt = tiny_mff_export.parent / "model.pth"
    torch_runtime = open_runtime("torch", ckpt, task="mff")
    crops = [FIXTURES / f"mff_lytro01_crop{c}.npz" for c in ("64", "61x75")]
    cases = npz_cases(crops, torch_runtime.config) if all(p.is_file() for p in crops) else []
    cases += synthetic_cases(torch_runtime.config, [(24, 30)], seed=3)
    live = run_cases(torch_runtime, cases)
    assert all(r.seconds is not None and r.seconds > 0 for r in live.cases)
    stored_cases, stored, _ = read_stored_split(
        write_stored_split(tmp_path / "ref.npz", cases, live), torch_runtime.config
    )
    assert [r.seconds for r in stored.cases] == [None] * len(cases) and stored.runner["stored"] is True

    ort = open_runtime("onnxruntime", tiny_mff_export)
    budget = budget_for("fp32")
    against_live = compare(run_cases(ort, cases), live, budget)
    against_stored = compare(run_cases(ort, stored_cases), stored, budget)
    assert against_stored.cases == against_live.cases and against_live.passed
    for case, run in zip(cases, live.cases, strict=True):  # the max abs error, recomputed here
        expected = np.abs(ort.run(case.inputs).astype(np.float64) - run.output).max()
        got = next(c for c in against_live.cases if c.name == case.name)
        assert got.metrics["max_abs"] == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_an_evaluation_split_judges_like_compare_and_measures_against_ground_truth(tiny_mff_export, tmp_path):
    """The pipeline's evaluation: parity on the stored split, plus PSNR against targets stored
    beside it (here the reference output shifted by 0.02: 20 log10(1 / 0.02) dB)."""
    torch_runtime = open_runtime("torch", tiny_mff_export.parent / "model.pth", task="mff")
    cases = synthetic_cases(torch_runtime.config, [(24, 30), (20, 28)], seed=5)
    live = run_cases(torch_runtime, cases)
    split = write_stored_split(tmp_path / "eval.npz", cases, live)
    with np.load(split) as data:
        arrays = {k: data[k] for k in data.files}
    for i, run in enumerate(live.cases):
        arrays[f"s{i}_target"] = run.output + np.float32(0.02)
    np.savez(split, **arrays)

    ort = open_runtime("onnxruntime", tiny_mff_export)
    evaluation = evaluate_stored_split(ort, split, "fp32")
    expected = compare(run_cases(ort, cases), live, budget_for("fp32", "mff"))
    assert evaluation.parity.passed and evaluation.parity.cases == 2
    assert evaluation.parity.max_abs == expected.worst("max_abs")
    assert evaluation.parity.psnr_min == expected.lowest("psnr")
    assert evaluation.parity_report == expected.report("fp32") | {"reference": STORED_REFERENCE}
    quality = evaluation.quality
    assert quality is not None and quality.reference_mean_vs_gt == pytest.approx(20 * np.log10(50), abs=1e-3)
    assert abs(quality.drop_db) < 0.01  # ONNX Runtime FP32 is PyTorch within 1e-4
