"""The native runner's TensorRT backend, without TensorRT or a GPU.

* Its sources compile against the TensorRT 10.3 and 11.1 headers in ../shared/third_party (and
  8.5 / 8.6 where $MGDN_TRT_EXTRA_HEADERS names them, e.g. fetched from NVIDIA's repository:
  ``8.5:/tmp/trt8.5/include,8.6:/tmp/trt8.6/include``; NvOnnxParser.h beside them enables the
  build-from-ONNX half), the CUDA seam included.
* Its host-side logic runs on the CPU: libmgdn_edge is built with those headers against
  runtimes/native/tests/trt_fake (a libnvinfer stand-in on host memory whose engines compute a
  closed form), and tests/trt_fake/trt_check drives the C API. Outputs are compared with that
  closed form computed here in numpy; sidecar messages with the Python runtime's own
  check_engine_matches; the plugin fingerprint with hashlib.

Missing headers, cmake or a C++ compiler skip with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.errors import BackendError
from mgdn_edge.plugins.native_runner import opencv_version
from mgdn_edge.runtimes.tensorrt_engine_file import check_engine_matches

REPO = Path(__file__).resolve().parents[2]
NATIVE = REPO / "runtimes" / "native"
SHARED_HEADERS = REPO.parent / "shared" / "third_party" / "tensorrt"
CUDA_INCLUDE = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "include"
FAKE_GPU = "Fake GPU (sm_00)"
CHECK = "tests/trt_fake/mgdn_trt_check"


def _header_sets() -> list[tuple[str, Path]]:
    sets = [(v, SHARED_HEADERS / v / "include") for v in ("10.3", "11.1")]
    for item in filter(None, os.environ.get("MGDN_TRT_EXTRA_HEADERS", "").split(",")):
        version, _, folder = item.partition(":")
        sets.append((version.strip(), Path(folder.strip())))
    return sets


def _require(include: Path) -> None:
    if not (include / "NvInferVersion.h").is_file():
        pytest.skip(f"TensorRT headers not found in {include}")
    if not (CUDA_INCLUDE / "cuda_runtime_api.h").is_file():
        pytest.skip(f"cuda_runtime_api.h (TensorRT's headers include it) not found in {CUDA_INCLUDE}")
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("needs cmake and g++")


@pytest.mark.parametrize(("version", "include"), _header_sets(), ids=[v for v, _ in _header_sets()])
def test_sources_compile_against_headers(version: str, include: Path) -> None:
    """Every TensorRT source of the backend, as CI builds it for a device: -Wall -Wextra -Werror."""
    _require(include)
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
    flags += [f"-I{NATIVE / 'include'}", "-isystem", str(include), "-isystem", str(CUDA_INCLUDE)]
    for source in sources:
        proc = subprocess.run(["g++", *flags, str(NATIVE / "src" / source)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{source} against TensorRT {version}:\n{proc.stderr[-3000:]}"


def _cmake(build_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cmake", "-S", str(NATIVE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", *options],
        capture_output=True,
        text=True,
    )


def test_cmake_needs_a_backend(tmp_path: Path) -> None:
    if shutil.which("cmake") is None:
        pytest.skip("needs cmake")
    proc = _cmake(tmp_path, "-DMGDN_WITH_OPENVINO=OFF", "-DMGDN_WITH_TENSORRT=OFF", "-DMGDN_BUILD_RUNNER=OFF")
    assert proc.returncode != 0
    assert "needs at least one backend" in proc.stderr and "-DMGDN_WITH_TENSORRT=ON" in proc.stderr


def _release(include: Path, parts_wanted: tuple[str, ...] = ("MAJOR", "MINOR", "PATCH")) -> str:
    """major.minor.patch from NvInferVersion.h, as the library reports it (getInferLibVersion)."""
    text = (include / "NvInferVersion.h").read_text()
    parts = []
    for part in parts_wanted:
        found = re.search(rf"#define (?:NV_TENSORRT|TRT)_{part}(?:_ENTERPRISE)? +(\d+)", text)
        assert found, f"no {part} version in {include}"
        parts.append(found.group(1))
    return ".".join(parts)


_BUILT: dict[str, dict] = {}
CLI_VERSION = "11.1"  # mgdn-fuse is built once: the CLI does not depend on the TensorRT release


def _build_fake(cache: pytest.Cache, version: str, include: Path) -> dict:
    """libmgdn_edge + the fake TensorRT built with one release's headers (once per session)."""
    if version in _BUILT:
        return _BUILT[version]
    _require(include)
    build_dir = cache.mkdir(f"mgdn-native-trt-fake-{version}")
    runner = version == CLI_VERSION and opencv_version() is not None  # mgdn-fuse needs OpenCV
    options = [
        "-DMGDN_WITH_OPENVINO=OFF",
        "-DMGDN_WITH_TENSORRT=ON",
        "-DMGDN_TRT_FAKE_RUNTIME=ON",
        f"-DMGDN_BUILD_RUNNER={'ON' if runner else 'OFF'}",
        f"-DTENSORRT_INCLUDE_DIR={include}",
    ]
    configured = _cmake(build_dir, *options)
    assert configured.returncode == 0, (configured.stdout + configured.stderr)[-4000:]
    built = subprocess.run(["cmake", "--build", str(build_dir), "-j", "2"], capture_output=True, text=True)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    release = _release(include)
    _BUILT[version] = {
        "version": version,
        "running": release,
        "build": _release(include, ("BUILD",)),
        "load_library": tuple(int(x) for x in release.split(".")[:2]) >= (8, 6),
        "check": build_dir / CHECK,
        "plugin": build_dir / "tests/trt_fake/libmgdn_fake_plugin.so",
        "other_plugin": build_dir / "tests/trt_fake/libmgdn_fake_plugin_other.so",
        "parser": (include / "NvOnnxParser.h").is_file(),
        "runner": build_dir / "mgdn-fuse" if runner else None,
    }
    return _BUILT[version]


