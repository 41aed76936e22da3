"""The ONNX Runtime runtime with the native DynamicFilter op, against independent references.

References: the authors' MFF outputs stored with the fixture crops (skipped without ../shared)
and, for the tiny model, the PyTorch runtime. Each test says which filter ran through
``describe()["dynamic_filter"]``, so a silent fall-back to the portable body cannot pass as native.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.core.errors import BackendError
from mgdn_edge.model import preset
from mgdn_edge.runtimes import open_runtime

ort = pytest.importorskip("onnxruntime")
from mgdn_edge.plugins import library_cache as lc  # noqa: E402
from mgdn_edge.plugins import onnxruntime_ops as ops  # noqa: E402

TOL = 1e-4  # acceptance: ORT FP32 vs the authors' outputs, max abs


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache: no default library unless a test builds one."""
    monkeypatch.setenv(lc.CACHE_ENV, str(tmp_path / "xdg"))
    monkeypatch.setattr(lc, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.delenv(ops.ENV_VAR, raising=False)
    return tmp_path / "xdg"


def test_mff_native_matches_the_authors_outputs(mff_export: Path, mff_crop, ort_ops_library: Path) -> None:
    native = open_runtime("onnxruntime", mff_export, providers="cpu", ops_library=ort_ops_library)
    assert native.describe()["dynamic_filter"] == f"native (libmgdn_ort.so, {ort_ops_library})"
    got = native.run([mff_crop["A"], mff_crop["B"]])
    assert got.shape == mff_crop["out"].shape
    assert np.abs(got - mff_crop["out"]).max() <= TOL


def test_native_and_portable_agree_and_the_profile_shows_the_kernel(
    tiny_mff_export: Path, ort_ops_library: Path
) -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.random((1, 3, 40, 56), dtype=np.float32) for _ in range(2)]
    native = open_runtime(
        "onnxruntime", tiny_mff_export, providers="cpu", ops_library=ort_ops_library, profile=True
    )
    portable = open_runtime("onnxruntime", tiny_mff_export, providers="cpu", native_op=False, profile=True)
    reference = open_runtime("torch", tiny_mff_export.parent / "model.pth", task="mff").run(inputs)
    assert (
        portable.describe()["dynamic_filter"]
        == "portable ONNX function body (native op disabled (native_op=False))"
    )
    for rt in (native, portable):
        assert np.abs(rt.run(inputs) - reference).max() <= TOL
    native_rows = native.profile_layers(inputs, runs=1)
    portable_rows = portable.profile_layers(inputs, runs=1)
    native_layers = Counter({r.layer_type: 0 for r in native_rows})
    portable_layers = Counter({r.layer_type: 0 for r in portable_rows})
    for rows, counts in ((native_rows, native_layers), (portable_rows, portable_layers)):
        for r in rows:  # one row per (op type, element type)
            counts[r.layer_type] += r.count
    assert "DynamicFilter" in native_layers and "DynamicFilter" not in portable_layers
    # every tap of the body is a Slice and a Mul: k*k of each per filter node, gone with the kernel
    kernel_size = preset("mff", embed_dim=12, depths=[1], swin_heads=[2]).kernel_size
    filters, taps = native_layers["DynamicFilter"], kernel_size**2
    for op in ("Slice", "Mul"):
        assert portable_layers[op] - native_layers[op] == filters * taps


