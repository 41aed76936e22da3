"""Quantization: QDQ legality, the dynamic filter kept float, parity of INT8 against FP32, bad data.

A tiny random-weight MFF network is exported once per module; calibration data is a folder of
smooth synthetic image pairs (what ``mgdn-edge quantize --data`` reads). PSNR floors are judged by
the parity harness against the FP32 export, an independent reference for the quantized file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from mgdn_edge.calibration import open_source
from mgdn_edge.calibration.accuracy import PSNR_CEILING_DB, capped_psnr
from mgdn_edge.calibration.qdq_build import build_qdq, calibrate, portable_graph, run_all, session
from mgdn_edge.calibration.qdq_lint import lint_qdq
from mgdn_edge.calibration.quantize import quantize_model
from mgdn_edge.cli import main
from mgdn_edge.core.budgets import budget_for
from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import METADATA_PRECISION_KEY
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.parity import compare, run_cases, synthetic_cases

PSNR_FLOOR = 30.0  # measured 35-45 dB on this tiny model; the floor leaves a margin for other CPUs
N_FILTERS = 4  # 2 per stage, 2 stages


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = MGDN(preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()
    with torch.no_grad():  # default init: INT8 already reaches the 8-bit ceiling; 1.5x makes it ~1 dB short
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(1.5)
    out = tmp_path_factory.mktemp("export")
    export_model(model, out, verify=False, fp16=False)
    return out


def write_pairs(root: Path, n: int, size: int = 48, seed: int = 0) -> Path:
    """MFF pair folders A/ and B/ of smooth random images (8-bit PNG)."""
    config = preset("mff")
    for sub in ("A", "B"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b = synthetic_cases(config, [(size, size)], seed=seed + i)[0].inputs
        for sub, img in (("A", a), ("B", b)):
            Image.fromarray((img[0].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save(
                root / sub / f"{i:03d}.png"
            )
    return root


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"), 8)


def parity_psnr(quantized: Path, export: Path) -> float:
    runtime = "openvino" if quantized.suffix == ".xml" else "onnxruntime"
    rt = open_runtime(runtime, quantized)
    assert rt.describe()["precision"] == "int8"
    cases = synthetic_cases(rt.config, [(48, 48), (40, 56)], seed=123)
    reference = run_cases(open_runtime("onnxruntime", export), cases)
    result = compare(run_cases(rt, cases), reference, budget_for("int8"))
    assert result.passed, result.cases
    return result.lowest("psnr")


def filter_inputs_are_float(model: onnx.ModelProto) -> None:
    producer = {o: n for n in model.graph.node for o in n.output}
    filters = [n for n in model.graph.node if n.domain == "mgdn" and n.op_type == "DynamicFilter"]
    assert len(filters) == N_FILTERS
    for node in filters:
        for name in node.input:
            assert producer[name].op_type not in ("QuantizeLinear", "DequantizeLinear"), name


def test_onnx_int8_is_legal_keeps_filter_float_and_matches_fp32(
    export_dir: Path, pairs: Path, tmp_path: Path
) -> None:
    result = quantize_model(export_dir, pairs, "onnx", out=tmp_path / "q.onnx", progress=False)
    assert result.path == tmp_path / "q.onnx" and result.samples == 8
    model = onnx.load(result.path)
    assert lint_qdq(model) == []
    assert sum(n.op_type == "QuantizeLinear" for n in model.graph.node) > 10
    filter_inputs_are_float(model)
    assert len([k for k, v in result.float_layers.items() if "DynamicFilter" in v]) == N_FILTERS
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[METADATA_PRECISION_KEY] == "int8" and "mgdn_edge.config" in meta
    assert parity_psnr(result.path, export_dir) >= PSNR_FLOOR
    # timed against the FP32 model in ONNX Runtime on the largest calibration sample
    speed = result.speed
    assert speed is not None and (speed["runtime"], speed["versus"]) == ("onnxruntime", "fp32")
    assert speed["int8_ms"] > 0 and speed["float_ms"] > 0 and speed["size"] == "48x48"
    # no temporary file left behind; the TensorRT twin beside it (test_tensorrt_int8_twin...)
    assert sorted(os.listdir(tmp_path)) == ["q.onnx", "q.trt.onnx"]
    # `mgdn-edge fuse` runs the file at its own precision with the runtime picked by suffix
    fused = tmp_path / "fused.png"
    assert (
        main(
            [
                "fuse",
                "--task",
                "mff",
                "--model",
                str(result.path),
                *(str(pairs / s / "000.png") for s in "AB"),
                "-o",
                str(fused),
            ]
        )
        == 0
    )
    assert Image.open(fused).size == (48, 48)


# Runs in a child process, as the pipeline runs NNCF. It is also the sequence that crashed natively
# before INT8 IRs compiled without the CPU plugin's snippets: NNCF quantization, then the IR
# compiled shape-specialised and run, in one process.
_OPENVINO_INT8_CHILD = """
import json, sys
from pathlib import Path
import openvino as ov
from mgdn_edge.calibration.quantize import quantize_model
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.core.budgets import budget_for
from mgdn_edge.runtimes.openvino.ir import FILTER_OPS, read_model
from mgdn_edge.runtimes.parity import compare, run_cases, synthetic_cases