@pytest.fixture(params=_header_sets(), ids=[v for v, _ in _header_sets()])
def fake(request: pytest.FixtureRequest) -> dict:
    version, include = request.param
    return _build_fake(request.config.cache, version, include)


@pytest.fixture
def fake_cli(request: pytest.FixtureRequest) -> dict:
    """The fake build that has mgdn-fuse."""
    built = _build_fake(request.config.cache, CLI_VERSION, SHARED_HEADERS / CLI_VERSION / "include")
    if built["runner"] is None:
        pytest.skip("mgdn-fuse needs OpenCV's C++ headers (apt install libopencv-dev)")
    return built


# --------------------------------------------------------------------------------------------
# Fake engines and running them


PROFILE = ((1, 8, 8), (1, 16, 16), (2, 32, 32))  # (N, H, W) min, opt, max


def _engine(
    folder: Path,
    inputs: list[tuple[str, int, float]],
    bias: float = 0.125,
    out_channels: int = 3,
    plugin: bool = True,
    sidecar: dict | None = None,
    name: str = "model.engine",
    extra: str = "",
) -> Path:
    """A fake engine: out = bias + sum_i w_i * in_i[c % C_i]; inputs listed in the engine's order."""
    lines = ["MGDN-FAKE-ENGINE"] + (["plugin DynamicFilter"] if plugin else [])
    for tensor, channels, weight in inputs:
        shape = "  ".join(" ".join(str(v) for v in nhw) for nhw in PROFILE)
        lines.append(f"input {tensor} {channels} {weight} {shape}")
    lines += [f"output fused {out_channels} {bias}", extra, "end", ""]
    path = folder / name
    path.write_text("\n".join(lines))
    if sidecar is not None:
        Path(f"{path}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def _sidecar(task: str = "mff", **fields: object) -> dict:
    """The fields mgdn_edge.runtimes.tensorrt_build writes that the runtime reads."""
    from mgdn_edge.model.config import TASK_IO

    side = {
        "format": "mgdn-edge tensorrt engine",
        "device": FAKE_GPU,
        "precision": "fp32",
        "profile": {"min": [1, 8, 8], "opt": [1, 16, 16], "max": [2, 32, 32]},
        "inputs": list(TASK_IO[task].input_names),
        "plugin": None,
        "plugin_sha256": None,
        "config": {"task": task, "window_size": 8, "depths": [2, 2]},
        "static_size": None,
    }
    side.update(fields)
    return side


def _run(fake: dict, model: Path, *args: str, arrays=(), env: dict | None = None) -> dict:
    """mgdn_trt_check on `model` with `arrays` as inputs; its printed fields, plus the output array."""
    folder = model.parent
    cmd = [str(fake["check"]), "--model", str(model), *args]
    for i, x in enumerate(arrays):
        path = folder / f"in{i}.f32"
        np.ascontiguousarray(x, np.float32).tofile(path)
        cmd += ["--input", f"{path}:{','.join(str(d) for d in x.shape)}"]
    out = folder / "out.f32"
    out.unlink(missing_ok=True)
    cmd += ["--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fields = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    if "output" in fields and out.is_file():
        shape = tuple(int(v) for v in fields["output"].split())
        fields["array"] = np.fromfile(out, np.float32).reshape(shape)
    return fields


def _closed_form(bias: float, out_channels: int, *terms: tuple[float, np.ndarray]) -> np.ndarray:
    n, _, h, w = terms[0][1].shape
    out = np.full((n, out_channels, h, w), bias, np.float64)
    for weight, x in terms:
        out += weight * x[:, np.arange(out_channels) % x.shape[1]].astype(np.float64)
    return out


def _images(
    rng: np.random.Generator, *channels: int, n: int = 1, h: int = 12, w: int = 20
) -> list[np.ndarray]:
    return [rng.standard_normal((n, c, h, w)).astype(np.float32) for c in channels]


def _one_line(result: dict) -> str:
    assert "\n" not in result["error"] and result["error"].strip() == result["error"]
    return result["error"]


def test_inputs_bound_by_name_in_task_order(fake: dict, tmp_path: Path) -> None:
    """The engine lists b before a; the caller passes (a, b): each lands on its own tensor."""
    model = _engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=_sidecar("mff"))
    a, b = _images(np.random.default_rng(0), 3, 3)
    result = _run(fake, model, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_OK", result["error"]
    assert result["task"] == "mff" and result["inputs"] == "3 3"
    expected = _closed_form(0.125, 3, (-0.25, a), (0.5, b))
    np.testing.assert_allclose(result["array"], expected, rtol=1e-6, atol=1e-6)


def test_channels_reported_in_task_order_and_batch_two(fake: dict, tmp_path: Path) -> None:
    """GDSR: the engine lists depth (1 channel) first; the C API reports rgb, depth = 3, 1."""
    model = _engine(tmp_path, [("depth", 1, 2.0), ("rgb", 3, 0.75)], out_channels=1, sidecar=_sidecar("gdsr"))
    rgb, depth = _images(np.random.default_rng(1), 3, 1, n=2, h=32, w=8)
    result = _run(fake, model, "--plugin", str(fake["plugin"]), arrays=[rgb, depth])
    assert result["status"] == "MGDN_OK", result["error"]
    assert result["inputs"] == "3 1" and result["output"] == "2 1 32 8"
    np.testing.assert_allclose(
        result["array"], _closed_form(0.125, 1, (0.75, rgb), (2.0, depth)), rtol=1e-6, atol=1e-6
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
    model = _engine(
        tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=_sidecar("mff", config={"task": "mff"})
    )
    a, b = _images(np.random.default_rng(2), 3, 3, n=n, h=h, w=w)
    result = _run(fake, model, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_E_INPUT"
    assert _one_line(result) == f"{message} (rebuild it with `mgdn-edge build-engine --min/--max`)"
    assert "enqueueV3" not in result["events"]


def test_plugin_registered_before_the_engine_is_deserialised(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=_sidecar())
    result = _run(fake, model, "--plugin", str(fake["plugin"]))
    assert result["status"] == "MGDN_OK", result["error"]
    events = result["events"].split(";")
    # TensorRT >= 8.6: IPluginRegistry::loadLibrary; 8.5: dlopen, and the library registers itself.
    loaded = ["loadLibrary:libmgdn_fake_plugin.so"] if fake["load_library"] else []
    assert events == ["createInferRuntime", *loaded, "register:DynamicFilter", "deserialize:ok"]


def test_plugin_recorded_in_the_sidecar_is_used(fake: dict, tmp_path: Path) -> None:
    sha = hashlib.sha256(fake["plugin"].read_bytes()).hexdigest()
    model = _engine(
        tmp_path,
        [("a", 3, 1.0), ("b", 3, 1.0)],
        sidecar=_sidecar(plugin=str(fake["plugin"]), plugin_sha256=sha),
    )
    result = _run(fake, model)
    assert result["status"] == "MGDN_OK", result["error"]
    assert "register:DynamicFilter" in result["events"]


def test_missing_plugin_library_names_it(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=_sidecar())
    missing = tmp_path / "nowhere" / "libmgdn_trt.so"
    result = _run(fake, model, "--plugin", str(missing))
    assert result["status"] == "MGDN_E_FILE"
    assert _one_line(result) == (
        f"TensorRT plugin library not found: {missing}; build it with `mgdn-edge build-plugins --tensorrt`"
    )
    assert "deserialize" not in result["events"]


def test_engine_with_plugin_layers_needs_the_plugin(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)])  # no sidecar: nothing names a plugin
    result = _run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    message = _one_line(result)
    assert message.startswith(
        f"TensorRT {fake['running']} cannot deserialize model.engine (built with an unknown"
    )
    assert "could not find plugin DynamicFilter" in message and message.endswith("also needs --plugin)")


def test_plugin_of_another_op_is_not_enough(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=_sidecar())
    result = _run(fake, model, "--plugin", str(fake["other_plugin"]))
    assert result["status"] == "MGDN_E_BACKEND"
    assert "could not find plugin DynamicFilter" in _one_line(result)
    assert result["events"].endswith("register:SomethingElse;deserialize:no-plugin")


def _python_message(model: Path, side: dict, running: dict) -> str:
    with pytest.raises(BackendError) as caught:
        check_engine_matches(model, side, running)
    return str(caught.value)


@pytest.mark.parametrize("field", ["tensorrt_version", "device", "plugin_sha256", "all"])
def test_sidecar_mismatch_matches_the_python_runtime(fake: dict, tmp_path: Path, field: str) -> None:
    """Same refusal, same words as TensorRTRuntime, before TensorRT or the plugin sees anything."""
    plugin = fake["plugin"]
    sha = hashlib.sha256(plugin.read_bytes()).hexdigest()
    running = {"tensorrt_version": fake["running"], "device": FAKE_GPU, "plugin_sha256": sha}
    built = dict(running)
    changed = {"tensorrt_version": "10.0.1", "device": "NVIDIA Orin (sm_87)", "plugin_sha256": "0" * 64}
    for key in changed if field == "all" else [field]:
        built[key] = changed[key]
    side = _sidecar(plugin=str(plugin), **built)
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=side)
    result = _run(fake, model, "--plugin", str(plugin))
    assert result["status"] == "MGDN_E_BACKEND"
    assert _one_line(result) == _python_message(model, side, running)
    assert result["events"] == "createInferRuntime"  # neither the plugin nor the engine was loaded


def test_sidecar_version_with_build_number_matches(fake: dict, tmp_path: Path) -> None:
    """JetPack's Python says 8.5.2.2 where the library says 8.5.2: the same release."""
    side = _sidecar(tensorrt_version=fake["running"] + ".30")
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=side)
    assert _run(fake, model)["status"] == "MGDN_OK"


