"""FP16 variants in ``mgdn-edge diff``: the GPU-rounding emulation, overflow reports, keep-FP32 lists.

References: closed-form FP16 arithmetic (numpy's float16 rounding, the sum of squares of known
values), ONNX Runtime FP32 for graph rewrites that must not change a value, and the PyTorch
checkpoint for the real model; the broken variant is the export's FP16 recipe without its FP32
norms (``--method plain``), whose channel-attention sum of squares passes 65504 at 256x256.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mgdn_edge.calibration.divergence import StageError
from mgdn_edge.calibration.divergence_suggest import candidates, entry_drops
from mgdn_edge.cli import main

ort = pytest.importorskip("onnxruntime")

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official-mff"
CHECKPOINT = FIXTURES / "mff_62000_E.pth"
SIZE = 256  # the authors' MFF overflows FP16 in a channel attention here (at 192x192 it does not)


def _fixture(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


def _session(model: onnx.ModelProto):  # type: ignore[no-untyped-def]
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _norm_graph(dtype: int) -> onnx.ModelProto:
    """y = ||x||_2 over the last axis, as ReduceL2, with float32 I/O around ``dtype`` compute."""
    nodes = [helper.make_node("Cast", ["x"], ["xc"], to=dtype, name="/in"),
             helper.make_node("ReduceL2", ["xc"], ["n"], axes=[-1], keepdims=1, name="/attn/ReduceL2"),
             helper.make_node("Cast", ["n"], ["y"], to=TensorProto.FLOAT, name="/out")]  # fmt: skip
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 70000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1])],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# ------------------------------------------------------------------------------ closed form


def test_the_emulation_overflows_where_fp16_storage_does_and_ort_cpu_does_not():
    """Sum of squares 70000 * 1.5^2 = 157500 > 65504: stored in FP16 it is inf. ONNX Runtime's CPU
    provider runs the FP16 ReduceSumSquare -> Sqrt chain in FP32 and never shows it."""
    from mgdn_edge.export.fp16_emulation import emulated_fp16
    from mgdn_edge.export.fp16_variant import write_out_l2_norms

    x = np.full((1, 2, 70000), 1.5, np.float32)
    exact = math.sqrt(70000 * 1.5**2)
    split = _norm_graph(TensorProto.FLOAT16)
    assert write_out_l2_norms(split) == 1
    assert [n.op_type for n in split.graph.node] == ["Cast", "ReduceSumSquare", "Sqrt", "Cast"]
    assert _session(split).run(None, {"x": x})[0] == pytest.approx(exact, rel=1e-3)  # ORT CPU: no overflow
    assert np.isinf(_session(emulated_fp16(split)).run(None, {"x": x})[0]).all()
    fp32 = _norm_graph(TensorProto.FLOAT)
    reference = _session(fp32).run(None, {"x": x})[0]
    write_out_l2_norms(fp32)  # the rewrite itself changes no value
    np.testing.assert_allclose(_session(fp32).run(None, {"x": x})[0], reference, rtol=1e-6)


def test_the_emulation_rounds_each_stored_tensor_like_numpy_float16():
    from mgdn_edge.export.fp16_emulation import emulated_fp16

    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 4)).astype(np.float16)
    nodes = [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16, name="/in"),
             helper.make_node("MatMul", ["h", "w"], ["m"], name="/mm"),
             helper.make_node("Exp", ["m"], ["e"], name="/exp"),
             helper.make_node("Cast", ["e"], ["y"], to=TensorProto.FLOAT, name="/out")]  # fmt: skip
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
        [onnx.numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(3, 4)).astype(np.float32) * 3
    h = x.astype(np.float16).astype(np.float32)
    m = (h @ w.astype(np.float32)).astype(np.float16).astype(np.float32)
    with np.errstate(over="ignore"):  # an exp past 65504 is inf in FP16: the emulation must agree
        expected = np.exp(m).astype(np.float16).astype(np.float32)
    got = _session(emulated_fp16(model)).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)  # float32 accumulation order aside: exact


def test_nodes_kept_fp32_pass_their_values_on_unrounded():
    """Both nodes of the norm kept FP32: the converter's FP16 round trip between them is removed,
    so the sum of squares reaches the square root unrounded and the norm is finite and exact."""
    from mgdn_edge.export.fp16 import convert_to_fp16
    from mgdn_edge.export.fp16_emulation import emulated_fp16
    from mgdn_edge.export.fp16_variant import write_out_l2_norms

    model = _norm_graph(TensorProto.FLOAT)
    del model.graph.node[0], model.graph.node[-1]  # plain float32 graph: x -> ReduceL2 -> y
    model.graph.node[0].input[0], model.graph.node[0].output[0] = "x", "y"
    write_out_l2_norms(model)
    kept = [n.name for n in model.graph.node]
    half = convert_to_fp16(model, fp32_ops=(), fp32_nodes=kept)
    summed, root = half.graph.node[:2]
    assert (summed.op_type, root.op_type) == ("ReduceSumSquare", "Sqrt") and root.input[0] == summed.output[0]
    x = np.full((1, 2, 70000), 1.5, np.float32)
    out = _session(emulated_fp16(half)).run(None, {"x": x})[0]  # FP16 output: rounded once, at the end
    assert np.all(out == np.float16(math.sqrt(70000 * 2.25)).astype(np.float32))


def _errors(psnrs: dict[str, float]) -> list[StageError]:
    return [StageError(s, None, [1], 0.0, p, 1.0, 1.0, 1.0) for s, p in psnrs.items()]


def test_fp16_ranks_where_an_error_enters_not_the_stages_that_carry_it():
    stages = {
        "inconv1": 91.8, "layers.1.MGF.TCA": 35.0, "layers.1.MGF.TCA#2": 82.3,
        "layers.1.MGF.dynamic_filter": 33.1, "layers.1.adjust_channel": 32.0, "conv_last": 37.7,
    }  # fmt: skip
    drops = entry_drops(_errors(stages), ceiling=75.0, below_all=True)
    assert drops["layers.1.MGF.TCA"] == pytest.approx(40.0)
    assert drops["layers.1.adjust_channel"] == pytest.approx(1.1)  # 33.1 -> 32.0, not 82.3 -> 32.0
    assert drops["inconv1"] == 0.0  # above what FP16 rounding alone gives
    ranked = candidates(_errors(stages), "fp16")
    assert ranked[0] in ("layers.1.MGF.TCA", "layers.1") and "layers.1.MGF.TCA" in ranked[:2]
    assert "layers.1.MGF.dynamic_filter" in ranked  # FP16 converts the filter: a candidate
    assert "layers.1.MGF.dynamic_filter" not in candidates(_errors(stages), "int8")


# ------------------------------------------------------------------------------ real model


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    from mgdn_edge.export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("fp16_export")
    export_checkpoint(_fixture(CHECKPOINT), folder, task="mff", verify=False, fp16=True)
    return folder


def _reflected(crop: str) -> list[np.ndarray]:
    """The authors' Lytro crop mirrored out to SIZE x SIZE (real image content at every pixel)."""
    data = np.load(_fixture(FIXTURES / f"mff_lytro01_{crop}.npz"))
    out = []
    for key in ("A", "B"):
        h, w = data[key].shape[2:]
        pad = ((0, 0), (0, 0), ((SIZE - h) // 2, SIZE - h - (SIZE - h) // 2),
               ((SIZE - w) // 2, SIZE - w - (SIZE - w) // 2))  # fmt: skip
        out.append(np.ascontiguousarray(np.pad(data[key], pad, mode="symmetric"), dtype=np.float32))
    return out


def _pngs(folder: Path, inputs: list[np.ndarray]) -> list[str]:
    paths = []
    for key, image in zip(("A", "B"), inputs, strict=True):
        path = folder / f"{key}.png"
        cv2.imwrite(str(path), (image[0].transpose(1, 2, 0)[..., ::-1] * 255).round().astype(np.uint8))
        paths.append(str(path))
    return paths


def _budget_breaks(model: Path, inputs: list[np.ndarray]) -> list[str]:
    """What the FP16 budget says of ``model`` (emulated as a GPU rounds it) against PyTorch."""
    from mgdn_edge.cli.diff import fp16_as_on_gpu
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.parity import image_metrics, violations

    reference = open_runtime("torch", CHECKPOINT, task="mff").run(inputs)
    runtime = fp16_as_on_gpu(open_runtime("onnxruntime", model, task="mff"), "mff")
    return violations(image_metrics(reference, runtime.run(inputs), "mff"), budget_for("fp16"), "mff")


def test_an_fp16_overflow_is_located_and_the_suggested_fp32_modules_fix_it(export, tmp_path):
    """The plain recipe (norms in FP16) on the 96x96 Lytro crop mirrored to 256x256: diff names the
    channel attention of stage 2 and the sum of squares that passes 65504 there; --suggest keeps
    that module FP32, and the list, applied by quantize, meets the FP16 budget on crops that took
    no part in choosing it, where the plain graph does not."""
    from mgdn_edge.calibration.quantize import quantize_model

    plain = quantize_model(export, None, "onnx", "fp16", out=tmp_path / "plain.onnx", method="plain").path
    pair = _pngs(tmp_path, _reflected("crop96"))
    out = tmp_path / "diff.json"
    argv = ["diff", "--task", "mff", "--reference", str(CHECKPOINT), "--model", str(plain), *pair]
    status = main([*argv, "--suggest", "--export", str(export), "--method", "plain", "--json", str(out)])
    report = json.loads(out.read_text())
    assert status == 1 and report["first_divergent"] == "layers.1.MGF.TCA"
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["layers.0.MGF.TCA"]["psnr_db"] > 70 and stages["layers.1.MGF.TCA"]["psnr_db"] < 45
    first = report["fp16_overflows"][0]
    assert first["tensor"].startswith("/layers.1/MGF/TCA/ReduceL2") and "SumSquare" in first["tensor"]
    assert 65504 < first["peak"] < 2 * 65504  # a real sum of squares, a little past FP16's range
    keep = report["suggestion"]["keep_float"]
    assert "layers.1.MGF.TCA" in keep and len(keep) <= 2, keep
    trials = report["suggestion"]["trials"]
    assert all(t["broken"] for t in trials if t["keep"] < len(keep))
    chosen = next(t["psnr_db"] for t in trials if t["keep"] == len(keep))
    assert min(t["psnr_db"] for t in trials) < 45 and chosen > 62  # FP16 budget: 62 dB

    fixed = quantize_model(
        export, None, "onnx", "fp16", out=tmp_path / "fixed.onnx", method="plain", keep_float=keep
    ).path
    assert (tmp_path / "fixed.trt.onnx").is_file()  # the TensorRT twin, for build-engine
    inputs = _reflected("crop64")  # held out
    assert _budget_breaks(plain, inputs) != []
    assert _budget_breaks(fixed, inputs) == []
    assert _budget_breaks(export / "model.fp16.onnx", inputs) == []  # the export's own recipe


def test_fp16_keep_float_needs_the_onnx_backend(export, tmp_path, cli_error):
    line = cli_error(
        ["quantize", "--model", str(export), "--runtime", "openvino", "--precision", "fp16",
         "--keep-float", "layers.1.MGF.TCA", "--out", str(tmp_path / "m.xml")]
    )  # fmt: skip
    assert "--keep-float and --method with --precision fp16 take --runtime onnxruntime" in line
    line = cli_error(
        ["quantize", "--model", str(export), "--runtime", "onnxruntime", "--precision", "fp16",
         "--method", "entropy", "--out", str(tmp_path / "m.onnx")]
    )  # fmt: skip
    assert "FP16 graphs are made as default or plain" in line


def test_the_emulated_fp16_graph_runs_the_filter_natively_and_portably(export, tmp_path):
    """The emulation hands the DynamicFilter node FP32 inputs: the native ONNX Runtime op and the
    node's portable function body both take them, agree, and meet the FP16 budget against the
    authors' own output on the 64x64 fixture crop."""
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.export.fp16_emulation import emulated_fp16
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.parity import image_metrics, violations

    path = tmp_path / "model.fp16.emulated.onnx"
    onnx.save(emulated_fp16(onnx.load(export / "model.fp16.onnx")), path)
    crop = np.load(_fixture(FIXTURES / "mff_lytro01_crop64.npz"))
    portable = open_runtime("onnxruntime", path, task="mff", native_op=False)
    assert portable.describe()["precision"] == "fp16"
    outputs = [portable.run([crop["A"], crop["B"]])]
    native = open_runtime("onnxruntime", path, task="mff")
    if native.describe()["dynamic_filter"].startswith("native"):
        outputs.append(native.run([crop["A"], crop["B"]]))
        np.testing.assert_allclose(outputs[1], outputs[0], atol=2e-3)  # FP16 rounding of one ulp here
    for out in outputs:
        assert violations(image_metrics(crop["out"], out, "mff"), budget_for("fp16"), "mff") == []
