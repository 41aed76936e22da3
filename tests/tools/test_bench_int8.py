"""tools/bench_int8's verdicts on hand-written timings (a real run takes many minutes: not run here)."""

from __future__ import annotations

import pytest

from mgdn_edge.tools import bench_int8


def test_verdicts_are_ratios_of_one_runs_medians(capsys) -> None:
    ms = {
        bench_int8.REFERENCE: 6000.0,
        "openvino fp32": 2000.0,
        "openvino bf16": 1200.0,
        "openvino int8": 800.0,  # 2.5x fp32 (meets), 1.5x bf16 (meets)
        "onnxruntime fp32": 3000.0,
        "onnxruntime int8": 2500.0,  # 1.2x (misses 1.3x)
    }
    psnr = {"openvino int8": [44.0, 41.0], "onnxruntime int8": [39.5, 42.0]}
    verdicts = bench_int8.report(ms, psnr, {name: "" for name in ms})
    got = {(v["row"], v["versus"]): v["ratio"] for v in verdicts}
    assert got == {
        ("openvino int8", "openvino fp32"): pytest.approx(2.5),
        ("openvino int8", "openvino bf16"): pytest.approx(1.5),
        ("onnxruntime int8", "onnxruntime fp32"): pytest.approx(1.2),
    }
    out = capsys.readouterr().out
    assert "onnxruntime int8 vs onnxruntime fp32: 1.20x (MISSES the >= 1.3x target)" in out
    assert "openvino int8 vs openvino fp32: 2.50x (meets the >= 2.5x target)" in out
    assert "onnxruntime int8: PSNR min 39.50 dB on 2 held-out pairs (MISSES the >= 40 dB floor)" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("  openvino int8 "))
    assert row[3:6] == ["7.50x", "2.50x", "1.50x"]  # vs PyTorch (6000 / 800), vs fp32, vs bf16


def test_without_bf16_the_bf16_target_is_not_judged(capsys) -> None:
    ms = {bench_int8.REFERENCE: 5000.0, "openvino fp32": 2000.0, "openvino int8": 1000.0}
    verdicts = bench_int8.report(ms, {}, {name: "" for name in ms})
    assert [(v["versus"], v["ratio"]) for v in verdicts] == [("openvino fp32", pytest.approx(2.0))]
