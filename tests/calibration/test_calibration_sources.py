"""Calibration data sources: real layouts, the synthetic HDR generator, splits and bad data.

Every test makes its own tiny data under tmp_path; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import socket
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from mgdn_edge.calibration import (
    SyntheticHDRConfig,
    SyntheticHDRSource,
    open_source,
    split,
    write_kalantari_scenes,
)
from mgdn_edge.calibration import synthetic_hdr as synth
from mgdn_edge.calibration.splits import Split, check_disjoint
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.core.imageio import read_image
from mgdn_edge.model.tasks import hdr_network_input

GAMMA = 2.2
Q = 0.5 / 255  # half an 8-bit code
NOISELESS = SyntheticHDRConfig(shot_noise=0.0, read_noise=0.0)
NO_CAMERA = SyntheticHDRConfig(camera_shift=0.0, camera_rotation=0.0, objects=(2, 2))


# -- tiny real-layout data ------------------------------------------------------------------------
def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    """RGB array (uint8 / uint16 / float32 for .hdr) through OpenCV, which stores BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def _kalantari_scene(folder: Path, rng: np.random.Generator, bits: int, h: int = 12, w: int = 16) -> None:
    dtype, top = (np.uint16, 65535) if bits == 16 else (np.uint8, 255)
    for name in ("a.tif", "b.tif", "c.tif"):
        _write_rgb(folder / name, rng.integers(0, top + 1, (h, w, 3)).astype(dtype))
    (folder / "exposure.txt").write_text("0\n2\n4\n")
    _write_rgb(folder / "HDRImg.hdr", rng.random((h, w, 3)).astype(np.float32))


@pytest.fixture
def kalantari(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "kal"
    _kalantari_scene(root / "s16", rng, 16)
    _kalantari_scene(root / "s8", rng, 8)
    return root


@pytest.fixture
def mff_pairs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    root = tmp_path / "mff"
    for stem in ("p1", "p2", "p3"):
        for folder in ("A", "B", "gt"):
            _write_rgb(root / folder / f"{stem}.png", rng.integers(0, 256, (10, 14, 3)).astype(np.uint8))
    return root


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# -- real layouts -----------------------------------------------------------------------------------
def test_kalantari_16_and_8_bit_become_the_authors_inputs(kalantari: Path) -> None:
    src = open_source("hdr", kalantari, require_gt=True)
    assert src.items == ["s16", "s8"] and len(src) == 2
    for sample, bits in zip(src, (16, 8), strict=True):
        folder = kalantari / sample.name
        assert [a.shape for a in sample.inputs] == [(1, 6, 12, 16)] * 3
        for arr, name, ev in zip(sample.inputs, ("a.tif", "b.tif", "c.tif"), (0, 2, 4), strict=True):
            raw = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)[:, :, ::-1].astype(np.float64)
            ldr = raw / (2**bits - 1)
            np.testing.assert_allclose(arr[0, :3].transpose(1, 2, 0), ldr, atol=1e-6)
            np.testing.assert_allclose(arr[0, 3:].transpose(1, 2, 0), ldr**GAMMA / 2**ev, atol=1e-6)
        gt = read_image(folder / "HDRImg.hdr")
        np.testing.assert_array_equal(sample.target[0].transpose(1, 2, 0), gt)


def test_random_crops_are_slices_of_cached_frames(kalantari: Path) -> None:
    src = open_source("hdr", kalantari, crop=(5, 7), samples=6, seed=3)
    full = {s.item: s for s in open_source("hdr", kalantari)}
    samples = src.load(progress=False)
    assert len(samples) == 6 and len({s.name for s in samples}) == 6
    for s in samples:
        y, x = (int(v) for v in s.name.split("@")[1].split(","))
        assert s.inputs[1].shape == (1, 6, 5, 7)
        np.testing.assert_array_equal(s.inputs[1], full[s.item].inputs[1][:, :, y : y + 5, x : x + 7])
    assert (src.cache.misses, src.cache.hits) == (2, 4)  # each scene decoded once
    tiny = open_source("hdr", kalantari, crop=(5, 7), samples=6, seed=3, cache_mb=1e-6)
    assert [s.name for s in tiny] == [s.name for s in samples] and tiny.cache.misses == 2
    again = [s.name for s in open_source("hdr", kalantari, crop=(5, 7), samples=6, seed=3)]
    assert again == [s.name for s in samples]


