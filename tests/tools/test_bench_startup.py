"""bench_startup's inputs, ratios and argument checks (a full run takes minutes: not run here)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mgdn_edge.tools import bench_startup


def test_pair_is_the_fixture_crop_reflected_out(tmp_path: Path) -> None:
    if not bench_startup.FIXTURE.is_file():
        pytest.skip(f"fixture not available: {bench_startup.FIXTURE}")
    a, b = bench_startup.make_pair(tmp_path, 520)
    img = cv2.imread(str(a))[..., ::-1] / 255.0
    assert img.shape == (520, 520, 3) and cv2.imread(str(b)).shape == (520, 520, 3)
    crop = np.load(bench_startup.FIXTURE)["A"][0].transpose(1, 2, 0)
    assert np.abs(img[212:308, 212:308] - crop).max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only


def test_synthetic_pair_without_the_fixture(tmp_path: Path) -> None:
    paths = bench_startup.make_pair(tmp_path, 64, fixture=tmp_path / "absent.npz")
    assert [cv2.imread(str(p)).shape for p in paths] == [(64, 64, 3)] * 2


def test_ratios_are_medians_of_one_run() -> None:
    times = {
        "torch cold": [10.0, 12.0, 30.0],
        "torch warm": [8.0, 9.0, 10.0],
        "openvino cold": [60.0, 61.0, 62.0],
        "openvino no blob": [4.0, 4.5, 5.0],
        "openvino warm": [3.0, 2.0, 4.0],
    }
    got = bench_startup.ratios(times)
    assert got["torch / openvino, cold"] == pytest.approx(12.0 / 61.0)
    assert got["torch / openvino, no blob"] == pytest.approx(9.0 / 4.5)
    assert got["torch / openvino, warm"] == pytest.approx(9.0 / 3.0)
    assert got["openvino cold / warm"] == pytest.approx(61.0 / 3.0)
    assert "torch / openvino int8, warm" not in got  # a row that was not measured has no ratio
    times["openvino int8 warm"] = [1.0, 1.5, 2.0]
    assert bench_startup.ratios(times)["torch / openvino int8, warm"] == pytest.approx(9.0 / 1.5)


def test_rows_split_into_command_and_cache_state() -> None:
    assert bench_startup.split_row("openvino bf16 no blob") == ("openvino bf16", "no blob")
    assert bench_startup.split_row("openvino int8 warm") == ("openvino int8", "warm")
    assert bench_startup.split_row("torch cold") == ("torch", "cold")
    rows = [*bench_startup.ROWS, *bench_startup.OPTIONAL_ROWS]
    assert all(bench_startup.split_row(row)[1] in bench_startup.STATES for row in rows)


def test_model_is_required_and_must_exist(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        bench_startup.main([])
    assert info.value.code == 2 and "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        bench_startup.main(["--model", str(tmp_path / "none.pth")])
    assert info.value.code == 2 and "checkpoint not found" in capsys.readouterr().err


def test_fuse_command_and_isolated_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/shared")
    env = bench_startup.environment(tmp_path / "home")
    assert env["HOME"] == str(tmp_path / "home") and "XDG_CACHE_HOME" not in env
    assert Path(env["TMPDIR"]).is_dir()
    argv = bench_startup.fuse_argv("openvino", tmp_path / "export", [tmp_path / "A.png"], tmp_path / "o.png")
    assert argv[1:4] == ["-m", "mgdn_edge.cli", "fuse"] and argv[argv.index("--runtime") + 1] == "openvino"
