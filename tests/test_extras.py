"""A missing extra is one line naming it; the commands that need torch say so before any work."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from mgdn_edge.extras import MissingExtraError, needs_line, require


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import torch`` fails as it does where torch is not installed (modules already loaded keep
    theirs: only the commands' own start-up checks and lazy imports are exercised)."""
    monkeypatch.setitem(sys.modules, "torch", None)


def test_the_line_names_the_package_and_the_extra():
    assert (
        needs_line("mgdn-edge export", "torch")
        == "mgdn-edge export needs PyTorch: pip install 'mgdn-edge[torch]'"
    )
    assert needs_line("x", "torch.nn.functional").endswith("pip install 'mgdn-edge[torch]'")
    assert needs_line("x", "nncf") == "x needs NNCF: pip install 'mgdn-edge[openvino]'"
    assert needs_line("x", "onnxruntime") == "x needs ONNX Runtime: pip install 'mgdn-edge[onnxruntime]'"
    assert needs_line("x", "sympy") is None  # not an extra of ours: a broken install, not a missing extra


def test_require_raises_the_line_and_passes_what_is_installed(no_torch):
    with pytest.raises(MissingExtraError, match=r"^train needs PyTorch: pip install 'mgdn-edge\[torch\]'$"):
        require("torch", "train")
    require("numpy", "anything")  # installed: no error


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["export", "--task", "mff", "--model", "{ckpt}", "--out", "{tmp}/out"], "mgdn-edge export"),
        (
            ["train", "--task", "mff", "--model", "{ckpt}", "--data", "{tmp}", "--out", "{tmp}/t.pth"],
            "mgdn-edge train",
        ),
        (["pipeline", "--out", "{tmp}/p"], "mgdn-edge pipeline"),
        (
            ["bench", "--runtime", "onnxruntime", "--model", "{ckpt}", "--reference", "{ckpt}"],
            "mgdn-edge bench",
        ),
        (["parity", "--runtime", "torch", "--model", "{ckpt}"], "the PyTorch runtime (torch)"),
        (
            [
                "fuse",
                "--task",
                "mff",
                "--model",
                "{ckpt}",
                "{tmp}/a.png",
                "{tmp}/b.png",
                "--raw",
                "{tmp}/o.npy",
            ],
            "runtime",
        ),
    ],
)
def test_commands_that_need_torch_say_so_in_one_line(argv, what, tiny_mff, tmp_path, cli_error, no_torch):
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.full((16, 16, 3), 128, np.uint8))
    argv = [a.format(ckpt=tiny_mff, tmp=tmp_path) for a in argv]
    line = cli_error(argv)
    assert what in line and line.endswith("needs PyTorch: pip install 'mgdn-edge[torch]'"), line
    assert not (tmp_path / "out").exists() and not (tmp_path / "p").exists()  # stopped before any work