def test_pairs_match_by_name_and_carry_ground_truth(mff_pairs: Path) -> None:
    src = open_source("mff", mff_pairs, require_gt=True)
    assert src.items == ["p1", "p2", "p3"]
    s = src.sample(1)
    np.testing.assert_array_equal(s.inputs[0][0].transpose(1, 2, 0), read_image(mff_pairs / "A" / "p2.png"))
    np.testing.assert_array_equal(s.inputs[1][0].transpose(1, 2, 0), read_image(mff_pairs / "B" / "p2.png"))
    np.testing.assert_array_equal(s.target[0].transpose(1, 2, 0), read_image(mff_pairs / "gt" / "p2.png"))
    assert open_source("mef", mff_pairs).sample(0).target is not None  # A/B also serve MEF


def test_gdsr_depth_is_upsampled_and_target_normalised(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    root = tmp_path / "gdsr"
    _write_rgb(root / "rgb" / "d1.png", rng.integers(0, 256, (16, 20, 3)).astype(np.uint8))
    (root / "depth").mkdir()
    low = rng.uniform(1.0, 5.0, (8, 10)).astype(np.float32)
    np.save(root / "depth" / "d1.npy", low)
    (root / "gt").mkdir()
    high = rng.uniform(1.0, 5.0, (16, 20)).astype(np.float32)
    np.save(root / "gt" / "d1.npy", high)
    s = open_source("gdsr", root).sample(0)
    assert [a.shape for a in s.inputs] == [(1, 3, 16, 20), (1, 1, 16, 20)]
    expected = (high - low.min()) / (low.max() - low.min())
    np.testing.assert_allclose(s.target[0, 0], expected, rtol=1e-6)


# -- bad data: one-line errors naming the file -------------------------------------------------------
def test_empty_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError) as exc:
        open_source("hdr", tmp_path / "empty")
    assert str(tmp_path / "empty") in _one_line(exc) and "no scene folders" in str(exc.value)
    (tmp_path / "pairs" / "A").mkdir(parents=True)
    (tmp_path / "pairs" / "B").mkdir()
    with pytest.raises(ImageReadError) as exc:
        open_source("mff", tmp_path / "pairs")
    assert f"folder {tmp_path / 'pairs' / 'A'} is empty" in _one_line(exc)


def test_unmatched_pair_names_are_listed(mff_pairs: Path) -> None:
    (mff_pairs / "A" / "p2.png").rename(mff_pairs / "A" / "lonely.png")
    with pytest.raises(InputError) as exc:
        open_source("mff", mff_pairs)
    message = _one_line(exc)
    assert "unmatched pair names" in message
    assert str(mff_pairs / "A" / "lonely.png") in message
    assert str(mff_pairs / "B" / "p2.png") in message and str(mff_pairs / "gt" / "p2.png") in message


def test_wrong_exposure_count_names_the_file(kalantari: Path) -> None:
    (kalantari / "s8" / "exposure.txt").write_text("0 2\n")
    with pytest.raises(InputError) as exc:
        open_source("hdr", kalantari)
    assert (
        _one_line(exc)
        == f"{kalantari / 's8' / 'exposure.txt'} has 2 exposure values, expected 3 (one per bracket)"
    )


