"""The ONNX Runtime op library cache: keyed folders, manifests, the child-process self-check.

Each test gets its own cache root ($XDG_CACHE_HOME) and temp fallback. Where a test is about the
cache logic, the compile step copies the library built once per pytest cache and the self-check
is a recorder; the real child-process check runs where the test is about what it catches.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from mgdn_edge.cli import main
from mgdn_edge.core.errors import BackendError

pytest.importorskip("onnxruntime")
from mgdn_edge.plugins import library_cache as lc  # noqa: E402
from mgdn_edge.plugins import onnxruntime_ops as ops  # noqa: E402
from mgdn_edge.plugins.onnxruntime_ops import OPS_LIBRARY  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "xdg"
    monkeypatch.setenv(lc.CACHE_ENV, str(root))
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.delenv(ops.ENV_VAR, raising=False)
    return root / "mgdn-edge"


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


@pytest.fixture
def fake(ort_ops_library: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(ort_ops_library)
    monkeypatch.setattr(ops, "_compile_into", recorder.compile_into)
    monkeypatch.setattr(ops, "run_self_check", recorder.self_check)
    monkeypatch.setattr(ops, "can_build", lambda: True)
    return recorder


def test_key_covers_onnxruntime_headers_sources_and_compiler(
    ort_ops_library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    base = ops.ops_key()
    assert base["onnxruntime"] == onnxruntime.__version__ and base["headers"]["api"] >= ops.API_VERSION
    monkeypatch.setattr(ops, "onnxruntime_version", lambda: "1.99.0")
    assert ops.ops_key()["onnxruntime"] == "1.99.0"
    monkeypatch.undo()
    sources = tmp_path / "onnxruntime"
    shutil.copytree(ops.ORT_SOURCE_DIR, sources)
    monkeypatch.setattr(ops, "ORT_SOURCE_DIR", sources)
    assert ops.ops_key()["sources"] == base["sources"]
    with open(sources / "register.cpp", "a") as fh:
        fh.write("\n// changed\n")
    assert ops.ops_key()["sources"] != base["sources"]
    monkeypatch.undo()
    monkeypatch.setenv("CXXFLAGS", "-O0")
    assert ops.ops_key()["toolchain"] != base["toolchain"]


def test_shared_kernel_change_rebuilds_both_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plugins/common is hashed into the keys of the OpenVINO extension and the ORT op library."""
    from mgdn_edge.plugins import openvino_ext

    common = tmp_path / "common"
    shutil.copytree(ops.COMMON_SOURCE_DIR, common)
    before = lc.source_digest(ops.ORT_SOURCE_DIR, common)
    (common / "dynamic_filter_cpu.cpp").write_text((common / "dynamic_filter_cpu.cpp").read_text() + "\n")
    assert lc.source_digest(ops.ORT_SOURCE_DIR, common) != before
    assert openvino_ext.COMMON_SOURCE_DIR == ops.COMMON_SOURCE_DIR


def test_default_build_is_keyed_checked_once_and_reused(cache: Path, fake: Recorder) -> None:
    library = ops.ensure_onnxruntime_ops()
    assert library.parent.parent == cache / "onnxruntime"
    assert fake.builds == [library] and fake.checks == [library]
    manifest = lc.read_manifest(library)
    assert manifest["sha256"] == _sha(library) and manifest["key"] == ops.ops_key()
    assert manifest["self_check"]["result"] == "ok"
    assert ops.ensure_onnxruntime_ops() == library
    assert len(fake.builds) == 1 and len(fake.checks) == 1


def test_truncated_default_library_is_rebuilt(cache: Path, fake: Recorder, ort_ops_library: Path) -> None:
    library = ops.ensure_onnxruntime_ops()
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 2])  # what a killed in-place write leaves
    assert ops.ensure_onnxruntime_ops() == library
    assert len(fake.builds) == 2 and _sha(library) == _sha(ort_ops_library)


def test_truncated_default_library_without_tools_is_one_line(cache, fake: Recorder, monkeypatch) -> None:
    library = ops.ensure_onnxruntime_ops()
    library.write_bytes(library.read_bytes()[:1000])
    monkeypatch.setattr(ops, "can_build", lambda: False)
    with pytest.raises(BackendError) as info:
        ops.ensure_onnxruntime_ops()
    message = str(info.value)
    assert "\n" not in message and str(library) in message
    assert "does not match its manifest's sha256 (truncated or changed: 1000 bytes)" in message


