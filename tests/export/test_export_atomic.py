"""``export`` writes its folder whole or not at all, and refuses destinations it would harm."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from mgdn_edge.core.atomic import TMP_MARK
from mgdn_edge.core.errors import ExportError
from mgdn_edge.export import onnx_export
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset


def _tiny(task: str, seed: int) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset(task, embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()


def manifest_consistent(folder: Path) -> dict:
    """The folder's manifest, after checking every file it lists against hashlib (independently)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"], name
    return manifest


def test_failed_re_export_leaves_the_old_export_whole(tmp_path, monkeypatch):
    out = tmp_path / "export"
    export_model(_tiny("hdr", 0), out, verify=False, fp16=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert manifest_consistent(out)["task"] == "hdr"

    def broken(*args, **kwargs):
        raise ExportError("TensorRT graph failed its lint (simulated)")

    # The new model.onnx and model.portable.onnx are written by then; none may reach the folder.
    monkeypatch.setattr(onnx_export, "_write_tensorrt", broken)
    with pytest.raises(ExportError, match="simulated"):
        export_model(_tiny("mff", 1), out, verify=False, fp16=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no temporary folder left


def test_re_export_replaces_the_folder_and_keeps_the_users_extra_files(tmp_path):
    out = tmp_path / "export"
    export_model(_tiny("hdr", 0), out, verify=False)  # with FP16 graphs
    (out / "model.int8.onnx").write_bytes(b"a quantized model the user saved here")
    export_model(_tiny("mff", 1), out, verify=False, fp16=False)
    manifest = manifest_consistent(out)
    assert manifest["task"] == "mff"
    names = {p.name for p in out.iterdir()}
    assert names == set(manifest["files"]) | {"manifest.json", "model.int8.onnx"}
    assert "model.fp16.onnx" not in names and "model.trt.fp16.onnx" not in names  # stale: gone
    assert (out / "model.int8.onnx").read_bytes() == b"a quantized model the user saved here"


def test_export_out_that_is_a_file_or_a_foreign_folder_is_one_line_error(tmp_path, cli_error):
    ckpt = tmp_path / "ck" / "m.pth"
    ckpt.parent.mkdir()
    torch.save(_tiny("mff", 0).state_dict(), ckpt)
    stuff = tmp_path / "stuff"
    stuff.mkdir()
    target = stuff / "notes.txt"
    target.write_text("keep me")
    err = cli_error(["export", "--model", str(ckpt), "--out", str(target), "--no-verify"])
    assert err == f"error: --out {target} is an existing file; export writes a folder (give a folder path)"
    assert target.read_text() == "keep me"
    # a folder of other things (e.g. --out .) is never replaced
    (stuff / "photo.png").write_bytes(b"x")
    err = cli_error(["export", "--model", str(ckpt), "--out", str(stuff), "--no-verify"])
    assert "is a folder of other files (notes.txt, photo.png) and no earlier export" in err
    assert sorted(p.name for p in stuff.iterdir()) == ["notes.txt", "photo.png"]
    # nor the folder holding the checkpoint being exported, even an earlier export
    (ckpt.parent / "manifest.json").write_text("{}")
    err = cli_error(["export", "--model", str(ckpt), "--out", str(ckpt.parent), "--no-verify"])
    assert f"holds the input {ckpt}" in err
    assert ckpt.is_file()


def test_export_waits_for_no_one_a_busy_destination_is_refused(tmp_path, cli_error):
    from mgdn_edge.core.atomic import destination_lock

    ckpt = tmp_path / "m.pth"
    torch.save(_tiny("mff", 0).state_dict(), ckpt)
    out = tmp_path / "export"
    with destination_lock(out):  # what a concurrent `mgdn-edge export --out export` holds
        err = cli_error(["export", "--model", str(ckpt), "--out", str(out), "--no-verify"])
    assert err == f"error: another mgdn-edge process is writing {out}"
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_MARK)]


def test_export_result_paths_point_at_the_final_folder(tmp_path):
    result = export_model(_tiny("gdsr", 2), tmp_path / "e", verify=False)
    for path in [result.model_path, result.portable_path, result.manifest_path, result.fp16_path]:
        assert path is not None and path.parent == tmp_path / "e" and path.is_file()
    assert all(p.is_file() and p.parent == tmp_path / "e" for p in result.tensorrt_paths)
