"""Killed mid-write, a command leaves the old artefact or the new one -- never a mix, never a
temporary under a real name -- and a second writer to the same export folder is refused in one line.

Each command runs as a real subprocess on a tiny random HDR model and gets SIGINT or SIGTERM after
a seeded random delay; the artefacts are then checked independently (hashlib against the manifest,
onnx.load, ElementTree). The model is tiny and export verification is off, to keep this quick.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import onnx
import pytest
import torch

from mgdn_edge.core.atomic import LOCK_MARK, TMP_MARK, lock_path
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.plugins.openvino_ext import default_extension_dir

CLI = [sys.executable, "-m", "mgdn_edge.cli"]


def _tiny(seed: int) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset("hdr", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("interrupt")
    old, new = root / "old.pth", root / "new.pth"
    torch.save(_tiny(0).state_dict(), old)
    torch.save(_tiny(1).state_dict(), new)
    export_model(_tiny(0), root / "export", checkpoint=old, verify=False, fp16=False)
    return {"root": root, "old": old, "new": new, "export": root / "export"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def interrupt(argv: list[str], seed: int, sig: signal.Signals, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``mgdn-edge ARGV``, send ``sig`` after a seeded delay (0.5-8 s) unless it ended first."""
    delay = random.Random(seed).uniform(0.5, 8.0)
    proc = subprocess.Popen([*CLI, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    # 130: interrupted in main (SIGTERM unwinds like Ctrl-C); 0: finished first; a signal that
    # lands while Python itself is still starting up ends it before mgdn-edge runs at all.
    started_late = proc.returncode == -sig or (proc.returncode == 1 and "KeyboardInterrupt" in err)
    assert proc.returncode in (0, 130) or started_late, err
    if proc.returncode == 130:
        assert err.strip().endswith("interrupted") and "Traceback" not in err, err
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def visible(folder: Path) -> set[str]:
    """What a reader listing ``folder`` sees as artefacts (hidden temporaries and locks excluded)."""
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def assert_no_leftovers(folder: Path, returncode: int) -> None:
    names = [p.name for p in folder.rglob("*")]
    assert not [n for n in names if TMP_MARK in n and not n.startswith(".")]
    if returncode in (0, 130):  # it unwound: temporaries and locks are removed too
        assert not [n for n in names if n.startswith((TMP_MARK, LOCK_MARK))], names


def export_state(folder: Path) -> str:
    """'old' or 'new' (which checkpoint the complete, hash-consistent export came from)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert _sha(folder / name) == entry["sha256"], f"{name} does not match the manifest: a mixed folder"
    assert visible(folder) == set(manifest["files"]) | {"manifest.json"}
    return Path(manifest["source_checkpoint"]["path"]).stem


@pytest.mark.parametrize(("seed", "sig"), [(1, signal.SIGINT), (2, signal.SIGTERM), (3, signal.SIGTERM)])
def test_interrupted_re_export_leaves_old_or_new_export(world, seed, sig):
    argv = ["export", "--model", str(world["new"]), "--out", str(world["export"]), "--no-verify", "--no-fp16"]
    result = interrupt(argv, seed, sig, world["root"])
    state = export_state(world["export"])
    if result.returncode == 0:  # finished before the signal (a signal after the swap also finds "new")
        assert state == "new"
    assert_no_leftovers(world["root"], result.returncode)
    if state == "new":  # put the old export back for the next case
        export_model(_tiny(0), world["export"], checkpoint=world["old"], verify=False, fp16=False)


def test_interrupted_quantize_writes_both_files_or_neither(world, tmp_path):
    out = tmp_path / "q" / "model.int8.onnx"
    argv = ["quantize", "--model", str(world["export"]), "--runtime", "onnxruntime", "--data", "synthetic:2"]
    argv += ["--crop", "32", "--samples", "2", "--out", str(out), "--quiet"]
    result = interrupt(argv, 4, signal.SIGINT, tmp_path)
    twin = out.with_name("model.trt.int8.onnx")
    assert out.is_file() == twin.is_file()  # (a signal after the rename finds both whole)
    assert out.is_file() or result.returncode != 0
    if out.is_file():
        assert {p.key: p.value for p in onnx.load(out).metadata_props}["mgdn_edge.core.precision"] == "int8"
    assert_no_leftovers(tmp_path, result.returncode)
    assert export_state(world["export"]) == "old"  # the source is untouched


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is not installed")
def test_interrupted_convert_writes_the_ir_pair_or_nothing(world, tmp_path):
    if not (default_extension_dir() / "libmgdn_openvino.so").is_file():
        pytest.skip("the OpenVINO extension is not built here (mgdn-edge build-plugins --openvino)")
    xml = tmp_path / "ir" / "model.xml"
    argv = ["convert", "--runtime", "openvino", "--model", str(world["export"]), "--out", str(xml)]
    result = interrupt(argv, 5, signal.SIGTERM, tmp_path)
    assert xml.is_file() == xml.with_suffix(".bin").is_file()
    assert xml.is_file() or result.returncode != 0
    if xml.is_file():
        assert ET.parse(xml).getroot().tag == "net" and xml.with_suffix(".bin").stat().st_size > 0
    assert_no_leftovers(tmp_path, result.returncode)


def test_interrupted_pipeline_leaves_only_whole_artefacts(world, tmp_path):
    out = tmp_path / "run"
    argv = ["pipeline", "--model", str(world["old"]), "--data", "synthetic:3", "--crop", "32x32"]
    argv += ["--calib", "1", "--eval", "1", "--out", str(out), "--runtimes", "torch", "ort-fp32"]
    argv += ["--sizes", "32x32", "--repeats", "1", "--warmup", "0", "--no-verify", "--quiet"]
    result = interrupt(argv, 6, signal.SIGINT, tmp_path)
    assert_no_leftovers(tmp_path, result.returncode)
    if (out / "export").exists():
        assert export_state(out / "export") == "old"
    if (out / "manifest.json").exists():  # the run finished: every file it lists is whole
        for name, entry in json.loads((out / "manifest.json").read_text())["files"].items():
            assert _sha(out / name) == entry["sha256"], name


def test_two_exports_into_one_folder_one_wins_the_other_is_refused(world, tmp_path):
    """A writer that holds the folder (this test, as an export mid-write does) makes a second
    ``export`` fail at once by name; once it is done, the same command succeeds. Holding the lock
    here, not racing a real first export against a second interpreter's start-up, makes the
    overlap certain on a slow machine."""
    from mgdn_edge.core.atomic import destination_lock

    out = tmp_path / "export"
    argv = ["export", "--model", str(world["new"]), "--out", str(out), "--no-verify", "--no-fp16"]
    with destination_lock(out):
        assert lock_path(out).exists()
        second = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and second.stderr == f"error: another mgdn-edge process is writing {out}\n"
    assert not out.exists()  # the refused writer wrote nothing
    first = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert export_state(out) == "new"
    assert_no_leftovers(tmp_path, 0)