def test_failed_self_check_is_refused_without_a_rebuild_loop(cache: Path, fake: Recorder) -> None:
    fake.verdict = "loading it crashed a child process (SIGSEGV)"
    with pytest.raises(BackendError, match=r"just built at .* fails its self-check \(loading it crashed"):
        ops.ensure_onnxruntime_ops()
    with pytest.raises(BackendError, match=r"failed its self-check \(loading it crashed a child process"):
        ops.ensure_onnxruntime_ops()
    assert len(fake.builds) == 1


def test_self_check_turns_a_bus_error_into_one_line(
    ort_ops_library: Path, tmp_path: Path, cache: Path
) -> None:
    """A truncated library registered in ONNX Runtime kills the process; the child takes the hit."""
    truncated = tmp_path / OPS_LIBRARY
    data = ort_ops_library.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackendError) as info:
        ops.ensure_onnxruntime_ops(truncated)
    message = str(info.value)
    assert "\n" not in message and f"op library {truncated}" in message
    assert re.search(r"crashed a child process \(SIG(BUS|SEGV)\)", message)


def test_explicit_missing_library_names_the_file(tmp_path: Path, cache, monkeypatch) -> None:
    missing = tmp_path / "nowhere" / OPS_LIBRARY
    with pytest.raises(BackendError, match=re.escape(f"{missing} (from the argument)")) as info:
        ops.ensure_onnxruntime_ops(missing)
    assert "build-plugins --onnxruntime" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setenv(ops.ENV_VAR, str(tmp_path))
    with pytest.raises(BackendError, match=re.escape(f"{tmp_path / OPS_LIBRARY} (from the ${ops.ENV_VAR})")):
        ops.ensure_onnxruntime_ops()


def test_headers_are_found_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def headers(folder: Path, api: int) -> Path:
        folder.mkdir(parents=True)
        (folder / ops.HEADER).write_text(f"#define ORT_API_VERSION {api}\n")
        return folder

    old, new = headers(tmp_path / "old", 20), headers(tmp_path / "new" / "onnxruntime", 23)
    monkeypatch.setattr(ops, "SYSTEM_INCLUDE_DIRS", (old,))
    monkeypatch.setattr(ops, "REPO_INCLUDE_DIR", new.parent)
    monkeypatch.delenv(ops.INCLUDE_ENV_VAR, raising=False)
    assert ops.find_include_dir() == new  # API 20 headers are passed over, include/onnxruntime found
    monkeypatch.setenv(ops.INCLUDE_ENV_VAR, str(old))
    with pytest.raises(BackendError, match=r"is ONNX Runtime API 20; libmgdn_ort.so needs API >= 21"):
        ops.find_include_dir()
    monkeypatch.setenv(ops.INCLUDE_ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(BackendError, match=re.escape(f"no {ops.HEADER} in {tmp_path / 'empty'}")):
        ops.find_include_dir()
    monkeypatch.delenv(ops.INCLUDE_ENV_VAR)
    monkeypatch.setattr(ops, "REPO_INCLUDE_DIR", tmp_path / "absent")
    assert ops.find_include_dir() is None


def test_too_old_onnxruntime_is_one_line(monkeypatch: pytest.MonkeyPatch, cache) -> None:
    assert ops.too_old("1.21.0") is None and ops.too_old("1.32.0") is None and ops.too_old("2.0.0") is None
    monkeypatch.setattr(ops, "onnxruntime_version", lambda: "1.20.1")
    for call in (ops.ensure_onnxruntime_ops, ops.build_onnxruntime_ops):
        with pytest.raises(BackendError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and message.startswith("onnxruntime 1.20.1 is older than 1.21")
    assert ops.unavailable_reason().startswith("onnxruntime 1.20.1 is older than 1.21")


def test_build_plugins_onnxruntime_replaces_a_truncated_library(
    ort_ops_library: Path, tmp_path: Path, cache, capsys
) -> None:
    """The real CMake build into --build-dir, then the real child-process self-check."""
    folder = tmp_path / "build"
    folder.mkdir()
    shutil.copyfile(ort_ops_library, folder / OPS_LIBRARY)
    shutil.copyfile(lc.manifest_path(ort_ops_library), lc.manifest_path(folder / OPS_LIBRARY))
    (folder / OPS_LIBRARY).write_bytes(ort_ops_library.read_bytes()[:4096])
    assert main(["build-plugins", "--onnxruntime", "--build-dir", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "building the ONNX Runtime DynamicFilter op" in captured.err
    assert f"built {folder / OPS_LIBRARY}" in captured.out
    library = folder / OPS_LIBRARY
    assert lc.problem_with(library, ops.ops_key()) is None
    assert lc.read_manifest(library)["self_check"]["result"] == "ok"
    assert not (folder / "libmgdn_openvino.so").exists()  # --onnxruntime alone builds only this library
