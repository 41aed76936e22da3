"""An install without torch runs exported models; the commands that need torch say so in one line.

The package is built as a wheel from this checkout and installed into a fresh venv with only the
runtime extras (``[openvino,onnxruntime]``), as on a CPU box that serves exported models. The
venv is made once per session (about 1.5 min: the wheel, then pip from its cache or index) and
removed afterwards (~1 GB). The export and the stored reference outputs are made here, with
torch; the venv then runs ``fuse``, ``bench`` and ``parity`` as a user would, through its own
``mgdn-edge`` script, and its fused outputs must equal the full install's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from mgdn_edge.cli import main

REPO = Path(__file__).resolve().parents[1]
# The folders pyproject.toml maps to packages (a new one missing here fails the wheel build loudly).
PACKAGE_FOLDERS = ("mgdn_edge", "export", "runtimes", "calibration", "plugins", "tools")
RUNTIME_EXTRAS = "openvino,onnxruntime"
RUNTIMES = ("openvino", "onnxruntime")
NEEDS_TORCH = "needs PyTorch: pip install 'mgdn-edge[torch]'"


def _run(cmd: list[str | Path], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def _build_backend_installed() -> bool:
    """Whether this venv has the setuptools pyproject.toml's [build-system] asks for (>= 77)."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


@pytest.fixture(scope="session")
def lean_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding this checkout's wheel with only the runtime extras: no torch."""
    root = tmp_path_factory.mktemp("without_torch")
    src = root / "src"  # a copy, so the build leaves nothing in the checkout
    skip = shutil.ignore_patterns("__pycache__", "*.so", "build", "*.egg-info", ".pytest_cache")
    for folder in PACKAGE_FOLDERS:
        shutil.copytree(REPO / folder, src / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    wheels = root / "wheels"
    # This venv's setuptools builds it: faster than an isolated build env, and independent of
    # which setuptools an index would hand that env.
    assert _build_backend_installed(), (
        "the wheel is built with this venv's setuptools: pip install 'setuptools>=77'"
    )
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "-w", wheels, src], timeout=300)
    (wheel,) = wheels.glob("mgdn_edge-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[{RUNTIME_EXTRAS}]"], timeout=900)
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


def _lean_env(venv: Path) -> dict[str, str]:
    """The caller's environment (compiler, cmake, plugin cache) with the venv first and no source path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    from mgdn_edge.plugins.onnxruntime_ops import find_include_dir

    include = find_include_dir()  # the checkout's ../shared headers, which an installed wheel cannot see
    if include is not None:
        env["ONNXRUNTIME_INCLUDE_DIR"] = str(include)
    return env


def lean(venv: Path, *argv: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``mgdn-edge ARGV`` run by the venv without torch (from ``cwd``, never the checkout)."""
    cmd = [str(venv / "bin" / "mgdn-edge"), *map(str, argv)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=_lean_env(venv))


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two smooth 40x48 images that differ in where they are sharp."""
    folder = tmp_path_factory.mktemp("lean_pair")
    y, x = np.mgrid[0:40, 0:48].astype(np.float32)
    base = np.stack([np.sin(x / 5), np.cos(y / 7), np.sin((x + y) / 9)], -1) * 0.4 + 0.5
    paths = []
    for name, blur in (("a.png", (1, 9)), ("b.png", (9, 1))):
        image = cv2.blur(base, blur)
        paths.append(folder / name)
        cv2.imwrite(str(paths[-1]), (image * 255).round().astype(np.uint8))
    return paths[0], paths[1]


def test_the_runtime_install_has_no_torch_and_its_native_ops_pass_their_self_checks(lean_venv, tmp_path):
    python = lean_venv / "bin" / "python"
    probe = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True, cwd=tmp_path)
    assert probe.returncode == 1 and "No module named 'torch'" in probe.stderr
    built = _ok(lean(lean_venv, "build-plugins", "--openvino", cwd=tmp_path))
    library = built.stdout.strip().splitlines()[-1].removeprefix("built ")
    # the child-process check a fresh library must pass before any process loads it
    check = [python, "-m", "mgdn_edge.plugins.openvino_selfcheck", library]
    done = subprocess.run(check, capture_output=True, text=True, cwd=tmp_path, env=_lean_env(lean_venv))
    assert done.returncode == 0 and done.stdout.startswith("ok: max abs diff"), done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_fuse_without_torch_equals_the_full_install(runtime, lean_venv, tiny_mff_export, pair, tmp_path):
    model = tiny_mff_export / "model.onnx"
    fuse = ["fuse", "--task", "mff", "--model", model, "--runtime", runtime, *pair]
    _ok(lean(lean_venv, *fuse, "--raw", tmp_path / "lean.npy", "--out", tmp_path / "lean.png", cwd=tmp_path))
    assert main([*map(str, fuse), "--raw", str(tmp_path / "full.npy")]) == 0
    got, expected = np.load(tmp_path / "lean.npy"), np.load(tmp_path / "full.npy")
    assert got.shape == expected.shape == (40, 48, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert cv2.imread(str(tmp_path / "lean.png")).shape == (40, 48, 3)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bench_without_torch(runtime, lean_venv, tiny_mff_export, tmp_path):
    bench = ["bench", "--runtime", runtime, "--model", tiny_mff_export / "model.onnx", "--sizes", "32x40"]
    _ok(lean(lean_venv, *bench, "--warmup", "1", "--repeats", "2", "--json", "bench.json", cwd=tmp_path))
    result = json.loads((tmp_path / "bench.json").read_text())["result"]
    assert result["describe"]["runtime"] == runtime
    (row,) = result["bench"]
    assert tuple(row["size"]) == (32, 40) and 0 < row["p50_ms"] <= row["p90_ms"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_parity_without_torch_against_stored_reference_outputs(
    runtime, lean_venv, tiny_mff_export, tmp_path, capsys
):
    stored = tmp_path / "reference.npz"
    own = ["--runtime", "onnxruntime", "--model", str(tiny_mff_export)]
    assert main(["parity", *own, "--sizes", "24x30", "33x20", "--save-reference", str(stored)]) == 0
    capsys.readouterr()
    model = tiny_mff_export / "model.onnx"
    parity = [
        "parity",
        "--runtime",
        runtime,
        "--model",
        model,
        "--reference",
        stored,
        "--json",
        "parity.json",
    ]
    _ok(lean(lean_venv, *parity, cwd=tmp_path))
    report = json.loads((tmp_path / "parity.json").read_text())
    assert report["passed"] and report["reference"]["stored"] is True and len(report["cases"]) == 2
    assert report["worst"]["max_abs"] <= 1e-4  # the FP32 budget: a faithful runtime


def test_commands_that_need_torch_say_so_in_one_line(lean_venv, tiny_mff_export, pair, tmp_path):
    checkpoint = tiny_mff_export.parent / "model.pth"
    cases = {
        "export": ["export", "--task", "mff", "--model", checkpoint, "--out", tmp_path / "out"],
        "the PyTorch runtime": ["fuse", "--task", "mff", "--model", checkpoint, *pair, "--raw", "x.npy"],
        "parity against the checkpoint": ["parity", "--runtime", "openvino", "--model", tiny_mff_export],
    }
    for what, argv in cases.items():
        proc = lean(lean_venv, *argv, cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
        assert lines[0].startswith("error: ") and what in lines[0] and lines[0].endswith(NEEDS_TORCH)
        if what == "export":
            assert lines[0] == "error: mgdn-edge export needs PyTorch: pip install 'mgdn-edge[torch]'"
    assert not (tmp_path / "out").exists()
