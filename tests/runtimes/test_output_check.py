"""The Runtime base: inputs checked before a backend runs, a NaN/Inf output refused naming the stage
that produced it (never saved as a black image), for every backend alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.base import Runtime, check_output

TINY = {"embed_dim": 12, "depths": [1], "swin_heads": [2]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[MGDN, Path]:
    torch.manual_seed(0)
    model = MGDN(preset("mff", **TINY)).eval()
    path = tmp_path_factory.mktemp("out") / "tiny.pth"
    torch.save(model.state_dict(), path)
    return model, path


def _pair(value: float = 0.5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.random((1, 3, 16, 16)).astype(np.float32)
    b = rng.random((1, 3, 16, 16)).astype(np.float32)
    b[0, 1, 4, 5] = value
    return [a, b]


class _Fake(Runtime):
    """A backend whose output is whatever the test says, counting the runs that reach it."""

    name = "openvino"

    def __init__(self, output: np.ndarray, precision: str) -> None:
        self.output, self.precision, self.model_path = output, precision, None
        self.config = preset("mff", **TINY)
        self.calls = 0

    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        self.calls += 1
        return self.output

    def describe(self) -> dict[str, Any]:
        return {"runtime": self.name, "precision": self.precision}


def test_finite_outputs_pass_unchanged(tiny) -> None:
    runtime = open_runtime("torch", tiny[1])
    out = runtime.run(_pair())
    np.testing.assert_array_equal(out, tiny[0](*map(torch.from_numpy, _pair())).detach().numpy())
    fake = _Fake(np.ones((1, 3, 4, 4), np.float32), "fp16")
    assert fake.run(_pair()) is fake.output and fake.calls == 1


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (lambda p: p[:1], r"task 'mff' takes 2 inputs \(a, b\), got 1"),
        (lambda p: [p[0].astype(np.float64), p[1]], "input 'a' must be float32, got float64"),
        (lambda p: [p[0], p[1][:, :2]], "input 'b' must have 3 channels for task 'mff', got 2"),
        (lambda p: p[0], "inputs must be a sequence of 2 arrays"),
    ],
)
def test_bad_inputs_never_reach_the_backend(inputs, message) -> None:
    fake = _Fake(np.ones((1, 3, 16, 16), np.float32), "fp32")
    with pytest.raises(InputError, match=message):
        fake.run(inputs(_pair()))
    assert fake.calls == 0


def test_a_fixed_size_model_refuses_another_size_before_the_backend() -> None:
    fake = _Fake(np.ones((1, 3, 16, 16), np.float32), "fp32")
    fake.static_size = (16, 24)
    with pytest.raises(InputError, match="exported for a fixed size 16x24 \\(HxW\\), got 16x16"):
        fake.run(_pair())
    assert fake.calls == 0


def test_every_backend_output_passes_the_base_check() -> None:
    fake = _Fake(np.full((1, 3, 4, 4), np.inf, np.float32), "fp32")
    with pytest.raises(BackendError, match=r"the openvino fp32 output of the model has NaN/Inf \(48 of 48"):
        fake.run(_pair())
    assert fake.calls == 1


def test_huge_finite_inputs_are_named_as_the_stage() -> None:
    nan = np.full((1, 3, 4, 4), np.nan, np.float32)
    with pytest.raises(
        InputError, match=r"inputs are finite but reach \|x\| = 1e\+30, which overflows the network"
    ):
        check_output(_Fake(nan, "fp16"), _pair(1e30), nan)


def test_reduced_precision_overflow_says_run_fp32() -> None:
    nan = np.full((1, 3, 4, 4), np.nan, np.float32)
    with pytest.raises(
        BackendError,
        match=r"the openvino fp16 output of the model has NaN/Inf \(48 of 48 values\) while its inputs are "
        r"finite: the model overflows in fp16; run fp32",
    ):
        check_output(_Fake(nan, "fp16"), _pair(), nan)
    with pytest.raises(
        BackendError, match="its weights hold no NaN/Inf: an overflow inside the network or a runtime"
    ):
        check_output(_Fake(nan, "fp32"), _pair(), nan)
    with pytest.raises(InputError, match="its inputs hold NaN/Inf"):
        check_output(_Fake(nan, "fp32"), _pair(float("nan")), nan)


@pytest.fixture(scope="module")
def nan_weight_onnx(tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's portable graph (no custom op: every ONNX backend loads it as is) with one
    NaN in ``inconv1.weight`` and no manifest (a hand-edited file: its check would refuse it first)."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from mgdn_edge.export.onnx_export import export_model

    folder = tmp_path_factory.mktemp("nan_weight")
    export_model(tiny[0], folder, verify=False, fp16=False)
    path = folder / "model.portable.onnx"
    model = onnx.load(str(path))
    init = next(i for i in model.graph.initializer if i.name == "inconv1.weight")
    values = numpy_helper.to_array(init).copy()
    values.flat[0] = np.nan
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    onnx.save(model, str(path))
    (folder / "manifest.json").unlink()
    return path


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_nan_weight_in_an_onnx_file_is_named_by_every_backend(nan_weight_onnx, backend) -> None:
    pytest.importorskip(backend)
    runtime = open_runtime(backend, nan_weight_onnx)
    with pytest.raises(
        BackendError,
        match=rf"the {backend} fp32 output of .*model.portable.onnx has NaN/Inf .*: its weights hold "
        "NaN/Inf: inconv1.weight",
    ):
        runtime.run(_pair())
