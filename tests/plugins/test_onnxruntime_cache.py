"""The ONNX Runtime op library cache, where it differs from the OpenVINO extension's: its key
(onnxruntime release, C API headers), header search, version floor and explicit paths.

The scenarios both plugins share are in test_plugin_cache.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cache_fakes import Plugin, fake_onnxruntime_headers, plugin_record

from mgdn_edge.core.errors import BackendError

pytest.importorskip("onnxruntime")
from mgdn_edge.plugins import library_cache as lc  # noqa: E402
from mgdn_edge.plugins import onnxruntime_ops as ops  # noqa: E402
from mgdn_edge.plugins.onnxruntime_ops import OPS_LIBRARY  # noqa: E402


@pytest.fixture
def plugin() -> Plugin:
    return plugin_record("onnxruntime")


def test_key_covers_onnxruntime_release_and_headers(ort_ops_library: Path, monkeypatch) -> None:
    import onnxruntime

    base = ops.ops_key()
    assert base["onnxruntime"] == onnxruntime.__version__ and base["headers"]["api"] >= ops.API_VERSION
    monkeypatch.setattr(ops, "onnxruntime_version", lambda: "1.99.0")
    assert ops.ops_key()["onnxruntime"] == "1.99.0"


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


def test_explicit_missing_library_names_the_file(tmp_path: Path, cache, monkeypatch) -> None:
    missing = tmp_path / "nowhere" / OPS_LIBRARY
    with pytest.raises(BackendError, match=re.escape(f"{missing} (from the argument)")) as info:
        ops.ensure_onnxruntime_ops(missing)
    assert "build-plugins --onnxruntime" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setenv(ops.ENV_VAR, str(tmp_path))
    with pytest.raises(BackendError, match=re.escape(f"{tmp_path / OPS_LIBRARY} (from the ${ops.ENV_VAR})")):
        ops.ensure_onnxruntime_ops()


def test_headers_are_found_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = fake_onnxruntime_headers(tmp_path / "old", 20)
    new = fake_onnxruntime_headers(tmp_path / "new" / "onnxruntime", 23)
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
