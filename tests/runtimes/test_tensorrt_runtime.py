"""TensorRT engine building and runtime.

CPU part (always runs): which ONNX file and which TensorRT mode each precision gets, profile
validation, the errors for a missing ``tensorrt`` package / plugin library / bad engine file, and
the atomic engine + sidecar write. GPU part (marked ``gpu``, skipped without TensorRT): build
engines from an MFF export and compare them with the authors' PyTorch output on the fixtures.
No stand-in TensorRT module is used anywhere: without TensorRT those tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.export.artefacts import (
    FP16_ONNX,
    INT8_ONNX,
    METADATA_CONFIG_KEY,
    METADATA_PRECISION_KEY,
    sha256_file,
)
from mgdn_edge.model import preset
from mgdn_edge.runtimes.tensorrt_build import build_engine
from mgdn_edge.runtimes.tensorrt_engine_file import (
    EngineBuildError,
    EngineSidecar,
    check_engine_matches,
    engine_mismatches,
    read_sidecar,
    sidecar_path,
    write_engine,
)
from mgdn_edge.runtimes.tensorrt_plan import ShapeProfile, make_profile, min_valid_size, plan_build
from mgdn_edge.runtimes.tensorrt_runtime import TensorRTRuntime, check_profile

MFF_DIR = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "official-mff"
CONFIG = preset("mff")


def _onnx_file(path: Path, precision: str | None = None, qdq: bool = False) -> Path:
    """A tiny but real ONNX file with the metadata (and Q/DQ nodes) the planner looks at."""
    if qdq:
        scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
        zero = helper.make_tensor("z", TensorProto.INT8, [], [0])
        nodes = [
            helper.make_node("QuantizeLinear", ["a", "s", "z"], ["q"]),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["output"]),
        ]
        inits = [scale, zero]
    else:
        nodes, inits = [helper.make_node("Identity", ["a"], ["output"])], []
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    props = {METADATA_CONFIG_KEY: json.dumps(CONFIG.to_dict())}
    if precision:
        props[METADATA_PRECISION_KEY] = precision
    helper.set_model_props(model, props)
    onnx.save(model, path)
    return path


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    _onnx_file(tmp_path / "model.onnx")
    _onnx_file(tmp_path / FP16_ONNX, "fp16")
    _onnx_file(tmp_path / INT8_ONNX, "int8", qdq=True)
    return tmp_path


# ------------------------------------------------------------------ precision -> graph and mode


@pytest.mark.parametrize(
    ("precision", "major", "file", "strongly_typed", "flags"),
    [
        ("fp32", 10, "model.onnx", False, []),
        ("fp32", 11, "model.onnx", True, []),
        ("fp32", 8, "model.onnx", False, []),
        ("fp16", 10, FP16_ONNX, True, []),
        ("fp16", 11, FP16_ONNX, True, []),
        ("fp16", 8, "model.onnx", False, ["FP16", "PREFER_PRECISION_CONSTRAINTS"]),
        ("int8", 10, INT8_ONNX, True, []),
        ("int8", 8, INT8_ONNX, False, ["INT8", "FP16"]),
    ],
)
def test_plan_picks_graph_and_mode(
    export_dir: Path, precision: str, major: int, file: str, strongly_typed: bool, flags: list[str]
) -> None:
    plan = plan_build(export_dir, precision, major)
    assert plan.onnx_path == export_dir / file
    assert plan.strongly_typed is strongly_typed
    assert plan.builder_flags == flags
    if precision == "fp16" and major == 8:
        assert plan.fp32_layer_types == ["NORMALIZATION", "REDUCE"]


def test_plan_refuses_implicit_int8_and_mismatched_files(export_dir: Path) -> None:
    with pytest.raises(BackendError, match="Q/DQ|QuantizeLinear"):
        plan_build(export_dir / "model.onnx", "int8", 10)
    with pytest.raises(BackendError, match="strongly typed.*model.fp16.onnx"):
        plan_build(export_dir / "model.onnx", "fp16", 11)
    with pytest.raises(BackendError, match="fp32 engine"):
        plan_build(export_dir / FP16_ONNX, "fp32", 10)
    with pytest.raises(BackendError, match="precision int8"):
        plan_build(export_dir / INT8_ONNX, "fp16", 10)
    with pytest.raises(BackendError, match="bf16"):
        plan_build(export_dir, "bf16", 10)
    # An fp32 file given explicitly to TRT 10 for fp16: weakly typed, FP16 flag, norms pinned.
    plan = plan_build(export_dir / "model.onnx", "fp16", 10)
    assert plan.builder_flags[0] == "FP16" and not plan.strongly_typed


def test_plan_names_missing_files(tmp_path: Path) -> None:
    _onnx_file(tmp_path / "model.onnx")
    with pytest.raises(BackendError, match=r"model\.fp16\.onnx not found.*--no-fp16"):
        plan_build(tmp_path, "fp16", 10)
    with pytest.raises(BackendError, match=r"model\.int8\.onnx not found.*quantize"):
        plan_build(tmp_path, "int8", 10)
    with pytest.raises(BackendError, match="model file not found"):
        plan_build(tmp_path / "nope.onnx", "fp32", 10)
    (tmp_path / "m.xml").write_text("<xml/>")
    with pytest.raises(BackendError, match="not an .onnx file"):
        plan_build(tmp_path / "m.xml", "fp32", 10)


# ------------------------------------------------------------------ profiles


def test_profile_defaults_and_validation() -> None:
    profile = make_profile(CONFIG)
    assert profile.opt_hw == (256, 256) and profile.max_hw == (1024, 1024)
    assert profile.shapes(3)[1] == (1, 3, 256, 256)
    # The default minimum is a size the PyTorch model really runs at, one smaller is not accepted.
    import torch

    from mgdn_edge.model import MGDN, validate_inputs

    h, w = min_valid_size(CONFIG)
    small = preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2])
    with torch.no_grad():
        out = MGDN(small).eval()(torch.rand(1, 3, h, w), torch.rand(1, 3, h, w))
    assert tuple(out.shape) == (1, 3, h, w)
    with pytest.raises(InputError):
        validate_inputs(CONFIG, [np.zeros((1, 3, h - 1, w - 1), np.float32)] * 2)
    # A narrow range moves the default opt inside it.
    assert make_profile(CONFIG, min_hw="64x64", max_hw="128x96").opt_hw == (128, 96)
    with pytest.raises(BackendError, match="min <= opt <= max"):
        make_profile(CONFIG, min_hw="64x64", opt_hw="32x64")
    with pytest.raises(BackendError, match="below the smallest"):
        make_profile(CONFIG, min_hw=f"{h - 1}x{w}")
    with pytest.raises(InputError, match="--max must be HxW"):  # the one Size parser's error
        make_profile(CONFIG, max_hw="big")
    with pytest.raises(BackendError, match="fixed 96x96"):
        make_profile(CONFIG, static=(96, 96), max_hw="128x128")
    assert make_profile(CONFIG, static=(96, 96), max_batch=4).to_dict() == {
        "min": [1, 96, 96],
        "opt": [1, 96, 96],
        "max": [4, 96, 96],
    }
    with pytest.raises(BackendError, match="batch"):
        make_profile(CONFIG, max_batch=0)


def test_check_profile_names_the_axis() -> None:
    profile = ShapeProfile((16, 16), (64, 64), (128, 96), 1, 1, 2)
    assert ShapeProfile.from_dict(profile.to_dict()) == profile
    check_profile((2, 3, 128, 96), profile, "a")
    with pytest.raises(InputError, match="width 97, outside the engine's profile 16..96"):
        check_profile((1, 3, 64, 97), profile, "a")
    with pytest.raises(InputError, match="batch 3"):
        check_profile((3, 3, 64, 64), profile, "b")


# ------------------------------------------------------------------ clear errors without TensorRT


def test_missing_tensorrt_names_the_package(export_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` fail
    plugin = tmp_path / "libmgdn_trt.so"
    plugin.write_bytes(b"\x7fELF")  # only its existence is checked before TensorRT is needed
    with pytest.raises(BackendError, match="pip install tensorrt"):
        build_engine(export_dir, tmp_path / "m.engine", plugin=plugin)
    assert not (tmp_path / "m.engine").exists()

    from mgdn_edge.cli import main

    code = main(
        ["build-engine", "--model", str(export_dir), "--out", str(tmp_path / "m.engine"), "--no-plugin"]
    )
    assert code == 2


def test_missing_plugin_library_is_named(export_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "libmgdn_trt.so"
    with pytest.raises(
        BackendError, match=r"plugin library not found: .*nowhere/libmgdn_trt\.so.*build-plugins"
    ):
        build_engine(export_dir, tmp_path / "m.engine", plugin=missing)


def test_runtime_rejects_bad_engine_paths(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="engine file not found"):
        TensorRTRuntime(tmp_path / "x.engine")
    with pytest.raises(BackendError, match="build-engine"):
        TensorRTRuntime(tmp_path)
    onnx_file = _onnx_file(tmp_path / "model.onnx")
    with pytest.raises(BackendError, match="not a TensorRT engine"):
        TensorRTRuntime(onnx_file)
    with pytest.raises(BackendError, match="threads"):
        TensorRTRuntime(tmp_path / "x.engine", threads=2)
    # An engine with no sidecar and no manifest: its config is unknown.
    bare = tmp_path / "bare.engine"
    bare.write_bytes(b"x")
    with pytest.raises(BackendError, match="no sidecar"):
        TensorRTRuntime(bare)


def test_runtime_checks_precision_and_task_from_sidecar(tmp_path: Path) -> None:
    engine = write_engine(
        tmp_path / "m.engine", b"engine", EngineSidecar(precision="fp16", config=CONFIG.to_dict())
    )
    with pytest.raises(BackendError, match="built as fp16"):
        TensorRTRuntime(engine, precision="fp32")
    with pytest.raises(BackendError, match="not usable for task 'hdr'"):
        TensorRTRuntime(engine, task="hdr")


# ------------------------------------------------------------------ engine vs running TensorRT/GPU/plugin

BUILT_FIELDS = {"tensorrt_version": "10.3.0.30", "device": "NVIDIA Orin (sm_87)",
                "plugin": "/p/libmgdn_trt.so", "plugin_sha256": "a" * 64}  # fmt: skip
BUILT = EngineSidecar.from_json(BUILT_FIELDS, "m.engine.json")


def test_engine_mismatches_compare_tensorrt_gpu_and_plugin() -> None:
    same = {k: BUILT_FIELDS[k] for k in ("tensorrt_version", "device", "plugin_sha256")}
    assert engine_mismatches(BUILT, same) == []
    assert engine_mismatches(BUILT, same | {"tensorrt_version": "10.7.0.23"}) == [
        "TensorRT 10.3.0.30 (running: 10.7.0.23)"
    ]
    # one release, spelled by the pip wheel (10.3.0) and by JetPack / the native runner (10.3.0.30)
    assert engine_mismatches(BUILT, same | {"tensorrt_version": "10.3.0"}) == []
    newer = engine_mismatches(BUILT, same | {"tensorrt_version": "10.3.1"})
    assert newer == ["TensorRT 10.3.0.30 (running: 10.3.1)"]
    assert engine_mismatches(BUILT, same | {"device": "NVIDIA H200 (sm_90)"}) == [
        "GPU NVIDIA Orin (sm_87) (running: NVIDIA H200 (sm_90))"
    ]
    assert engine_mismatches(BUILT, same | {"plugin_sha256": "b" * 64}) == [
        f"plugin library sha256 {'a' * 12} (running: {'b' * 12})"
    ]
    # Unknown on either side (an older sidecar, no GPU name): not compared, not guessed.
    older = EngineSidecar.from_json({"tensorrt_version": "10.3.0.30"}, "m.engine.json")
    assert engine_mismatches(older, same | {"device": None}) == []
    # Built without the plugin: the plugin's bytes do not matter.
    without = EngineSidecar.from_json(BUILT_FIELDS | {"plugin": None}, "m.engine.json")
    assert engine_mismatches(without, same | {"plugin_sha256": "b" * 64}) == []
    # A sidecar that does not say which plugin (older): its recorded sha256 is still compared.
    unnamed = EngineSidecar.from_json({"plugin_sha256": "a" * 64}, "m.engine.json")
    assert engine_mismatches(unnamed, same | {"plugin_sha256": "b" * 64}) != []
    assert engine_mismatches(None, same) == []


def test_check_engine_matches_is_one_line(tmp_path: Path) -> None:
    running = {"tensorrt_version": "10.7.0.23", "device": "NVIDIA Orin (sm_87)", "plugin_sha256": "c" * 64}
    with pytest.raises(BackendError) as info:
        check_engine_matches(tmp_path / "m.engine", BUILT, running)
    message = str(info.value)
    assert "\n" not in message and message.startswith("m.engine was built with TensorRT 10.3.0.30")
    assert "plugin library sha256" in message and "mgdn-edge build-engine" in message
    check_engine_matches(tmp_path / "m.engine", BUILT, running | {"tensorrt_version": "10.3.0.30",
                                                                  "plugin_sha256": "a" * 64})  # fmt: skip


# ------------------------------------------------------------------ atomic engine + sidecar


def test_write_engine_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.engine"
    write_engine(path, b"first", EngineSidecar(precision="fp32"))
    assert path.read_bytes() == b"first"
    assert read_sidecar(path) == EngineSidecar(precision="fp32")
    assert sidecar_path(path).name == "m.engine.json"

    # A sidecar that cannot be serialised: the old engine and sidecar stay, nothing temporary is left.
    with pytest.raises(TypeError):
        write_engine(path, b"second", EngineSidecar(config={"bad": object()}))
    assert path.read_bytes() == b"first" and read_sidecar(path) == EngineSidecar(precision="fp32")
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.engine", "m.engine.json"]
    with pytest.raises(EngineBuildError, match="empty"):
        write_engine(path, b"", EngineSidecar())

    write_engine(path, b"second", EngineSidecar(precision="fp16"))
    assert path.read_bytes() == b"second" and read_sidecar(path).precision == "fp16"
    sidecar_path(path).write_text("{broken")
    with pytest.raises(BackendError, match="cannot read the engine sidecar"):
        read_sidecar(path)


def test_cli_workspace_and_suffix(tmp_path: Path) -> None:
    import argparse

    from mgdn_edge.cli import main
    from mgdn_edge.runtimes.engine_cli import _bytes

    assert _bytes("2G") == 2 << 30 and _bytes("512M") == 512 << 20 and _bytes("4096") == 4096
    with pytest.raises(argparse.ArgumentTypeError):
        _bytes("lots")
    assert main(["build-engine", "--model", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2


# ------------------------------------------------------------------ GPU + TensorRT

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def gpu_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(MFF export folder, plugin library), or a skip saying what is missing."""
    if not HAS_TRT:
        pytest.skip("tensorrt is not importable (pip install tensorrt); engine tests need it and a GPU")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    ckpt = MFF_DIR / "mff_62000_E.pth"
    if not ckpt.exists():
        pytest.skip(f"fixture not available: {ckpt}")
    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.plugins.tensorrt_plugin import build_tensorrt_plugin, find_tensorrt_plugin

    try:
        plugin = find_tensorrt_plugin()
    except BackendError:
        major, minor = torch.cuda.get_device_capability()
        plugin = build_tensorrt_plugin(cuda_archs=f"{major}{minor}")
    out = tmp_path_factory.mktemp("trt_mff")
    export_checkpoint(ckpt, out, task="mff", verify=False)
    return out, plugin


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_matches_pytorch_on_fixtures(gpu_export: tuple[Path, Path], precision: str) -> None:
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.budgets import budget_for
    from mgdn_edge.runtimes.parity import image_metrics, violations

    export, plugin = gpu_export
    engine = export / f"model.{precision}.engine"
    result = build_engine(
        export, engine, precision=precision, plugin=plugin, min_hw="32x32", max_hw="128x128"
    )
    assert result.plugin_layers == 4
    side = read_sidecar(engine)
    assert side.plugin_sha256 == sha256_file(plugin) and side.device.endswith(")")
    runtime = open_runtime("tensorrt", engine)
    assert runtime.describe()["precision"] == precision
    for crop in ("crop64", "crop96", "crop61x75"):
        data = np.load(MFF_DIR / f"mff_lytro01_{crop}.npz")
        out = runtime.run([data["A"], data["B"]])
        metrics = image_metrics(data["out"], out, "mff")
        assert violations(metrics, budget_for(precision), "mff") == [], (crop, metrics)
    with pytest.raises(InputError, match="outside the engine's profile"):
        runtime.run([np.zeros((1, 3, 256, 256), np.float32)] * 2)
    # The same engine whose sidecar says another TensorRT built it: refused before deserializing.
    older = replace(side, tensorrt_version="1.0.0")
    moved = write_engine(export / "other.engine", engine.read_bytes(), older)
    with pytest.raises(BackendError, match=r"built with TensorRT 1\.0\.0 \(running: "):
        open_runtime("tensorrt", moved)


