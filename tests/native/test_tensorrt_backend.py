"""The native runner's TensorRT backend, without TensorRT or a GPU: compile checks and the
runtime half (engines from `mgdn-edge build-engine`); the build half, mgdn-fuse and the C API
example are in test_tensorrt_build.py.

* Its sources compile against the TensorRT 10.3 and 11.1 headers in ../shared/third_party (and
  8.5 / 8.6 where $MGDN_TRT_EXTRA_HEADERS names them, e.g. fetched from NVIDIA's repository:
  ``8.5:/tmp/trt8.5/include,8.6:/tmp/trt8.6/include``; NvOnnxParser.h beside them enables the
  build-from-ONNX half), the CUDA seam included.
* Its host-side logic runs on the CPU: libmgdn_edge is built with those headers against
  runtimes/native/tests/trt_fake (a libnvinfer stand-in on host memory whose engines compute a
  closed form; see tensorrt_fake.py), and tests/trt_fake/trt_check drives the C API. Outputs are
  compared with that closed form computed here in numpy; sidecar messages with the Python
  runtime's own check_engine_matches; the plugin fingerprint with hashlib.

Missing headers, cmake or a C++ compiler skip with the reason.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorrt_fake as tf

from mgdn_edge.errors import BackendError
from mgdn_edge.runtimes.tensorrt_engine_file import check_engine_matches, read_sidecar


@pytest.mark.parametrize(("version", "include"), tf.header_sets(), ids=[v for v, _ in tf.header_sets()])
def test_sources_compile_against_headers(version: str, include: Path) -> None:
    """Every TensorRT source of the backend, as CI builds it for a device: -Wall -Wextra -Werror."""
    tf.require(include)
    parser = (include / "NvOnnxParser.h").is_file()
    sources = [
        "tensorrt_backend.cpp",
        "tensorrt_build.cpp",
        "tensorrt_common.cpp",
        "tensorrt_device_cuda.cpp",
        "tensorrt_sidecar.cpp",
    ]
    flags = ["-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-deprecated-declarations"]
    flags += ["-DMGDN_WITH_TENSORRT"] + (["-DMGDN_TRT_ONNX_PARSER"] if parser else [])
    flags += [f"-I{tf.NATIVE / 'include'}", "-isystem", str(include), "-isystem", str(tf.CUDA_INCLUDE)]
    for source in sources:
        proc = subprocess.run(
            ["g++", *flags, str(tf.NATIVE / "src" / source)], capture_output=True, text=True
        )
        assert proc.returncode == 0, f"{source} against TensorRT {version}:\n{proc.stderr[-3000:]}"


def test_cmake_needs_a_backend(tmp_path: Path) -> None:
    if shutil.which("cmake") is None:
        pytest.skip("needs cmake")
    proc = tf.cmake(
        tmp_path, "-DMGDN_WITH_OPENVINO=OFF", "-DMGDN_WITH_TENSORRT=OFF", "-DMGDN_BUILD_RUNNER=OFF"
    )
    assert proc.returncode != 0
    assert "needs at least one backend" in proc.stderr and "-DMGDN_WITH_TENSORRT=ON" in proc.stderr


# --------------------------------------------------------------------------------------------
# Fake engines and running them


def test_inputs_bound_by_name_in_task_order(fake: dict, tmp_path: Path) -> None:
    """The engine lists b before a; the caller passes (a, b): each lands on its own tensor."""
    model = tf.make_engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=tf.sidecar("mff"))
    a, b = tf.images(np.random.default_rng(0), 3, 3)
    result = tf.run(fake, model, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_OK", result["error"]
    assert result["task"] == "mff" and result["inputs"] == "3 3"
    expected = tf.closed_form(0.125, 3, (-0.25, a), (0.5, b))
    np.testing.assert_allclose(result["array"], expected, rtol=1e-6, atol=1e-6)


def test_channels_reported_in_task_order_and_batch_two(fake: dict, tmp_path: Path) -> None:
    """GDSR: the engine lists depth (1 channel) first; the C API reports rgb, depth = 3, 1."""
    model = tf.make_engine(
        tmp_path, [("depth", 1, 2.0), ("rgb", 3, 0.75)], out_channels=1, sidecar=tf.sidecar("gdsr")
    )
    rgb, depth = tf.images(np.random.default_rng(1), 3, 1, n=2, h=32, w=8)
    result = tf.run(fake, model, "--plugin", str(fake["plugin"]), arrays=[rgb, depth])
    assert result["status"] == "MGDN_OK", result["error"]
    assert result["inputs"] == "3 1" and result["output"] == "2 1 32 8"
    np.testing.assert_allclose(
        result["array"], tf.closed_form(0.125, 1, (0.75, rgb), (2.0, depth)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize(
    ("n", "h", "w", "message"),
    [
        (1, 40, 16, "input 'a' has height 40, outside the engine's profile 8..32"),
        (1, 16, 7, "input 'a' has width 7, outside the engine's profile 8..32"),
        (3, 16, 16, "input 'a' has batch 3, outside the engine's profile 1..2"),
    ],
)
def test_profile_mismatch_is_one_input_error(
    fake: dict, tmp_path: Path, n: int, h: int, w: int, message: str
) -> None:
    model = tf.make_engine(
        tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=tf.sidecar("mff", config={"task": "mff"})
    )
    a, b = tf.images(np.random.default_rng(2), 3, 3, n=n, h=h, w=w)
    result = tf.run(fake, model, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_E_INPUT"
    assert tf.one_line(result) == f"{message} (rebuild it with `mgdn-edge build-engine --min/--max`)"
    assert "enqueueV3" not in result["events"]


def test_plugin_registered_before_the_engine_is_deserialised(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=tf.sidecar())
    result = tf.run(fake, model, "--plugin", str(fake["plugin"]))
    assert result["status"] == "MGDN_OK", result["error"]
    events = result["events"].split(";")
    # TensorRT >= 8.6: IPluginRegistry::loadLibrary; 8.5: dlopen, and the library registers itself.
    loaded = ["loadLibrary:libmgdn_fake_plugin.so"] if fake["load_library"] else []
    assert events == ["createInferRuntime", *loaded, "register:DynamicFilter", "deserialize:ok"]


def test_plugin_recorded_in_the_sidecar_is_used(fake: dict, tmp_path: Path) -> None:
    sha = hashlib.sha256(fake["plugin"].read_bytes()).hexdigest()
    model = tf.make_engine(
        tmp_path,
        [("a", 3, 1.0), ("b", 3, 1.0)],
        sidecar=tf.sidecar(plugin=str(fake["plugin"]), plugin_sha256=sha),
    )
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_OK", result["error"]
    assert "register:DynamicFilter" in result["events"]


def test_missing_plugin_library_names_it(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=tf.sidecar())
    missing = tmp_path / "nowhere" / "libmgdn_trt.so"
    result = tf.run(fake, model, "--plugin", str(missing))
    assert result["status"] == "MGDN_E_FILE"
    assert tf.one_line(result) == (
        f"TensorRT plugin library not found: {missing}; build it with `mgdn-edge build-plugins --tensorrt`"
    )
    assert "deserialize" not in result["events"]


def test_engine_with_plugin_layers_needs_the_plugin(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)])  # no sidecar: nothing names a plugin
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    message = tf.one_line(result)
    assert message.startswith(
        f"TensorRT {fake['running']} cannot deserialize model.engine (built with an unknown"
    )
    assert "could not find plugin DynamicFilter" in message and message.endswith("also needs --plugin)")


def test_plugin_of_another_op_is_not_enough(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=tf.sidecar())
    result = tf.run(fake, model, "--plugin", str(fake["other_plugin"]))
    assert result["status"] == "MGDN_E_BACKEND"
    assert "could not find plugin DynamicFilter" in tf.one_line(result)
    assert result["events"].endswith("register:SomethingElse;deserialize:no-plugin")


def _python_message(model: Path, running: dict) -> str:
    with pytest.raises(BackendError) as caught:
        check_engine_matches(model, read_sidecar(model), running)
    return str(caught.value)


@pytest.mark.parametrize("field", ["tensorrt_version", "device", "plugin_sha256", "all"])
def test_sidecar_mismatch_matches_the_python_runtime(fake: dict, tmp_path: Path, field: str) -> None:
    """Same refusal, same words as TensorRTRuntime, before TensorRT or the plugin sees anything."""
    plugin = fake["plugin"]
    sha = hashlib.sha256(plugin.read_bytes()).hexdigest()
    running = {"tensorrt_version": fake["running"], "device": tf.FAKE_GPU, "plugin_sha256": sha}
    built = dict(running)
    changed = {"tensorrt_version": "10.0.1", "device": "NVIDIA Orin (sm_87)", "plugin_sha256": "0" * 64}
    for key in changed if field == "all" else [field]:
        built[key] = changed[key]
    side = tf.sidecar(plugin=str(plugin), **built)
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=side)
    result = tf.run(fake, model, "--plugin", str(plugin))
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result) == _python_message(model, running)
    assert result["events"] == "createInferRuntime"  # neither the plugin nor the engine was loaded


def test_sidecar_version_with_build_number_matches(fake: dict, tmp_path: Path) -> None:
    """JetPack's Python says 8.5.2.2 where the library says 8.5.2: the same release."""
    side = tf.sidecar(tensorrt_version=fake["running"] + ".30")
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=side)
    assert tf.run(fake, model)["status"] == "MGDN_OK"


