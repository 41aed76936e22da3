"""Runtime interface: open by name, describe, validated inputs, and `fuse` on ONNX Runtime for all tasks."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.cli import main
from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.export.artefacts import METADATA_PRECISION_KEY
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import (
    BACKENDS,
    Backend,
    Runtime,
    available_runtimes,
    open_runtime,
    register_backend,
)
from mgdn_edge.runtimes.onnxruntime.runtime import select_providers

TOL = 1e-4
TASKS = ("mff", "mef", "hdr", "gdsr")


def _tiny(task: str, seed: int = 0) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset(task, embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, tuple[MGDN, Path, Path]]:
    """Per task: (model, checkpoint, export folder), one tiny network each."""
    out = {}
    for i, task in enumerate(TASKS):
        model = _tiny(task, seed=i)
        folder = tmp_path_factory.mktemp(f"export_{task}")
        ckpt = folder / "model.pth"
        torch.save(model.state_dict(), ckpt)
        export_model(model, folder / "onnx", checkpoint=ckpt, verify=False)
        out[task] = (model, ckpt, folder / "onnx")
    return out


def _inputs(task: str, h: int = 20, w: int = 27, batch: int = 1, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((batch, c, h, w), dtype=np.float32) for c in preset(task).io.input_channels]


def _torch(model: MGDN, inputs: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(*(torch.from_numpy(x) for x in inputs)).numpy()


# --------------------------------------------------------------------------- interface


@pytest.mark.parametrize("task", TASKS)
def test_onnxruntime_and_torch_runtimes_match_the_model(exports, task):
    model, ckpt, folder = exports[task]
    inputs = _inputs(task, batch=2)
    expected = _torch(model, inputs)
    for rt in (
        open_runtime("onnxruntime", folder / "model.onnx", task=task),
        open_runtime("ort", folder, task=task, portable=True),
        open_runtime("torch", ckpt, task=task),
    ):
        got = rt.run(inputs)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.abs(got - expected).max() <= TOL, rt.describe()


def test_describe_says_what_runs(exports):
    _, ckpt, folder = exports["mff"]
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


def test_lone_onnx_file_describes_itself_through_metadata(exports, tmp_path):
    model, _, folder = exports["gdsr"]
    lone = tmp_path / "copy.onnx"
    shutil.copy(folder / "model.onnx", lone)  # no manifest.json beside it
    rt = open_runtime("onnxruntime", lone)
    assert rt.config.task == "gdsr" and rt.config.window_size == 4
    inputs = _inputs("gdsr")
    assert np.abs(rt.run(inputs) - _torch(model, inputs)).max() <= TOL


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x: x[:1], "takes 3 inputs"),
        (lambda x: [*x, x[0]], "takes 3 inputs"),
        (lambda x: [x[0], x[1][:, :3], x[2]], "'ref' must have 6 channels"),
        (lambda x: [x[0], x[1], x[2][:, :, :-1]], "must share batch and size"),
        (lambda x: [x[0].astype(np.float64), x[1], x[2]], "'under' must be float32, got float64"),
        (
            lambda x: [x[0], x[1], np.where(x[2] > 0.5, np.nan, x[2]).astype(np.float32)],
            "'over' contains NaN",
        ),
        (lambda x: [x[0][0], x[1], x[2]], r"must be \[N, C, H, W\]"),
        (lambda x: [torch.from_numpy(x[0]), x[1], x[2]], "must be a numpy array"),
        (lambda x: [v[:, :, :3] for v in x], "height 3 is too small"),
    ],
)
def test_bad_inputs_give_the_toolkits_error_before_onnxruntime(exports, make, message):
    _, _, folder = exports["hdr"]
    rt = open_runtime("onnxruntime", folder / "model.onnx")
    with pytest.raises(InputError, match=message) as info:
        rt.run(make(_inputs("hdr")))
    assert "onnxruntime" not in type(info.value).__module__


def test_static_model_rejects_other_sizes(tmp_path):
    model = _tiny("mff")
    export_model(model, tmp_path, static=(16, 20), verify=False)
    rt = open_runtime("onnxruntime", tmp_path / "model.onnx")
    assert rt.run(_inputs("mff", 16, 20, batch=2)).shape == (2, 3, 16, 20)
    with pytest.raises(InputError, match="fixed size 16x20"):
        rt.run(_inputs("mff", 16, 24))


def test_open_runtime_errors_are_backend_errors(exports, tmp_path):
    _, ckpt, folder = exports["hdr"]
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
    with pytest.raises(BackendError, match="not found"):
        open_runtime("onnxruntime", tmp_path / "nothing.onnx")
    with pytest.raises(BackendError, match="needs a PyTorch checkpoint"):
        open_runtime("torch", folder / "model.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(BackendError, match="junk.onnx is not a readable ONNX file"):
        open_runtime("onnxruntime", tmp_path / "junk.onnx")
    # MFF and MEF are one architecture: an MFF export serves --task mef.
    assert open_runtime("onnxruntime", _mff_folder(exports), task="mef").config.task == "mef"


def test_precision_comes_from_the_file(exports, tmp_path):
    """A file labelled int8 opens as int8 without being asked; asking for another precision fails."""
    import onnx

    _, _, folder = exports["hdr"]
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


def _mff_folder(exports) -> Path:
    return exports["mff"][2]


def test_register_backend_extends_open_runtime(exports):
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


# --------------------------------------------------------------------------- fuse CLI


def _png(path: Path, rgb01: np.ndarray) -> str:
    cv2.imwrite(str(path), np.round(rgb01[:, :, ::-1] * 255).astype(np.uint8))
    return str(path)


@pytest.mark.parametrize("task", TASKS)
def test_fuse_with_onnxruntime_matches_pytorch_for_every_task(exports, task, tmp_path):
    from mgdn_edge.core.imageio import from_nchw
    from mgdn_edge.model.tasks import prepare_inputs

    model, _, folder = exports[task]
    rng = np.random.default_rng(11)
    h, w = 22, 30
    if task == "gdsr":
        depth = tmp_path / "depth.npy"
        np.save(depth, rng.random((h // 2, w // 2)).astype(np.float32) * 5 + 1)
        files = [_png(tmp_path / "rgb.png", rng.random((h, w, 3))), str(depth)]
    else:
        n = 3 if task == "hdr" else 2
        files = [_png(tmp_path / f"in{i}.png", rng.random((h, w, 3))) for i in range(n)]
    extra = ["--exposures", "0", "2", "4"] if task == "hdr" else []
    out = tmp_path / ("out.npy" if task == "gdsr" else "out.png")
    raw = tmp_path / "raw.npy"
    argv = ["fuse", "--task", task, "--model", str(folder / "model.onnx"), "--runtime", "onnxruntime"]
    assert main([*argv, *files, *extra, "-o", str(out), "--raw", str(raw)]) == 0
    assert out.is_file()
    prepared = prepare_inputs(task, files, [0.0, 2.0, 4.0] if task == "hdr" else None)
    expected = from_nchw(_torch(model, prepared.inputs))
    got = np.load(raw)
    assert got.shape == expected.shape == (h, w, model.config.io.output_channels)
    assert np.abs(got - expected).max() <= TOL


def test_auto_runtime_follows_the_model_file(exports, tmp_path):
    _, ckpt, folder = exports["hdr"]
    assert open_runtime("auto", ckpt).name == "torch"
    assert open_runtime("auto", folder / "model.onnx").name == "onnxruntime"
    assert open_runtime("auto", folder).name == "onnxruntime"
    with pytest.raises(BackendError, match="cannot tell which runtime runs 'm.tflite'"):
        open_runtime("auto", tmp_path / "m.tflite")
