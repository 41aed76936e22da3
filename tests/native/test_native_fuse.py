"""The native runner against `mgdn-edge fuse --runtime openvino` on the same files: the raw
network output within 1e-5 and the written images equal, for MFF, HDR and GDSR."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


def fixture_file(*parts: str) -> Path:
    """A file under ../shared/fixtures; the test skips, saying so, where ../shared is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


def _write(path: Path, rgb: np.ndarray, bits: int = 8) -> Path:
    """HxWx3 (or HxW) values in [0, 1] as an 8- or 16-bit file (BGR on disk, as OpenCV stores it)."""
    full, dtype = (255.0, np.uint8) if bits == 8 else (65535.0, np.uint16)
    data = np.round(np.clip(rgb, 0, 1) * full).astype(dtype)
    cv2.imwrite(str(path), data[:, :, ::-1] if data.ndim == 3 else data)
    return path


def _hwc(nchw: np.ndarray) -> np.ndarray:
    return nchw[0].transpose(1, 2, 0)


def _fuse_both(
    native,
    python_cli,
    tmp_path: Path,
    task: str,
    model: Path,
    inputs: list[Path],
    out: str,
    extra: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Run both CLIs; return the files each wrote (keys native/python + suffix)."""
    files = {}
    for side in ("native", "python"):
        folder = tmp_path / side
        folder.mkdir()
        raw, image = folder / "fused.npy", folder / out
        args = [
            "--task",
            task,
            "--model",
            str(model),
            *map(str, inputs),
            "--raw",
            str(raw),
            "--out",
            str(image),
            *extra,
        ]
        proc = native(*args) if side == "native" else python_cli("fuse", "--runtime", "openvino", *args)
        assert proc.returncode == 0, proc.stderr
        files[side] = folder
    return files


def _compare(files: dict[str, Path], names: list[str]) -> float:
    a = np.load(files["native"] / "fused.npy")
    b = np.load(files["python"] / "fused.npy")
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    worst = float(np.abs(a - b).max())
    assert worst <= 1e-5
    for name in names:
        mine = cv2.imread(str(files["native"] / name), cv2.IMREAD_UNCHANGED)
        theirs = cv2.imread(str(files["python"] / name), cv2.IMREAD_UNCHANGED)
        assert mine is not None and theirs is not None, name
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        if mine.dtype == np.float32:
            assert np.abs(mine - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max()))
        else:  # quantised from outputs within 1e-5: equal, or one step apart where rounding tips
            assert np.abs(mine.astype(int) - theirs.astype(int)).max() <= 1
    return worst


@pytest.mark.parametrize("crop", ["crop64", "crop61x75"])
def test_mff_crops_match_python(native, python_cli, exported, tmp_path: Path, crop: str) -> None:
    data = np.load(fixture_file("official-mff", f"mff_lytro01_{crop}.npz"))
    a = _write(tmp_path / "A.png", _hwc(data["A"]))
    b = _write(tmp_path / "B.png", _hwc(data["B"]), bits=16)  # one 16-bit file: the /65535 path
    files = _fuse_both(native, python_cli, tmp_path, "mff", exported("mff"), [a, b], "fused.png")
    _compare(files, ["fused.png"])


def test_hdr_brackets_match_python(native, python_cli, exported, tmp_path: Path) -> None:
    data = np.load(fixture_file("architecture", "hdr_arch_io.npz"))
    ref = np.clip(_hwc(data["61x75_in1"])[:, :, :3], 0, 1)
    brackets = [ref * 0.5, ref, np.clip(ref * 2.0, 0, 1)]  # one stop apart: EVs -1 0 1 agree with them
    names = ("u", "r", "o")
    paths = [_write(tmp_path / f"{n}.tif", b, bits=16) for n, b in zip(names, brackets, strict=True)]
    files = _fuse_both(
        native,
        python_cli,
        tmp_path,
        "hdr",
        exported("hdr"),
        paths,
        "fused.hdr",
        ("--exposures", "-1", "0", "1"),
    )
    _compare(files, ["fused.hdr", "fused.png"])


def test_hdr_scene_folder_matches_python(native, python_cli, exported, tmp_path: Path) -> None:
    data = np.load(fixture_file("architecture", "hdr_arch_io.npz"))
    ref = np.clip(_hwc(data["64x80_in1"])[:, :, :3], 0, 1)
    scene = tmp_path / "scene"
    scene.mkdir()
    for name, image in (("a.tif", ref * 0.25), ("b.tif", ref), ("c.tif", np.clip(ref * 4.0, 0, 1))):
        _write(scene / name, image, bits=16)
    (scene / "exposure.txt").write_text("0\n2\n4\n")
    files = _fuse_both(native, python_cli, tmp_path, "hdr", exported("hdr"), [scene], "fused.png")
    _compare(files, ["fused.hdr", "fused.png"])


@pytest.mark.parametrize("depth_kind", ["png16", "npy-lowres"])
def test_gdsr_matches_python(native, python_cli, exported, tmp_path: Path, depth_kind: str) -> None:
    data = np.load(fixture_file("architecture", "gdsr_arch_io.npz"))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    rgb = _write(tmp_path / "rgb.png", _hwc(data["rgb"]) * std + mean)
    depth = data["depth"][0, 0]
    if depth_kind == "png16":
        dpath = _write(tmp_path / "depth.png", (depth - depth.min()) / (depth.max() - depth.min()), bits=16)
    else:  # a quarter-size depth map in metres: the bicubic upsampling path
        dpath = tmp_path / "depth.npy"
        np.save(dpath, (depth[::4, ::4] * 3.0 + 1.5).astype(np.float64))
    files = _fuse_both(native, python_cli, tmp_path, "gdsr", exported("gdsr"), [rgb, dpath], "fused.png")
    _compare(files, ["fused.png"])


def test_bench_prints_json_latencies(native, native_build, exported) -> None:
    """--bench SIZES without input files: one row per size, in the order given, with the timed runs
    asked for and statistics that are numpy's of those runs (not timings judged: the machine is shared)."""
    ext = str(native_build["extension"])
    args = ["--task", "mff", "--model", str(exported("mff")), "--extension", ext]
    bench = ["--bench", "32x32,24x40", "--warmup", "2", "--repeats", "3"]
    proc = native(*args, *bench, "--device-name", "bench box")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["schema"] == "mgdn-edge.device-run/1" and record["device"] == "bench box"
    assert record["task"] == "mff" and record["runtime"] == "openvino" and record["precision"] == "fp32"
    assert record["inputs"] == [] and record["raw"] is None and record["open_ms"] > 0
    model = exported("mff")  # a multi-MB file: the runner's SHA-256 across many read blocks
    assert record["model"] == {"path": str(model), "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    assert [row["size"] for row in record["bench"]] == [[32, 32], [24, 40]]
    for row in record["bench"]:
        times = np.array(row["times_ms"])
        assert row["warmup"] == 2 and row["repeats"] == 3 and len(times) == 3 and (times > 0).all()
        assert row["p50_ms"] == pytest.approx(np.percentile(times, 50), rel=1e-5)
        assert row["p90_ms"] == pytest.approx(np.percentile(times, 90), rel=1e-5)
        assert row["first_ms"] > 0 and row["peak_rss_mb"] > 10 and row["peak_device_mb"] is None


def test_bench_refuses_bad_sizes_and_runs(native, exported) -> None:
    model = str(exported("mff"))
    base = ["--task", "mff", "--model", model]
    for extra, message in (
        (["--bench", "3"], "error: --bench must be HxW (e.g. 256x384), got '3'"),
        (["--bench", "32x32,0x8"], "error: --bench must have positive sizes, got '0x8'"),
        (["--bench", "32x32", "--repeats", "0"], "error: --repeats must be >= 1 timed run, got 0"),
        (["--bench", "8x8", "--json", model], f"error: --json {model} would overwrite the input {model}"),
    ):
        proc = native(*base, *extra)
        assert proc.returncode == 2 and proc.stderr.strip() == message, proc.stderr


def test_converted_ir_with_window_attention_matches_pytorch(
    native, python_cli, exported, tmp_path: Path
) -> None:
    """`convert` writes each transformer block's attention as the extension's WindowAttention op;
    the native runner runs such an IR (it loads the extension for any mgdn layer) and agrees with
    the PyTorch reference on the same files."""
    from mgdn_edge.runtimes.openvino.convert import convert_to_openvino

    xml = convert_to_openvino(exported("mff"), tmp_path / "ir" / "model.xml")
    assert xml.read_text().count('type="WindowAttention"') == 6
    data = np.load(fixture_file("official-mff", "mff_lytro01_crop61x75.npz"))
    a, b = _write(tmp_path / "A.png", _hwc(data["A"])), _write(tmp_path / "B.png", _hwc(data["B"]))
    raws = {side: tmp_path / f"{side}.npy" for side in ("native", "torch")}
    proc = native("--task", "mff", "--model", str(xml), str(a), str(b), "--raw", str(raws["native"]))
    assert proc.returncode == 0, proc.stderr
    ckpt = fixture_file("official-mff", "mff_62000_E.pth")
    args = ["--task", "mff", "--model", str(ckpt), str(a), str(b), "--raw", str(raws["torch"])]
    proc = python_cli("fuse", "--runtime", "torch", *args)
    assert proc.returncode == 0, proc.stderr
    assert np.abs(np.load(raws["native"]) - np.load(raws["torch"])).max() <= 1e-5