def test_gpu_from_the_device_seam_is_compared(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar())
    result = _run(fake, model, env={"MGDN_FAKE_GPU": "NVIDIA Orin (sm_87)"})
    assert result["status"] == "MGDN_E_BACKEND"
    assert f"GPU {FAKE_GPU} (running: NVIDIA Orin (sm_87))" in _one_line(result)


def test_truncated_engine_is_one_line(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False)
    model.write_bytes(model.read_bytes()[:-8])  # the end record is gone
    result = _run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert _one_line(result) == (
        f"TensorRT {fake['running']} cannot deserialize model.engine (built with an unknown TensorRT; "
        "IRuntime::deserializeCudaEngine: the engine blob is truncated (no end record)): truncated, or built "
        "for another GPU or TensorRT? Rebuild it here with `mgdn-edge build-engine` (an engine with "
        "DynamicFilter plugin layers also needs --plugin)"
    )


def test_truncated_sidecar_names_it(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar())
    side = Path(f"{model}.json")
    side.write_text(side.read_text()[:40])
    result = _run(fake, model)
    assert result["status"] == "MGDN_E_FILE"
    assert _one_line(result) == f"cannot read the engine sidecar {side}: it is not a JSON object (truncated?)"


def test_engine_inputs_must_be_the_tasks(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("x", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar("mff"))
    result = _run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert _one_line(result) == (
        "model.engine has inputs [x, b] and outputs [fused]; a mff model takes [a, b] and gives one output"
    )


def test_non_float_tensor_is_refused(fake: dict, tmp_path: Path) -> None:
    model = _engine(
        tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar(), extra="type b half"
    )
    result = _run(fake, model)
    assert result["status"] == "MGDN_E_BACKEND"
    assert _one_line(result).startswith("model.engine: tensor 'b' is not float32")


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
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar())
    result = _run(fake, model, *args)
    assert result["status"] == status and _one_line(result).startswith(message)


