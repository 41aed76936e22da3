"""Device results into the report: mgdn-fuse's run record (OpenVINO backend here, standing in for a
Jetson) copied to another folder, judged by `mgdn-edge report --device` against PyTorch, and added
as a row of a pipeline's results. The row's numbers are checked against an independent computation
on the raw outputs (PyTorch through `mgdn-edge fuse --runtime torch`), its verdict against the FP32
budget; a device output with wrong numbers fails its budget with the reason, and a damaged copy
or missing inputs are refused in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_native_fuse import FIXTURES, _hwc, _write, fixture_file

from mgdn_edge.cli import main
from mgdn_edge.core.results import RESULTS_SCHEMA

CKPT = FIXTURES / "architecture" / "hdr_arch_depth222_seed1234.pth"  # device_run skips without it
TILE = ("--tile", "32", "--overlap", "8")
EVS = ("--exposures", "-1", "0", "1")


@pytest.fixture(scope="module")
def device_run(native, exported, python_cli, tmp_path_factory) -> dict[str, Path]:
    """A tiled HDR run with --raw, --json and --bench on "the device", its output folder copied
    back to "the PC" with the inputs, the device's folder gone; and PyTorch's raw output."""
    root = tmp_path_factory.mktemp("device")
    device = root / "device"
    (device / "out").mkdir(parents=True)
    data = np.load(fixture_file("architecture", "hdr_arch_io.npz"))
    ref = np.clip(_hwc(data["61x75_in1"])[:, :, :3], 0, 1)
    brackets = [ref * 0.5, ref, np.clip(ref * 2.0, 0, 1)]
    paths = [_write(device / f"{n}.tif", b, bits=16) for n, b in zip("uro", brackets, strict=True)]
    out = device / "out"
    files = ["--task", "hdr", *map(str, paths), *EVS, *TILE]
    record = [
        "--raw",
        str(out / "fused.npy"),
        "--json",
        str(out / "run.json"),
        "--device-name",
        "Stand-in Orin",
    ]
    proc = native("--model", str(exported("hdr")), *files, *record, "--bench", "32x32", "--repeats", "3")
    assert proc.returncode == 0, proc.stderr
    torch_raw = root / "torch.npy"
    proc = python_cli("fuse", "--runtime", "torch", "--model", str(CKPT), *files, "--raw", str(torch_raw))
    assert proc.returncode == 0, proc.stderr
    pc = root / "pc"
    shutil.copytree(out, pc / "back")
    (pc / "data").mkdir()
    for p in paths:
        shutil.copy(p, pc / "data" / p.name)
    shutil.rmtree(device)
    return {"back": pc / "back", "data": pc / "data", "torch": torch_raw}


def _results(tmp_path: Path) -> Path:
    """A pipeline's results with the PyTorch reference measured at 32x32 (p50 200 ms)."""
    torch_row = {
        "name": "torch-fp32",
        "label": "PyTorch FP32",
        "runtime": "torch",
        "precision": "fp32",
        "status": "ok",
        "parity": {
            "passed": True,
            "precision": "fp32",
            "max_abs": 0.0,
            "mean_abs": 0.0,
            "psnr_min": None,
            "ssim_min": None,
        },  # fmt: skip
        "bench": [{"size": [32, 32], "p50_ms": 200.0, "p90_ms": 220.0}],
        "run_id": "run-1",
    }
    results = {"schema": RESULTS_SCHEMA, "run_id": "run-1", "variants": [torch_row],
               "model": {"task": "hdr", "checkpoint": str(CKPT)}}  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return path


def _copy_back(device_run: dict[str, Path], tmp_path: Path) -> Path:
    folder = tmp_path / "back"
    shutil.copytree(device_run["back"], folder)
    return folder


def _mu(x: np.ndarray) -> np.ndarray:
    return (np.log1p(5000.0 * x.astype(np.float64)) / np.log1p(5000.0)).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def _report(tmp_path: Path, back: Path, *extra: str) -> int:
    return main(["report", str(_results(tmp_path)), "--device", str(back / "run.json"),
                 "--out", str(tmp_path / "report"), *extra])  # fmt: skip


def _device_row(tmp_path: Path) -> tuple[dict, dict]:
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    rows = {v["name"]: v for v in report["variants"]}
    assert set(rows) == {"torch-fp32", "openvino-fp32@stand-in-orin"}
    row = rows["openvino-fp32@stand-in-orin"]
    point = next(p for p in report["derived"]["points"] if p["variant"] == row["name"])
    return row, point