# ------------------------------------------------------------------ TensorRT graphs and the parser lint


@pytest.mark.parametrize(
    ("precision", "major", "file"),
    [("fp32", 10, "model.trt.onnx"), ("fp16", 10, "model.trt.fp16.onnx"), ("fp16", 8, "model.trt.onnx"),
     ("int8", 10, "model.trt.int8.onnx"), ("int8", 8, "model.trt.int8.onnx")],
)  # fmt: skip
def test_plugin_builds_pick_the_tensorrt_graphs(
    tmp_path: Path, precision: str, major: int, file: str
) -> None:
    from mgdn_edge.export.artefacts import TRT_FP16_ONNX, TRT_INT8_ONNX, TRT_ONNX

    _onnx_file(tmp_path / TRT_ONNX)
    _onnx_file(tmp_path / TRT_FP16_ONNX, "fp16")
    _onnx_file(tmp_path / TRT_INT8_ONNX, "int8", qdq=True)
    assert plan_build(tmp_path, precision, major, plugin=True).onnx_path == tmp_path / file


def test_plugin_build_without_tensorrt_graph_says_how_to_get_it(export_dir: Path) -> None:
    with pytest.raises(BackendError, match=r"model\.trt\.onnx not found.*re-export"):
        plan_build(export_dir, "fp32", 10, plugin=True)
    with pytest.raises(BackendError, match=r"model\.trt\.int8\.onnx not found.*quantize"):
        plan_build(export_dir, "int8", 10, plugin=True)


