"""The TensorRT engine sidecar as a typed record: build-engine's layout round-trips byte for byte,
older sidecars with fewer fields load (and keep "which plugin: unknown" apart from "no plugin"),
and a malformed field is one error naming the file and the field. No TensorRT needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgdn_edge.errors import BackendError
from mgdn_edge.runtimes.tensorrt_engine_file import EngineSidecar, read_sidecar, sidecar_path, write_engine
from mgdn_edge.runtimes.tensorrt_plan import ShapeProfile

# What build_engine wrote for an FP16 MFF engine, key for key and in its order.
WRITTEN = {
    "format": "mgdn-edge tensorrt engine",
    "tensorrt_version": "10.3.0",
    "device": "NVIDIA H100 80GB HBM3 (sm_90)",
    "precision": "fp16",
    "strongly_typed": False,
    "builder_flags": ["FP16"],
    "fp32_pinned_layers": 6,
    "keep_float": [],
    "extra_outputs": [],
    "profile": {"min": [1, 32, 32], "opt": [1, 256, 256], "max": [2, 1024, 1024]},
    "inputs": ["a", "b"],
    "plugin": "/cache/mgdn-edge/tensorrt/libmgdn_trt.so",
    "plugin_sha256": "ab" * 32,
    "plugin_layers": 4,
    "onnx": "/work/export/model.trt.fp16.onnx",
    "onnx_sha256": "cd" * 32,
    "config": {"task": "mff", "embed_dim": 30, "depths": [3, 3], "mlp_ratio": 2.0, "name": "mff"},
    "static_size": None,
    "workspace": 2147483648,
    "build_seconds": 41.5,
}


def _engine(folder: Path, sidecar: dict | str) -> Path:
    engine = folder / "model.engine"
    engine.write_bytes(b"engine")
    text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar, indent=2) + "\n"
    sidecar_path(engine).write_text(text)
    return engine


def test_build_engines_sidecar_round_trips_byte_for_byte(tmp_path):
    engine = _engine(tmp_path, WRITTEN)
    side = read_sidecar(engine)
    assert side is not None and side.profile == ShapeProfile((32, 32), (256, 256), (1024, 1024), 1, 1, 2)
    assert (side.precision, side.plugin_layers, side.inputs) == ("fp16", 4, ("a", "b"))
    assert not side.built_without_plugin
    text = sidecar_path(engine).read_text()
    write_engine(tmp_path / "again.engine", b"engine", side)
    assert sidecar_path(tmp_path / "again.engine").read_text() == text
    # made in code, every field is written: the same layout as the file
    assert list(EngineSidecar(**{k: None for k in WRITTEN}).to_json()) == list(WRITTEN)


def test_an_older_sidecar_keeps_unknown_apart_from_no_plugin(tmp_path):
    older = read_sidecar(_engine(tmp_path, {"precision": "fp32", "config": {"task": "mff"}}))
    assert older is not None and older.plugin is None and not older.built_without_plugin
    assert older.to_json() == {"precision": "fp32", "config": {"task": "mff"}}
    without = EngineSidecar.from_json({"precision": "fp32", "plugin": None}, "m.engine.json")
    assert without.built_without_plugin and without.to_json() == {"precision": "fp32", "plugin": None}
    assert read_sidecar(tmp_path / "none.engine") is None


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("precision", 16, "must be a string, got 16"),
        ("profile", {"min": [1, 8]}, "must be a valid ShapeProfile"),
        ("static_size", [64], "must be a list of 2, got [64]"),
        ("inputs", ["a", 2], "must be a string, got 2"),
        ("plugin_layers", "4", 'must be an integer, got "4"'),
    ],
)
def test_a_malformed_field_is_named_with_the_file(tmp_path, field, value, problem):
    engine = _engine(tmp_path, {**WRITTEN, field: value})
    with pytest.raises(BackendError) as caught:
        read_sidecar(engine)
    where = f"{field}[1]" if field == "inputs" else field
    assert str(caught.value).startswith(f"{sidecar_path(engine)}: field {where!r} {problem}")
    assert str(caught.value).endswith("rebuild the engine with `mgdn-edge build-engine`")


@pytest.mark.parametrize("text", ["[]", json.dumps(WRITTEN)[:40]])
def test_a_truncated_sidecar_reads_as_the_native_runner_says(tmp_path, text):
    """Same words as runtimes/native/src/tensorrt_sidecar.cpp for a file that is no JSON object."""
    engine = _engine(tmp_path, text)
    with pytest.raises(BackendError) as caught:
        read_sidecar(engine)
    expected = f"cannot read the engine sidecar {sidecar_path(engine)}: it is not a JSON object (truncated?)"
    assert str(caught.value) == expected