def test_library_absent_runs_the_portable_body(
    tiny_mff_export: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No headers here (and nothing cached): the body runs, correctly, and describe() says why."""
    monkeypatch.setattr(ops, "find_include_dir", lambda: None)
    rng = np.random.default_rng(1)
    inputs = [rng.random((1, 3, 33, 47), dtype=np.float32) for _ in range(2)]
    rt = open_runtime("onnxruntime", tiny_mff_export, providers="cpu")
    assert rt.describe()["dynamic_filter"].startswith(
        "portable ONNX function body (no ONNX Runtime C API headers (API >= 21) to build libmgdn_ort.so"
    )
    reference = open_runtime("torch", tiny_mff_export.parent / "model.pth", task="mff").run(inputs)
    assert np.abs(rt.run(inputs) - reference).max() <= TOL
    with pytest.raises(
        BackendError, match=r"^the native DynamicFilter op is unavailable: no ONNX Runtime C API"
    ):
        open_runtime("onnxruntime", tiny_mff_export, providers="cpu", native_op=True)


def test_default_library_is_built_on_first_use_with_a_note(
    tiny_mff_export: Path, private_cache: Path, ort_ops_library: Path, monkeypatch, capsys
) -> None:
    """The first session builds the default library (here: a copy of the good one), the next reuses it."""
    built: list[Path] = []

    def compile_into(library: Path, key: dict) -> None:
        built.append(library)
        print("mgdn-edge: building the ONNX Runtime DynamicFilter op ...", file=sys.stderr)
        lc.install_library(ort_ops_library, library, key)

    monkeypatch.setattr(ops, "_compile_into", compile_into)
    monkeypatch.setattr(ops, "can_build", lambda: True)
    rt = open_runtime("onnxruntime", tiny_mff_export, providers="cpu")
    assert built and rt.describe()["dynamic_filter"] == f"native (libmgdn_ort.so, {built[0]})"
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    open_runtime("onnxruntime", tiny_mff_export, providers="cpu")
    assert len(built) == 1


def test_explicit_library_that_does_not_exist_is_one_line(tiny_mff_export: Path, tmp_path: Path, monkeypatch):
    missing = tmp_path / "gone" / "libmgdn_ort.so"
    with pytest.raises(BackendError) as info:
        open_runtime("onnxruntime", tiny_mff_export, ops_library=missing)
    message = str(info.value)
    assert "\n" not in message and str(missing) in message and "build-plugins --onnxruntime" in message
    monkeypatch.setenv(ops.ENV_VAR, str(missing))
    with pytest.raises(BackendError, match=f"{missing} \\(from the \\$MGDN_ONNXRUNTIME_OPS\\)"):
        open_runtime("onnxruntime", tiny_mff_export)


def test_prebuilt_library_runs_where_no_headers_exist(
    tiny_mff_export: Path, ort_ops_library: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment box has the built library but no C API headers: named, it runs natively."""
    monkeypatch.setattr(ops, "find_include_dir", lambda: None)
    rng = np.random.default_rng(2)
    inputs = [rng.random((1, 3, 24, 40), dtype=np.float32) for _ in range(2)]
    reference = open_runtime("torch", tiny_mff_export.parent / "model.pth", task="mff").run(inputs)
    for kwargs in ({"ops_library": ort_ops_library}, {}):
        if not kwargs:
            monkeypatch.setenv(ops.ENV_VAR, str(ort_ops_library))
        rt = open_runtime("onnxruntime", tiny_mff_export, providers="cpu", **kwargs)
        assert rt.describe()["dynamic_filter"] == f"native (libmgdn_ort.so, {ort_ops_library})"
        assert np.abs(rt.run(inputs) - reference).max() <= TOL


def test_onnxruntime_too_old_is_one_line_or_the_body(
    tiny_mff_export: Path, ort_ops_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "onnxruntime_version", lambda: "1.20.1")
    for kwargs in ({"ops_library": ort_ops_library}, {"native_op": True}):
        with pytest.raises(BackendError) as info:
            open_runtime("onnxruntime", tiny_mff_export, providers="cpu", **kwargs)
        message = str(info.value)
        assert "\n" not in message and "onnxruntime 1.20.1 is older than 1.21" in message
    rt = open_runtime("onnxruntime", tiny_mff_export, providers="cpu")  # default: the body, with why
    assert rt.describe()["dynamic_filter"].startswith(
        "portable ONNX function body (onnxruntime 1.20.1 is older"
    )
