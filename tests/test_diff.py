"""``mgdn-edge diff``: per-stage errors between two variants, and the first stage that diverges.

References: the PyTorch checkpoint itself (every exported stage must match its module's output),
and variants the tests break on purpose at a known stage (a scaled weight; a Q/DQ pair with a
coarse scale), which ``diff`` must name exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from mgdn_edge.calibration.divergence import groups, stage_error
from mgdn_edge.cli import main
from mgdn_edge.export.stages import onnx_scope, stage_points, tensors_for
from mgdn_edge.model.config import preset

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official-mff"


def _fixture(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


@pytest.fixture(scope="module")
def mff_export(tmp_path_factory) -> Path:
    from mgdn_edge.export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("diff_export")
    export_checkpoint(_fixture(FIXTURES / "mff_62000_E.pth"), folder, task="mff", verify=False, fp16=False)
    return folder


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> list[str]:
    """The authors' 96x96 Lytro crop as two PNG files."""
    data = np.load(_fixture(FIXTURES / "mff_lytro01_crop96.npz"))
    folder = tmp_path_factory.mktemp("pair")
    paths = []
    for key in ("A", "B"):
        path = folder / f"{key}.png"
        cv2.imwrite(str(path), (data[key][0].transpose(1, 2, 0)[..., ::-1] * 255).round().astype(np.uint8))
        paths.append(str(path))
    return paths


def _diff(tmp_path: Path, model: Path, pair: list[str], *extra: str) -> tuple[int, dict]:
    out = tmp_path / f"diff-{len(list(tmp_path.glob('diff-*.json')))}.json"
    argv = ["diff", "--task", "mff", "--reference", str(FIXTURES / "mff_62000_E.pth"), "--model", str(model)]
    status = main([*argv, *extra, *pair, "--json", str(out)])
    return status, json.loads(out.read_text())


# ------------------------------------------------------------------------------ closed form


def test_scopes_follow_the_exporters_naming():
    assert (
        onnx_scope("layers.0.residual_group.blocks.1", 1, "ContextAwareTransformerBlock")
        == "layers.0/blocks.1"
    )
    assert onnx_scope("layers.1.MGF.dynamic_filter", 2, "DynamicFilter") == "layers.1/MGF/dynamic_filter_1"
    assert onnx_scope("layers.0.MGF.TCA", 2, "MutualGuidedCrossAttention") == "layers.0/MGF/TCA/project_out_1"
    assert onnx_scope("conv_last", 1, "Sequential") == "conv_last"


def test_every_task_has_its_stages_in_execution_order():
    for task in ("mff", "hdr", "gdsr"):
        config = preset(task, embed_dim=12, depths=[2, 1], swin_heads=[2, 2], window_size=4)
        names = [p.name for p in stage_points(config)]
        assert names[-1] == "conv_last" and "layers.1.residual_group.blocks.0" in names
        assert (
            names.count("layers.0.MGF.dynamic_filter#2") == 1 and "layers.0.MGF.dynamic_filter#3" not in names
        )
        assert names.index("layers.0.MGF.dynamic_filter") < names.index("layers.1.MGF.dynamic_filter")
    hdr = [
        p.name for p in stage_points(preset("hdr", embed_dim=12, depths=[1], swin_heads=[2], window_size=4))
    ]
    assert hdr[:3] == ["conv1", "conv1#2", "conv1#3"] and "layers.0.MGF.conv_ref" in hdr


def test_a_stage_is_the_last_tensor_of_its_scope():
    points = stage_points(preset("mff", embed_dim=12, depths=[1], swin_heads=[2], window_size=4))
    ordered = [
        "/inconv1/Conv_output_0",
        "/layers.0/blocks.0/Reshape_output_0",
        "/layers.0/blocks.0/lce/Mul_output_0",
        "/layers.0/blocks.0/Add_2_output_0",
        "/layers.0/blocks.1/Add_output_0",
    ]
    found = tensors_for(points, ordered)
    assert found["inconv1"] == "/inconv1/Conv_output_0"
    assert found["layers.0.residual_group.blocks.0"] == "/layers.0/blocks.0/Add_2_output_0"
    assert "inconv2" not in found  # a stage the graph does not show is left out


def test_stage_error_is_exact_on_known_arrays():
    ref = np.array([0.0, 1.0, 2.0, 3.0], np.float32)
    err = stage_error("s", None, ref, ref + np.array([0, 0, 0, 0.3], np.float32))
    assert err.max_abs == pytest.approx(0.3, rel=1e-6)
    assert err.psnr_db == pytest.approx(10 * np.log10(9 / (0.09 / 4)), rel=1e-6)
    assert stage_error("s", None, ref, ref).psnr_db == float("inf")
    assert stage_error("s", None, ref * 1e5, ref * 1e5).fp16_overflow