def test_file_errors(fake: dict, tmp_path: Path) -> None:
    missing = _run(fake, tmp_path / "missing.engine")
    assert (
        missing["status"] == "MGDN_E_FILE"
        and _one_line(missing) == f"model file not found: {tmp_path / 'missing.engine'}"
    )
    other = tmp_path / "model.xml"
    other.write_text("<net/>")
    wrong = _run(fake, other)
    assert wrong["status"] == "MGDN_E_FILE" and "runs an engine (.engine/.plan)" in _one_line(wrong)
    no_gpu = _run(
        fake, _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False), env={"MGDN_FAKE_NO_GPU": "1"}
    )
    assert no_gpu["status"] == "MGDN_E_BACKEND" and "needs a CUDA GPU" in _one_line(no_gpu)


def test_input_and_buffer_errors_come_from_the_c_api(fake: dict, tmp_path: Path) -> None:
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False, sidecar=_sidecar())
    a, b = _images(np.random.default_rng(3), 3, 1)
    wrong = _run(fake, model, arrays=[a, b])
    assert wrong["status"] == "MGDN_E_INPUT"
    assert _one_line(wrong) == "input 'b' must have 3 channels for task 'mff', got 1"
    a, b = _images(np.random.default_rng(3), 3, 3, h=8, w=8)
    small = _run(fake, model, "--capacity", "10", arrays=[a, b])
    assert small["status"] == "MGDN_E_BUFFER" and small["output"] == "1 3 8 8"


