"""What every runtime promises, checked once per backend on the same tiny exported networks.

Backends: ONNX Runtime and OpenVINO on the export, PyTorch on its checkpoint, TensorRT on an
engine built from it (skipped, with the reason, without TensorRT and a GPU). Each scenario holds
for all of them: the output equals PyTorch's, describe() says what runs, bad inputs are refused
by name before the backend sees them, a fixed-size export refuses other sizes, a missing model
file is one error naming it, and `fuse` on the backend matches PyTorch for every task.
Backend-specific rules (caches, precisions, INT8, options) stay in each backend's own tests.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from runtime_cases import TASKS, TOL, fuse_files, inputs, tiny, torch_output

from mgdn_edge.cli import main
from mgdn_edge.core.budgets import budget_for
from mgdn_edge.core.errors import BackendError, CheckpointError, InputError
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.parity import image_metrics, violations

BACKEND_NAMES = ("onnxruntime", "openvino", "torch", "tensorrt")


@dataclass
class Subject:
    """One backend with what it opens for each task of the shared tiny exports."""

    name: str
    models: dict[str, Path]  # task -> the file or folder open_runtime gets
    suffix: str  # the suffix of the model files it opens
    options: dict[str, object] = field(default_factory=dict)  # open_runtime keywords
    fuse: dict[str, tuple[str, Path]] = field(default_factory=dict)  # task -> (--runtime, --model)
    env: dict[str, str] = field(default_factory=dict)  # what its `fuse` needs in the environment
    static: Callable[[Path], Path] | None = None  # fixed-size export folder -> what it opens

    def open(self, task: str) -> object:
        return open_runtime(self.name, self.models[task], task=task, **self.options)

    def assert_close(self, expected: np.ndarray, got: np.ndarray, task: str) -> None:
        """Within TOL of PyTorch; TensorRT (TF32 tactics) within the FP32 budget instead."""
        if self.name == "tensorrt":
            assert violations(image_metrics(expected, got, task), budget_for("fp32"), task) == []
        else:
            assert np.abs(got - expected).max() <= TOL


def _onnxruntime(request, exports, tmp) -> Subject:
    models = {task: exports[task][2] / "model.onnx" for task in TASKS}
    fuse = {task: ("onnxruntime", models[task]) for task in TASKS}
    return Subject("onnxruntime", models, ".onnx", fuse=fuse, static=lambda folder: folder / "model.onnx")


def _openvino(request, exports, tmp) -> Subject:
    """The export folders; `fuse` takes MFF's folder and the other tasks' IR with --runtime auto."""
    pytest.importorskip("openvino")
    from mgdn_edge.runtimes.openvino.convert import convert_to_openvino

    extension = request.getfixturevalue("ov_extension")
    models = {task: exports[task][2] for task in TASKS}
    fuse = {"mff": ("openvino", models["mff"])}
    for task in TASKS[1:]:
        fuse[task] = ("auto", convert_to_openvino(models[task], tmp / f"{task}.xml", extension=extension))
    options = {"extension": extension}
    env = {"MGDN_OPENVINO_EXTENSION": str(extension)}
    return Subject("openvino", models, ".xml", options, fuse, env, static=lambda folder: folder)


def _torch(request, exports, tmp) -> Subject:
    models = {task: exports[task][1] for task in TASKS}
    return Subject("torch", models, ".pth", fuse={task: ("torch", models[task]) for task in TASKS})


def _tensorrt(request, exports, tmp) -> Subject:
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("tensorrt is not importable (pip install tensorrt); its runtime needs it and a GPU")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch: TensorRT engines run only there")
    from mgdn_edge.plugins.tensorrt_plugin import build_tensorrt_plugin
    from mgdn_edge.runtimes.tensorrt.build import build_engine

    major, minor = torch.cuda.get_device_capability()
    plugin = build_tensorrt_plugin(cuda_archs=f"{major}{minor}")
    models = {}
    for task in TASKS:
        models[task] = tmp / f"{task}.engine"
        build_engine(exports[task][2], models[task], plugin=plugin, min_hw="8x8", max_hw="64x64", max_batch=2)
    return Subject("tensorrt", models, ".engine", fuse={task: ("tensorrt", models[task]) for task in TASKS})


SUBJECTS = {"onnxruntime": _onnxruntime, "openvino": _openvino, "torch": _torch, "tensorrt": _tensorrt}


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def subject(request, tiny_exports, tmp_path_factory) -> Subject:
    return SUBJECTS[request.param](request, tiny_exports, tmp_path_factory.mktemp(request.param))


@pytest.mark.parametrize("task", TASKS)
def test_output_matches_pytorch(subject: Subject, tiny_exports, task: str) -> None:
    model = tiny_exports[task][0]
    arrays = inputs(task, batch=2)
    expected = torch_output(model, arrays)
    got = subject.open(task).run(arrays)
    assert got.dtype == np.float32 and got.shape == expected.shape
    subject.assert_close(expected, got, task)


def test_describe_says_what_runs(subject: Subject) -> None:
    info = subject.open("hdr").describe()
    assert {"runtime", "model", "task", "precision", "provider", "threads", "profiling"} <= set(info)
    assert info["runtime"] == subject.name and info["task"] == "hdr" and info["precision"] == "fp32"
    assert info[subject.name]  # the backend's own version


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
def test_bad_inputs_are_refused_by_name_before_the_backend(subject: Subject, make, message) -> None:
    runtime = subject.open("hdr")
    with pytest.raises(InputError, match=message) as info:
        runtime.run(make(inputs("hdr")))
    assert type(info.value).__module__ == "mgdn_edge.core.errors"


def test_fixed_size_export_refuses_other_sizes(subject: Subject, tmp_path: Path) -> None:
    if subject.static is None:
        pytest.skip(f"{subject.name} opens no fixed-size export (a checkpoint, an engine's own profile)")
    export_model(tiny("mff"), tmp_path, static=(16, 20), verify=False)
    runtime = open_runtime(subject.name, subject.static(tmp_path), **subject.options)
    assert runtime.run(inputs("mff", 16, 20, batch=2)).shape == (2, 3, 16, 20)
    with pytest.raises(InputError, match="fixed size 16x20"):
        runtime.run(inputs("mff", 16, 24))


def test_missing_model_file_is_one_error_naming_it(subject: Subject, tmp_path: Path) -> None:
    missing = tmp_path / f"nothing{subject.suffix}"
    with pytest.raises((BackendError, CheckpointError), match="not found") as info:
        open_runtime(subject.name, missing, **subject.options)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("task", TASKS)
def test_fuse_matches_pytorch_for_every_task(subject: Subject, tiny_exports, task, tmp_path, monkeypatch):
    from mgdn_edge.core.imageio import from_nchw
    from mgdn_edge.model.tasks import prepare_inputs

    for name, value in subject.env.items():
        monkeypatch.setenv(name, value)
    model = tiny_exports[task][0]
    files = fuse_files(task, tmp_path, 22, 30, seed=11)
    extra = ["--exposures", "0", "2", "4"] if task == "hdr" else []
    out, raw = tmp_path / ("out.npy" if task == "gdsr" else "out.png"), tmp_path / "raw.npy"
    runtime, model_path = subject.fuse[task]
    argv = ["fuse", "--task", task, "--model", str(model_path), "--runtime", runtime, *files, *extra]
    assert main([*argv, "-o", str(out), "--raw", str(raw)]) == 0
    assert out.is_file()
    prepared = prepare_inputs(task, files, [0.0, 2.0, 4.0] if task == "hdr" else None)
    expected = from_nchw(torch_output(model, prepared.inputs))
    got = np.load(raw)
    assert got.shape == expected.shape == (22, 30, model.config.io.output_channels)
    subject.assert_close(expected, got, task)
