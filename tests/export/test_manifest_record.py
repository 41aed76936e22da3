"""manifest.json as a typed record: files written before the record existed read and write back
byte for byte, a malformed field is one error naming the file and the field, older manifests
(fewer sections) still load, and the runtimes read config and static size from it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mgdn_edge.errors import BackendError
from mgdn_edge.export.manifest_record import Manifest, read_manifest_file, write_manifest_file
from mgdn_edge.runtimes.base import model_description

# manifest.json of a tiny MFF export (verified, with FP16 and TensorRT graphs), written by
# `mgdn-edge export` while the manifest was still a dict: the on-disk format the record must keep.
WRITTEN = Path(__file__).parent / "data" / "manifest_0.1.0.json"


def _write(folder: Path, data: dict) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_a_manifest_written_before_the_record_reads_and_writes_back_byte_for_byte(tmp_path):
    manifest = read_manifest_file(WRITTEN)
    assert manifest is not None
    out = write_manifest_file(tmp_path / "manifest.json", manifest)
    assert out.read_bytes() == WRITTEN.read_bytes()
    # the typed view holds what the file says, independently read here with json
    raw = json.loads(WRITTEN.read_text())
    assert manifest.task == raw["task"] == "mff" and manifest.opset == raw["opset"] == 17
    assert manifest.sha256_of("model.onnx") == raw["files"]["model.onnx"]["sha256"]
    assert manifest.sha256_of("model.int8.onnx") is None  # not listed: not checked
    assert manifest.static_size is None
    assert manifest.fp16 is not None and manifest.fp16.nodes == raw["fp16"]["nodes"]
    assert manifest.tensorrt is not None and list(manifest.tensorrt.files) == raw["tensorrt"]["files"]
    assert manifest.outputs[0].range == (0.0, 1.0) and manifest.inputs[0].range is None
    assert manifest.source_checkpoint is not None
    assert manifest.source_checkpoint.sha256 == raw["source_checkpoint"]["sha256"]


def test_a_fresh_export_round_trips(tiny_mff_export):
    """verify=False, fp16=False: the null sections are written as null again, not left out."""
    path = tiny_mff_export / "manifest.json"
    manifest = read_manifest_file(path)
    assert manifest is not None and manifest.fp16 is None and manifest.verification_max_abs is None
    assert json.dumps(manifest.to_json(), indent=2) + "\n" == path.read_text()


def test_an_older_manifest_without_the_later_sections_loads(tmp_path):
    data = json.loads(WRITTEN.read_text())
    for key in ("largest_tensor", "fp16", "tensorrt"):
        del data[key]
    for key in ("plugin_namespace", "plugin_version"):
        del data["custom_op"][key]
    manifest = Manifest.from_json(data, "old/manifest.json")
    assert manifest.tensorrt is None and manifest.custom_op.plugin_version is None
    assert manifest.to_json()["tensorrt"] is None


def test_a_static_export_says_its_size(tmp_path):
    data = json.loads(WRITTEN.read_text())
    data["dynamic_axes"] |= {"height": False, "width": False}
    for spec in data["inputs"] + data["outputs"]:
        spec["shape"][2:] = [48, 64]
    assert Manifest.from_json(data, "m.json").static_size == (48, 64)


def _broken(change) -> dict:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(json.loads(WRITTEN.read_text()))
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: d["files"]["model.onnx"].update(sha256=5), "files.model.onnx.sha256", "must be a string"),
        (lambda d: d.pop("config"), "config", "is missing"),
        (lambda d: d.update(inputs={"a": 1}), "inputs", "must be a list"),
        (lambda d: d["dynamic_axes"].update(height="yes"), "dynamic_axes.height", "must be true or false"),
        (
            lambda d: d["inputs"][1]["shape"].__setitem__(1, 3.5),
            "inputs[1].shape[1]",
            "must be an integer or a string, got 3.5",
        ),
        (lambda d: d["outputs"][0].update(range=[0.0]), "outputs[0].range", "must be a list of 2"),
        (lambda d: d.update(source_checkpoint={"path": "x"}), "source_checkpoint.sha256", "is missing"),
        (lambda d: d.update(opset=True), "opset", "must be an integer, got true"),
    ],
)
def test_a_malformed_field_is_one_error_naming_file_and_field(tmp_path, change, field, problem):
    path = _write(tmp_path, _broken(change))
    with pytest.raises(BackendError) as caught:
        read_manifest_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: field {field!r} {problem}"), message
    assert message.endswith("re-export with `mgdn-edge export`") and "\n" not in message


def test_a_file_that_is_not_a_json_object_is_named(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(BackendError, match=r"cannot read the export manifest .*: it is not a JSON object"):
        read_manifest_file(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text('{"manifest_version": 1,')
    with pytest.raises(BackendError, match="it is not a JSON object"):
        read_manifest_file(tmp_path / "manifest.json")
    assert read_manifest_file(tmp_path / "absent.json") is None


def test_the_runtime_reads_config_and_static_size_from_the_record(tmp_path):
    data = json.loads(WRITTEN.read_text())
    data["dynamic_axes"] |= {"height": False, "width": False}
    data["inputs"][0]["shape"][2:] = [40, 56]
    data["files"] = {}  # nothing listed: the model file beside it is not checked
    _write(tmp_path, data)
    (tmp_path / "model.onnx").write_bytes(b"not read")
    config, static = model_description(tmp_path / "model.onnx", {}, "mef")
    assert (config.task, config.embed_dim, config.depths, static) == ("mef", 12, (1,), (40, 56))
