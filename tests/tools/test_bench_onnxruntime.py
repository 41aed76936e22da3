"""bench_onnxruntime on the tiny MFF model: every row runs, and the native op is the one timed."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
from mgdn_edge.plugins.onnxruntime_ops import ENV_VAR  # noqa: E402
from mgdn_edge.tools import bench_onnxruntime  # noqa: E402


def test_one_run_prints_portable_native_and_torch_ratios(
    tiny_mff: Path, ort_ops_library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_VAR, str(ort_ops_library))
    argv = ["--model", str(tiny_mff), "--sizes", "24", "--runs", "1", "--warmup", "0", "--no-authors"]
    assert bench_onnxruntime.main(argv) == 0
    out = capsys.readouterr().out
    assert f"native op: native (libmgdn_ort.so, {ort_ops_library})" in out
    rows = [line for line in out.splitlines() if line.startswith("  24x24")]
    assert [r.split()[1] for r in rows[:-1]] == ["torch", "ORT", "ORT", "ORT"]
    assert "ORT native op:" in rows[-1] and "the portable body" in rows[-1] and "PyTorch" in rows[-1]
    errors = [float(r.split()[-1]) for r in rows[:-1]]
    assert max(errors) <= 1e-4
