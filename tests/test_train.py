"""``mgdn-edge train`` end to end on tiny models and datasets, plus its data-layout errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.cli import main
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.model import MGDN, load_model, preset
from mgdn_edge.training.data import PairedDataset
from mgdn_edge.training.train import build_config, train

TINY = {"embed_dim": 12, "depths": [1, 1], "swin_heads": [2, 2], "window_size": 4}
TINY_ARGS = ["--embed-dim", "12", "--depths", "1", "1", "--swin-heads", "2", "2", "--window-size", "4"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def _png(path: Path, rgb01: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.round(rgb01[:, :, ::-1] * 255).astype(np.uint8))


def _pairs(root: Path, names: tuple[str, ...] = ("a", "b"), stems: tuple[str, ...] = ("p0", "p1")) -> Path:
    """Two-input data: inputs are blurred / noisy copies of a random ground truth (40x40)."""
    rng = np.random.default_rng(0)
    for stem in stems:
        gt = rng.random((40, 40, 3))
        _png(root / "gt" / f"{stem}.png", gt)
        for i, name in enumerate(names):
            noisy = gt + 0.1 * (i + 1) * rng.standard_normal(gt.shape)
            _png(root / name / f"{stem}.png", np.clip(noisy, 0, 1))
    return root


def _hdr_scenes(root: Path, scenes: int = 2, with_gt: bool = True) -> Path:
    """Kalantari layout: three 16-bit .tif brackets, exposure.txt (EV -2 0 2), HDRImg.hdr."""
    rng = np.random.default_rng(1)
    for s in range(scenes):
        folder = root / f"scene{s:03d}"
        folder.mkdir(parents=True)
        radiance = rng.random((36, 40, 3)).astype(np.float32) * 0.5
        for i, ev in enumerate((-2.0, 0.0, 2.0)):
            ldr = np.clip(radiance * 2.0**ev * 2.0, 0, 1) ** (1 / 2.2)
            cv2.imwrite(str(folder / f"{i + 1}.tif"), np.round(ldr[:, :, ::-1] * 65535).astype(np.uint16))
        (folder / "exposure.txt").write_text("-2\n0\n2\n")
        if with_gt:
            cv2.imwrite(str(folder / "HDRImg.hdr"), np.ascontiguousarray(radiance[:, :, ::-1]))
    return root


def _differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert set(a) == set(b)
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


# ------------------------------------------------------------------------------- end to end


def test_finetune_mff_through_cli(tmp_path, capsys) -> None:
    torch.manual_seed(7)
    initial = MGDN(preset("mff", **TINY))
    init_path = tmp_path / "init.pth"
    torch.save(initial.state_dict(), init_path)
    out = tmp_path / "run" / "tuned.pth"
    argv = ["train", "--task", "mff", "--model", str(init_path), "--data", str(_pairs(tmp_path / "data"))]
    argv += ["--out", str(out), "--steps", "3", "--batch-size", "2", "--crop", "32", "--lr", "1e-3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "step 3/3" in printed and f"wrote {out}" in printed

    tuned = load_model(out, task="mff")  # strict
    assert tuned.config.embed_dim == 12 and tuned.config.depths == (1, 1)
    assert _differs(tuned.state_dict(), initial.state_dict()) > 1e-4

    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["init"] == str(init_path) and sidecar["crop"] == 32 and sidecar["pairs"] == ["p0", "p1"]
    assert sidecar["config"]["embed_dim"] == 12 and sidecar["mi_weight"] == 0.01
    assert [r["step"] for r in sidecar["curve"]] == [1, 2, 3]
    for record in sidecar["curve"]:
        assert math.isfinite(record["loss"]) and 0 < record["fusion"] < 1
        assert len(record["mask_mi"]) == 2  # two stages, one pair
        assert record["loss"] == pytest.approx(record["fusion"] + 0.01 * record["mi"], rel=1e-5)

    heads = torch.load(out.with_suffix(".mi_heads.pth"), weights_only=True)
    assert heads and not set(heads) & set(tuned.state_dict())

    assert main(["info", str(out), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["embed_dim"] == 12


def test_hdr_from_scratch_through_cli(tmp_path, capsys) -> None:
    out = tmp_path / "hdr.pth"
    data = _hdr_scenes(tmp_path / "k")
    argv = ["train", "--task", "hdr", "--preset", "hdr", *TINY_ARGS, "--data", str(data), "--out", str(out)]
    argv += ["--steps", "3", "--batch-size", "1", "--crop", "32", "--seed", "3", "--lr", "1e-3"]
    assert main(argv) == 0
    model = load_model(out)
    assert model.config.task == "hdr" and model.config.window_size == 4
    torch.manual_seed(3)  # train() seeds, then builds the model: this is its initial state
    initial = MGDN(build_config("hdr", "hdr", **TINY))
    assert _differs(model.state_dict(), initial.state_dict()) > 1e-4
    curve = json.loads(out.with_suffix(".json").read_text())["curve"]
    assert len(curve) == 3 and all(len(r["mask_mi"]) == 4 for r in curve)  # 2 stages x 2 pairs
    assert all(0 < r["fusion"] < 1 and 0 < r["mi"] < 4 for r in curve)


def test_training_is_deterministic_per_seed(tmp_path) -> None:
    data = _pairs(tmp_path / "data")
    config = build_config("mef", "mef", **TINY)
    common = {"config": config, "steps": 2, "batch_size": 2, "crop": 24, "log": None}
    (tmp_path / "data" / "a").rename(tmp_path / "data" / "under")
    (tmp_path / "data" / "b").rename(tmp_path / "data" / "over")
    runs = [train("mef", data, tmp_path / f"r{i}.pth", seed=s, **common) for i, s in enumerate((5, 5, 6))]
    states = [torch.load(r.checkpoint, weights_only=True) for r in runs]
    assert runs[0].curve == runs[1].curve
    assert not torch.are_deterministic_algorithms_enabled()  # the global flag is restored
    assert _differs(states[0], states[1]) == 0.0
    assert _differs(states[0], states[2]) > 1e-4
    l1_only = train("mef", data, tmp_path / "l1.pth", seed=5, mi_weight=0.0, **common)
    assert l1_only.heads is None and not (tmp_path / "l1.mi_heads.pth").exists()
    assert all(r["mi"] == 0.0 and r["loss"] == r["fusion"] for r in l1_only.curve)


def test_gdsr_targets_use_the_input_depth_range(tmp_path) -> None:
    """The target is normalised like the input depth, the inverse of tasks.postprocess."""
    rng = np.random.default_rng(2)
    gt = 1.0 + 3.0 * rng.random((16, 16)).astype(np.float32)
    low = gt[::2, ::2]
    _png(tmp_path / "rgb" / "x.png", rng.random((16, 16, 3)))
    (tmp_path / "depth").mkdir()
    (tmp_path / "gt").mkdir()
    np.save(tmp_path / "depth" / "x.npy", low)
    np.save(tmp_path / "gt" / "x.npy", gt)
    sample = PairedDataset("gdsr", tmp_path)[0]
    lo, hi = float(low.min()), float(low.max())
    np.testing.assert_allclose(sample.target[0], (gt - lo) / (hi - lo), rtol=1e-6)
    assert [x.shape for x in sample.inputs] == [(3, 16, 16), (1, 16, 16)]


# ------------------------------------------------------------------------------- bad data


def test_data_layout_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(ImageReadError, match=r"training data folder not found: .*nowhere"):
        PairedDataset("mff", tmp_path / "nowhere")
    data = _pairs(tmp_path / "d")
    for f in (data / "b").iterdir():
        f.unlink()
    with pytest.raises(ImageReadError, match=r"d/b holds no image files"):
        PairedDataset("mff", data)

    unmatched = _pairs(tmp_path / "u")
    (unmatched / "a" / "p1.png").rename(unmatched / "a" / "p9.png")
    with pytest.raises(InputError, match=r"u/a: no matching file in .*u/gt for p9"):
        PairedDataset("mff", unmatched)

    missing_gt = _pairs(tmp_path / "g")
    for f in (missing_gt / "gt").iterdir():
        f.unlink()
    (missing_gt / "gt").rmdir()
    with pytest.raises(ImageReadError, match=r"not found: .*g/gt"):
        PairedDataset("mff", missing_gt)

    wrong_names = _pairs(tmp_path / "w")  # mef wants under/ and over/
    with pytest.raises(ImageReadError, match=r"not found: .*w/under"):
        PairedDataset("mef", wrong_names)


def test_hdr_layout_errors(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="holds no scene folders"):
        PairedDataset("hdr", tmp_path / "empty")
    root = _hdr_scenes(tmp_path / "k", scenes=1, with_gt=False)
    with pytest.raises(ImageReadError, match=r"scene000 has no ground truth \(HDRImg.hdr\)"):
        PairedDataset("hdr", root)
    (root / "scene000" / "3.tif").unlink()
    with pytest.raises(InputError, match="exactly 3 LDR .tif brackets, found 2"):
        PairedDataset("hdr", root)


def test_cli_errors_are_one_line(tmp_path, capsys, cli_error) -> None:
    data = _pairs(tmp_path / "data")
    base = ["train", "--task", "mff", "--data", str(data), "--out", str(tmp_path / "o.pth"), "--steps", "1"]
    assert "crop 30 must be a positive multiple of the window size 4" in cli_error(
        [*base, "--preset", "mff", *TINY_ARGS, "--crop", "30"]
    )
    assert "is 40x40 (WxH), smaller than the crop 48" in cli_error(
        [*base, "--preset", "mff", *TINY_ARGS, "--crop", "48"]
    )
    err = cli_error([*base, "--preset", "hdr"])
    assert "preset 'hdr' is a hdr network, not usable for task 'mff'" in err
    assert "invalid model size: embed_dim 10 is not divisible" in cli_error(
        [*base, "--preset", "mff", "--embed-dim", "10"]
    )
    assert "--embed-dim only apply with --preset" in cli_error(
        [*base, "--model", str(tmp_path / "x.pth"), "--embed-dim", "12"]
    )
    assert "checkpoint not found" in cli_error([*base, "--model", str(tmp_path / "x.pth")])
    assert "cannot use device 'warp-drive'" in cli_error(
        [*base, "--preset", "mff", *TINY_ARGS, "--device", "warp-drive"]
    )
    (data / "gt" / "p1.png").write_bytes(b"not a png")
    assert "cannot decode image" in cli_error([*base, "--preset", "mff", *TINY_ARGS])
