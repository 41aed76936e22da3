"""Run records from a device, without a device or the native runner: hand-written records and
files with closed-form numbers, a stand-in reference network, and the record's checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from mgdn_edge.core.errors import InputError
from mgdn_edge.report import write_report
from mgdn_edge.report.device import judge_device_run
from mgdn_edge.report.device_record import load_device_run
from mgdn_edge.report.device_report import add_device_runs

H, W = 8, 8


class _Reference:
    """Stands in for the PyTorch runtime: an MFF "network" whose output is 0.5 everywhere."""

    config = SimpleNamespace(task="mff", embed_dim=12, depths=(1,), window_size=8)

    def run(self, inputs: list[np.ndarray]) -> np.ndarray:
        assert len(inputs) == 2 and inputs[0].shape == (1, 3, H, W)
        return np.full((1, 3, H, W), 0.5, np.float32)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(folder: Path, output: np.ndarray, **changes: object) -> Path:
    """A record beside its raw output and two 8x8 inputs, as mgdn-fuse --json writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = []
    for name, value in (("A.png", 60), ("B.png", 200)):
        cv2.imwrite(str(folder / name), np.full((H, W, 3), value, np.uint8))
        inputs.append({"path": name, "sha256": _sha(folder / name)})
    np.save(folder / "fused.npy", output)
    (folder / "model.onnx").write_bytes(b"not a model: the PC never opens it")
    record = {
        "schema": "mgdn-edge.device-run/1",
        "runner": "mgdn-fuse 0.1.0",
        "device": "Test Board 9000",
        "runtime": "openvino",
        "backend_device": "CPU",
        "precision": "fp32",
        "task": "mff",
        "model": {"path": "model.onnx", "sha256": _sha(folder / "model.onnx")},
        "inputs": inputs,
        "exposures": None,
        "tile": None,
        "overlap": None,
        "raw": {"path": "fused.npy", "sha256": _sha(folder / "fused.npy")},
        "bench": [
            {
                "size": [8, 8],
                "first_ms": 9.0,
                "warmup": 1,
                "repeats": 4,
                "times_ms": [4.0, 1.0, 3.0, 2.0],
                "p50_ms": 2.5,
                "p90_ms": 3.7,
                "peak_rss_mb": 50.0,
                "peak_device_mb": None,
            }
        ],  # fmt: skip
        **changes,
    }
    (folder / "run.json").write_text(json.dumps(record))
    return folder / "run.json"


def _one_off(offset: float) -> np.ndarray:
    raw = np.full((H, W, 3), 0.5, np.float32)
    raw[2, 3, 1] += np.float32(offset)
    return raw


def test_row_numbers_and_verdicts(tmp_path: Path) -> None:
    raw = _one_off(1e-3)
    record = _record(tmp_path / "run", raw)
    err = float(raw[2, 3, 1]) - 0.5  # float32 rounding of 0.5 + 1e-3
    mse = err**2 / (H * W * 3)
    row = judge_device_run(record, _Reference())
    par = row.parity
    assert row.name == "openvino-fp32@test-board-9000" and row.runtime == "mgdn-fuse/openvino"
    assert par.max_abs == pytest.approx(err, rel=1e-12) and par.mean_abs == pytest.approx(
        err / 192, rel=1e-12
    )
    assert par.psnr_min == pytest.approx(10 * np.log10(1 / mse), rel=1e-9)
    assert not par.passed and par.violations[0] == f"max_abs {err:.3g} > 0.0001"  # FP32's bound
    fp16 = judge_device_run(record, _Reference(), precision="fp16")  # 2e-2 / 2e-3 / 50 dB: within
    assert (
        fp16.parity.passed and fp16.parity.violations == [] and fp16.name == "openvino-fp16@test-board-9000"
    )
    (bench,) = row.bench
    assert list(bench.size) == [8, 8] and bench.p50_ms == 2.5 and bench.p90_ms == pytest.approx(3.7)
    assert bench.mean_ms == 2.5 and bench.min_ms == 1.0 and bench.repeats == 4


def test_device_rows_alone_make_a_report(tmp_path: Path, monkeypatch) -> None:
    import mgdn_edge.runtimes as runtimes

    monkeypatch.setattr(runtimes, "open_runtime", lambda name, path, **_: _Reference())
    ckpt = tmp_path / "ref.pth"
    ckpt.write_bytes(b"stand-in")
    record = _record(tmp_path / "run", _one_off(0.0))
    results, lines, passed = add_device_runs(None, [record], reference=str(ckpt))
    assert passed and lines == ["openvino-fp32@test-board-9000: pass (fp32 budget; max abs 0, min psnr ∞ dB)"]
    assert [v.name for v in results.variants] == ["openvino-fp32@test-board-9000"]
    assert results.model["sha256"] == _sha(ckpt) and results.settings["sizes"] == [[8, 8]]
    paths = write_report(results, tmp_path / "report")
    assert "mgdn-fuse openvino FP32 @ Test Board 9000" in paths["markdown"].read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"schema": "something-else/1"},
            "is not a device run record (schema 'mgdn-edge.device-run/1' expected",
        ),
        ({"raw": None}, "has no raw output: run mgdn-fuse with --raw OUT.npy as well as --json"),
        ({"task": "gdsr"}, "is a GDSR run but the reference is a MFF model"),
        ({"bench": [{"size": [8, 8]}]}, "bench[0] is not a benchmark row"),
        ({"inputs": [{"path": "A.png"}]}, "inputs[0] must be an object with 'path' and 'sha256'"),
    ],
)
def test_bad_records_are_one_line_errors(tmp_path: Path, change: dict, message: str) -> None:
    record = _record(tmp_path / "run", _one_off(0.0), **change)
    with pytest.raises(InputError) as caught:
        judge_device_run(record, _Reference())
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_inputs_found_by_hash_elsewhere_and_wrong_files_refused(tmp_path: Path) -> None:
    record = _record(tmp_path / "run", _one_off(0.0))
    elsewhere = tmp_path / "inputs"
    elsewhere.mkdir()
    for name in ("A.png", "B.png"):
        (tmp_path / "run" / name).rename(elsewhere / name)
    with pytest.raises(InputError, match=r"input A.png of .*run.json not found \(looked for "):
        judge_device_run(record, _Reference())
    assert judge_device_run(record, _Reference(), search=[elsewhere]).parity.passed
    cv2.imwrite(str(elsewhere / "A.png"), np.full((H, W, 3), 61, np.uint8))  # not what the device read
    with pytest.raises(InputError, match="differs from the file the device read .* pass --inputs-dir"):
        judge_device_run(record, _Reference(), search=[elsewhere])
    assert load_device_run(record).bench[0].times_ms == [4.0, 1.0, 3.0, 2.0]
