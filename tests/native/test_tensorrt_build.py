"""The native runner's TensorRT backend on the CPU fake of TensorRT (see tensorrt_fake.py): an
engine built on the device from model.trt.onnx (fake builder and ONNX parser), mgdn-fuse
--runtime tensorrt, the C API example of docs/jetson.md, and the shipped CUDA configuration.
Missing headers, cmake, a C++ compiler or OpenCV's headers skip with the reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorrt_fake as tf
from example_app import compile_example

from mgdn_edge.runtimes.tensorrt.engine_file import check_engine_matches, read_sidecar


@pytest.fixture(params=tf.header_sets(), ids=[v for v, _ in tf.header_sets()])
def fake(request: pytest.FixtureRequest) -> dict:
    version, include = request.param
    return tf.build_fake(request.config.cache, version, include)


@pytest.fixture
def fake_cli(request: pytest.FixtureRequest) -> dict:
    """The fake build that has mgdn-fuse."""
    built = tf.build_fake(
        request.config.cache, tf.CLI_VERSION, tf.SHARED_HEADERS / tf.CLI_VERSION / "include"
    )
    if built["runner"] is None:
        pytest.skip("mgdn-fuse needs OpenCV's C++ headers (apt install libopencv-dev)")
    return built


# --------------------------------------------------------------------------------------------
# mgdn-fuse --runtime tensorrt


def test_mgdn_fuse_runs_an_engine(fake_cli: dict, tmp_path: Path) -> None:
    """Image files through mgdn-fuse on the fake engine: --raw equals the closed form of the
    inputs as mgdn_edge.model.tasks.prepare_inputs builds them."""
    from mgdn_edge.model.tasks import prepare_inputs

    files = tf.pngs(tmp_path)
    model = tf.make_engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=tf.sidecar("mff"))
    raw = tmp_path / "raw.npy"
    # --runtime auto picks TensorRT for an .engine; --plugin takes the folder holding the library too.
    flags = ["--task", "mff", "--model", str(model), "--plugin", str(fake_cli["plugin"]), "--raw", str(raw)]
    proc = tf.fuse(fake_cli, *flags, *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {raw} (16x24, runtime tensorrt)"
    a, b = prepare_inputs("mff", files).inputs
    expected = tf.closed_form(0.125, 3, (-0.25, a), (0.5, b))[0].transpose(1, 2, 0)
    np.testing.assert_allclose(np.load(raw), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--runtime", "trt", "--extension", "x.so"),
            "error: --extension is OpenVINO's; the TensorRT plugin",
        ),
        (("--runtime", "openvino", "--plugin", "x.so"), "error: --plugin is TensorRT's (--runtime tensorrt)"),
        (
            ("--runtime", "cuda"),
            "error: --runtime cuda: the native runner runs openvino (ov) or tensorrt (trt)",
        ),
        (
            ("--plugin", "/nowhere/lib.so"),
            "error: TensorRT plugin library not found: /nowhere/lib.so; build it",
        ),
    ],
)
def test_mgdn_fuse_runtime_flags(fake_cli: dict, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=tf.sidecar())
    raw = tmp_path / "r.npy"
    proc = tf.fuse(
        fake_cli, "--task", "mff", "--model", str(model), "--raw", str(raw), *args, *tf.pngs(tmp_path)
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------------------------
# An engine built on the device from model.trt.onnx (fake builder + parser)


@pytest.fixture
def fake_parser(fake: dict) -> dict:
    if not fake["parser"]:
        # the library without a parser is checked by test_onnx_without_metadata_or_parser
        pytest.skip(f"the TensorRT {fake['version']} headers here have no NvOnnxParser.h")
    return fake


def test_engine_built_beside_the_onnx(fake_parser: dict, tmp_path: Path) -> None:
    """Plugin registered, network parsed and built with the Python build's default profile; the
    engine runs, and its sidecar is one the Python runtime accepts."""
    from mgdn_edge.runtimes.tensorrt.plan import make_profile

    fake = fake_parser
    onnx_path = tf.make_onnx(tmp_path)
    a, b = tf.images(np.random.default_rng(7), 3, 3, h=16, w=24)
    result = tf.run(fake, onnx_path, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_OK", result["error"]
    np.testing.assert_allclose(
        result["array"], tf.closed_form(0.125, 3, (-0.25, a), (0.5, b)), rtol=1e-6, atol=1e-6
    )
    flags = 1 if fake["version"].startswith("8.") else 0  # explicit batch before TensorRT 10
    loaded = ["loadLibrary:libmgdn_fake_plugin.so"] if fake["load_library"] else []
    assert result["events"].split(";") == [
        "createInferRuntime",
        *loaded,
        "register:DynamicFilter",
        "createInferBuilder",
        f"createNetworkV2:flags={flags}",
        "parse",
        "build",
        "deserialize:ok",
        "enqueueV3",
    ]
    engine = tmp_path / "model.trt.engine"
    side = json.loads(Path(f"{engine}.json").read_text())
    assert side["profile"] == make_profile(tf.config()).to_dict()
    assert side["config"] == json.loads(json.dumps(tf.config().to_dict()))
    assert side["inputs"] == ["a", "b"] and side["static_size"] is None
    assert side["plugin"] == str(fake["plugin"].resolve()) and side["plugin_sha256"] == tf.sha(fake["plugin"])
    assert side["onnx"] == str(onnx_path.resolve()) and side["onnx_sha256"] == tf.sha(onnx_path)
    assert (side["precision"], side["plugin_layers"], side["device"]) == ("fp32", 1, tf.FAKE_GPU)
    # as TensorRT's Python package spells the release it runs (JetPack: 8.5.2.2), build number included
    assert side["tensorrt_version"] == f"{fake['running']}.{fake['build']}"
    running = {
        "tensorrt_version": side["tensorrt_version"],
        "device": tf.FAKE_GPU,
        "plugin_sha256": tf.sha(fake["plugin"]),
    }
    check_engine_matches(engine, read_sidecar(engine), running)  # the Python runtime reads and runs it
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []  # nothing half-written


def test_built_engine_is_reused_until_the_onnx_changes(fake_parser: dict, tmp_path: Path) -> None:
    fake = fake_parser
    onnx_path = tf.make_onnx(tmp_path)
    engine = tmp_path / "model.trt.engine"
    first = tf.run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert first["status"] == "MGDN_OK" and "build" in first["events"].split(";")
    stamp = engine.stat().st_mtime_ns
    again = tf.run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert again["status"] == "MGDN_OK" and "build" not in again["events"].split(";")
    assert engine.stat().st_mtime_ns == stamp
    tf.make_onnx(tmp_path, static="40x24")  # a new export in its place
    rebuilt = tf.run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert rebuilt["status"] == "MGDN_OK" and "build" in rebuilt["events"].split(";")
    assert json.loads(Path(f"{engine}.json").read_text())["onnx_sha256"] == tf.sha(onnx_path)


def test_static_export_builds_its_one_size(fake_parser: dict, tmp_path: Path) -> None:
    from mgdn_edge.runtimes.tensorrt.plan import make_profile

    onnx_path = tf.make_onnx(tmp_path, static="40x24")
    a, b = tf.images(np.random.default_rng(8), 3, 3, h=32, w=32)
    result = tf.run(fake_parser, onnx_path, "--plugin", str(fake_parser["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_E_INPUT"
    assert tf.one_line(result).startswith("this model was exported for a fixed size 40x24 (HxW), got 32x32")
    side = json.loads((tmp_path / "model.trt.engine.json").read_text())
    assert side["profile"] == make_profile(tf.config(), (40, 24)).to_dict() and side["static_size"] == [
        40,
        24,
    ]


def test_parser_without_the_plugin_is_one_line(fake_parser: dict, tmp_path: Path) -> None:
    onnx_path = tf.make_onnx(tmp_path)
    result = tf.run(fake_parser, onnx_path)
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result) == (
        "TensorRT's ONNX parser rejected model.trt.onnx: UNSUPPORTED_NODE: Plugin not found, are the plugin "
        "name, version, and namespace correct? (DynamicFilter) -- pass the plugin library built for this "
        "TensorRT (--plugin)"
    )
    assert not (tmp_path / "model.trt.engine").exists()


def test_fp16_graph_is_built_strongly_typed(fake_parser: dict, tmp_path: Path) -> None:
    fake = fake_parser
    onnx_path = tf.make_onnx(tmp_path, name="model.trt.fp16.onnx", plugin=False)
    result = tf.run(fake, onnx_path)
    if fake["version"].startswith("8."):
        assert result["status"] == "MGDN_E_ARGUMENT"
        assert "builds fp16/int8 engines with builder flags this runner does not set" in tf.one_line(result)
        return
    assert result["status"] == "MGDN_OK", result["error"]
    flags = 2 if fake["version"].startswith("10.") else 0  # 1 << kSTRONGLY_TYPED; TensorRT 11: always
    assert f"createNetworkV2:flags={flags}" in result["events"].split(";")
    side = json.loads((tmp_path / "model.trt.fp16.engine.json").read_text())
    assert (side["precision"], side["strongly_typed"], side["plugin"], side["plugin_layers"]) == (
        "fp16",
        True,
        None,
        0,
    )


# --------------------------------------------------------------------------------------------
# runtimes/native/examples/fuse_pair.cpp, the C API example docs/jetson.md shows


def test_example_app_compiles_and_fuses(fake_cli: dict, tmp_path: Path) -> None:
    """Built as the doc says (g++ against include/ and libmgdn_edge.so), run on a fake engine."""
    build = fake_cli["check"].parents[2]
    example = tmp_path / "fuse_pair"
    compile_example("g++", build, example)
    model = tf.make_engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=tf.sidecar("mff"))
    a, b = tf.images(np.random.default_rng(9), 3, 3, h=10, w=14)
    a.tofile(tmp_path / "a.bin")
    b.tofile(tmp_path / "b.bin")
    out = tmp_path / "out.bin"
    args = [
        "tensorrt",
        str(model),
        str(fake_cli["plugin"]),
        "10",
        "14",
        str(tmp_path / "a.bin"),
        str(tmp_path / "b.bin"),
        str(out),
    ]
    proc = subprocess.run([str(example), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fused 3x10x14 -> {out}"
    fused = np.fromfile(out, np.float32).reshape(1, 3, 10, 14)
    np.testing.assert_allclose(fused, tf.closed_form(0.125, 3, (-0.25, a), (0.5, b)), rtol=1e-6, atol=1e-6)
    args[3] = "12"  # the files hold 10 rows, not 12
    proc = subprocess.run([str(example), *args], capture_output=True, text=True, timeout=60)
    assert (
        proc.returncode == 2
        and proc.stderr == f"error: {tmp_path / 'a.bin'} is not 3 x 12 x 14 float32 values\n"
    )


def test_cuda_seam_links_and_reports_no_gpu(fake_cli: dict, request: pytest.FixtureRequest) -> None:
    """The shipped configuration (CUDA runtime seam, libnvinfer found by TENSORRT_LIBRARY_DIR) builds
    and links; with the fake libnvinfer standing in, on a machine without a GPU the example says so."""
    cudart = list(tf.CUDA_INCLUDE.parent.glob("lib*/libcudart.so"))
    if not cudart:
        pytest.skip(f"no libcudart.so under {tf.CUDA_INCLUDE.parent}")
    if Path("/dev/nvidiactl").exists():
        pytest.skip("a GPU is present: the fake libnvinfer cannot run on device memory")
    build = request.config.cache.mkdir("mgdn-native-trt-cuda-11.1")
    fake_libs = fake_cli["check"].parent
    options = [
        "-DMGDN_WITH_OPENVINO=OFF",
        "-DMGDN_WITH_TENSORRT=ON",
        "-DMGDN_BUILD_RUNNER=OFF",
        f"-DTENSORRT_INCLUDE_DIR={tf.SHARED_HEADERS / tf.CLI_VERSION / 'include'}",
        f"-DTENSORRT_LIBRARY_DIR={fake_libs}",
        f"-DCUDAToolkit_ROOT={tf.CUDA_INCLUDE.parent}",
    ]
    configured = tf.cmake(build, *options)
    assert configured.returncode == 0, configured.stderr[-3000:]
    assert "TensorRT 11.1.0" in configured.stdout and "FAKE" not in configured.stdout
    built = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    needed = subprocess.run(["readelf", "-d", str(build / "libmgdn_edge.so")], capture_output=True, text=True)
    assert "libcudart" in needed.stdout and "libnvinfer.so" in needed.stdout
    example = build / "fuse_pair"
    compile_example("g++", build, example, rpath=f"{build}:{fake_libs}")
    folder = build / "inputs"
    folder.mkdir(exist_ok=True)
    model = tf.make_engine(folder, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False)
    for name in ("a.bin", "b.bin"):
        np.zeros((1, 3, 8, 8), np.float32).tofile(folder / name)
    args = [
        "tensorrt",
        str(model),
        str(fake_cli["plugin"]),
        "8",
        "8",
        str(folder / "a.bin"),
        str(folder / "b.bin"),
        "o.bin",
    ]
    proc = subprocess.run([str(example), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "error: the TensorRT backend needs a CUDA GPU, and CUDA sees none\n"
