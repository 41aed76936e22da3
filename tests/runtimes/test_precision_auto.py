"""``--precision auto``: the fastest precision that holds its budget on this CPU, said in one line.

OpenVINO picks bf16 where the CPU executes it (its capability list is faked both ways here, so
both answers are checked on any CPU), runs an INT8 IR as built, and other runtimes keep the
file's own precision.
"""

from __future__ import annotations

import numpy as np
import pytest

from mgdn_edge.cli import main
from mgdn_edge.runtimes import open_runtime

ov = pytest.importorskip("openvino")


def _capabilities(monkeypatch: pytest.MonkeyPatch, caps: list[str]) -> None:
    real = ov.Core.get_property

    def fake(self, *args):  # type: ignore[no-untyped-def]
        return caps if args[-1] == "OPTIMIZATION_CAPABILITIES" else real(self, *args)

    monkeypatch.setattr(ov.Core, "get_property", fake)


@pytest.mark.parametrize(
    ("caps", "expected"), [(["FP32", "BF16", "INT8"], "bf16"), (["FP32", "INT8"], "fp32")]
)
def test_openvino_auto_follows_the_cpus_bf16(tiny_mff_export, monkeypatch, caps, expected):
    _capabilities(monkeypatch, caps)
    rt = open_runtime("openvino", tiny_mff_export / "model.onnx", precision="auto")  # compiles nothing
    assert rt.precision == expected
    assert ("executes bf16" if expected == "bf16" else "has no bf16") in rt.precision_choice


def test_other_runtimes_keep_the_files_precision(tiny_mff_export):
    rt = open_runtime("onnxruntime", tiny_mff_export / "model.onnx", precision="auto")
    assert rt.describe()["precision"] == "fp32"


def test_fuse_says_which_precision_auto_chose(tiny_mff_export, tmp_path, capsys):
    import cv2

    rng = np.random.default_rng(0)
    inputs = []
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), (rng.random((32, 32, 3)) * 255).astype(np.uint8))
        inputs.append(str(tmp_path / name))
    argv = ["fuse", "--task", "mff", "--runtime", "openvino", "--model", str(tiny_mff_export / "model.onnx")]
    assert main([*argv, "--precision", "auto", *inputs, "--out", str(tmp_path / "out.png")]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("precision auto:")]
    chosen = open_runtime("openvino", tiny_mff_export / "model.onnx", precision="auto").precision
    assert len(lines) == 1 and lines[0].startswith(f"precision auto: {chosen} (")
