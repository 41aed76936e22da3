"""The ``mgdn-edge`` command line: fuse reproduces the fixtures; bad input gets a one-line error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.cli import main
from mgdn_edge.core.errors import InputError
from mgdn_edge.model import MGDN, preset


def _png(path: Path, rgb01: np.ndarray) -> Path:
    """Save HxWx3 RGB in [0, 1] (exact 8-bit values) as PNG."""
    cv2.imwrite(str(path), np.round(rgb01[:, :, ::-1] * 255).astype(np.uint8))
    return path


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    return _png(tmp_path / "a.png", rng.random((20, 24, 3))), _png(
        tmp_path / "b.png", rng.random((20, 24, 3))
    )


def test_fuse_reproduces_authors_output(mff_checkpoint, mff_crop, tmp_path):
    a = _png(tmp_path / "A.png", mff_crop["A"][0].transpose(1, 2, 0))
    b = _png(tmp_path / "B.png", mff_crop["B"][0].transpose(1, 2, 0))
    raw, out = tmp_path / "out.npy", tmp_path / "out.png"
    argv = ["fuse", "--task", "mff", "--model", str(mff_checkpoint), "--runtime", "torch", str(a), str(b)]
    assert main([*argv, "-o", str(out), "--raw", str(raw)]) == 0
    result = np.load(raw)
    assert result.shape == mff_crop["out"][0].transpose(1, 2, 0).shape
    assert np.abs(result - mff_crop["out"][0].transpose(1, 2, 0)).max() <= 1e-4
    written = cv2.imread(str(out))[:, :, ::-1].astype(np.float32) / 255
    assert np.abs(written - result).max() <= 0.5 / 255 + 1e-6


def test_fuse_with_only_raw_output(mff_checkpoint, mff_crop, tmp_path):
    """The first acceptance command: no -o, only --raw (every fixture crop, odd size too)."""
    a = _png(tmp_path / "A.png", mff_crop["A"][0].transpose(1, 2, 0))
    b = _png(tmp_path / "B.png", mff_crop["B"][0].transpose(1, 2, 0))
    raw = tmp_path / "out.npy"
    argv = ["fuse", "--task", "mff", "--model", str(mff_checkpoint), "--runtime", "torch"]
    assert main([*argv, str(a), str(b), "--raw", str(raw)]) == 0
    assert np.abs(np.load(raw) - mff_crop["out"][0].transpose(1, 2, 0)).max() <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A.png", "B.png", "out.npy"]


def test_fuse_needs_some_output(capsys, pair, tiny_mff, cli_error):
    err = cli_error(["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), str(pair[1])])
    assert "nothing to write: give -o OUT" in err


def test_info_reports_detected_config(mff_checkpoint, capsys):
    assert main(["info", str(mff_checkpoint), "--json", "-"]) == 0
    out = capsys.readouterr().out
    assert '"task": "mff"' in out and '"parameters": 182755' in out and '"window_size": 4' in out


def test_wrong_input_count(capsys, pair, tiny_mff, tmp_path, cli_error):
    err = cli_error(
        ["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), "-o", str(tmp_path / "o.png")],
    )
    assert "task 'mff' takes 2 inputs (a, b), got 1" in err


def test_mismatched_sizes(capsys, pair, tiny_mff, tmp_path, cli_error):
    other = _png(tmp_path / "small.png", np.zeros((10, 24, 3)))
    err = cli_error(
        ["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), str(other), "-o", "x.png"]
    )
    assert "size mismatch" in err and "24x20" in err and "24x10" in err


def test_undecodable_channel_layout(capsys, pair, tiny_mff, tmp_path, cli_error):
    # OpenCV reads 1/3/4-channel files only (2-channel TIFFs arrive as gray); a 5-channel TIFF is
    # refused by the decoder, and the user must get one line naming the file, not an OpenCV trace.
    tifffile = pytest.importorskip("tifffile")
    five = tmp_path / "five.tif"
    tifffile.imwrite(five, np.zeros((20, 24, 5), np.uint8), photometric="minisblack", planarconfig="contig")
    err = cli_error(
        ["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), str(five), "-o", "x.png"]
    )
    assert "cannot decode image" in err and "five.tif" in err


def test_wrong_channel_count_api():
    model = MGDN(preset("gdsr", embed_dim=12, depths=[1], swin_heads=[2]))
    with pytest.raises(InputError, match="input 'depth' must have 1 channels for task 'gdsr', got 3"):
        model(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))


def test_non_finite_input_to_the_model():
    """The model refuses NaN/Inf by input name (a NaN depth through `fuse`: test_hostile_inputs.py)."""
    model = MGDN(preset("mff", embed_dim=12, depths=[1], swin_heads=[2]))
    bad = torch.rand(1, 3, 16, 16)
    bad[0, 1, 2, 3] = float("inf")
    with pytest.raises(InputError, match="input 'b' contains NaN or Inf"):
        model(torch.rand(1, 3, 16, 16), bad)


def test_unreadable_file(capsys, pair, tiny_mff, tmp_path, cli_error):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    err = cli_error(
        ["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), str(corrupt), "-o", "x.png"]
    )
    assert f"cannot decode image (corrupt or unsupported format): {corrupt}" in err
    err = cli_error(
        ["fuse", "--task", "mff", "--model", str(tiny_mff), str(pair[0]), "missing.png", "-o", "x.png"],
    )
    assert "image not found: missing.png" in err


def test_checkpoint_of_another_task(capsys, pair, mff_checkpoint, tmp_path, cli_error):
    err = cli_error(
        [
            "fuse",
            "--task",
            "hdr",
            "--model",
            str(mff_checkpoint),
            *map(str, pair),
            str(pair[0]),
            "--exposures",
            "-2",
            "0",
            "2",
            "-o",
            "x.png",
        ],
    )
    assert "checkpoint is a MFF network" in err and "not usable for task 'hdr'" in err


def test_unknown_checkpoint_keys(capsys, pair, tiny_mff, tmp_path, cli_error):
    sd = torch.load(tiny_mff, weights_only=True)
    sd["layers.0.extra.weight"] = torch.zeros(2)
    torch.save(sd, tiny_mff)
    err = cli_error(["fuse", "--task", "mff", "--model", str(tiny_mff), *map(str, pair), "-o", "x.png"])
    assert "unexpected keys: layers.0.extra.weight" in err


def test_hdr_needs_exposures_and_valid_scene(capsys, tmp_path, cli_error):
    scene = tmp_path / "scene"
    scene.mkdir()
    for name in ("1.tif", "2.tif", "3.tif"):
        cv2.imwrite(str(scene / name), np.zeros((16, 16, 3), np.uint16))
    (scene / "exposure.txt").write_text("-2\n0\n")
    err = cli_error(["fuse", "--task", "hdr", "--model", "unused.pth", str(scene), "-o", "x.png"])
    assert "exposure.txt has 2 exposure values, expected 3" in err


def test_hdr_exposures_are_relative_to_the_shortest_bracket(tmp_path):
    from mgdn_edge.model.tasks import prepare_inputs

    rng = np.random.default_rng(1)
    files = [_png(tmp_path / f"{i}.png", rng.random((8, 8, 3))) for i in range(3)]
    shifted = prepare_inputs("hdr", files, exposures=[-2.0, 0.0, 2.0]).inputs
    origin = prepare_inputs("hdr", files, exposures=[0.0, 2.0, 4.0]).inputs
    for a, b in zip(shifted, origin, strict=True):
        np.testing.assert_array_equal(a, b)
    ldr = shifted[2][:, :3]
    np.testing.assert_allclose(shifted[2][:, 3:], ldr**2.2 / 16.0, rtol=1e-5)  # over bracket: 2^4
    with pytest.raises(InputError, match="finite"):
        prepare_inputs("hdr", files, exposures=[0.0, float("nan"), 2.0])


def test_bench_profile_prints_a_layer_table_and_stores_it(tiny_mff_export, tmp_path, capsys):
    import json

    from mgdn_edge.core.results import LayerTime, Measurement

    out = tmp_path / "bench.json"
    argv = ["bench", "--runtime", "onnxruntime", "--model", str(tiny_mff_export / "model.onnx")]
    argv += ["--sizes", "24x24", "32x32", "--warmup", "0", "--repeats", "2", "--threads", "1"]
    assert main([*argv, "--profile", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("layer profile at 32x32: per run, mean of 2 runs after the timed ones")
    assert lines[start + 1].split()[:2] == ["layer", "type"]
    total = next(line for line in lines[start:] if line.startswith("total "))
    assert "wall-clock p50" in lines[-1]
    result = Measurement.from_dict(json.loads(out.read_text())["result"])
    rows = result.layer_times
    assert rows and isinstance(rows[0], LayerTime) and result.job["options"] == {"profile": True}
    assert int(total.split()[1]) == sum(r.count for r in rows)
    assert any(r.layer_type == "Conv" and r.exec_type == "CPUExecutionProvider f32" for r in rows)


def test_bench_profile_is_refused_for_tensorrt(cli_error):
    err = cli_error(["bench", "--runtime", "tensorrt", "--model", "model.engine", "--profile"])
    assert err == "error: --profile is offered for onnxruntime, openvino and torch, not tensorrt"
