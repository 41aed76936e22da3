"""Shared fixtures of the native runner tests: the built runner, the OpenVINO extension, and the
Python CLI to compare against (run in a child process, exactly as a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def native_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """mgdn-fuse, libmgdn_edge.so and libmgdn_openvino.so, built from this checkout (skipped with
    the reason where cmake, a compiler, OpenCV's headers or the openvino wheel are missing)."""
    pytest.importorskip("openvino")
    from mgdn_edge.plugins.native_runner import build_native_runner, missing_tools
    from mgdn_edge.plugins.openvino_ext import build_openvino_extension

    missing = missing_tools()
    if missing is not None:
        pytest.skip(f"the native runner cannot be built here: {missing}")
    folder = tmp_path_factory.mktemp("native-build")
    runner, library = build_native_runner(folder)
    return {"runner": runner, "library": library, "extension": build_openvino_extension()}


def _numpy_portable_env() -> dict[str, str]:
    """numpy runs float32 power/log1p through SVML on AVX512 CPUs (up to 1 ulp off the C library);
    switched off, numpy computes them as every other CPU does, which the runner matches bit for bit."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    wide = [
        f for f in __cpu_dispatch__ if __cpu_features__.get(f) and (f.startswith("AVX512") or f == "X86_V4")
    ]
    env = dict(os.environ)
    if wide:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(wide)
    return env


def _run_python_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from mgdn_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    base = _numpy_portable_env()
    base.update(env or {})
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=base)


@pytest.fixture(scope="session")
def python_cli():
    """``python_cli(*args, env=None)``: `mgdn-edge ARGS` in a child process."""
    return _run_python_cli


@pytest.fixture(scope="session")
def native(native_build: dict[str, Path]):
    """``native(*args, env=None)``: mgdn-fuse ARGS in a child process ($MGDN_OPENVINO_EXTENSION: the
    extension built for the session, unless ``env`` says otherwise)."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = {**os.environ, "MGDN_OPENVINO_EXTENSION": str(native_build["extension"]), **(env or {})}
        return subprocess.run([str(native_build["runner"]), *args], capture_output=True, text=True, env=full)

    return run


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """model.onnx of a fixture checkpoint, exported once per session and task."""
    from mgdn_edge.export.onnx_export import export_checkpoint

    made: dict[str, Path] = {}

    def export(task: str) -> Path:
        if task not in made:
            ckpt = {
                "mff": FIXTURES / "official-mff" / "mff_62000_E.pth",
                "hdr": FIXTURES / "architecture" / "hdr_arch_depth222_seed1234.pth",
                "gdsr": FIXTURES / "architecture" / "gdsr_arch_seed1234.pth",
            }[task]
            if not ckpt.is_file():
                pytest.skip(f"fixture not available: {ckpt}")
            out = tmp_path_factory.mktemp(f"export-{task}")
            export_checkpoint(ckpt, out, verify=False, fp16=False)
            made[task] = out / "model.onnx"
        return made[task]

    return export
