"""mgdn-fuse on a folder of items against `mgdn-edge fuse --runtime openvino FOLDER --out FOLDER`:
the same items fused to the same files, the same summary and failure lines and exit status, a
re-run that resumes, and the same error line for each folder layout the Python CLI refuses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from test_native_fuse import _hwc, _write, fixture_file


def _outcome(proc) -> tuple[int, list[str]]:
    """Exit status and stdout lines without the throughput line (timings differ)."""
    return proc.returncode, [line for line in proc.stdout.splitlines() if not line.startswith("throughput ")]


def _both(native, python_cli, model: Path, task: str, folder: Path, out: Path, *extra: str):
    mine = native("--task", task, "--model", str(model), str(folder), "--out", str(out / "native"), *extra)
    theirs = python_cli("fuse", "--runtime", "openvino", "--quiet", "--task", task, "--model", str(model),
                        str(folder), "--out", str(out / "python"), *extra)  # fmt: skip
    return mine, theirs


def _same_images(out: Path, names: list[str]) -> None:
    for name in names:
        mine = cv2.imread(str(out / "native" / name), cv2.IMREAD_UNCHANGED)
        theirs = cv2.imread(str(out / "python" / name), cv2.IMREAD_UNCHANGED)
        assert mine is not None and theirs is not None and mine.shape == theirs.shape, name
        if mine.dtype == np.float32:
            assert np.abs(mine - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max())), name
        else:
            assert np.abs(mine.astype(int) - theirs.astype(int)).max() <= 1, name


def test_pair_folder_matches_python_and_resumes(native, python_cli, exported, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    (pairs / "A").mkdir(parents=True)
    (pairs / "b").mkdir()  # folder names match case-insensitively
    for crop in ("crop64", "crop61x75"):
        data = np.load(fixture_file("official-mff", f"mff_lytro01_{crop}.npz"))
        _write(pairs / "A" / f"{crop}.png", _hwc(data["A"]))
        _write(pairs / "b" / f"{crop}.jpg", _hwc(data["B"]))  # matched by stem, not suffix
    (pairs / "A" / "broken.png").write_bytes((pairs / "A" / "crop64.png").read_bytes()[:-60])
    _write(pairs / "b" / "broken.png", np.zeros((64, 64, 3)))
    mine, theirs = _both(native, python_cli, exported("mff"), "mff", pairs, tmp_path)
    assert _outcome(mine) == _outcome(theirs), (mine.stdout, mine.stderr, theirs.stdout)
    status, lines = _outcome(mine)
    assert status == 2 and lines[0] == "2 fused, 0 already there, 1 failed"
    assert lines[1].startswith("failed: broken: ") and "broken.png" in lines[1]
    _same_images(tmp_path, ["crop64.png", "crop61x75.png"])
    again = native(
        "--task", "mff", "--model", str(exported("mff")), str(pairs), "--out", str(tmp_path / "native")
    )
    assert _outcome(again)[1][0] == "0 fused, 2 already there, 1 failed"


def test_hdr_scene_folders_tiled_match_python(native, python_cli, exported, tmp_path: Path) -> None:
    data = np.load(fixture_file("architecture", "hdr_arch_io.npz"))
    scenes = tmp_path / "scenes"
    for key, name in (("61x75_in1", "one"), ("64x80_in1", "two")):
        ref = np.clip(_hwc(data[key])[:, :, :3], 0, 1)
        (scenes / name).mkdir(parents=True)
        for bracket, image in (("a.tif", ref * 0.25), ("b.tif", ref), ("c.tif", np.clip(ref * 4.0, 0, 1))):
            _write(scenes / name / bracket, image, bits=16)
        (scenes / name / "exposure.txt").write_text("0\n2\n4\n")
    (scenes / ".unfinished").mkdir()  # skipped, as the synthetic writer's temporaries are
    mine, theirs = _both(native, python_cli, exported("hdr"), "hdr", scenes, tmp_path, "--tile", "40x48")
    assert _outcome(mine) == _outcome(theirs) == (0, ["2 fused, 0 already there, 0 failed"]), mine.stderr
    _same_images(tmp_path, ["one.hdr", "one.png", "two.hdr", "two.png"])


def _layout(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    """A folder input the CLI refuses, and extra arguments."""
    root = tmp_path / "in"
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    folders = {"missing B": ["A"], "empty": ["A", "B"], "two candidates": ["A", "B", "over", "under"]}
    for name in folders.get(case, ["A", "B"]):
        (root / name).mkdir(parents=True)
    files = {
        "missing B": ["A/1.png"],
        "empty": ["A/1.png"],
        "two candidates": ["A/1.png", "B/1.png"],
        "unmatched": ["A/1.png", "A/2.png", "B/1.png", "B/3.png"],
        "same stem": ["A/1.png", "A/1.jpg", "B/1.png"],
        "raw given": ["A/1.png", "B/1.png"],
        "out is a file": ["A/1.png", "B/1.png"],
    }[case]
    for name in files:
        (root / name).write_bytes(png)
    (tmp_path / "out").mkdir()
    extra = {"raw given": ["--raw", str(tmp_path / "x.npy")]}.get(case, [])
    if case == "out is a file":
        (tmp_path / "out" / "native").write_text("")
        (tmp_path / "out" / "python").write_text("")
    return root, extra


@pytest.mark.parametrize(
    "case", ["missing B", "empty", "two candidates", "unmatched", "same stem", "raw given", "out is a file"]
)
def test_folder_layout_errors_match_python(native, python_cli, exported, tmp_path: Path, case: str) -> None:
    root, extra = _layout(tmp_path, case)
    task = "mef" if case == "two candidates" else "mff"
    mine, theirs = _both(native, python_cli, exported("mff"), task, root, tmp_path / "out", *extra)
    assert mine.returncode == theirs.returncode == 2, (mine.stderr, theirs.stderr)
    line = mine.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert line == theirs.stderr.strip().splitlines()[-1].replace(
        str(tmp_path / "out" / "python"), str(tmp_path / "out" / "native")
    )
