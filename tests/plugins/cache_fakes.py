"""What the plugin cache tests share: each plugin's record, and a stand-in compiler and self-check."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mgdn_edge.plugins import library_cache as lc


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_tensorrt_headers(folder: Path, major: int, minor: int) -> Path:
    """A stand-in TensorRT include folder of version major.minor (with a trailing comment on the
    major line, as real headers write it)."""
    folder.mkdir(parents=True)
    (folder / "NvInfer.h").write_text("// stand-in\n")
    (folder / "NvInferVersion.h").write_text(
        f"#define NV_TENSORRT_MAJOR {major} //!< major\n#define NV_TENSORRT_MINOR {minor}\n"
    )
    return folder


def fake_onnxruntime_headers(folder: Path, api: int) -> Path:
    """A stand-in folder of ONNX Runtime's C API headers declaring API version ``api``."""
    folder.mkdir(parents=True)
    (folder / "onnxruntime_c_api.h").write_text(f"#define ORT_API_VERSION {api}\n")
    return folder


PLUGINS = ("onnxruntime", "openvino")
# One row a fact, one column a plugin (in the order of PLUGINS).
FACTS: dict[str, tuple[Any, Any]] = {
    "module": ("onnxruntime_ops", "openvino_ext"),
    "library": ("libmgdn_ort.so", "libmgdn_openvino.so"),
    "ensure": ("ensure_onnxruntime_ops", "ensure_openvino_extension"),  # find or build the default
    "key": ("ops_key", "extension_key"),
    "source_attr": ("ORT_SOURCE_DIR", "OPENVINO_SOURCE_DIR"),  # the module's own source folder
    "source_file": ("register.cpp", "dynamic_filter_op.cpp"),  # one file of that folder
    "announce": (
        "building the ONNX Runtime DynamicFilter op",
        "building the OpenVINO extension for OpenVINO",
    ),
    # what a refusal without build tools tells the user to do
    "no_tools_hints": (
        ("build it with `mgdn-edge build-plugins --onnxruntime`",),
        ("build-plugins --openvino --clean", "$MGDN_OPENVINO_EXTENSION"),
    ),
    "load_names": ("op library {}", "could not load the extension {}"),  # a load failure names the file
    "good_fixture": ("ort_ops_library", "ov_extension"),  # the session fixture building it for real
}


class Plugin:
    """One CPU plugin behind the keyed cache, as the shared cache tests drive it: ``name`` is its
    cache folder and build-plugins flag, the other attributes come from FACTS."""

    def __init__(self, name: str) -> None:
        column = PLUGINS.index(name)
        self.name, self.flag = name, f"--{name}"
        self.other_library = FACTS["library"][1 - column]  # which building this one must not build
        self.module: ModuleType = importlib.import_module(f"mgdn_edge.plugins.{FACTS['module'][column]}")
        for fact, values in FACTS.items():  # ensure and key are module functions, called by name
            if fact != "module":
                setattr(self, f"_{fact}" if fact in ("ensure", "key") else fact, values[column])

    def ensure(self, path: Path | None = None) -> Path:
        return getattr(self.module, self._ensure)(path)

    def key(self) -> dict:
        return getattr(self.module, self._key)()

    def load(self, library: Path) -> object:
        """Load an explicit library the way the runtime does (its self-check first)."""
        if self.name == "openvino":
            import openvino

            return self.module.load_openvino_extension(openvino.Core(), library)
        return self.ensure(library)


def plugin_record(name: str) -> Plugin:
    """The record of ``name`` (one of PLUGINS); skipped without that runtime."""
    pytest.importorskip(name)
    return Plugin(name)


class Recorder:
    """Stands in for the compiler (installs the good library) and/or the child-process check."""

    def __init__(self, good: Path, verdict: str | None = None) -> None:
        self.good, self.verdict = good, verdict
        self.builds: list[Path] = []
        self.checks: list[Path] = []

    def compile_into(self, library: Path, key: dict) -> None:
        self.builds.append(library)
        lc.install_library(self.good, library, key)

    def self_check(self, library: Path) -> str | None:
        self.checks.append(library)
        return self.verdict
