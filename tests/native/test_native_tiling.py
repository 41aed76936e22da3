"""mgdn-fuse --tile/--overlap against `mgdn-edge fuse --runtime openvino --tile`: the same tile grid,
ramps and float64 blending, so the raw outputs agree within 1e-5 while differing from a whole-image
run (MGCA's attention is global), and the same error lines for tiles the Python CLI refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_native_fuse import _compare, _fuse_both, _hwc, _write, fixture_file


def _brackets(tmp_path: Path) -> list[Path]:
    data = np.load(fixture_file("architecture", "hdr_arch_io.npz"))
    ref = np.clip(_hwc(data["61x75_in1"])[:, :, :3], 0, 1)
    brackets = [ref * 0.5, ref, np.clip(ref * 2.0, 0, 1)]
    return [_write(tmp_path / f"{n}.tif", b, bits=16) for n, b in zip("uro", brackets, strict=True)]


def test_tiled_hdr_matches_python(native, python_cli, exported, tmp_path: Path) -> None:
    """61x75 in 32x32 tiles, overlap 8: a 3x3 grid with uneven strides (tile_starts' rounding)."""
    paths = _brackets(tmp_path)
    extra = ("--exposures", "-1", "0", "1", "--tile", "32", "--overlap", "8")
    files = _fuse_both(native, python_cli, tmp_path, "hdr", exported("hdr"), paths, "fused.hdr", extra)
    _compare(files, ["fused.hdr", "fused.png"])
    whole = tmp_path / "whole.npy"
    args = ["--task", "hdr", "--model", str(exported("hdr")), *map(str, paths), "--exposures", "-1", "0", "1"]
    proc = native(*args, "--raw", str(whole))
    assert proc.returncode == 0, proc.stderr
    tiled = np.load(files["native"] / "fused.npy")
    assert np.abs(tiled - np.load(whole)).max() > 1e-3  # the tiles really ran: global attention differs


def test_tiled_mff_default_overlap_matches_python(native, python_cli, exported, tmp_path: Path) -> None:
    """A non-square tile without --overlap: the default 32 px shrinks to (min(tile) - 2) // 3 = 12."""
    data = np.load(fixture_file("official-mff", "mff_lytro01_crop61x75.npz"))
    a, b = _write(tmp_path / "A.png", _hwc(data["A"])), _write(tmp_path / "B.png", _hwc(data["B"]))
    files = _fuse_both(
        native, python_cli, tmp_path, "mff", exported("mff"), [a, b], "fused.png", ("--tile", "40x48")
    )
    _compare(files, ["fused.png"])


@pytest.mark.parametrize(
    ("tile", "overlap"), [("0", None), ("32x", None), ("axb", None), ("32", "11"), ("32", "-1")]
)
def test_bad_tiles_give_the_python_error_line(native, python_cli, exported, tmp_path, tile, overlap) -> None:
    paths = _brackets(tmp_path)
    args = ["--task", "hdr", "--model", str(exported("hdr")), *map(str, paths), "--exposures", "-1", "0", "1"]
    args += ["--raw", str(tmp_path / "o.npy"), "--tile", tile] + (["--overlap", overlap] if overlap else [])
    mine, theirs = native(*args), python_cli("fuse", "--runtime", "openvino", *args)
    assert mine.returncode == theirs.returncode == 2, (mine.stderr, theirs.stderr)
    assert mine.stderr.strip().startswith("error: ") and len(mine.stderr.strip().splitlines()) == 1
    assert mine.stderr.strip() == theirs.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "o.npy").exists()