def test_groups_fit_the_memory_budget():
    names = [f"s{i}" for i in range(10)]
    assert groups(names, per_stage=100_000_000, max_memory_mb=1000) == [names[:5], names[5:]]
    assert groups(names, per_stage=10**12, max_memory_mb=1) == [[n] for n in names]  # at least one


# ------------------------------------------------------------------------------ real model


pytest.importorskip("openvino")


@pytest.mark.parametrize(
    ("runtime", "file"),
    [
        ("openvino", "model.onnx"),  # the native OpenVINO op
        ("onnxruntime", "model.onnx"),  # the native ONNX Runtime op where it builds, else the body
        ("onnxruntime", "model.portable.onnx"),  # standard ops only
    ],
)
def test_torch_vs_fp32_runtimes_every_stage_within_1e4(mff_export, pair, tmp_path, runtime, file):
    status, report = _diff(tmp_path, mff_export / file, pair, "--runtime", runtime)
    assert status == 0 and report["first_divergent"] is None
    assert len(report["stages"]) == 34  # the authors' MFF: 2 stems, 2 x 15 per stage, 2 head
    worst = max(report["stages"], key=lambda s: s["max_abs"])
    assert worst["max_abs"] <= 1e-4, (runtime, file, worst)


def _scaled_weight(export: Path, out: Path, node_name: str, factor: float) -> Path:
    model = onnx.load(export / "model.onnx")
    node = next(n for n in model.graph.node if n.name == node_name)
    weight = next(t for t in model.graph.initializer if t.name == node.input[1])
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * factor, weight.name))
    onnx.save(model, out)
    return out


