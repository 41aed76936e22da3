"""The keyed library cache as every CPU plugin uses it (ONNX Runtime op library, OpenVINO extension).

Keyed folders, manifests, rebuilds of truncated libraries, the child-process self-check and
build-plugins, each scenario run against both plugins (fixtures in conftest.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cache_fakes import Plugin, Recorder, fake_onnxruntime_headers, sha256

from mgdn_edge.cli import main
from mgdn_edge.core.errors import BackendError
from mgdn_edge.plugins import library_cache as lc


def test_key_covers_sources_and_compiler(plugin: Plugin, tmp_path: Path, monkeypatch) -> None:
    # The ONNX Runtime key names the C API headers: stand-ins, so this runs without ../shared.
    headers = fake_onnxruntime_headers(tmp_path / "include", 21)
    monkeypatch.setenv("ONNXRUNTIME_INCLUDE_DIR", str(headers))
    base = plugin.key()
    sources = tmp_path / plugin.name  # the folder name is part of the digest
    shutil.copytree(getattr(plugin.module, plugin.source_attr), sources)
    monkeypatch.setattr(plugin.module, plugin.source_attr, sources)
    assert plugin.key()["sources"] == base["sources"]  # same bytes, same key
    with open(sources / plugin.source_file, "a") as fh:
        fh.write("\n// changed\n")
    assert plugin.key()["sources"] != base["sources"]
    monkeypatch.undo()
    monkeypatch.setenv("ONNXRUNTIME_INCLUDE_DIR", str(headers))
    monkeypatch.setenv("CXXFLAGS", "-O0")
    assert plugin.key()["toolchain"] != base["toolchain"]


def test_default_build_is_keyed_checked_once_and_reused(plugin: Plugin, cache: Path, fake: Recorder) -> None:
    library = plugin.ensure()
    assert library.parent.parent == cache / plugin.name
    assert fake.builds == [library] and fake.checks == [library]
    manifest = lc.read_manifest(library)
    assert manifest["sha256"] == sha256(library) and manifest["key"] == plugin.key()
    assert manifest["self_check"]["result"] == "ok"
    # Second process: verified from the manifest, neither built nor checked again.
    assert plugin.ensure() == library
    assert len(fake.builds) == 1 and len(fake.checks) == 1


def test_truncated_default_library_is_rebuilt(
    plugin: Plugin, cache, fake: Recorder, good_library: Path
) -> None:
    library = plugin.ensure()
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 2])  # what a killed in-place write leaves
    assert plugin.ensure() == library
    assert len(fake.builds) == 2 and sha256(library) == sha256(good_library)


def test_truncated_default_library_without_tools_is_one_line(
    plugin: Plugin, cache, fake, monkeypatch
) -> None:
    library = plugin.ensure()
    library.write_bytes(library.read_bytes()[:1000])
    monkeypatch.setattr(plugin.module, "can_build", lambda: False)
    with pytest.raises(BackendError) as info:
        plugin.ensure()
    message = str(info.value)
    assert "\n" not in message and str(library) in message
    assert "does not match its manifest's sha256 (truncated or changed: 1000 bytes)" in message
    assert all(hint in message for hint in plugin.no_tools_hints)


def test_failed_self_check_rebuilds_once_then_refuses(plugin: Plugin, cache, fake: Recorder) -> None:
    fake.verdict = "loading it crashed a child process (SIGSEGV)"
    with pytest.raises(BackendError, match=r"just built at .* fails its self-check \(loading it crashed"):
        plugin.ensure()
    assert len(fake.builds) == 1
    # The failure is recorded: the next command refuses at once instead of rebuilding in a loop.
    with pytest.raises(BackendError, match=r"failed its self-check \(loading it crashed a child process"):
        plugin.ensure()
    assert len(fake.builds) == 1


def test_self_check_turns_a_bus_error_into_one_line(
    plugin: Plugin, good_library: Path, tmp_path, cache
) -> None:
    """A truncated library loaded by the runtime dies of SIGBUS; the child takes the hit instead."""
    truncated = tmp_path / plugin.library
    data = good_library.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackendError) as info:
        plugin.load(truncated)
    message = str(info.value)
    assert "\n" not in message and plugin.load_names.format(truncated) in message
    assert re.search(r"crashed a child process \(SIG(BUS|SEGV)\)", message)


def test_build_plugins_replaces_a_truncated_library(
    plugin: Plugin, good_library: Path, tmp_path, cache, capsys
):
    """The real CMake build into --build-dir (CMake thought the truncated file up to date), then
    the real child-process self-check."""
    folder = tmp_path / "build"
    folder.mkdir()
    library = folder / plugin.library
    shutil.copyfile(good_library, library)
    shutil.copyfile(lc.manifest_path(good_library), lc.manifest_path(library))
    library.write_bytes(good_library.read_bytes()[:4096])
    assert main(["build-plugins", plugin.flag, "--build-dir", str(folder)]) == 0
    captured = capsys.readouterr()
    assert plugin.announce in captured.err and f"built {library}" in captured.out
    assert lc.problem_with(library, plugin.key()) is None
    assert lc.read_manifest(library)["self_check"]["result"] == "ok"  # it ran in a child process
    assert not (folder / plugin.other_library).exists()  # one flag builds only its own library
