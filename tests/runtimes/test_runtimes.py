"""Runtime interface: open by name, ONNX Runtime's own options and errors, the backend registry.

What every backend promises (output, inputs, fixed size, `fuse`): test_runtime_contract.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from runtime_cases import TASKS, TOL, inputs, torch_output

from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.export.artefacts import METADATA_PRECISION_KEY
from mgdn_edge.model import preset
from mgdn_edge.runtimes import (
    BACKENDS,
    Backend,
    Runtime,
    available_runtimes,
    open_runtime,
    register_backend,
)
from mgdn_edge.runtimes.onnxruntime.runtime import select_providers

# --------------------------------------------------------------------------- interface


@pytest.mark.parametrize("task", TASKS)
def test_onnxruntime_alias_and_portable_model(tiny_exports, task):
    """`ort` names ONNX Runtime; portable=True runs the export's model.portable.onnx (the
    DynamicFilter as plain ONNX ops). Every backend against PyTorch: test_runtime_contract.py."""
    model, _, folder = tiny_exports[task]
    arrays = inputs(task, batch=2)
    rt = open_runtime("ort", folder, task=task, portable=True)
    assert rt.name == "onnxruntime" and rt.describe()["model"].endswith("model.portable.onnx")
    assert np.abs(rt.run(arrays) - torch_output(model, arrays)).max() <= TOL


def test_describe_says_what_runs(tiny_exports):
    _, ckpt, folder = tiny_exports["mff"]
    info = open_runtime("onnxruntime", folder / "model.onnx", threads=1).describe()
    assert info["runtime"] == "onnxruntime" and info["precision"] == "fp32" and info["threads"] == 1
    assert info["provider"] == "CPUExecutionProvider"
    assert info["model"].endswith("model.onnx")
    torch_info = open_runtime("torch", ckpt).describe()
    assert torch_info["provider"] == "cpu" and torch_info["dynamic_filter"] == "lean"
    assert {"torch", "onnxruntime"} <= set(available_runtimes())


def test_providers_prefer_accelerators_when_present():
    available = ["AzureExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert select_providers(available, None) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert select_providers(available, "cpu") == ["CPUExecutionProvider"]
    with pytest.raises(BackendError, match="TensorrtExecutionProvider"):
        select_providers(available, ["tensorrt"])


def test_lone_onnx_file_describes_itself_through_metadata(tiny_exports, tmp_path):
    model, _, folder = tiny_exports["gdsr"]
    lone = tmp_path / "copy.onnx"
    shutil.copy(folder / "model.onnx", lone)  # no manifest.json beside it
    rt = open_runtime("onnxruntime", lone)
    assert rt.config.task == "gdsr" and rt.config.window_size == 4
    arrays = inputs("gdsr")
    assert np.abs(rt.run(arrays) - torch_output(model, arrays)).max() <= TOL


# --------------------------------------------------------------------------- bad input


def test_open_runtime_errors_are_backend_errors(tiny_exports, tmp_path):
    _, ckpt, folder = tiny_exports["hdr"]
    with pytest.raises(BackendError, match="unknown runtime 'tflite'"):
        open_runtime("tflite", folder)
    with pytest.raises(BackendError, match="not usable for task 'gdsr'"):
        open_runtime("onnxruntime", folder, task="gdsr")
    with pytest.raises(BackendError, match="does not take option"):
        open_runtime("onnxruntime", folder, turbo=True)
    with pytest.raises(BackendError, match="model.onnx was built as fp32 .* open an export folder's"):
        open_runtime("onnxruntime", folder / "model.onnx", precision="fp16", providers="cpu")
    with pytest.raises(BackendError, match="for int8 open a QDQ file from `mgdn-edge quantize"):
        open_runtime("onnxruntime", folder, precision="int8", providers="cpu")
    with pytest.raises(BackendError, match="needs a PyTorch checkpoint"):
        open_runtime("torch", folder / "model.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(BackendError, match="junk.onnx is not a readable ONNX file"):
        open_runtime("onnxruntime", tmp_path / "junk.onnx")
    # MFF and MEF are one architecture: an MFF export serves --task mef.
    assert open_runtime("onnxruntime", _mff_folder(tiny_exports), task="mef").config.task == "mef"


def test_precision_comes_from_the_file(tiny_exports, tmp_path):
    """A file labelled int8 opens as int8 without being asked; asking for another precision fails."""
    import onnx

    _, _, folder = tiny_exports["hdr"]
    model = onnx.load(str(folder / "model.onnx"))
    onnx.helper.set_model_props(
        model, {**{p.key: p.value for p in model.metadata_props}, METADATA_PRECISION_KEY: "int8"}
    )
    onnx.save(model, str(tmp_path / "labelled.onnx"))
    (tmp_path / "manifest.json").write_text((folder / "manifest.json").read_text())
    rt = open_runtime("onnxruntime", tmp_path / "labelled.onnx", providers="cpu")
    assert rt.describe()["precision"] == rt.describe()["file_precision"] == "int8"
    with pytest.raises(BackendError, match="labelled.onnx was built as int8"):
        open_runtime("onnxruntime", tmp_path / "labelled.onnx", precision="fp32", providers="cpu")


def _mff_folder(tiny_exports) -> Path:
    return tiny_exports["mff"][2]


def test_register_backend_extends_open_runtime(tiny_exports):
    class Echo(Runtime):
        name = "echo"

        def __init__(self, model_path, task=None, precision="fp32"):
            self.config = preset(task or "mff")

        def _run(self, arrays):
            return arrays[0]

        def describe(self):
            return {"runtime": self.name}

    register_backend(Backend("echo", "Echo", Echo, package="numpy", install="", precisions=(Precision.FP32,)))
    try:
        rt = open_runtime("echo", "unused", task="mff", precision="fp32", threads=None)
        assert rt.describe() == {"runtime": "echo"}
        a = np.full((1, 3, 8, 8), 0.25, np.float32)
        assert np.array_equal(rt.run([a, a]), a)
        with pytest.raises(InputError, match="takes 2 inputs"):
            rt.run([a])
    finally:
        del BACKENDS["echo"]


def test_a_runtime_outside_the_base_is_refused():
    class Bare:
        def __init__(self, model_path, task=None):
            pass

    register_backend(Backend("bare", "Bare", Bare, package="numpy", install="", precisions=(Precision.FP32,)))
    try:
        with pytest.raises(BackendError, match="'bare' .* does not subclass mgdn_edge.runtimes.base.Runtime"):
            open_runtime("bare", "unused")
    finally:
        del BACKENDS["bare"]


# --------------------------------------------------------------------------- auto


def test_auto_runtime_follows_the_model_file(tiny_exports, tmp_path):
    _, ckpt, folder = tiny_exports["hdr"]
    assert open_runtime("auto", ckpt).name == "torch"
    assert open_runtime("auto", folder / "model.onnx").name == "onnxruntime"
    assert open_runtime("auto", folder).name == "onnxruntime"
    with pytest.raises(BackendError, match="cannot tell which runtime runs 'm.tflite'"):
        open_runtime("auto", tmp_path / "m.tflite")
