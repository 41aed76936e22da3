"""The bundled demo HDR model: loads strictly, is what its record says, and beats OpenCV's merge."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mgdn_edge.assets import demo_model_info, demo_model_path
from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRConfig, generate_scene
from mgdn_edge.cli import main
from mgdn_edge.model import MGDN, load_model
from mgdn_edge.model.config import preset

# The documented configuration (README, tools/dev/train_demo_hdr.py): a small two-stage MGDN-HDR.
DOCUMENTED = preset("hdr", embed_dim=24, depths=[2, 2], swin_heads=[3, 3])
EVAL_SEED, EVAL_SCENES, EVAL_SIZE = 1, (0, 1, 2), (256, 256)
# The demo's mean PSNR-mu must beat OpenCV's Debevec merge by this much on these held-out scenes
# (measured margin when the model was bundled: 4.3 dB; the README's table has all eight scenes).
MARGIN_DB = 2.0


def test_checkpoint_is_small_float32_and_loads_strictly():
    path = demo_model_path()
    assert path.stat().st_size <= 5 * 1024 * 1024
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    assert set(state) == set(MGDN(DOCUMENTED).state_dict())  # the authors' key layout, nothing else
    model = load_model(path, task="hdr")  # strict
    assert model.config == DOCUMENTED
    recorded = demo_model_info()["config"]
    assert recorded == json.loads(json.dumps({**DOCUMENTED.to_dict(), "name": recorded["name"]}))


def test_info_command_reads_it(capsys):
    assert main(["info", str(demo_model_path()), "--json", "-"]) == 0
    info = json.loads(capsys.readouterr().out)
    sizes = (info["task"], info["embed_dim"], info["depths"], info["swin_heads"])
    assert sizes == ("hdr", 24, [2, 2], [3, 3])
    assert info["parameters"] == demo_model_info()["parameters"]


def test_record_describes_a_finished_seeded_run():
    info = demo_model_info()
    assert info["seed"] == info["training"]["seed"] == info["data"]["seed"]
    assert info["training"]["mi_weight"] > 0  # trained with the masked MI loss on
    curve = info["curve"]
    assert curve["step"][-1] == info["training"]["steps"]
    first, last = curve["fusion"][0], info["final"]["fusion"]
    assert last < 0.5 * first  # the loss fell; the eval below shows it generalises


def test_beats_opencv_debevec_on_held_out_scenes():
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.tools.eval_demo_hdr import check_held_out, evaluate

    config = SyntheticHDRConfig(size=EVAL_SIZE)
    check_held_out(demo_model_info()["data"], EVAL_SEED, EVAL_SCENES, config, content=False)
    runtime = open_runtime("torch", demo_model_path(), task="hdr")
    scenes = [generate_scene(index, EVAL_SEED, config) for index in EVAL_SCENES]
    per_scene = [evaluate(runtime, [s], methods=("demo", "debevec")) for s in scenes]
    demo = [r["demo"]["psnr_mu"] for r in per_scene]
    debevec = [r["debevec"]["psnr_mu"] for r in per_scene]
    assert all(d > b for d, b in zip(demo, debevec, strict=True)), (demo, debevec)
    assert np.mean(demo) > np.mean(debevec) + MARGIN_DB, (demo, debevec)


def test_held_out_check_refuses_training_scenes():
    from mgdn_edge.core.errors import InputError
    from mgdn_edge.tools.eval_demo_hdr import check_held_out

    with pytest.raises(InputError, match="is the training seed"):
        data = demo_model_info()["data"]
        check_held_out(data, data["seed"], [0], SyntheticHDRConfig())
