"""``mgdn-edge fuse`` on a folder: one opened model, one output per item, failures named, resumable."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mgdn_edge.cli import main


def _pairs(root: Path, n: int) -> Path:
    rng = np.random.default_rng(3)
    for sub in ("A", "B"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        for sub in ("A", "B"):
            image = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
            cv2.imwrite(str(root / sub / f"p{i:02d}.png"), image)
    return root


def test_folder_fuses_every_pair_names_the_corrupt_one_and_resumes(tiny_mff, tmp_path, capsys):
    root = _pairs(tmp_path / "pairs", 6)
    good = (root / "A" / "p03.png").read_bytes()
    (root / "A" / "p03.png").write_bytes(good[: len(good) // 2])  # truncated PNG
    out = tmp_path / "fused"
    argv = ["fuse", "--task", "mff", "--model", str(tiny_mff), str(root), "--out", str(out), "--quiet"]
    assert main(argv) == 2  # one item failed; the others were written
    printed = capsys.readouterr().out
    assert "5 fused, 0 already there, 1 failed" in printed and "items/s" in printed
    assert "failed: p03:" in printed and "truncated" in printed
    assert sorted(p.name for p in out.iterdir()) == [f"p{i:02d}.png" for i in range(6) if i != 3]

    # the same item fused on its own gives the same image: one model, same arithmetic
    single = tmp_path / "single.png"
    pair = [str(root / "A" / "p01.png"), str(root / "B" / "p01.png")]
    assert main(["fuse", "--task", "mff", "--model", str(tiny_mff), *pair, "--out", str(single)]) == 0
    assert np.array_equal(cv2.imread(str(single)), cv2.imread(str(out / "p01.png")))

    # an interrupted or partly failed run is resumed: finished items are not redone
    stamp = (out / "p00.png").stat().st_mtime_ns
    (root / "A" / "p03.png").write_bytes(good)
    capsys.readouterr()
    assert main(argv) == 0
    assert "1 fused, 5 already there, 0 failed" in capsys.readouterr().out
    assert (out / "p00.png").stat().st_mtime_ns == stamp and (out / "p03.png").is_file()


def test_hdr_folder_of_scenes(tmp_path, capsys):
    from mgdn_edge.assets import demo_model_path

    scenes = tmp_path / "scenes"
    assert main(["synth-hdr", "--out", str(scenes), "--scenes", "2", "--size", "32x32", "--quiet"]) == 0
    out = tmp_path / "hdr"
    assert main(["fuse", "--task", "hdr", "--model", str(demo_model_path()), str(scenes), "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    names = sorted(p.name for p in out.iterdir())
    assert names == ["synth-00000.hdr", "synth-00000.png", "synth-00001.hdr", "synth-00001.png"]


def test_folder_input_takes_an_output_folder_only(tiny_mff, tmp_path, cli_error):
    root = _pairs(tmp_path / "pairs", 1)
    base = ["fuse", "--task", "mff", "--model", str(tiny_mff), str(root)]
    assert "--out FOLDER only" in cli_error([*base, "--out", str(tmp_path / "o"), "--raw", "x.npy"])
    (tmp_path / "file").write_text("x")
    assert "is a file" in cli_error([*base, "--out", str(tmp_path / "file")])
