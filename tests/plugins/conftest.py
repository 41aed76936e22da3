"""Fixtures of the plugin tests: each CPU plugin in turn, each test's own library cache.

Each cache test gets its own cache root ($XDG_CACHE_HOME) and temp fallback, so nothing here
touches the ~/.cache/mgdn-edge that other test runs on the machine share. ``fake`` replaces the
compile step by copying a library built once per pytest cache, and the self-check by a recorder,
where a test is about the cache logic rather than the check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cache_fakes import PLUGINS, Plugin, Recorder, plugin_record

from mgdn_edge.plugins import library_cache as lc


@pytest.fixture(params=PLUGINS)
def plugin(request: pytest.FixtureRequest) -> Plugin:
    """Each CPU plugin in turn; a test module about one plugin overrides this fixture."""
    return plugin_record(request.param)


@pytest.fixture
def good_library(plugin: Plugin, request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(plugin.good_fixture)


@pytest.fixture
def cache(plugin: Plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "xdg"
    monkeypatch.setenv(lc.CACHE_ENV, str(root))
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.delenv(plugin.module.ENV_VAR, raising=False)
    return root / "mgdn-edge"


@pytest.fixture
def fake(plugin: Plugin, good_library: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(good_library)
    monkeypatch.setattr(plugin.module, "_compile_into", recorder.compile_into)
    monkeypatch.setattr(plugin.module, "run_self_check", recorder.self_check)
    monkeypatch.setattr(plugin.module, "can_build", lambda: True)
    return recorder