def test_corrupt_image_fails_on_load_naming_the_file(kalantari: Path, mff_pairs: Path) -> None:
    (kalantari / "s8" / "b.tif").write_bytes(b"II*\x00 definitely not a tiff")
    src = open_source("hdr", kalantari)
    with pytest.raises(ImageReadError) as exc:
        src.load(progress=False)
    assert (
        _one_line(exc) == f"cannot decode image (corrupt or unsupported format): {kalantari / 's8' / 'b.tif'}"
    )
    (mff_pairs / "gt" / "p3.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ImageReadError, match="p3.png"):
        open_source("mff", mff_pairs, require_gt=True).load(progress=False)


def test_other_refusals(kalantari: Path) -> None:
    with pytest.raises(InputError, match="smaller than the 32x32 crop"):
        open_source("hdr", kalantari, crop=32).sample(0)
    with pytest.raises(InputError, match="3 full-frame samples requested but .* only 2 items"):
        open_source("hdr", kalantari, samples=3)
    with pytest.raises(InputError, match="whole number of scenes"):
        open_source("hdr", "synthetic:many")
    with pytest.raises(InputError, match="synthetic brackets serve tasks 'hdr' and 'mef', not 'mff'"):
        open_source("mff", "synthetic:4")
    (kalantari / "s16" / "HDRImg.hdr").unlink()
    with pytest.raises(ImageReadError, match="s16 has no ground truth"):
        open_source("hdr", kalantari, require_gt=True)
    assert open_source("hdr", kalantari).sample(0).target is None  # calibration needs no GT


# -- synthetic generator --------------------------------------------------------------------------
def test_bundled_photos_load_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    synth.load_photo.cache_clear()
    for name in synth.OFFLINE_PHOTOS:
        photo = synth.load_photo(name)
        assert photo.dtype == np.uint8 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 300
    assert synth.generate_scene(0).ldrs[1].shape == (256, 256, 3)


def test_synthetic_scenes_are_deterministic_per_seed_and_index() -> None:
    a, b = synth.generate_scene(3, seed=7), synth.generate_scene(3, seed=7)
    for x, y in zip([*a.ldrs, a.radiance], [*b.ldrs, b.radiance], strict=True):
        np.testing.assert_array_equal(x, y)
    other = synth.generate_scene(3, seed=8)
    assert np.abs(other.radiance - a.radiance).mean() > 0.01
    # scene 3 does not depend on how many scenes a source holds
    frame = SyntheticHDRSource(5, scene_seed=7).frame("synth-00003")
    np.testing.assert_array_equal(frame.target[0].transpose(1, 2, 0), a.radiance)
    np.testing.assert_array_equal(frame.inputs[0][0].transpose(1, 2, 0), hdr_network_input(a.ldrs[0], 0.0))


def test_ldr_matches_ground_truth_within_the_quantisation_bound() -> None:
    """Noiseless: |L^2.2 / 2^EV - GT| <= ((L + q)^2.2 - L^2.2) / 2^EV, q = half a code.

    The bound is exact: the unquantised value v satisfies |v - L| <= q and v^2.2 is increasing
    and convex. It holds for the reference bracket everywhere it is not clipped (GT *is* the
    reference frame) and for under/over where nothing moved (camera still, no object anywhere).
    """
    cfg = replace(NOISELESS, camera_shift=0.0, camera_rotation=0.0)
    worst, used = 0.0, []
    for index in range(4):
        s = synth.generate_scene(index, seed=11, config=cfg)
        assert s.evs == (0.0, 2.0, 4.0) and s.gamma == GAMMA
        still = (sum(s.object_masks) == 0)[:, :, None]
        for j, (ldr, ev) in enumerate(zip(s.ldrs, s.evs, strict=True)):
            lin = ldr.astype(np.float64)
            ok = (lin > 0.05) & (lin < 0.95) & (still if j != 1 else True)
            err = np.abs(lin**GAMMA / 2**ev - s.radiance)
            bound = ((lin + Q) ** GAMMA - lin**GAMMA) / 2**ev + 1e-6
            assert (err[ok] <= bound[ok]).all(), f"scene {index} bracket {j}"
            worst = max(worst, float((err[ok] / bound[ok]).max()))
            used.append(ok.mean())
    assert min(used) > 0.25  # the check covers a large part of every bracket
    assert worst > 0.8  # and the bound is tight: quantisation really happens


def test_noise_follows_the_documented_model() -> None:
    """Residual of the linearised brackets, over the predicted std (shot + read + quantisation): ~N(0, 1)."""
    cfg = SyntheticHDRConfig().static
    z = []
    for index in range(3):
        s = synth.generate_scene(index, seed=5, config=cfg)
        for ldr, ev in zip(s.ldrs, s.evs, strict=True):
            x = s.radiance.astype(np.float64) * 2**ev
            ok = (x > 0.02) & (x < 0.8)
            quant = (GAMMA * np.maximum(ldr, 1e-3) ** (GAMMA - 1) / 255) ** 2 / 12
            var = cfg.shot_noise * x + cfg.read_noise**2 + quant
            z.append(((ldr.astype(np.float64) ** GAMMA - x) / np.sqrt(var))[ok])
    z = np.concatenate(z)
    assert z.size > 100_000
    assert abs(z.mean()) < 0.02 and 0.95 < z.std() < 1.05


def test_moving_objects_create_real_ghosts() -> None:
    for index in range(3):
        s = synth.generate_scene(index, seed=2, config=NO_CAMERA)
        lin = [ldr**GAMMA / 2**ev for ldr, ev in zip(s.ldrs, s.evs, strict=True)]
        for j in (0, 2):
            exposed = (np.minimum(s.ldrs[j], s.ldrs[1]) > 0.1) & (np.maximum(s.ldrs[j], s.ldrs[1]) < 0.9)
            moved = (np.abs(s.object_masks[j] - s.object_masks[1]) > 0.9)[:, :, None] & exposed
            still = (sum(s.object_masks) == 0)[:, :, None] & exposed
            rel = np.abs(lin[j] - lin[1]) / np.maximum(lin[1], 1e-9)
            assert moved.sum() > 1000 and still.sum() > 10_000
            assert np.median(rel[moved]) > 0.4 and (rel[moved] > 0.2).mean() > 0.75, (index, j)
            assert np.median(rel[still]) < 0.08, (index, j)  # elsewhere: noise only


def test_camera_motion_moves_non_reference_brackets() -> None:
    still = synth.generate_scene(
        1, seed=4, config=replace(NOISELESS, objects=(0, 0), camera_shift=0.0, camera_rotation=0.0)
    )
    shaken = synth.generate_scene(1, seed=4, config=replace(NOISELESS, objects=(0, 0)))
    np.testing.assert_array_equal(still.ldrs[1], shaken.ldrs[1])  # the reference defines the geometry
    assert np.abs(still.ldrs[0] - shaken.ldrs[0]).mean() > 0.01


def test_ground_truth_is_truly_high_dynamic_range() -> None:
    """GT holds highlight detail >= 1 stop beyond where the reference bracket clips, inside [0, 1]."""
    ratios = []
    for index in range(6):
        s = synth.generate_scene(index, seed=0)
        assert s.radiance.min() >= 0.0 and s.radiance.max() <= 1.0
        ref_clip = 1.0 / 2 ** s.evs[1]  # radiance at which the reference saturates
        luma = s.radiance.mean(axis=2)
        clipped = (s.ldrs[1] >= 1.0).any(axis=2)
        assert clipped.mean() > 0.005
        assert luma[clipped].max() / luma[clipped].min() > 2.0  # >= 1 stop the reference lost
        ratios.append(np.percentile(s.radiance, 99.9) / ref_clip)
        assert (s.ldrs[0] >= 1.0).mean() < 0.002  # ... and the short bracket recorded
    assert min(ratios) > 1.5 and np.mean(ratios) > 2.0


# -- writing the Kalantari layout -------------------------------------------------------------------
def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    from mgdn_edge.cli import synth as synth_cli

    synth_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_writes_scenes_that_read_back_like_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    assert (
        _cli(["synth-hdr", "--out", str(out), "--scenes", "3", "--size", "24x32", "--seed", "9", "--quiet"])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "synth-00000",
        "synth-00001",
        "synth-00002",
        "synthetic.json",
    ]
    assert sorted(p.name for p in (out / "synth-00001").iterdir()) == [
        "0_under.tif",
        "1_ref.tif",
        "2_over.tif",
        "HDRImg.hdr",
        "exposure.txt",
    ]
    assert (out / "synth-00001" / "exposure.txt").read_text() == "0\n2\n4\n"
    assert cv2.imread(str(out / "synth-00001" / "1_ref.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    from_disk = open_source("hdr", out, require_gt=True)
    in_memory = open_source("hdr", "synthetic:3", seed=9, synthetic=SyntheticHDRConfig(size=(24, 32)))
    for a, b in zip(from_disk, in_memory, strict=True):
        for x, y in zip(a.inputs, b.inputs, strict=True):
            np.testing.assert_allclose(x, y, atol=2e-7)  # 8-bit codes are exact in 16 bit
        # Radiance RGBE: 8-bit mantissas under an exponent shared by the pixel's three channels
        step = b.target.max(axis=1, keepdims=True) / 128
        assert (np.abs(a.target - b.target) <= step + 1e-7).all()
    with pytest.raises(InputError, match="synth-00000 already exists"):
        _cli(["synth-hdr", "--out", str(out), "--scenes", "1", "--size", "24x32", "--quiet"])


def test_failed_writes_leave_no_half_written_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = synth.write_scene
    calls = []

    def flaky(folder: Path, scene: synth.SyntheticScene) -> None:
        calls.append(folder)
        if len(calls) == 3:
            (folder / "0_under.tif").write_bytes(b"partial")
            raise OSError("disk full")
        real(folder, scene)

    monkeypatch.setattr(synth, "write_scene", flaky)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        write_kalantari_scenes(out, 5, config=SyntheticHDRConfig(size=(16, 16)), progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["synth-00000", "synth-00001"]  # no temp, no scene 2
    assert len(open_source("hdr", out, require_gt=True).load(progress=False)) == 2
    # overwriting replaces whole scenes and leaves no temporary folder either
    monkeypatch.setattr(synth, "write_scene", real)
    write_kalantari_scenes(out, 3, config=SyntheticHDRConfig(size=(16, 16)), overwrite=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "synth-00000",
        "synth-00001",
        "synth-00002",
        "synthetic.json",
    ]


# -- split, counts, speed ---------------------------------------------------------------------------
def test_split_is_fixed_disjoint_and_checked() -> None:
    src = open_source("hdr", "synthetic:20", crop=64, samples=12)
    parts = split(src, 8, 6, seed=1)
    assert len(parts.calib) == 8 and len(parts.eval) == 6 and not set(parts.calib) & set(parts.eval)
    assert set(parts.calib) | set(parts.eval) <= set(src.items)
    assert split(src, 8, 6, seed=1) == parts and split(src, 8, 6, seed=2).calib != parts.calib
    assert len(split(src, 5).eval) == 15  # default: everything else
    calib, evaluation = parts.sources(src)
    assert {s.item for s in calib} == set(parts.calib) and len(calib) == 12
    assert not {s.item for s in calib} & {s.item for s in evaluation}
    first = {s.item: s.name for s in src.with_options(samples=20)}  # each item's first crop
    assert calib.sample(0).name == first[parts.calib[0]]  # a subset draws the same crops
    with pytest.raises(InputError, match="cannot take 15 calibration \\+ 6 evaluation items from 20"):
        split(src, 15, 6)
    with pytest.raises(InputError, match="overlap in 1 items: synth-00003"):
        check_disjoint(["synth-00001", "synth-00003"], ["synth-00003"])
    with pytest.raises(InputError, match="overlap"):
        Split(["a", "b"], ["b"], 0)


def test_split_round_trips_through_a_file(tmp_path: Path) -> None:
    parts = split([f"scene{i}" for i in range(10)], 4, 4, seed=3)
    parts.save(tmp_path / "split.json")
    assert Split.load(tmp_path / "split.json") == parts
    (tmp_path / "bad.json").write_text('{"seed": 0, "calib": ["a"], "eval": ["a"]}')
    with pytest.raises(InputError, match="overlap"):
        Split.load(tmp_path / "bad.json")


def test_mef_synthetic_and_32_calibration_crops_are_fast() -> None:
    mef = open_source("mef", "synthetic:2").sample(0)
    assert [a.shape for a in mef.inputs] == [(1, 3, 256, 256)] * 2 and mef.target is None
    start = time.perf_counter()
    samples = open_source("hdr", "synthetic:32", crop=256, samples=32).load(progress=False)
    elapsed = time.perf_counter() - start
    assert len(samples) == 32 and all(s.inputs[0].shape == (1, 6, 256, 256) for s in samples)
    assert all(s.target.shape == (1, 3, 256, 256) for s in samples)
    assert elapsed < 10.0, f"32 synthetic 256x256 samples took {elapsed:.1f} s"
