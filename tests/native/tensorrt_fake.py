"""Shared by the TensorRT backend tests: the header sets, building libmgdn_edge against the CPU fake
of TensorRT (runtimes/native/tests/trt_fake), fake engines and ONNX files, and running them
through tests/trt_fake/trt_check or mgdn-fuse."""

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

from mgdn_edge.plugins.native_runner import opencv_version

REPO = Path(__file__).resolve().parents[2]
NATIVE = REPO / "runtimes" / "native"
SHARED_HEADERS = REPO.parent / "shared" / "third_party" / "tensorrt"
CUDA_INCLUDE = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "include"
FAKE_GPU = "Fake GPU (sm_00)"
CHECK = "tests/trt_fake/mgdn_trt_check"


def header_sets() -> list[tuple[str, Path]]:
    sets = [(v, SHARED_HEADERS / v / "include") for v in ("10.3", "11.1")]
    for item in filter(None, os.environ.get("MGDN_TRT_EXTRA_HEADERS", "").split(",")):
        version, _, folder = item.partition(":")
        sets.append((version.strip(), Path(folder.strip())))
    return sets


def require(include: Path) -> None:
    if not (include / "NvInferVersion.h").is_file():
        pytest.skip(f"TensorRT headers not found in {include}")
    if not (CUDA_INCLUDE / "cuda_runtime_api.h").is_file():
        pytest.skip(f"cuda_runtime_api.h (TensorRT's headers include it) not found in {CUDA_INCLUDE}")
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("needs cmake and g++")


def cmake(build_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cmake", "-S", str(NATIVE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", *options],
        capture_output=True,
        text=True,
    )


def release(include: Path, parts_wanted: tuple[str, ...] = ("MAJOR", "MINOR", "PATCH")) -> str:
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


def build_fake(cache: pytest.Cache, version: str, include: Path) -> dict:
    """libmgdn_edge + the fake TensorRT built with one release's headers (once per session)."""
    if version in _BUILT:
        return _BUILT[version]
    require(include)
    build_dir = cache.mkdir(f"mgdn-native-trt-fake-{version}")
    runner = version == CLI_VERSION and opencv_version() is not None  # mgdn-fuse needs OpenCV
    options = [
        "-DMGDN_WITH_OPENVINO=OFF",
        "-DMGDN_WITH_TENSORRT=ON",
        "-DMGDN_TRT_FAKE_RUNTIME=ON",
        f"-DMGDN_BUILD_RUNNER={'ON' if runner else 'OFF'}",
        f"-DTENSORRT_INCLUDE_DIR={include}",
    ]
    configured = cmake(build_dir, *options)
    assert configured.returncode == 0, (configured.stdout + configured.stderr)[-4000:]
    built = subprocess.run(["cmake", "--build", str(build_dir), "-j", "2"], capture_output=True, text=True)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    running = release(include)
    _BUILT[version] = {
        "version": version,
        "running": running,
        "build": release(include, ("BUILD",)),
        "load_library": tuple(int(x) for x in running.split(".")[:2]) >= (8, 6),
        "check": build_dir / CHECK,
        "plugin": build_dir / "tests/trt_fake/libmgdn_fake_plugin.so",
        "other_plugin": build_dir / "tests/trt_fake/libmgdn_fake_plugin_other.so",
        "parser": (include / "NvOnnxParser.h").is_file(),
        "runner": build_dir / "mgdn-fuse" if runner else None,
    }
    return _BUILT[version]


PROFILE = ((1, 8, 8), (1, 16, 16), (2, 32, 32))  # (N, H, W) min, opt, max


def make_engine(
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


def sidecar(task: str = "mff", **fields: object) -> dict:
    """The fields mgdn_edge.runtimes.tensorrt.build writes that the runtime reads."""
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


def run(fake: dict, model: Path, *args: str, arrays=(), env: dict | None = None) -> dict:
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


def closed_form(bias: float, out_channels: int, *terms: tuple[float, np.ndarray]) -> np.ndarray:
    n, _, h, w = terms[0][1].shape
    out = np.full((n, out_channels, h, w), bias, np.float64)
    for weight, x in terms:
        out += weight * x[:, np.arange(out_channels) % x.shape[1]].astype(np.float64)
    return out


def images(
    rng: np.random.Generator, *channels: int, n: int = 1, h: int = 12, w: int = 20
) -> list[np.ndarray]:
    return [rng.standard_normal((n, c, h, w)).astype(np.float32) for c in channels]


def one_line(result: dict) -> str:
    assert "\n" not in result["error"] and result["error"].strip() == result["error"]
    return result["error"]


def fuse(fake: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([str(fake["runner"]), *args], capture_output=True, text=True, env=full, timeout=60)


def pngs(folder: Path) -> list[str]:
    """Two random 24x16 RGB images."""
    import cv2

    rng = np.random.default_rng(5)
    files = []
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (24, 16, 3), dtype=np.uint8))
        files.append(str(folder / name))
    return files


def config(task: str = "mff"):  # type: ignore[no-untyped-def]
    from mgdn_edge.model.config import MGDNConfig

    return MGDNConfig(task=task, embed_dim=12, depths=(2,), swin_heads=(6,), window_size=8, mlp_ratio=2.0)


def make_onnx(folder: Path, name: str = "model.trt.onnx", static: str = "", plugin: bool = True) -> Path:
    """An ONNX file with the exporter's metadata; X.onnx.fake describes the network to the fake parser."""
    import onnx
    from onnx import helper

    model = helper.make_model(helper.make_graph([], "mgdn", [], []))
    helper.set_model_props(
        model, {"mgdn_edge.config": json.dumps(config().to_dict()), "mgdn_edge.static_size": static}
    )
    path = folder / name
    onnx.save(model, str(path))
    zeros = "  ".join(["0 0 0"] * 3)
    lines = ["MGDN-FAKE-ENGINE"] + (["plugin DynamicFilter"] if plugin else [])
    lines += [f"input b 3 0.5 {zeros}", f"input a 3 -0.25 {zeros}", "output fused 3 0.125", "end", ""]
    Path(f"{path}.fake").write_text("\n".join(lines))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
