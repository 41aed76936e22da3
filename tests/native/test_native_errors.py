"""Bad input gives one `error:` line and status 2 from the native runner, as from the Python CLI
(the same message where both check the same thing)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def _png(path: Path, h: int = 64, w: int = 64, seed: int = 0, scale: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), (rng.random((h, w, 3)) * 255 * scale).astype(np.uint8))
    return path


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def _cases(tmp: Path, model: Path) -> dict[str, list[str]]:
    a, b, c = _png(tmp / "a.png"), _png(tmp / "b.png", seed=1), _png(tmp / "c.png", seed=2)
    small = _png(tmp / "small.png", 64, 48, seed=3)
    truncated = tmp / "cut.png"
    truncated.write_bytes(a.read_bytes()[:-40])
    dark, bright = _png(tmp / "dark.png", scale=0.3), _png(tmp / "bright.png")
    out = str(tmp / "out.png")
    return {
        "wrong count": ["--task", "mff", "--model", str(model), str(a), str(b), str(c), "--out", out],
        "size mismatch": ["--task", "mff", "--model", str(model), str(a), str(small), "--out", out],
        "truncated file": ["--task", "mff", "--model", str(model), str(a), str(truncated), "--out", out],
        "missing image": [
            "--task",
            "mff",
            "--model",
            str(model),
            str(a),
            str(tmp / "nope.png"),
            "--out",
            out,
        ],
        "nothing to write": ["--task", "mff", "--model", str(model), str(a), str(b)],
        "bad raw suffix": [
            "--task",
            "mff",
            "--model",
            str(model),
            str(a),
            str(b),
            "--raw",
            str(tmp / "x.txt"),
        ],
        # brackets given under -> over, the EVs falling: refused before anything runs
        "wrong EV order": [
            "--task",
            "hdr",
            "--model",
            str(model),
            str(dark),
            str(a),
            str(bright),
            "--exposures",
            "2",
            "0",
            "-2",
            "--out",
            out,
        ],
        # rising EVs, but the bracket given the highest EV is clearly the darkest
        "EVs contradict brackets": [
            "--task",
            "hdr",
            "--model",
            str(model),
            str(a),
            str(bright),
            str(dark),
            "--exposures",
            "-2",
            "0",
            "2",
            "--out",
            out,
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong count",
        "size mismatch",
        "truncated file",
        "missing image",
        "nothing to write",
        "bad raw suffix",
        "wrong EV order",
        "EVs contradict brackets",
    ],
)
def test_bad_input_matches_python(native, python_cli, exported, tmp_path: Path, case: str) -> None:
    args = _cases(tmp_path, exported("mff"))[case]
    mine = _one_error_line(native(*args))
    theirs = _one_error_line(python_cli("fuse", "--runtime", "openvino", *args))
    assert mine == theirs


def _mff_args(exported, tmp_path: Path) -> list[str]:
    """fuse flags for two small PNGs and the authors' exported MFF model."""
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", seed=1)
    model = str(exported("mff"))
    return ["--task", "mff", "--model", model, str(a), str(b), "--out", str(tmp_path / "o.png")]


def test_missing_extension_library_is_named(native, python_cli, exported, tmp_path: Path) -> None:
    missing = str(tmp_path / "lib" / "libmgdn_openvino.so")
    args = _mff_args(exported, tmp_path)
    env = {"MGDN_OPENVINO_EXTENSION": missing}
    mine = _one_error_line(native(*args, env=env))
    assert mine == _one_error_line(python_cli("fuse", "--runtime", "openvino", *args, env=env))
    assert missing in mine
    flag = _one_error_line(native(*args, "--extension", missing))
    assert missing in flag and "--extension" in flag


def test_model_without_extension_says_so(native, exported, tmp_path: Path) -> None:
    args = _mff_args(exported, tmp_path)
    line = _one_error_line(native(*args, env={"MGDN_OPENVINO_EXTENSION": ""}))
    assert "libmgdn_openvino.so" in line and "build-plugins --openvino" in line


def test_missing_model_and_unsupported_flags(native, tmp_path: Path) -> None:
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", seed=1)
    model = str(tmp_path / "none.onnx")
    base = ["--task", "mff", "--model", model, str(a), str(b), "--out", str(tmp_path / "o.png")]
    assert model in _one_error_line(native(*base))
    assert "tiles only where --tile asks" in _one_error_line(native(*base, "--max-memory", "512"))
    assert "or tensorrt (trt)" in _one_error_line(native(*base, "--runtime", "onnxruntime"))
    # the OpenVINO-only build names what it lacks and how to get it
    assert _one_error_line(native(*base, "--runtime", "trt")).endswith(
        "built without the tensorrt backend (it has: openvino); rebuild it with -DMGDN_WITH_TENSORRT=ON"
    )