def test_gpu_from_the_device_seam_is_compared(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar())
    result = tf.run(fake, model, env={"MGDN_FAKE_GPU": "NVIDIA Orin (sm_87)"})
    assert result["status"] == "MGDN_E_BACKEND"
    assert f"GPU {tf.FAKE_GPU} (running: NVIDIA Orin (sm_87))" in tf.one_line(result)


def test_truncated_engine_is_one_line(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False)
    model.write_bytes(model.read_bytes()[:-8])  # the end record is gone
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result) == (
        f"TensorRT {fake['running']} cannot deserialize model.engine (built with an unknown TensorRT; "
        "IRuntime::deserializeCudaEngine: the engine blob is truncated (no end record)): truncated, or built "
        "for another GPU or TensorRT? Rebuild it here with `mgdn-edge build-engine` (an engine with "
        "DynamicFilter plugin layers also needs --plugin)"
    )


def test_truncated_sidecar_names_it(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar())
    side = Path(f"{model}.json")
    side.write_text(side.read_text()[:40])
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_E_FILE"
    assert (
        tf.one_line(result) == f"cannot read the engine sidecar {side}: it is not a JSON object (truncated?)"
    )


def test_engine_inputs_must_be_the_tasks(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("x", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar("mff"))
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result) == (
        "model.engine has inputs [x, b] and outputs [fused]; a mff model takes [a, b] and gives one output"
    )