export, pairs, out = map(Path, sys.argv[1:4])
result = quantize_model(export, pairs, "openvino", out=out, progress=False)
model, _ = read_model(ov.Core(), result.path)
ops = model.get_ops()
filters = [op for op in ops if op.get_type_name() in FILTER_OPS]
feeds = [i.get_source_output().get_node() for op in filters for i in op.inputs()]
# the channels-last filter reads its inputs through Transposes: what feeds those
feeds = [f.input_value(0).get_node() if f.get_type_name() == "Transpose" else f for f in feeds]
feeds = {f.get_type_name() for f in feeds}
rt = open_runtime("openvino", result.path)
cases = synthetic_cases(rt.config, [(48, 48), (40, 56)], seed=123)
reference = run_cases(open_runtime("onnxruntime", export), cases)
parity = compare(run_cases(rt, cases), reference, budget_for("int8"))
print(json.dumps({
    "filters": len(filters), "filter_feeds": sorted(feeds),
    "fake_quantize": sum(op.get_type_name() == "FakeQuantize" for op in ops),
    "float_layers": result.float_layers, "precision": rt.describe()["precision"],
    "shapes": rt.describe()["shapes"],
    "passed": parity.passed, "psnr": parity.lowest("psnr"),
}))
"""


def test_openvino_int8_keeps_filter_and_matches_fp32(export_dir: Path, pairs: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    argv = [sys.executable, "-c", _OPENVINO_INT8_CHILD, str(export_dir), str(pairs), str(tmp_path / "q.xml")]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["filters"] == N_FILTERS
    assert "FakeQuantize" not in got["filter_feeds"]  # float inputs: nothing quantizes what the filter reads
    assert got["fake_quantize"] > 10
    assert sum(v.startswith("mgdn.DynamicFilter") for v in got["float_layers"].values()) == N_FILTERS
    assert got["precision"] == "int8" and got["passed"]
    assert got["shapes"] == "compiled per input shape"  # INT8 IRs are specialised like the others
    assert got["psnr"] >= PSNR_FLOOR


def test_accuracy_search_keeps_layers_float_to_meet_the_budget(
    export_dir: Path, pairs: Path, tmp_path: Path
) -> None:
    eval_dir = write_pairs(tmp_path / "eval", 2, seed=100)
    # baseline: every layer quantized (the default keeps the output conv float)
    model, evals = onnx.load(export_dir / "model.onnx"), list(open_source("mff", eval_dir))
    ranges = calibrate(
        portable_graph(model, None), list(open_source("mff", pairs)), ["a", "b"], progress=False
    )
    reference = run_all(session(model), evals)
    all_int8_drop = PSNR_CEILING_DB - capped_psnr(
        reference, run_all(session(build_qdq(model, ranges)), evals)
    )
    assert all_int8_drop > 0.5
    budget = all_int8_drop / 2
    searched = quantize_model(
        export_dir,
        pairs,
        "onnx",
        out=tmp_path / "b.onnx",
        max_drop=budget,
        eval_data=eval_dir,
        progress=False,
    )
    kept = [k for k, v in searched.float_layers.items() if v.startswith("accuracy search")]
    assert kept and searched.eval_drop_db is not None and searched.eval_drop_db <= budget
    # independent check: the written file, run by the runtime, against the FP32 export
    fp32, q = open_runtime("onnxruntime", export_dir), open_runtime("onnxruntime", searched.path)
    outs = [(fp32.run(s.inputs), q.run(s.inputs)) for s in open_source("mff", eval_dir)]
    psnr = np.mean([min(PSNR_CEILING_DB, 10 * np.log10(1 / np.mean((r - o) ** 2))) for r, o in outs])
    assert PSNR_CEILING_DB - psnr <= budget + 1e-3


def _qdq_model(zero_point: np.ndarray) -> onnx.ModelProto:
    """x -> Q -> DQ -> Relu, with the given zero point (the dtype picks int8 / uint8)."""
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "s"),
        numpy_helper.from_array(zero_point, "zp"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q"),
        helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq"),
        helper.make_node("Relu", ["xd"], ["y"], name="relu"),
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    return helper.make_model(helper.make_graph(nodes, "g", io[:1], io[1:], inits))


def test_lint_rejects_asymmetric_and_uint8() -> None:
    assert lint_qdq(_qdq_model(np.array(0, np.int8)), require_filters=False) == []
    asym = lint_qdq(_qdq_model(np.array(3, np.int8)), require_filters=False)
    assert asym and all("asymmetric" in p for p in asym)
    uint8 = lint_qdq(_qdq_model(np.array(0, np.uint8)), require_filters=False)
    assert uint8 and all("uint8, not int8" in p for p in uint8)
    assert any("DynamicFilter" in p for p in lint_qdq(_qdq_model(np.array(0, np.int8))))


def _corrupt(root: Path) -> str:
    (root / "A" / "003.png").write_bytes(b"not a png")
    return "003.png"


def _unmatched(root: Path) -> str:
    (root / "B" / "005.png").rename(root / "B" / "999.png")
    return "005"


def _empty(root: Path) -> str:
    for p in (root / "A").iterdir():
        p.unlink()
    return "empty"


@pytest.mark.parametrize("spoil", [_corrupt, _unmatched, _empty])
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_bad_data_fails_clearly_and_writes_nothing(
    export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil: object, backend: str
) -> None:
    data = write_pairs(tmp_path / "data", 6, size=32)
    needle = spoil(data)  # type: ignore[operator]
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("q.xml" if backend == "openvino" else "q.onnx")
    args = ["quantize", "--model", str(export_dir), "--data", str(data), "--runtime", backend]
    assert main([*args, "--out", str(target), "--quiet"]) == 2
    assert needle in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_fp16_onnx_without_fp16_export_is_a_clear_error(export_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model.fp16.onnx"):
        quantize_model(export_dir, None, "onnx", "fp16", tmp_path / "m.onnx")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_wrong_exposure_count_names_the_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    torch.manual_seed(0)
    hdr = MGDN(preset("hdr", embed_dim=12, depths=[1], swin_heads=[2])).eval()
    export = tmp_path / "export"
    export_model(hdr, export, verify=False, fp16=False)
    rng = np.random.default_rng(0)
    for s in range(2):
        scene = tmp_path / "data" / f"scene{s}"
        scene.mkdir(parents=True)
        for name in ("a.tif", "b.tif", "c.tif"):
            Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(scene / name)
        (scene / "exposure.txt").write_text("0\n2\n4\n" if s == 0 else "0\n2\n")
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("q.xml" if backend == "openvino" else "q.onnx")
    args = ["quantize", "--model", str(export), "--data", str(tmp_path / "data"), "--runtime", backend]
    assert main([*args, "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'data' / 'scene1' / 'exposure.txt'} has 2 exposure values, expected 3" in err
    assert list(out.iterdir()) == []


def test_tensorrt_int8_twin_is_function_free_linted_and_computes_the_same(
    export_dir: Path, pairs: Path, tmp_path: Path
) -> None:
    """quantize --runtime onnxruntime writes model.trt.int8.onnx beside model.int8.onnx: the same Q/DQ graph
    without function bodies and with LayerNormalization written out, which TensorRT 8.5, 8.6, 10.3
    and 11 parse natively with every DynamicFilter on the plugin; ONNX Runtime (function bodies
    re-attached) gives what the ONNX Runtime file gives."""
    from mgdn_edge.export.artefacts import INT8_ONNX, TRT_INT8_ONNX
    from mgdn_edge.export.trt_graph import with_function_bodies
    from mgdn_edge.export.trt_lint import lint_tensorrt

    result = quantize_model(export_dir, pairs, "onnx", out=tmp_path / INT8_ONNX, progress=False)
    qdq = onnx.load(result.path)
    trt = onnx.load(tmp_path / TRT_INT8_ONNX)
    assert len(qdq.functions) == 1 and len(trt.functions) == 0
    assert "LayerNormalization" not in {n.op_type for n in trt.graph.node}
    assert lint_qdq(trt) == []
    filter_inputs_are_float(trt)
    count = sum(n.op_type == "QuantizeLinear" for n in qdq.graph.node)
    assert sum(n.op_type == "QuantizeLinear" for n in trt.graph.node) == count
    assert "local ONNX function" in lint_tensorrt(qdq, "10.3").message()
    for version in ("8.5", "8.6", "10.3", "11"):
        report = lint_tensorrt(trt, version)
        assert report.ok and len(report.plugin_nodes) == N_FILTERS, report.message()
    cases = synthetic_cases(preset("mff"), [(48, 48)], seed=7)
    feeds = dict(zip([i.name for i in qdq.graph.input], cases[0].inputs, strict=True))
    expected = session(qdq).run(None, feeds)[0]
    got = session(with_function_bodies(trt, qdq)).run(None, feeds)[0]
    assert float(np.abs(got - expected).max()) <= 1e-4


def test_quantize_says_whether_int8_pays_against_bf16():
    """Judged by the OpenVINO INT8-vs-bf16 speed target (1.2x): closed-form figures."""
    from mgdn_edge.cli.quantize import _speed_advice

    figures = {"runtime": "openvino", "versus": "bf16", "cpu": "Test CPU", "size": "520x520"}
    slow = _speed_advice({**figures, "int8_ms": 1262.0, "float_ms": 1401.0})
    assert "INT8 1262 ms, bf16 1401 ms (1.11x)" in slow and "use bf16 on this CPU" in slow
    fast = _speed_advice({**figures, "int8_ms": 1000.0, "float_ms": 1300.0})
    assert fast.endswith("(1.30x): INT8 pays here (target 1.2x)")


def test_quantize_says_whether_int8_pays_in_onnxruntime():
    """Judged by the ONNX Runtime INT8-vs-FP32 target (1.3x): closed-form figures."""
    from mgdn_edge.cli.quantize import _speed_advice

    figures = {"runtime": "onnxruntime", "versus": "fp32", "cpu": "Test CPU", "size": "520x520"}
    slow = _speed_advice({**figures, "int8_ms": 2151.0, "float_ms": 2055.0})
    assert "INT8 2151 ms, FP32 2055 ms (0.96x): below the 1.3x" in slow
    assert "run model.onnx (FP32, native DynamicFilter)" in slow
    fast = _speed_advice({**figures, "int8_ms": 1000.0, "float_ms": 1400.0})
    assert fast.endswith("(1.40x): INT8 pays here (target 1.3x)")
