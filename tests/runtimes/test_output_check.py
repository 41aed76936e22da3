"""A NaN/Inf output is refused naming the stage that produced it, never saved as a black image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.base import check_output, with_output_check

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


class _Fake:
    """A runtime whose output is whatever the test says (the stage logic, without a backend)."""

    name = "openvino"

    def __init__(self, output: np.ndarray, precision: str) -> None:
        self.output, self.precision, self.model_path = output, precision, None

    def run(self, inputs: Any) -> np.ndarray:
        return self.output


def test_finite_outputs_pass_unchanged(tiny) -> None:
    runtime = open_runtime("torch", tiny[1])
    out = runtime.run(_pair())
    np.testing.assert_array_equal(out, tiny[0](*map(torch.from_numpy, _pair())).detach().numpy())
    fake = _Fake(np.ones((1, 3, 4, 4), np.float32), "fp16")
    assert with_output_check(fake) is fake and fake.run(_pair()) is fake.output


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


def test_nan_weight_in_an_onnx_file_is_named(tiny, tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    from mgdn_edge.export.onnx_export import export_model

    export_model(tiny[0], tmp_path, verify=False, fp16=False)
    path = tmp_path / "model.onnx"
    model = onnx.load(str(path))
    init = next(i for i in model.graph.initializer if i.name == "inconv1.weight")
    values = numpy_helper.to_array(init).copy()
    values.flat[0] = np.nan
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    onnx.save(model, str(path))
    (tmp_path / "manifest.json").unlink()  # a hand-edited file: the manifest check would refuse it first
    runtime = open_runtime("onnxruntime", path)
    with pytest.raises(
        BackendError, match=r"model.onnx has NaN/Inf .*: its weights hold NaN/Inf: inconv1.weight"
    ):
        runtime.run(_pair())