def test_lint_before_parse_names_function_routing_on_10_3(tmp_path: Path) -> None:
    from mgdn_edge.export.dynamic_filter_onnx import standalone_model
    from mgdn_edge.export.trt_graph import tensorrt_graph
    from mgdn_edge.runtimes.tensorrt_build import lint_before_parse

    src = tmp_path / "model.onnx"
    onnx.save(standalone_model(kernel_size=3, channels=4), src)
    with pytest.raises(EngineBuildError, match="ONNX function instead of the plugin; build model.trt.onnx"):
        lint_before_parse(src, "10.3.0.30", plugin=True)
    lint_before_parse(src, "10.7.0.23", plugin=True)  # the registry is asked first from 10.7
    lint_before_parse(src, "10.3.0.30", plugin=False)  # without the plugin the function is the way
    trt = tmp_path / "model.trt.onnx"
    onnx.save(tensorrt_graph(onnx.load(src)), trt)
    for version in ("8.5.2.2", "10.3.0.30", "11.0.0"):
        lint_before_parse(trt, version, plugin=True)


def test_missing_plugin_layers_are_explained_apart(tmp_path: Path) -> None:
    """A function-carrying file on 9.0-10.6 -> 'used the node's ONNX function'; a function-free file
    -> 'the plugin library is for another TensorRT'."""
    from mgdn_edge.export.dynamic_filter_onnx import standalone_model
    from mgdn_edge.export.trt_graph import tensorrt_graph
    from mgdn_edge.runtimes.tensorrt_build import explain_missing_plugin_layers

    src, trt = tmp_path / "model.onnx", tmp_path / "model.trt.onnx"
    onnx.save(standalone_model(kernel_size=3, channels=4), src)
    onnx.save(tensorrt_graph(onnx.load(src)), trt)
    library = Path("libmgdn_trt.so")
    on_function = explain_missing_plugin_layers(src, "10.3.0.30", library, 1, 0)
    assert "the parser used the node's ONNX function" in on_function and "another TensorRT" not in on_function
    on_library = explain_missing_plugin_layers(trt, "10.3.0.30", library, 1, 0)
    assert "the plugin library is for another TensorRT" in on_library and "ONNX function" not in on_library
    # 8.x ignores local functions: a shortfall there is the library's.
    assert "another TensorRT" in explain_missing_plugin_layers(src, "8.6.2", library, 1, 0)
