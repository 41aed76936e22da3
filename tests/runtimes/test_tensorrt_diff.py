"""TensorRT in ``mgdn-edge diff`` and FP32 modules in FP16 engines.

CPU part (always runs): which layers ``--keep-float`` pins (TensorRT's parser names layers after
ONNX nodes), when pinning is refused, which marked tensors are missing, which output is the
model's own, and the ``--runtime tensorrt[:PRECISION]`` spellings. Engine part (``tensorrt`` and
``gpu`` markers): skipped without TensorRT, as every engine test here; no stand-in module is used.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.model import preset
from mgdn_edge.runtimes.tensorrt_build import check_keep_float, pinned_layers
from mgdn_edge.runtimes.tensorrt_plan import BuildPlan
from mgdn_edge.runtimes.tensorrt_runtime import missing_tensors, model_output

CONFIG = preset("mff")
HAS_TRT = importlib.util.find_spec("tensorrt") is not None
MFF_DIR = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "official-mff"

LAYERS = [
    "/inconv1/Conv",
    "/layers.0/MGF/TCA/q/Conv",  # stage 1: not asked for
    "/layers.1/MGF/TCA/q/Conv",
    "/layers.1/MGF/TCA/ReduceL2_SumSquare",
    "/layers.1/MGF/TCA_1/ReduceL2",  # the second call of the same module
    "/layers.1/MGF/TCA_1/project_out/Conv",
    "/layers.1/MGF/TCA_10/Conv",  # not a call of it: a scope that only starts alike
    "/layers.1/Concat",  # stage glue
    "/Add",  # the network's own
]


def test_keep_float_pins_every_layer_of_the_modules_calls_and_nothing_else():
    assert pinned_layers(LAYERS, CONFIG, ["layers.1.MGF.TCA"]) == [
        "/layers.1/MGF/TCA/q/Conv",
        "/layers.1/MGF/TCA/ReduceL2_SumSquare",
        "/layers.1/MGF/TCA_1/ReduceL2",
        "/layers.1/MGF/TCA_1/project_out/Conv",
    ]
    assert pinned_layers(LAYERS, CONFIG, ["layers.1", "MGDN"]) == ["/layers.1/Concat", "/Add"]
    with pytest.raises(InputError, match="no module layers.9.MGF.TCA"):
        pinned_layers(LAYERS, CONFIG, ["layers.9.MGF.TCA"])


def _plan(precision: str, strongly_typed: bool) -> BuildPlan:
    return BuildPlan(Path("model.trt.fp16.onnx"), precision, strongly_typed, [], [])


def test_keep_float_is_refused_where_it_would_do_nothing():
    check_keep_float(_plan("fp16", False), ["layers.1.MGF.TCA"])  # weakly typed FP16: pins
    check_keep_float(_plan("fp16", True), [])  # nothing asked: nothing to refuse
    with pytest.raises(BackendError, match=r"quantize --runtime onnxruntime --precision fp16 --keep-float"):
        check_keep_float(_plan("fp16", True), ["layers.1.MGF.TCA"])
    with pytest.raises(BackendError, match="not of int8 ones"):
        check_keep_float(_plan("int8", False), ["layers.1.MGF.TCA"])


def test_marked_tensors_and_the_models_own_output():
    available = ["/inconv1/Conv_output_0", "/layers.0/MGF/TCA/project_out/Conv_output_0", "output"]
    assert missing_tensors(available, ["/inconv1/Conv_output_0"]) == []
    asked = ["/x_output_0", "/inconv1/Conv_output_0", "/y"]
    assert missing_tensors(available, asked) == ["/x_output_0", "/y"]
    outputs = ["output", "/inconv1/Conv_output_0"]
    assert model_output(outputs, ["/inconv1/Conv_output_0"]) == ["output"]
    assert model_output(["output"], []) == ["output"]


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed: the missing-package line does not apply")
@pytest.mark.parametrize("spec", ["tensorrt", "tensorrt:fp16", "trt:int8"])
def test_diff_names_missing_tensorrt_in_one_line(spec, tmp_path, cli_error):
    line = cli_error(
        ["diff", "--task", "mff", "--reference", str(tmp_path / "m.pth"), "--model",
         str(tmp_path / "m.engine"), "--runtime", spec, str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    )  # fmt: skip
    missing = "TensorRT is not available: Python package 'tensorrt' is not installed (pip install"
    assert line.startswith(f"error: --runtime {spec}: {missing}")


def test_runtime_spellings_carry_the_precision():
    from mgdn_edge.diff_cli import runtime_spec

    assert runtime_spec("onnxruntime:fp16", None, "--runtime") == ("onnxruntime", "fp16")
    assert runtime_spec("ort", "fp16", "--runtime") == ("onnxruntime", "fp16")
    assert runtime_spec("auto", None, "--runtime") == ("auto", None)
    with pytest.raises(InputError, match="disagree"):
        runtime_spec("onnxruntime:fp16", "int8", "--runtime")


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TRT, reason="tensorrt is not importable (pip install tensorrt); needs a GPU")
def test_engine_stages_match_pytorch(tmp_path):  # pragma: no cover - needs TensorRT and a GPU
    """FP32 engine against PyTorch, every stage (tensors marked per pass, one engine each)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    from mgdn_edge.divergence import diff_runtimes
    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.tensorrt_build import build_engine

    ckpt = MFF_DIR / "mff_62000_E.pth"
    if not ckpt.exists():
        pytest.skip(f"fixture not available: {ckpt}")
    export_checkpoint(ckpt, tmp_path, task="mff", verify=False)
    build_engine(tmp_path, tmp_path / "m.engine", min_hw="32x32", max_hw="128x128")
    data = np.load(MFF_DIR / "mff_lytro01_crop96.npz")
    result = diff_runtimes(
        open_runtime("torch", ckpt, task="mff"), open_runtime("tensorrt", tmp_path / "m.engine"),
        [data["A"], data["B"]], max_memory_mb=64,
    )  # fmt: skip
    assert result.passes > 1 and len(result.stages) == 34 and result.first_divergent is None
    assert max(s.max_abs for s in result.stages) <= 1e-3


