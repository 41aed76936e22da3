"""The OpenVINO extension cache: keyed folders, manifests, the child-process self-check, fallbacks.

Each test gets its own cache root ($XDG_CACHE_HOME) and temp fallback, so nothing here touches
the ~/.cache/mgdn-edge that other test runs on the machine share. Most tests replace the compile
step by copying a library built once per pytest cache (the real CMake build is exercised by the
fixture and by the build-plugins test), and the self-check by a recorder where the test is
about the cache logic rather than the check.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from mgdn_edge.cli import main
from mgdn_edge.core.errors import BackendError

ov = pytest.importorskip("openvino")
from mgdn_edge.plugins import library_cache as lc  # noqa: E402
from mgdn_edge.plugins import openvino_ext  # noqa: E402
from mgdn_edge.plugins.openvino_ext import EXTENSION_LIBRARY  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def good_library(request: pytest.FixtureRequest) -> Path:
    """Built once per pytest cache (the folder tests/plugins/test_openvino_op.py builds into)."""
    return openvino_ext.build_openvino_extension(Path(request.config.cache.mkdir("mgdn_openvino_extension")))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "xdg"
    monkeypatch.setenv(lc.CACHE_ENV, str(root))
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.delenv(openvino_ext.ENV_VAR, raising=False)
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
def fake(good_library: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(good_library)
    monkeypatch.setattr(openvino_ext, "_compile_into", recorder.compile_into)
    monkeypatch.setattr(openvino_ext, "run_self_check", recorder.self_check)
    monkeypatch.setattr(openvino_ext, "can_build", lambda: True)
    return recorder


def test_key_covers_openvino_sources_and_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = openvino_ext.extension_key()
    assert base["openvino"] == ov.get_version()
    monkeypatch.setattr(openvino_ext, "openvino_version", lambda: "2099.1.0-1-abc")
    assert openvino_ext.extension_key()["openvino"] != base["openvino"]
    assert openvino_ext.default_extension_dir().name.startswith("2099.1.0-")
    monkeypatch.undo()
    sources = tmp_path / "openvino"
    shutil.copytree(openvino_ext.OPENVINO_SOURCE_DIR, sources)
    monkeypatch.setattr(openvino_ext, "OPENVINO_SOURCE_DIR", sources)
    assert openvino_ext.extension_key()["sources"] == base["sources"]  # same bytes, same key
    with open(sources / "dynamic_filter_op.cpp", "a") as fh:
        fh.write("\n// changed\n")
    assert openvino_ext.extension_key()["sources"] != base["sources"]
    monkeypatch.undo()
    monkeypatch.setenv("CXXFLAGS", "-O0")
    assert openvino_ext.extension_key()["toolchain"] != base["toolchain"]


def test_default_build_is_keyed_checked_once_and_reused(cache: Path, fake: Recorder, monkeypatch) -> None:
    library = openvino_ext.ensure_openvino_extension()
    assert library.parent.parent == cache / "openvino"
    assert library.parent.name.startswith(ov.get_version().split("-")[0] + "-")
    assert fake.builds == [library] and fake.checks == [library]
    manifest = lc.read_manifest(library)
    assert manifest["sha256"] == _sha(library) and manifest["key"] == openvino_ext.extension_key()
    assert manifest["self_check"]["result"] == "ok"
    # Second process: verified from the manifest, neither built nor checked again.
    assert openvino_ext.ensure_openvino_extension() == library
    assert len(fake.builds) == 1 and len(fake.checks) == 1
    # An OpenVINO upgrade (or another venv's OpenVINO) gets its own folder, never the old library.
    monkeypatch.setattr(openvino_ext, "openvino_version", lambda: "2099.1.0-1-abc")
    other = openvino_ext.ensure_openvino_extension()
    assert other.parent != library.parent and len(fake.builds) == 2


def test_truncated_default_library_is_rebuilt(cache: Path, fake: Recorder, good_library: Path) -> None:
    library = openvino_ext.ensure_openvino_extension()
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 2])  # what a killed in-place write leaves
    assert openvino_ext.ensure_openvino_extension() == library
    assert len(fake.builds) == 2 and _sha(library) == _sha(good_library)


def test_truncated_default_library_without_tools_is_one_line(cache, fake: Recorder, monkeypatch) -> None:
    library = openvino_ext.ensure_openvino_extension()
    library.write_bytes(library.read_bytes()[:1000])
    monkeypatch.setattr(openvino_ext, "can_build", lambda: False)
    with pytest.raises(BackendError) as info:
        openvino_ext.ensure_openvino_extension()
    message = str(info.value)
    assert "\n" not in message and str(library) in message
    assert "does not match its manifest's sha256 (truncated or changed: 1000 bytes)" in message
    assert "build-plugins --openvino --clean" in message and openvino_ext.ENV_VAR in message


def test_failed_self_check_rebuilds_once_then_refuses(cache: Path, fake: Recorder) -> None:
    fake.verdict = "loading it crashed a child process (SIGSEGV)"
    with pytest.raises(BackendError, match=r"just built at .* fails its self-check \(loading it crashed"):
        openvino_ext.ensure_openvino_extension()
    assert len(fake.builds) == 1
    # The failure is recorded: the next command refuses at once instead of rebuilding in a loop.
    with pytest.raises(BackendError, match=r"failed its self-check \(loading it crashed a child process"):
        openvino_ext.ensure_openvino_extension()
    assert len(fake.builds) == 1


def test_unwritable_cache_falls_back_then_refuses(tmp_path: Path, fake: Recorder, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(lc.CACHE_ENV, str(blocker / "cache"))  # mkdir fails like a read-only HOME
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    library = openvino_ext.ensure_openvino_extension()
    assert library.is_relative_to(tmp_path / "fallback")
    assert "is not writable; building into" in capsys.readouterr().err
    assert openvino_ext.ensure_openvino_extension() == library  # found again in the fallback
    monkeypatch.setattr(lc, "fallback_root", lambda: blocker / "fallback")
    with pytest.raises(BackendError) as info:
        openvino_ext.ensure_openvino_extension()
    message = str(info.value)
    assert "\n" not in message and str(blocker / "cache" / "mgdn-edge") in message
    assert f"${lc.CACHE_ENV}" in message and f"${openvino_ext.ENV_VAR}" in message


def test_force_and_clean(cache: Path, fake: Recorder, tmp_path: Path) -> None:
    folder = tmp_path / "user-build-dir"
    folder.mkdir()
    (folder / "CMakeCache.txt").write_text("old in-place build")
    (folder / "notes.txt").write_text("the user's")
    library = openvino_ext.build_openvino_extension(folder)
    assert library == folder / EXTENSION_LIBRARY and len(fake.builds) == 1
    assert openvino_ext.build_openvino_extension(folder) == library and len(fake.builds) == 1
    openvino_ext.build_openvino_extension(folder, force=True)
    assert len(fake.builds) == 2 and (folder / "CMakeCache.txt").exists()
    openvino_ext.build_openvino_extension(folder, clean=True)
    assert len(fake.builds) == 3
    assert not (folder / "CMakeCache.txt").exists() and (folder / "notes.txt").read_text() == "the user's"


def test_self_check_turns_a_bus_error_into_one_line(good_library: Path, tmp_path: Path, cache: Path) -> None:
    """A truncated library loaded by OpenVINO dies of SIGBUS; the child takes the hit instead."""
    truncated = tmp_path / EXTENSION_LIBRARY
    data = good_library.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackendError) as info:
        openvino_ext.load_openvino_extension(ov.Core(), truncated)
    message = str(info.value)
    assert "\n" not in message and f"could not load the extension {truncated}" in message
    assert re.search(r"crashed a child process \(SIG(BUS|SEGV)\)", message)


def test_explicit_library_is_checked_against_its_manifest(good_library: Path, tmp_path: Path, cache) -> None:
    """Bytes that differ from the manifest beside them are refused before OpenVINO maps them.

    (Never rewrite a library in place once a process has loaded it: that is the crash itself.)
    """
    changed = tmp_path / EXTENSION_LIBRARY
    data = bytearray(good_library.read_bytes())
    data[-1] ^= 0xFF
    changed.write_bytes(bytes(data))
    shutil.copyfile(lc.manifest_path(good_library), lc.manifest_path(changed))
    with pytest.raises(BackendError, match=f"extension {changed} .*does not match its manifest's sha256"):
        openvino_ext.load_openvino_extension(ov.Core(), changed)
    assert openvino_ext.verify_library(good_library) is None  # the verdict recorded beside it


def test_build_plugins_replaces_a_truncated_library(good_library: Path, tmp_path: Path, cache, capsys):
    """The issue: build-plugins said "built" and kept the truncated file CMake thought up to date."""
    folder = tmp_path / "build"
    folder.mkdir()
    shutil.copyfile(good_library, folder / EXTENSION_LIBRARY)
    shutil.copyfile(lc.manifest_path(good_library), lc.manifest_path(folder / EXTENSION_LIBRARY))
    (folder / EXTENSION_LIBRARY).write_bytes(good_library.read_bytes()[:4096])
    assert main(["build-plugins", "--openvino", "--build-dir", str(folder)]) == 0
    assert "building the OpenVINO extension for OpenVINO" in capsys.readouterr().err
    library = folder / EXTENSION_LIBRARY
    assert lc.problem_with(library, openvino_ext.extension_key()) is None
    assert lc.read_manifest(library)["self_check"]["result"] == "ok"  # it ran in a child process
