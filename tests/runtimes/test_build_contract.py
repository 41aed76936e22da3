"""Every builder a backend record names is a ``BuildRequest -> BuildResult`` function."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgdn_edge.runtimes.backends import BACKENDS, load_attribute
from mgdn_edge.runtimes.build_contract import BuildRequest, BuildResult

KINDS = ("convert", "quantize", "engine")
BUILDERS = [
    (backend.name, kind, builder)
    for backend in BACKENDS.values()
    for kind in KINDS
    if (builder := getattr(backend, kind)) is not None
]


@pytest.mark.parametrize(("backend", "kind", "builder"), BUILDERS, ids=lambda v: getattr(v, "name", v))
def test_every_builder_takes_one_request_and_returns_a_result(backend, kind, builder) -> None:
    pytest.importorskip("onnx")  # every builder module reads ONNX files
    function = load_attribute(builder.function)
    hints = inspect.get_annotations(function, eval_str=True)
    (param,) = inspect.signature(function).parameters
    assert hints[param] is BuildRequest and hints["return"] is BuildResult, (backend, kind)


def test_the_records_name_a_builder_of_each_kind() -> None:
    assert {(b, k) for b, k, _ in BUILDERS} >= {
        ("onnxruntime", "quantize"),
        ("openvino", "convert"),
        ("openvino", "quantize"),
        ("tensorrt", "engine"),
    }


@dataclass
class _Made:
    path: Path
    layers: dict[str, str]
    seconds: float


def test_result_info_is_the_details_as_json_types(tmp_path: Path) -> None:
    made = _Made(tmp_path / "model.int8.onnx", {"conv": "kept float"}, 1.5)
    result = BuildResult(made.path, "int8", 1.5, made)
    assert result.info() == {
        "path": str(tmp_path / "model.int8.onnx"),
        "layers": {"conv": "kept float"},
        "seconds": 1.5,
    }
    assert BuildResult(made.path, "int8", 1.5).info() == {}
    assert BuildResult(made.path, "fp32", 0.1, {"weights": "fp32"}).info() == {"weights": "fp32"}