def test_non_float_tensor_is_refused(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(
        tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar(), extra="type b half"
    )
    result = tf.run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result).startswith("model.engine: tensor 'b' is not float32")


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ("--device", "CPU"),
            "MGDN_E_ARGUMENT",
            "the TensorRT backend runs on a GPU: device must be a GPU index",
        ),
        (("--device", "cuda:1"), "MGDN_E_ARGUMENT", "GPU 1 does not exist"),
        (("--threads", "2"), "MGDN_E_ARGUMENT", "threads do not apply to the tensorrt backend"),
    ],
)
def test_option_errors(fake: dict, tmp_path: Path, args: tuple[str, ...], status: str, message: str) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar())
    result = tf.run(fake, model, *args)
    assert result["status"] == status and tf.one_line(result).startswith(message)


def test_file_errors(fake: dict, tmp_path: Path) -> None:
    missing = tf.run(fake, tmp_path / "missing.engine")
    assert (
        missing["status"] == "MGDN_E_FILE"
        and tf.one_line(missing) == f"model file not found: {tmp_path / 'missing.engine'}"
    )
    other = tmp_path / "model.xml"
    other.write_text("<net/>")
    wrong = tf.run(fake, other)
    assert wrong["status"] == "MGDN_E_FILE" and "runs an engine (.engine/.plan)" in tf.one_line(wrong)
    no_gpu = tf.run(
        fake,
        tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False),
        env={"MGDN_FAKE_NO_GPU": "1"},
    )
    assert no_gpu["status"] == "MGDN_E_BACKEND" and "needs a CUDA GPU" in tf.one_line(no_gpu)


