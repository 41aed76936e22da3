"""``fuse`` outputs: checked before the network runs, written all together or not at all, never over
an input; and the one spelling per concept across commands (--out, --json FILE, --data synthetic)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.calibration.sources import parse_synthetic
from mgdn_edge.cli import build_parser, main
from mgdn_edge.core.atomic import TMP_MARK
from mgdn_edge.core.errors import ImageReadError
from mgdn_edge.model import MGDN, preset, tasks


@pytest.fixture
def setup(tmp_path):
    torch.manual_seed(0)
    model = MGDN(preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()
    ckpt = tmp_path / "m.pth"
    torch.save(model.state_dict(), ckpt)
    rng = np.random.default_rng(0)
    pair = [tmp_path / "A.png", tmp_path / "B.png"]
    for p in pair:
        cv2.imwrite(str(p), rng.integers(0, 255, (16, 20, 3), dtype=np.uint8))
    return ckpt, pair


def _fuse(ckpt, pair, *extra):
    return ["fuse", "--task", "mff", "--model", str(ckpt), "--runtime", "torch", *map(str, pair), *extra]


def test_bad_outputs_fail_before_the_network_runs(setup, tmp_path, cli_error, monkeypatch):
    ckpt, pair = setup

    def no_network(*args, **kwargs):
        raise AssertionError("the runtime was opened although an output was invalid")

    monkeypatch.setattr("mgdn_edge.runtimes.open_runtime", no_network)
    assert "needs one of the suffixes" in cli_error(_fuse(ckpt, pair, "--out", str(tmp_path / "x.gif")))
    folder = tmp_path / "outdir"
    folder.mkdir()
    assert f"--out {folder} is a folder" in cli_error(_fuse(ckpt, pair, "-o", str(folder)))
    assert "--raw" in cli_error(_fuse(ckpt, pair, "--raw", str(tmp_path / "raw.txt")))
    assert "both name" in cli_error(
        _fuse(ckpt, pair, "-o", str(tmp_path / "x.npy"), "--raw", str(tmp_path / "x.npy"))
    )
    assert "is the input" in cli_error(_fuse(ckpt, pair, "--output", str(pair[0])))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        assert "is not writable" in cli_error(_fuse(ckpt, pair, "-o", str(locked / "x.png")))
    monkeypatch.setattr(tasks, "_can_encode", lambda suffix, float_data: suffix != ".exr")
    hdr = ["fuse", "--task", "hdr", "--model", str(ckpt), "a.tif", "b.tif", "c.tif", "-o", "out.exr"]
    assert "this OpenCV cannot write .exr files" in cli_error(hdr)


def test_exr_support_is_probed_from_this_opencv():
    try:
        ok = cv2.imencode(".exr", np.zeros((2, 2, 3), np.float32))[0]
    except cv2.error:
        ok = False
    assert tasks._can_encode(".exr", True) == bool(ok)
    assert tasks._can_encode(".png", False)


def test_a_failed_image_write_leaves_no_raw_file(setup, tmp_path, monkeypatch, capsys):
    ckpt, pair = setup

    def failing(path, image):
        raise ImageReadError(f"cannot write image {path} (disk full, simulated)")

    monkeypatch.setattr(tasks, "write_image", failing)
    out, raw = tmp_path / "o" / "fused.png", tmp_path / "o" / "fused.npy"
    assert main(_fuse(ckpt, pair, "--out", str(out), "--raw", str(raw))) == 2
    assert "simulated" in capsys.readouterr().err
    assert not out.exists() and not raw.exists()
    assert not [p for p in (tmp_path / "o").iterdir()]  # no temporaries either


@pytest.mark.parametrize("flag", ["--out", "-o", "--output"])
def test_out_is_canonical_and_o_output_are_aliases(setup, tmp_path, flag):
    ckpt, pair = setup
    out, raw = tmp_path / f"f{flag.strip('-')}.png", tmp_path / f"r{flag.strip('-')}.npy"
    assert main(_fuse(ckpt, pair, flag, str(out), "--raw", str(raw))) == 0
    written = cv2.imread(str(out))[:, :, ::-1].astype(np.float32) / 255
    assert np.abs(written - np.clip(np.load(raw), 0, 1)).max() <= 0.5 / 255 + 1e-6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_MARK)]


def _options(command: str) -> dict[str, object]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {s: a for a in sub._actions for s in a.option_strings}


def test_one_spelling_per_concept_across_commands():
    writers = [
        "fuse",
        "export",
        "convert",
        "quantize",
        "build-engine",
        "train",
        "pipeline",
        "synth-hdr",
        "report",
    ]
    for command in [*writers, "report"]:
        assert "--out" in _options(command), command
    for command in ["info", "parity", "bench"]:
        action = _options(command)["--json"]
        assert action.nargs is None and action.metavar == "FILE" and "'-': stdout" in action.help, command
    for command in ["parity", "quantize", "pipeline"]:
        assert "synthetic[:N]" in _options(command)["--data"].help, command
    for command, options in (
        (c, _options(c)) for c in ["fuse", "export", "parity", "bench", "info", "train"]
    ):
        assert options["--task"].help, command
    for command in ["parity", "bench", "quantize", "pipeline", "train"]:
        assert _options(command)["--seed"].help, command
    assert {"--force", "--clean"} <= set(_options("build-plugins"))


def test_synthetic_data_spellings_go_through_one_parser():
    assert parse_synthetic("synthetic") == parse_synthetic("synthetic:64") == 64
    assert parse_synthetic("synthetic:3") == parse_synthetic("SYNTHETIC:3") == 3
    assert parse_synthetic("pairs/") is None


def test_info_json_file_or_stdout(setup, tmp_path, capsys):
    ckpt, _ = setup
    assert main(["info", str(ckpt), "--json", "-"]) == 0
    import json

    shown = json.loads(capsys.readouterr().out)
    assert shown["task"] == "mff"
    assert main(["info", str(ckpt), "--json", str(tmp_path / "info.json")]) == 0
    assert json.loads((tmp_path / "info.json").read_text()) == shown


def test_build_plugins_clean_and_force(tmp_path, monkeypatch):
    """The CLI hands --clean/--force to the builder; what they do (a user's other files kept) is
    tested on the builder itself: tests/plugins/test_openvino_cache.py::test_force_and_clean."""
    from mgdn_edge.plugins import openvino_ext

    calls: list[tuple[Path, bool, bool]] = []

    def fake_build(build_dir=None, force=False, clean=False):
        calls.append((build_dir, force, clean))
        return build_dir / "lib.so"

    monkeypatch.setattr(openvino_ext, "build_openvino_extension", fake_build)
    build = tmp_path / "b"
    for flags in ([], ["--clean"], ["--force"]):
        assert main(["build-plugins", "--openvino", "--build-dir", str(build), *flags]) == 0
    assert calls == [(build, False, False), (build, False, True), (build, True, False)]
