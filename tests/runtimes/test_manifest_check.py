"""An export folder is one unit: a file whose sha256 disagrees with manifest.json is refused by every
command that opens it, and no command writes over a file it reads.

The "mixed folder" is what an interrupted copy or a hand-made swap leaves: an HDR export whose
model.onnx comes from an MFF export. Hashes are checked against hashlib, not the code under test.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.plugins.openvino_ext import default_extension_dir
from mgdn_edge.runtimes import base, open_runtime


def _tiny(task: str, seed: int) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset(task, embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    ckpt = root / "hdr.pth"
    model = _tiny("hdr", 0)
    torch.save(model.state_dict(), ckpt)
    export_model(model, root / "hdr", checkpoint=ckpt, verify=False, fp16=False)
    export_model(_tiny("mff", 1), root / "mff", verify=False, fp16=False)
    return {"hdr": root / "hdr", "mff": root / "mff", "ckpt": ckpt}


@pytest.fixture
def mixed(exports, tmp_path) -> Path:
    """A copy of the HDR export whose model.onnx is the MFF export's."""
    folder = tmp_path / "export"
    shutil.copytree(exports["hdr"], folder)
    shutil.copy(exports["mff"] / "model.onnx", folder / "model.onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
        != (manifest["files"]["model.onnx"]["sha256"])
    )
    return folder


def _expected(folder: Path, name: str = "model.onnx") -> str:
    return f"error: {folder.name}/{name} does not match its manifest.json (sha256 "


def test_intact_export_opens_and_mixed_one_is_refused_by_the_runtime(exports, mixed):
    assert open_runtime("onnxruntime", exports["hdr"]).config.task == "hdr"
    with pytest.raises(BackendError, match=r"export/model\.onnx does not match its manifest\.json"):
        open_runtime("onnxruntime", mixed)
    with pytest.raises(BackendError, match="re-export"):
        open_runtime("onnxruntime", mixed / "model.onnx")
    # the untouched sibling file of the same folder still opens
    assert open_runtime("onnxruntime", mixed, portable=True).config.task == "hdr"


def test_every_command_refuses_the_mixed_folder_in_one_line(exports, mixed, tmp_path, cli_error):
    expected = _expected(mixed)
    images = tmp_path / "images"
    images.mkdir()
    brackets = [images / f"{i}.png" for i in range(3)]
    for i, path in enumerate(brackets):
        cv2.imwrite(str(path), np.full((16, 16, 3), 60 * (i + 1), np.uint8))
    commands = [
        ["convert", "--runtime", "openvino", "--model", str(mixed), "--out", str(tmp_path / "ir.xml")],
        ["quantize", "--model", str(mixed), "--runtime", "onnxruntime", "--data", "synthetic:2"]
        + ["--out", str(tmp_path / "q.onnx"), "--quiet"],
        ["build-engine", "--model", str(mixed), "--out", str(tmp_path / "m.engine")],
        ["parity", "--runtime", "onnxruntime", "--model", str(mixed / "model.onnx")]
        + ["--reference", str(exports["ckpt"])],
        ["fuse", "--task", "hdr", "--model", str(mixed), "--raw", str(tmp_path / "f.npy")]
        + [*map(str, brackets), "--exposures", "0", "2", "4"],
    ]
    for argv in commands:
        assert cli_error(argv).startswith(expected), argv[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "images"]  # nothing was written


def test_portable_file_checked_too_and_a_truncated_file_is_named(exports, tmp_path, cli_error):
    folder = tmp_path / "export"
    shutil.copytree(exports["hdr"], folder)
    data = (folder / "model.portable.onnx").read_bytes()
    (folder / "model.portable.onnx").write_bytes(data[: len(data) // 2])  # a copy cut short
    argv = ["quantize", "--model", str(folder), "--runtime", "onnxruntime", "--data", "synthetic:2"]
    err = cli_error([*argv, "--out", str(tmp_path / "q.onnx"), "--quiet"])
    assert err.startswith(_expected(folder, "model.portable.onnx"))
    with pytest.raises(BackendError, match="model.portable.onnx does not match"):
        open_runtime("onnxruntime", folder, portable=True)


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is not installed")
def test_openvino_runtime_refuses_the_mixed_folder(mixed):
    if not (default_extension_dir() / "libmgdn_openvino.so").is_file():
        pytest.skip("the OpenVINO extension is not built here (mgdn-edge build-plugins --openvino)")
    with pytest.raises(BackendError, match=r"export/model\.onnx does not match its manifest\.json"):
        open_runtime("openvino", mixed / "model.onnx")


def test_each_file_is_hashed_once_per_process_until_it_changes(exports, tmp_path, monkeypatch):
    folder = tmp_path / "export"
    shutil.copytree(exports["hdr"], folder)
    calls: list[str] = []
    real = base.sha256_file

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(base, "sha256_file", counting)
    for _ in range(3):
        open_runtime("onnxruntime", folder)
    assert calls.count("model.onnx") == 1
    model = folder / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")  # same path, new size and mtime: hashed again
    with pytest.raises(BackendError, match="does not match"):
        open_runtime("onnxruntime", folder)
    assert calls.count("model.onnx") == 2


def test_quantize_never_writes_over_its_source(exports, tmp_path, cli_error):
    """The reported bug: ``quantize --out EXPORT/model.onnx`` replaced the FP32 source."""
    folder = tmp_path / "export"
    shutil.copytree(exports["hdr"], folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    q = ["quantize", "--model", str(folder), "--runtime", "onnxruntime", "--data", "synthetic:2", "--quiet"]
    err = cli_error([*q, "--out", str(folder / "model.onnx")])
    assert err == (
        f"error: --out {folder / 'model.onnx'} is the input {folder.resolve() / 'model.onnx'} of this "
        "command; write the output elsewhere (inputs are never overwritten)"
    )
    sneaky = folder / ".." / "export" / "model.portable.onnx"
    assert "is the input" in cli_error([*q, "--out", str(sneaky)])
    # an export file quantize does not read is still part of the export: not overwritten either
    assert "is the input" in cli_error([*q, "--out", str(folder / "model.trt.onnx")])
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
