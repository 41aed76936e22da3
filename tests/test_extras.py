"""A missing extra is one line naming it; the commands that need torch say so before any work."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mgdn_edge.core.extras import MissingExtraError, needs_line, require


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new ``import torch`` in this process fails as it does where torch is not installed."""
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
        (["parity", "--runtime", "torch", "--model", "{ckpt}"], r"the PyTorch runtime \(torch\)"),
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
            r"the PyTorch runtime \(torch\)",
        ),
    ],
)
def test_commands_that_need_torch_say_so_in_one_line(argv, what, tiny_mff, tmp_path):
    # A fresh process whose `import torch` fails as where torch is not installed: a package of
    # that name first on the path raises what a missing module raises.
    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n'
    )
    env = {**os.environ, "PYTHONPATH": str(shim.parent)}
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.full((16, 16, 3), 128, np.uint8))
    argv = [a.format(ckpt=tiny_mff, tmp=tmp_path) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "mgdn_edge.cli", *argv], capture_output=True, text=True, env=env, timeout=300
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    line = lines[0]
    assert line.startswith("error: ") and re.search(what, line), line
    assert line.endswith("needs PyTorch: pip install 'mgdn-edge[torch]'"), line
    assert not (tmp_path / "out").exists() and not (tmp_path / "p").exists()  # stopped before any work