def _coarse_qdq(export: Path, out: Path, tensor: str, scale: float) -> Path:
    """A Q/DQ pair with a far too coarse scale on one stage's output (named inside its scope)."""
    model = onnx.load(export / "model.onnx")
    scope = tensor.rsplit("/", 1)[0]
    q, dq = f"{scope}/QuantizeLinear_output_0", f"{scope}/DequantizeLinear_output_0"
    for node in model.graph.node:
        node.input[:] = [dq if i == tensor else i for i in node.input]
    at = next(i for i, n in enumerate(model.graph.node) if tensor in n.output) + 1
    model.graph.initializer.extend([
        numpy_helper.from_array(np.array(scale, np.float32), "bad_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "bad_zero"),
    ])  # fmt: skip
    model.graph.node.insert(at, helper.make_node("QuantizeLinear", [tensor, "bad_scale", "bad_zero"], [q]))
    model.graph.node.insert(at + 1, helper.make_node("DequantizeLinear", [q, "bad_scale", "bad_zero"], [dq]))
    onnx.save(model, out)
    return out


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_a_deliberately_broken_stage_is_located_exactly(mff_export, pair, tmp_path, runtime):
    scaled = _scaled_weight(mff_export, tmp_path / "scaled.onnx", "/layers.1/adjust_channel/Conv", 1.02)
    status, report = _diff(tmp_path, scaled, pair, "--runtime", runtime)
    assert status == 1 and report["first_divergent"] == "layers.1.adjust_channel"
    qdq = _coarse_qdq(
        mff_export, tmp_path / "qdq.onnx", "/layers.0/MGF/dynamic_filter_1/DynamicFilter_output_0", 0.5
    )
    status, report = _diff(tmp_path, qdq, pair, "--runtime", runtime, "--tolerance", "60")
    assert status == 1 and report["first_divergent"] == "layers.0.MGF.dynamic_filter#2"
    before = report["stages"][
        [s["stage"] for s in report["stages"]].index("layers.0.MGF.dynamic_filter#2") - 1
    ]
    assert before["psnr_db"] > 100  # everything before the broken stage still matches


def test_a_lower_memory_budget_takes_more_passes_for_the_same_numbers(mff_export, pair, tmp_path):
    model = mff_export / "model.onnx"
    _, one = _diff(tmp_path, model, pair, "--runtime", "openvino")
    _, many = _diff(tmp_path, model, pair, "--runtime", "openvino", "--max-memory", "1")
    assert one["passes"] == 1 and many["passes"] == len(many["stages"])
    assert [s["max_abs"] for s in one["stages"]] == [s["max_abs"] for s in many["stages"]]


def test_different_networks_are_refused_in_one_line(tiny_mff_export, pair, cli_error):
    line = cli_error(
        ["diff", "--task", "mff", "--reference", str(_fixture(FIXTURES / "mff_62000_E.pth")),
         "--model", str(tiny_mff_export), *pair]
    )  # fmt: skip
    assert "are different networks" in line


# ------------------------------------------------------------------------------ --suggest


def _pairs_folder(folder: Path, crops: dict[str, np.ndarray], gain: float = 1.0) -> Path:
    """A/ and B/ PNGs of ``crops`` (name -> (A, B)) and their mirror images, scaled by ``gain``."""
    for sub in ("A", "B"):
        (folder / sub).mkdir(parents=True)
    for name, pair in crops.items():
        for flip in (None, 0, 1):
            for sub, image in zip(("A", "B"), pair, strict=True):
                hwc = image[0].transpose(1, 2, 0)[..., ::-1] * gain
                hwc = hwc if flip is None else cv2.flip(hwc, flip)
                cv2.imwrite(str(folder / sub / f"{name}-{flip}.png"), (hwc * 255).round().astype(np.uint8))
    return folder


def test_suggest_finds_the_modules_that_bring_a_broken_int8_recipe_within_budget(mff_export, pair, tmp_path):
    """A deliberately bad recipe (NNCF's plain CNN preset calibrated on images at a quarter of their
    brightness, so every range clips); the suggested list, applied by quantize, meets the INT8
    budget on crops that took no part in choosing it. The suggestion aims 6 dB over the budget's
    38 dB (--target-psnr 44): a list chosen on one crop loses ~5 dB on the others (34 dB at 38)."""
    pytest.importorskip("nncf")
    from mgdn_edge.calibration.quantize import quantize_model
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.parity import image_metrics, violations

    crops = {
        n: np.load(_fixture(FIXTURES / f"mff_lytro01_{n}.npz")) for n in ("crop96", "crop64", "crop61x75")
    }
    dark = _pairs_folder(tmp_path / "dark", {"crop96": (crops["crop96"]["A"], crops["crop96"]["B"])}, 0.25)
    bad = quantize_model(
        mff_export, dark, "openvino", out=tmp_path / "bad.xml", method="plain", progress=False
    )
    status, report = _diff(
        tmp_path,
        bad.path,
        pair,
        "--suggest",
        "--export",
        str(mff_export),
        "--data",
        str(dark),
        "--method",
        "plain",
        "--target-psnr",
        "44",
    )
    first = report["suggestion"]["trials"][0]
    assert first["keep"] > 0 and first["broken"] == []  # every candidate float: within budget
    keep = report["suggestion"]["keep_float"]
    assert keep and all(t["broken"] for t in report["suggestion"]["trials"] if t["keep"] < len(keep))
    assert not any(name.endswith("dynamic_filter") for name in keep)  # always float: never a candidate

    fixed = quantize_model(
        mff_export,
        dark,
        "openvino",
        out=tmp_path / "fixed.xml",
        method="plain",
        keep_float=keep,
        progress=False,
    )
    reference = open_runtime("torch", FIXTURES / "mff_62000_E.pth", task="mff")
    for name in ("crop64", "crop61x75"):  # held out: not the crop the suggestion was measured on
        inputs = [crops[name]["A"], crops[name]["B"]]
        for path, within in ((bad.path, False), (fixed.path, True)):
            out = open_runtime("openvino", path, task="mff", cache=False).run(inputs)
            broken = violations(image_metrics(reference.run(inputs), out, "mff"), budget_for("int8"), "mff")
            assert (broken == []) is within, (name, path.name, broken)


def test_keep_float_names_are_checked(mff_export, tmp_path, cli_error):
    line = cli_error(
        ["quantize", "--model", str(mff_export), "--data", str(tmp_path), "--runtime", "openvino",
         "--keep-float", "layers.7.adjust_channel", "--out", str(tmp_path / "q.xml")]
    )  # fmt: skip
    assert "--keep-float: no module layers.7.adjust_channel in this network" in line


def test_the_pipeline_diffs_an_over_budget_variant_and_plots_it(mff_export, tmp_path):
    """The worker job the pipeline runs for a variant over budget: its first evaluation sample,
    the broken stage found, the JSON and the plot written beside the variant."""
    from mgdn_edge.pipeline.diverge import DIVERGENCE_JSON, DIVERGENCE_PNG
    from mgdn_edge.pipeline.worker import run_in_worker

    crop = np.load(_fixture(FIXTURES / "mff_lytro01_crop64.npz"))
    np.savez(tmp_path / "eval.npz", s0_in0=crop["A"], s0_in1=crop["B"], s0_ref=crop["out"])
    broken = _scaled_weight(
        mff_export, tmp_path / "broken.onnx", "/layers.0/MGF/conv_out_2/conv_out_2.0/Conv", 1.05
    )
    job = {
        "variant": "ov-fp32", "reference": str(FIXTURES / "mff_62000_E.pth"), "model": str(broken),
        "runtime": "openvino", "precision": "fp32", "task": "mff", "eval": str(tmp_path / "eval.npz"),
        "out_dir": str(tmp_path / "variant"),
    }  # fmt: skip
    found = run_in_worker("divergence", job)
    assert found["first_divergent"] == "layers.0.MGF.conv_out_2"
    saved = json.loads((tmp_path / "variant" / DIVERGENCE_JSON).read_text())
    assert saved["first_divergent"] == "layers.0.MGF.conv_out_2" and len(saved["stages"]) == 34
    assert (tmp_path / "variant" / DIVERGENCE_PNG).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