def test_onnx_without_metadata_or_parser(fake: dict, tmp_path: Path) -> None:
    """From an ONNX file the backend needs TensorRT's parser and the exporter's metadata."""
    onnx = tmp_path / "model.trt.onnx"
    onnx.write_bytes(b"\x08\x07")  # ir_version 7: a valid (empty) ModelProto
    result = _run(fake, onnx)
    if fake["parser"]:
        assert result["status"] == "MGDN_E_FILE"
        assert _one_line(result) == (
            f"{onnx} has no mgdn_edge.config metadata: build engines from `mgdn-edge export` files"
        )
    else:
        assert result["status"] == "MGDN_E_ARGUMENT"
        assert "built without TensorRT's ONNX parser (NvOnnxParser.h)" in _one_line(result)


# --------------------------------------------------------------------------------------------
# mgdn-fuse --runtime tensorrt


def _fuse(fake: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([str(fake["runner"]), *args], capture_output=True, text=True, env=full, timeout=60)


def _pngs(folder: Path) -> list[str]:
    """Two random 24x16 RGB images."""
    import cv2

    rng = np.random.default_rng(5)
    files = []
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (24, 16, 3), dtype=np.uint8))
        files.append(str(folder / name))
    return files


def test_mgdn_fuse_runs_an_engine(fake_cli: dict, tmp_path: Path) -> None:
    """Image files through mgdn-fuse on the fake engine: --raw equals the closed form of the
    inputs as mgdn_edge.tasks.prepare_inputs builds them."""
    from mgdn_edge.tasks import prepare_inputs

    files = _pngs(tmp_path)
    model = _engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=_sidecar("mff"))
    raw = tmp_path / "raw.npy"
    # --runtime auto picks TensorRT for an .engine; --plugin takes the folder holding the library too.
    proc = _fuse(
        fake_cli,
        "--task",
        "mff",
        "--model",
        str(model),
        "--plugin",
        str(fake_cli["plugin"]),
        "--raw",
        str(raw),
        *files,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {raw} (16x24, runtime tensorrt)"
    a, b = prepare_inputs("mff", files).inputs
    expected = _closed_form(0.125, 3, (-0.25, a), (0.5, b))[0].transpose(1, 2, 0)
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
    model = _engine(tmp_path, [("a", 3, 1.0), ("b", 3, 1.0)], sidecar=_sidecar())
    proc = _fuse(
        fake_cli,
        "--task",
        "mff",
        "--model",
        str(model),
        "--raw",
        str(tmp_path / "r.npy"),
        *args,
        *_pngs(tmp_path),
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------------------------
# An engine built on the device from model.trt.onnx (fake builder + parser)


def _config(task: str = "mff"):  # type: ignore[no-untyped-def]
    from mgdn_edge.model.config import MGDNConfig

    return MGDNConfig(task=task, embed_dim=12, depths=(2,), swin_heads=(6,), window_size=8, mlp_ratio=2.0)


def _onnx(folder: Path, name: str = "model.trt.onnx", static: str = "", plugin: bool = True) -> Path:
    """An ONNX file with the exporter's metadata; X.onnx.fake describes the network to the fake parser."""
    import onnx
    from onnx import helper

    model = helper.make_model(helper.make_graph([], "mgdn", [], []))
    helper.set_model_props(
        model, {"mgdn_edge.config": json.dumps(_config().to_dict()), "mgdn_edge.static_size": static}
    )
    path = folder / name
    onnx.save(model, str(path))
    zeros = "  ".join(["0 0 0"] * 3)
    lines = ["MGDN-FAKE-ENGINE"] + (["plugin DynamicFilter"] if plugin else [])
    lines += [f"input b 3 0.5 {zeros}", f"input a 3 -0.25 {zeros}", "output fused 3 0.125", "end", ""]
    Path(f"{path}.fake").write_text("\n".join(lines))
    return path


@pytest.fixture
def fake_parser(fake: dict) -> dict:
    if not fake["parser"]:
        pytest.skip(f"TensorRT {fake['version']} headers here have no NvOnnxParser.h (checked above)")
    return fake


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_engine_built_beside_the_onnx(fake_parser: dict, tmp_path: Path) -> None:
    """Plugin registered, network parsed and built with the Python build's default profile; the
    engine runs, and its sidecar is one the Python runtime accepts."""
    from mgdn_edge.runtimes.tensorrt_plan import make_profile

    fake = fake_parser
    onnx_path = _onnx(tmp_path)
    a, b = _images(np.random.default_rng(7), 3, 3, h=16, w=24)
    result = _run(fake, onnx_path, "--plugin", str(fake["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_OK", result["error"]
    np.testing.assert_allclose(
        result["array"], _closed_form(0.125, 3, (-0.25, a), (0.5, b)), rtol=1e-6, atol=1e-6
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
    assert side["profile"] == make_profile(_config()).to_dict()
    assert side["config"] == json.loads(json.dumps(_config().to_dict()))
    assert side["inputs"] == ["a", "b"] and side["static_size"] is None
    assert side["plugin"] == str(fake["plugin"].resolve()) and side["plugin_sha256"] == _sha(fake["plugin"])
    assert side["onnx"] == str(onnx_path.resolve()) and side["onnx_sha256"] == _sha(onnx_path)
    assert (side["precision"], side["plugin_layers"], side["device"]) == ("fp32", 1, FAKE_GPU)
    # as TensorRT's Python package spells the release it runs (JetPack: 8.5.2.2), build number included
    assert side["tensorrt_version"] == f"{fake['running']}.{fake['build']}"
    running = {
        "tensorrt_version": side["tensorrt_version"],
        "device": FAKE_GPU,
        "plugin_sha256": _sha(fake["plugin"]),
    }
    check_engine_matches(engine, side, running)  # the Python runtime would run it
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []  # nothing half-written


def test_built_engine_is_reused_until_the_onnx_changes(fake_parser: dict, tmp_path: Path) -> None:
    fake = fake_parser
    onnx_path = _onnx(tmp_path)
    engine = tmp_path / "model.trt.engine"
    first = _run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert first["status"] == "MGDN_OK" and "build" in first["events"].split(";")
    stamp = engine.stat().st_mtime_ns
    again = _run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert again["status"] == "MGDN_OK" and "build" not in again["events"].split(";")
    assert engine.stat().st_mtime_ns == stamp
    _onnx(tmp_path, static="40x24")  # a new export in its place
    rebuilt = _run(fake, onnx_path, "--plugin", str(fake["plugin"]))
    assert rebuilt["status"] == "MGDN_OK" and "build" in rebuilt["events"].split(";")
    assert json.loads(Path(f"{engine}.json").read_text())["onnx_sha256"] == _sha(onnx_path)


def test_static_export_builds_its_one_size(fake_parser: dict, tmp_path: Path) -> None:
    from mgdn_edge.runtimes.tensorrt_plan import make_profile

    onnx_path = _onnx(tmp_path, static="40x24")
    a, b = _images(np.random.default_rng(8), 3, 3, h=32, w=32)
    result = _run(fake_parser, onnx_path, "--plugin", str(fake_parser["plugin"]), arrays=[a, b])
    assert result["status"] == "MGDN_E_INPUT"
    assert _one_line(result).startswith("this model was exported for a fixed size 40x24 (HxW), got 32x32")
    side = json.loads((tmp_path / "model.trt.engine.json").read_text())
    assert side["profile"] == make_profile(_config(), (40, 24)).to_dict() and side["static_size"] == [40, 24]


def test_parser_without_the_plugin_is_one_line(fake_parser: dict, tmp_path: Path) -> None:
    onnx_path = _onnx(tmp_path)
    result = _run(fake_parser, onnx_path)
    assert result["status"] == "MGDN_E_BACKEND"
    assert _one_line(result) == (
        "TensorRT's ONNX parser rejected model.trt.onnx: UNSUPPORTED_NODE: Plugin not found, are the plugin "
        "name, version, and namespace correct? (DynamicFilter) -- pass the plugin library built for this "
        "TensorRT (--plugin)"
    )
    assert not (tmp_path / "model.trt.engine").exists()


def test_fp16_graph_is_built_strongly_typed(fake_parser: dict, tmp_path: Path) -> None:
    fake = fake_parser
    onnx_path = _onnx(tmp_path, name="model.trt.fp16.onnx", plugin=False)
    result = _run(fake, onnx_path)
    if fake["version"].startswith("8."):
        assert result["status"] == "MGDN_E_ARGUMENT"
        assert "builds fp16/int8 engines with builder flags this runner does not set" in _one_line(result)
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
# runtimes/native/examples/fuse_engine.cpp, the C API example docs/jetson.md shows


def test_example_app_compiles_and_fuses(fake_cli: dict, tmp_path: Path) -> None:
    """Built as the doc says (g++ against include/ and libmgdn_edge.so), run on a fake engine."""
    build = fake_cli["check"].parents[2]
    example = tmp_path / "fuse_engine"
    proc = subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            str(NATIVE / "examples" / "fuse_engine.cpp"),
            f"-I{NATIVE / 'include'}",
            f"-L{build}",
            "-lmgdn_edge",
            f"-Wl,-rpath,{build}",
            "-o",
            str(example),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = _engine(tmp_path, [("b", 3, 0.5), ("a", 3, -0.25)], sidecar=_sidecar("mff"))
    a, b = _images(np.random.default_rng(9), 3, 3, h=10, w=14)
    a.tofile(tmp_path / "a.bin")
    b.tofile(tmp_path / "b.bin")
    out = tmp_path / "out.bin"
    args = [
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
    np.testing.assert_allclose(fused, _closed_form(0.125, 3, (-0.25, a), (0.5, b)), rtol=1e-6, atol=1e-6)
    args[2] = "12"  # the files hold 10 rows, not 12
    proc = subprocess.run([str(example), *args], capture_output=True, text=True, timeout=60)
    assert (
        proc.returncode == 2
        and proc.stderr == f"error: {tmp_path / 'a.bin'} is not 3 x 12 x 14 float32 values\n"
    )


def test_cuda_seam_links_and_reports_no_gpu(fake_cli: dict, request: pytest.FixtureRequest) -> None:
    """The shipped configuration (CUDA runtime seam, libnvinfer found by TENSORRT_LIBRARY_DIR) builds
    and links; with the fake libnvinfer standing in, on a machine without a GPU the example says so."""
    cudart = list(CUDA_INCLUDE.parent.glob("lib*/libcudart.so"))
    if not cudart:
        pytest.skip(f"no libcudart.so under {CUDA_INCLUDE.parent}")
    if Path("/dev/nvidiactl").exists():
        pytest.skip("a GPU is present: the fake libnvinfer cannot run on device memory")
    build = request.config.cache.mkdir("mgdn-native-trt-cuda-11.1")
    fake_libs = fake_cli["check"].parent
    options = [
        "-DMGDN_WITH_OPENVINO=OFF",
        "-DMGDN_WITH_TENSORRT=ON",
        "-DMGDN_BUILD_RUNNER=OFF",
        f"-DTENSORRT_INCLUDE_DIR={SHARED_HEADERS / CLI_VERSION / 'include'}",
        f"-DTENSORRT_LIBRARY_DIR={fake_libs}",
        f"-DCUDAToolkit_ROOT={CUDA_INCLUDE.parent}",
    ]
    configured = _cmake(build, *options)
    assert configured.returncode == 0, configured.stderr[-3000:]
    assert "TensorRT 11.1.0" in configured.stdout and "FAKE" not in configured.stdout
    built = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    needed = subprocess.run(["readelf", "-d", str(build / "libmgdn_edge.so")], capture_output=True, text=True)
    assert "libcudart" in needed.stdout and "libnvinfer.so" in needed.stdout
    example = build / "fuse_engine"
    compiled = subprocess.run(
        [
            "g++",
            "-std=c++17",
            str(NATIVE / "examples" / "fuse_engine.cpp"),
            f"-I{NATIVE / 'include'}",
            f"-L{build}",
            "-lmgdn_edge",
            f"-Wl,-rpath,{build}:{fake_libs}",
            "-o",
            str(example),
        ],
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    folder = build / "inputs"
    folder.mkdir(exist_ok=True)
    model = _engine(folder, [("a", 3, 1.0), ("b", 3, 1.0)], plugin=False)
    for name in ("a.bin", "b.bin"):
        np.zeros((1, 3, 8, 8), np.float32).tofile(folder / name)
    args = [
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