class _Recorder:
    """A runtime that exposes tensors the way TensorRT's does (graph_tensors + run_tensors, one
    engine per call), delegating the arithmetic to ONNX Runtime and recording each call's names."""

    def __init__(self, runtime) -> None:  # type: ignore[no-untyped-def]
        self.runtime, self.name, self.config, self.calls = runtime, "recorder", runtime.config, []

    def describe(self) -> dict:
        return self.runtime.describe()

    def graph_tensors(self) -> list[str]:
        return self.runtime.graph_tensors()

    def run_tensors(self, inputs, names):  # type: ignore[no-untyped-def]
        self.calls.append(list(names))
        return self.runtime.run_tensors(inputs, names)


def test_each_pass_marks_only_its_own_stage_tensors(tiny_mff_export):
    """What TensorRT's run_tensors is asked per pass (one probe engine each): disjoint groups of
    stage tensors, each within the memory budget (closed form: budget / (2 x stage bytes)), that
    together cover every stage once, with the same numbers as one pass."""
    pytest.importorskip("onnxruntime")
    from mgdn_edge.divergence import diff_runtimes, stage_bytes
    from mgdn_edge.runtimes import open_runtime

    reference = open_runtime("torch", tiny_mff_export.parent / "model.pth", task="mff")
    rng = np.random.default_rng(0)
    inputs = [rng.random((1, 3, 32, 32), dtype=np.float32) for _ in range(2)]
    one = _Recorder(open_runtime("onnxruntime", tiny_mff_export / "model.onnx", native_op=False))
    many = _Recorder(open_runtime("onnxruntime", tiny_mff_export / "model.onnx", native_op=False))
    whole = diff_runtimes(reference, one, inputs, max_memory_mb=1024)
    per_pass = 3
    budget_mb = 2 * stage_bytes(one.config, inputs) * per_pass / 1e6
    split = diff_runtimes(reference, many, inputs, max_memory_mb=budget_mb)
    assert len(one.calls) == whole.passes == 1 and len(many.calls) == split.passes > 1
    assert all(len(names) <= per_pass for names in many.calls)
    marked = [name for names in many.calls for name in names]
    assert len(marked) == len(set(marked)) == len(split.stages)  # each stage tensor marked once
    assert marked == one.calls[0]  # same tensors, execution order, just split
    assert [s.max_abs for s in split.stages] == [s.max_abs for s in whole.stages]
