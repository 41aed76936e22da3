"""The OpenVINO extension cache, where it differs from the ONNX Runtime op library's: a folder per
OpenVINO release, the unwritable-cache fallback, --force/--clean, the manifest of an explicit path.

The scenarios both plugins share are in test_plugin_cache.py (fixtures in conftest.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cache_fakes import Plugin, Recorder, plugin_record

from mgdn_edge.core.errors import BackendError

ov = pytest.importorskip("openvino")
from mgdn_edge.plugins import library_cache as lc  # noqa: E402
from mgdn_edge.plugins import openvino_ext  # noqa: E402
from mgdn_edge.plugins.openvino_ext import EXTENSION_LIBRARY  # noqa: E402


@pytest.fixture
def plugin() -> Plugin:
    return plugin_record("openvino")


def test_key_covers_the_openvino_release(monkeypatch: pytest.MonkeyPatch) -> None:
    base = openvino_ext.extension_key()
    assert base["openvino"] == ov.get_version()
    monkeypatch.setattr(openvino_ext, "openvino_version", lambda: "2099.1.0-1-abc")
    assert openvino_ext.extension_key()["openvino"] != base["openvino"]
    assert openvino_ext.default_extension_dir().name.startswith("2099.1.0-")


def test_an_openvino_upgrade_gets_its_own_folder(cache: Path, fake: Recorder, monkeypatch) -> None:
    """Another OpenVINO (an upgrade, another venv's) gets its own folder, never the old library."""
    library = openvino_ext.ensure_openvino_extension()
    assert library.parent.name.startswith(ov.get_version().split("-")[0] + "-")
    monkeypatch.setattr(openvino_ext, "openvino_version", lambda: "2099.1.0-1-abc")
    other = openvino_ext.ensure_openvino_extension()
    assert other.parent != library.parent and len(fake.builds) == 2


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


def test_explicit_library_is_checked_against_its_manifest(ov_extension: Path, tmp_path: Path, cache) -> None:
    """Bytes that differ from the manifest beside them are refused before OpenVINO maps them.

    (Never rewrite a library in place once a process has loaded it: that is the crash itself.)
    """
    changed = tmp_path / EXTENSION_LIBRARY
    data = bytearray(ov_extension.read_bytes())
    data[-1] ^= 0xFF
    changed.write_bytes(bytes(data))
    shutil.copyfile(lc.manifest_path(ov_extension), lc.manifest_path(changed))
    with pytest.raises(BackendError, match=f"extension {changed} .*does not match its manifest's sha256"):
        openvino_ext.load_openvino_extension(ov.Core(), changed)
    assert openvino_ext.verify_library(ov_extension) is None  # the verdict recorded beside it
