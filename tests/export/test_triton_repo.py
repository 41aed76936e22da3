"""`mgdn-edge export --serving triton`: a Triton model repository whose config.pbtxt parses against
Triton's own model_config schema (tritonclient's model_config_pb2, a dev dependency) and names
the inputs, outputs and custom-op library of the exported file."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from mgdn_edge.cli import main
from mgdn_edge.core.errors import InputError
from mgdn_edge.export.triton_repo import DEFAULT_OP_LIBRARY, triton_config, write_triton_repository


def parse_config(text: str) -> object:
    """config.pbtxt parsed strictly (unknown fields and enum values fail) by Triton's schema."""
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from google.protobuf import text_format

    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_export_writes_a_repository_triton_can_parse(tiny_mff: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    lib = "/srv/triton/lib/libmgdn_ort.so"
    args = ["export", "--task", "mff", "--model", str(tiny_mff), "--out", str(tmp_path / "export")]
    assert main([*args, "--no-verify", "--no-fp16", "--serving", "triton", "--repository", str(repo),
                 "--op-library", lib]) == 0  # fmt: skip
    folder = repo / "mgdn_mff"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "1",
        "1/model.onnx",
        "config.pbtxt",
    ]
    assert (folder / "1" / "model.onnx").read_bytes() == (tmp_path / "export" / "model.onnx").read_bytes()
    config = parse_config((folder / "config.pbtxt").read_text())
    assert (
        config.name == "mgdn_mff"
        and config.platform == "onnxruntime_onnx"
        and config.backend == "onnxruntime"
    )
    assert config.max_batch_size == 0
    assert config.model_operations.op_library_filename == [lib]
    model = onnx.load(folder / "1" / "model.onnx")
    want = [(i.name, [d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim])
            for i in model.graph.input]  # fmt: skip
    assert (
        [(i.name, list(i.dims)) for i in config.input]
        == want
        == [("a", [-1, 3, -1, -1]), ("b", [-1, 3, -1, -1])]
    )
    assert [(o.name, list(o.dims)) for o in config.output] == [("output", [-1, 3, -1, -1])]
    type_name = type(config).DESCRIPTOR.fields_by_name["input"].message_type.fields_by_name["data_type"]
    assert {
        type_name.enum_type.values_by_number[t.data_type].name for t in [*config.input, *config.output]
    } == {"TYPE_FP32"}


def test_default_library_is_the_documented_placeholder_and_rewrite_replaces_the_model(
    tiny_mff: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "export",
        "--task",
        "mff",
        "--model",
        str(tiny_mff),
        "--out",
        str(tmp_path / "export"),
        "--no-verify",
    ]
    repo = tmp_path / "repo"
    (repo / "other_model").mkdir(parents=True)  # a repository holds other models: left alone
    for _ in range(2):
        assert (
            main([*args, "--no-fp16", "--serving", "triton", "--repository", str(repo), "--model-name", "m"])
            == 0
        )
    out = capsys.readouterr().out
    assert f"note: {DEFAULT_OP_LIBRARY} is a placeholder" in out
    config = parse_config((repo / "m" / "config.pbtxt").read_text())
    assert config.model_operations.op_library_filename == [DEFAULT_OP_LIBRARY]
    assert sorted(p.name for p in repo.iterdir()) == ["m", "other_model"]
    assert DEFAULT_OP_LIBRARY in (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--serving", "triton"], "--serving triton needs --repository"),
        (["--serving", "triton", "--repository", "R", "--op-library", "lib.so"], "absolute path"),
        (["--serving", "triton", "--repository", "R", "--model-name", "../x"], "Triton model name"),
        (["--repository", "R"], "go with --serving triton"),
    ],
)
def test_bad_serving_flags_are_one_line_errors_before_any_export(
    tiny_mff: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    out = tmp_path / "export"
    assert main(["export", "--task", "mff", "--model", str(tiny_mff), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_foreign_folder_under_the_model_name_is_refused(tmp_path: Path) -> None:
    model = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT16, ["n", 4])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT16, ["n", 4])],
        )
    )
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    (tmp_path / "repo" / "taken").mkdir(parents=True)
    (tmp_path / "repo" / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a Triton model folder"):
        write_triton_repository(src, tmp_path / "repo", "taken", DEFAULT_OP_LIBRARY)
    assert (tmp_path / "repo" / "taken" / "notes.txt").read_text() == "mine"
    config = parse_config(triton_config(model, "fp16", DEFAULT_OP_LIBRARY))
    assert [list(i.dims) for i in config.input] == [[-1, 4]]
    assert write_triton_repository(src, tmp_path / "repo", "fp16", DEFAULT_OP_LIBRARY).is_dir()