def test_input_and_buffer_errors_come_from_the_c_api(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=tf.sidecar())
    a, b = tf.images(np.random.default_rng(3), 3, 1)
    wrong = tf.run(fake, model, arrays=[a, b])
    assert wrong["status"] == "MGDN_E_INPUT"
    assert tf.one_line(wrong) == "input 'b' must have 3 channels for task 'mff', got 1"
    a, b = tf.images(np.random.default_rng(3), 3, 3, h=8, w=8)
    small = tf.run(fake, model, "--capacity", "10", arrays=[a, b])
    assert small["status"] == "MGDN_E_BUFFER" and small["output"] == "1 3 8 8"


def test_onnx_without_metadata_or_parser(fake: dict, tmp_path: Path) -> None:
    """From an ONNX file the backend needs TensorRT's parser and the exporter's metadata."""
    onnx = tmp_path / "model.trt.onnx"
    onnx.write_bytes(b"\x08\x07")  # ir_version 7: a valid (empty) ModelProto
    result = tf.run(fake, onnx)
    if fake["parser"]:
        assert result["status"] == "MGDN_E_FILE"
        assert tf.one_line(result) == (
            f"{onnx} has no mgdn_edge.config metadata: build engines from `mgdn-edge export` files"
        )
    else:
        assert result["status"] == "MGDN_E_ARGUMENT"
        assert "built without TensorRT's ONNX parser (NvOnnxParser.h)" in tf.one_line(result)


@pytest.fixture(params=tf.header_sets(), ids=[v for v, _ in tf.header_sets()])
def fake(request: pytest.FixtureRequest) -> dict:
    version, include = request.param
    return tf.build_fake(request.config.cache, version, include)


def test_one_plugin_library_per_process(fake: dict, tmp_path: Path) -> None:
    """TensorRT's registry is process-wide: the same library again is fine, another is refused."""
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=tf.sidecar())
    same = tf.run(fake, model, "--plugin", str(fake["plugin"]), "--reopen", str(fake["plugin"]))
    assert same["reopen"] == "MGDN_OK "
    assert same["events"].count("register:DynamicFilter") == 1 and same["events"].count("deserialize:ok") == 2
    other = tf.run(fake, model, "--plugin", str(fake["plugin"]), "--reopen", str(fake["other_plugin"]))
    first = fake["plugin"].resolve()
    assert other["reopen"] == (
        f"MGDN_E_BACKEND the DynamicFilter plugin is already registered in this process from {first}; "
        f"TensorRT cannot register {fake['other_plugin'].resolve()} beside it (use the same library, or a "
        "new process)"
    )


def test_failed_enqueue_is_one_backend_error(fake: dict, tmp_path: Path) -> None:
    model = tf.make_engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, extra="fail enqueue")
    a, b = tf.images(np.random.default_rng(4), 3, 3, h=8, w=8)
    result = tf.run(fake, model, arrays=[a, b])
    assert result["status"] == "MGDN_E_BACKEND"
    assert tf.one_line(result) == (
        "TensorRT failed to run model.engine: enqueueV3: an illegal memory access was encountered (simulated)"
    )
