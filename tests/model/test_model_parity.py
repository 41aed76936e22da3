"""The reference network reproduces the authors' outputs and loads their checkpoints strictly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import CheckpointError
from mgdn_edge.model import MGDN, count_parameters, detect_config, load_model, preset

TOL = 1e-4


def _run(model: MGDN, *arrays: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(*[torch.from_numpy(a) for a in arrays]).numpy()


def test_mff_checkpoint_reproduces_authors_output(mff_checkpoint, mff_crop):
    model = load_model(mff_checkpoint, task="mff")
    out = _run(model, mff_crop["A"], mff_crop["B"])
    assert out.shape == mff_crop["out"].shape
    assert np.abs(out - mff_crop["out"]).max() <= TOL


def test_hdr_architecture_fixture(hdr_arch):
    ckpt, io = hdr_arch
    model = load_model(ckpt)
    assert model.config.task == "hdr" and model.config.depths == (2, 2, 2)
    for size in ("64x80", "61x75"):
        out = _run(model, *(io[f"{size}_in{i}"] for i in range(3)))
        assert np.abs(out - io[f"{size}_out"]).max() <= TOL, size


def test_gdsr_architecture_fixture(gdsr_arch):
    ckpt, io = gdsr_arch
    model = load_model(ckpt)
    assert model.config.task == "gdsr"
    assert np.abs(_run(model, io["rgb"], io["depth"]) - io["out"]).max() <= TOL


@pytest.mark.parametrize(
    "entry,name",
    [
        ("mff_official", "mff"),
        ("mef_official", "mef"),
        ("hdr_deghosting_official", "hdr"),
        ("gdsr_x4_x8_official", "gdsr_x4"),
        ("gdsr_x16_official", "gdsr_x16"),
    ],
)
def test_presets_match_published_manifest(manifest, entry, name):
    published = manifest[entry]
    model = MGDN(preset(name))
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: v for k, v in published["state_dict"].items() if not k.endswith(".attn_mask")}
    assert ours == theirs
    assert count_parameters(model) == published["n_parameters"]
    # a state dict with the published shapes is detected as this preset
    fake = {k: torch.zeros(v) for k, v in published["state_dict"].items()}
    assert detect_config(fake).replace() == preset(name)


def _save(tmp_path, state_dict, name="ckpt.pth"):
    path = tmp_path / name
    torch.save(state_dict, path)
    return path


def test_accepts_params_wrapper_and_dataparallel_prefix(mff_checkpoint, mff_crop, tmp_path):
    sd = torch.load(mff_checkpoint, map_location="cpu", weights_only=True)
    wrapped = _save(tmp_path, {"params": {f"module.{k}": v for k, v in sd.items()}})
    out = _run(load_model(wrapped, task="mff"), mff_crop["A"], mff_crop["B"])
    assert np.abs(out - mff_crop["out"]).max() <= TOL


def test_unknown_and_missing_keys_are_named(mff_checkpoint, tmp_path):
    sd = torch.load(mff_checkpoint, map_location="cpu", weights_only=True)
    extra = dict(sd, **{"layers.0.MGF.surprise.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"unexpected keys: layers\.0\.MGF\.surprise\.weight"):
        load_model(_save(tmp_path, extra))
    missing = {k: v for k, v in sd.items() if k != "layers.1.dilated_conv.bias"}
    with pytest.raises(CheckpointError, match=r"missing keys: layers\.1\.dilated_conv\.bias"):
        load_model(_save(tmp_path, missing))


def test_shape_mismatch_against_requested_config_is_named(mff_checkpoint):
    with pytest.raises(
        CheckpointError, match=r"shape mismatches: .*inconv1\.weight: checkpoint \[30, 3, 3, 3\]"
    ):
        load_model(mff_checkpoint, config=preset("mef"))


def test_checkpoint_of_another_task_is_rejected(mff_checkpoint, hdr_arch):
    with pytest.raises(CheckpointError, match="HDR network .* not usable for task 'mff'"):
        load_model(hdr_arch[0], task="mff")
    with pytest.raises(CheckpointError, match="not usable for task 'gdsr'"):
        load_model(mff_checkpoint, task="gdsr")


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_model(bad)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "nope.pth")


def test_batch_and_arbitrary_sizes_match_single_runs():
    torch.manual_seed(0)
    model = MGDN(preset("mff", embed_dim=12, depths=[2], swin_heads=[2])).eval()
    a, b = torch.rand(2, 3, 21, 34), torch.rand(2, 3, 21, 34)
    with torch.no_grad():
        both = model(a, b)
        single = torch.cat([model(a[i : i + 1], b[i : i + 1]) for i in range(2)])
    assert both.shape == (2, 3, 21, 34)
    assert torch.allclose(both, single, atol=1e-5)