def test_device_run_gets_a_judged_row(device_run, tmp_path: Path, capsys) -> None:
    back = _copy_back(device_run, tmp_path)
    assert _report(tmp_path, back, "--inputs-dir", str(device_run["data"])) == 0
    row, point = _device_row(tmp_path)
    raw, ref = np.load(back / "fused.npy"), np.load(device_run["torch"])
    par = row["parity"]
    assert par["passed"] and par["violations"] == [] and par["precision"] == "fp32"
    # The reference here ran in another process, whose numpy rounds the input preparation's float32
    # power/log1p up to 1 ulp differently (see conftest): equal to ~1 ulp of the output, and the
    # PSNR of outputs this close moves by hundredths of a dB with it.
    assert par["max_abs"] == pytest.approx(float(np.abs(raw.astype(np.float64) - ref).max()), abs=1.2e-7)
    assert par["max_abs"] <= 1e-4  # the FP32 budget
    assert par["psnr_key"] == "psnr_mu"
    assert par["psnr_min"] == pytest.approx(_psnr(_mu(ref), _mu(raw)), abs=0.5)
    record = json.loads((back / "run.json").read_text())
    times = record["bench"][0]["times_ms"]
    assert row["bench"][0]["size"] == [32, 32] and row["bench"][0]["times_ms"] == times
    assert row["bench"][0]["p50_ms"] == pytest.approx(np.percentile(times, 50))
    assert point["speedup"] == pytest.approx(200.0 / np.percentile(times, 50))
    assert row["describe"]["device"] == "Stand-in Orin" and row["runtime"] == "mgdn-fuse/openvino"
    out = capsys.readouterr().out
    assert "openvino-fp32@stand-in-orin: pass (fp32 budget" in out
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert (
        "mgdn-fuse openvino FP32 @ Stand-in Orin" in markdown and "@device rows (Stand-in Orin)" in markdown
    )
    assert (tmp_path / "report" / "pareto.png").stat().st_size > 1000


def test_wrong_numbers_from_the_device_fail_the_budget(device_run, tmp_path: Path, capsys) -> None:
    back = _copy_back(device_run, tmp_path)
    raw = np.load(back / "fused.npy")
    raw[10:20, 10:20] += np.float32(0.05)  # what a broken device kernel might write
    np.save(back / "fused.npy", raw)
    record = json.loads((back / "run.json").read_text())
    record["raw"]["sha256"] = hashlib.sha256((back / "fused.npy").read_bytes()).hexdigest()
    (back / "run.json").write_text(json.dumps(record))
    assert _report(tmp_path, back, "--inputs-dir", str(device_run["data"])) == 1
    row, _ = _device_row(tmp_path)
    ref = np.load(device_run["torch"])
    worst = float(np.abs(raw.astype(np.float64) - ref).max())
    assert not row["parity"]["passed"] and row["parity"]["max_abs"] == pytest.approx(worst, rel=1e-5)
    assert row["parity"]["psnr_min"] == pytest.approx(_psnr(_mu(ref), _mu(raw)), rel=1e-5)
    assert row["parity"]["mean_abs"] == pytest.approx(
        float(np.abs(raw.astype(np.float64) - ref).mean()), rel=1e-5
    )
    assert row["parity"]["violations"][0] == f"max_abs {worst:.3g} > 0.0001"
    assert "openvino-fp32@stand-in-orin: over budget: max_abs 0.05 > 0.0001" in capsys.readouterr().out
    assert "over budget: max_abs 0.05 > 0.0001" in (tmp_path / "report" / "report.md").read_text()


def test_damaged_copy_and_missing_inputs_are_refused(device_run, tmp_path: Path, capsys) -> None:
    back = _copy_back(device_run, tmp_path)
    assert _report(tmp_path, back) == 2  # no --inputs-dir: the device's inputs are not on this PC
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: input ") and "u.tif" in err and "not found" in err and "\n" not in err
    raw = back / "fused.npy"
    raw.write_bytes(raw.read_bytes()[:-100])
    assert _report(tmp_path, back, "--inputs-dir", str(device_run["data"])) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith(f"error: raw output {raw} differs from the file the device wrote") and "\n" not in err
    )
    assert not (tmp_path / "report").exists()
