"""The TensorRT plugin's keyed cache folder and manifest check, without CUDA or TensorRT.

CMake and nvcc are replaced by a step that writes a known library into the temporary build
tree, so what is checked is the cache logic: the key (TensorRT headers, sources, CUDA archs),
the atomic install, reuse, force/clean, and that a truncated library is never returned.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from cache_fakes import fake_tensorrt_headers

from mgdn_edge.core.errors import BackendError
from mgdn_edge.plugins import library_cache as lc
from mgdn_edge.plugins import tensorrt_plugin as trt_plugin

LIBRARY_BYTES = b"\x7fELF" + bytes(range(256)) * 64


@pytest.fixture
def builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    monkeypatch.setenv(lc.CACHE_ENV, str(tmp_path / "xdg"))
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.setattr(trt_plugin, "find_nvcc", lambda: Path("/nonexistent/nvcc"))
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: None)
    calls: list[dict] = []

    def fake_cmake(source: Path, build_dir: Path, options: dict, target: str | None = None) -> None:
        calls.append({"build_dir": build_dir, **options})
        (build_dir / trt_plugin.PLUGIN_LIBRARY).write_bytes(LIBRARY_BYTES)

    monkeypatch.setattr(trt_plugin, "cmake_build", fake_cmake)
    return calls


def test_plugin_is_keyed_reused_and_rebuilt_when_truncated(tmp_path: Path, builds: list[dict]) -> None:
    h10 = fake_tensorrt_headers(tmp_path / "trt10.3", 10, 3)
    library = trt_plugin.build_tensorrt_plugin(tensorrt_include=h10, cuda_archs="87", check_runtime=False)
    assert library.parent.parent == tmp_path / "xdg" / "mgdn-edge" / "tensorrt"
    assert library.parent.name.startswith("10.3-") and library.read_bytes() == LIBRARY_BYTES
    assert not builds[0]["build_dir"].exists()  # compiled in a throw-away tree, then copied in
    manifest = lc.read_manifest(library)
    assert manifest["sha256"] == hashlib.sha256(LIBRARY_BYTES).hexdigest()
    assert manifest["key"]["tensorrt_headers"] == "10.3" and manifest["key"]["cuda_archs"] == "87"
    # Same key: reused. Other archs or other headers: another folder.
    assert trt_plugin.build_tensorrt_plugin(tensorrt_include=h10, check_runtime=False) == library
    assert len(builds) == 1
    other_arch = trt_plugin.build_tensorrt_plugin(tensorrt_include=h10, cuda_archs="90", check_runtime=False)
    h11 = fake_tensorrt_headers(tmp_path / "trt11.1", 11, 1)
    other_trt = trt_plugin.build_tensorrt_plugin(tensorrt_include=h11, check_runtime=False)
    assert len({library.parent, other_arch.parent, other_trt.parent}) == 3 and len(builds) == 3
    # Truncated: not found as the default, refused by path, and rebuilt by the next build.
    library.write_bytes(LIBRARY_BYTES[:100])
    assert library not in trt_plugin._default_plugins()
    with pytest.raises(BackendError) as info:
        trt_plugin.find_tensorrt_plugin(library)
    assert "\n" not in str(info.value) and "does not match its manifest's sha256" in str(info.value)
    assert trt_plugin.build_tensorrt_plugin(tensorrt_include=h10, check_runtime=False) == library
    assert library.read_bytes() == LIBRARY_BYTES and len(builds) == 4


def test_find_default_plugin_matches_sources_and_tensorrt(tmp_path: Path, builds, monkeypatch) -> None:
    with pytest.raises(BackendError, match=r"no verified libmgdn_trt.so .* under .*xdg/mgdn-edge/tensorrt"):
        trt_plugin.find_tensorrt_plugin()
    library = trt_plugin.build_tensorrt_plugin(
        tensorrt_include=fake_tensorrt_headers(tmp_path / "h", 10, 3), check_runtime=False
    )
    assert trt_plugin.find_tensorrt_plugin() == library
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: ((10, 7), "test"))
    with pytest.raises(BackendError, match="no verified"):  # built for 10.3, loaded by 10.7: not used
        trt_plugin.find_tensorrt_plugin()
    monkeypatch.setattr(trt_plugin, "installed_tensorrt_version", lambda: ((10, 3), "test"))
    assert trt_plugin.find_tensorrt_plugin() == library
    sources = tmp_path / "tensorrt-src"
    shutil.copytree(trt_plugin.TENSORRT_SOURCE_DIR, sources)
    (sources / "plugin_common.cpp").write_text("// edited\n", encoding="utf-8")
    monkeypatch.setattr(trt_plugin, "TENSORRT_SOURCE_DIR", sources)
    with pytest.raises(BackendError, match="no verified"):  # the sources changed: the old build is stale
        trt_plugin.find_tensorrt_plugin()


def test_force_and_clean(tmp_path: Path, builds: list[dict]) -> None:
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "CMakeFiles").mkdir()
    (folder / "keep.txt").write_text("user file")
    headers = fake_tensorrt_headers(tmp_path / "h", 10, 3)
    library = trt_plugin.build_tensorrt_plugin(folder, tensorrt_include=headers, check_runtime=False)
    assert library == folder / trt_plugin.PLUGIN_LIBRARY and len(builds) == 1
    trt_plugin.build_tensorrt_plugin(folder, tensorrt_include=headers, check_runtime=False)
    assert len(builds) == 1
    trt_plugin.build_tensorrt_plugin(folder, tensorrt_include=headers, check_runtime=False, force=True)
    assert len(builds) == 2 and (folder / "CMakeFiles").exists()
    trt_plugin.build_tensorrt_plugin(folder, tensorrt_include=headers, check_runtime=False, clean=True)
    assert len(builds) == 3 and not (folder / "CMakeFiles").exists()
    assert (folder / "keep.txt").read_text() == "user file"
