"""Adding a backend is one record plus one runtime class: the toy backend of ``toy_backend.py``,
registered through ``$MGDN_EDGE_BACKENDS`` alone, is offered by ``fuse --runtime``, ``bench``
(``--profile`` too), ``pipeline --runtimes`` (in its worker processes) and the report, and its
outputs equal ONNX Runtime's, whose session it runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.cli import build_parser, main
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.backends import BACKENDS, PLUGINS_ENV, load_plugin_backends

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch):
    """The toy backend registered here and in every child process (workers import it too)."""
    monkeypatch.setenv(PLUGINS_ENV, "toy_backend:TOY")
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    # sys.path by hand: monkeypatch.syspath_prepend would also undo entries that imports made
    # meanwhile (onnxruntime.transformers appends its folder)
    sys.path.insert(0, str(TESTS))
    saved = dict(BACKENDS)
    load_plugin_backends()
    yield
    BACKENDS.clear()
    BACKENDS.update(saved)
    sys.path.remove(str(TESTS))


@pytest.fixture(scope="module")
def tiny_hdr(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny random HDR checkpoint and its export folder."""
    from mgdn_edge.export.onnx_export import export_model

    torch.manual_seed(0)
    model = MGDN(preset("hdr", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()
    folder = tmp_path_factory.mktemp("toy")
    ckpt = folder / "tiny_hdr.pth"
    torch.save(model.state_dict(), ckpt)
    export_model(model, folder / "export", checkpoint=ckpt, verify=False, fp16=False)
    return ckpt, folder / "export"


def _brackets(folder: Path) -> list[str]:
    rng = np.random.default_rng(3)
    paths = []
    for i in range(3):
        path = folder / f"ldr{i}.png"
        cv2.imwrite(str(path), (rng.random((40, 48, 3)) * 255).astype(np.uint8))
        paths.append(str(path))
    return paths


def test_unknown_plugin_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from mgdn_edge.core.errors import BackendError

    monkeypatch.setenv(PLUGINS_ENV, "no_such_module:TOY")
    with pytest.raises(BackendError, match="backend plugin 'no_such_module:TOY'.*does not load"):
        load_plugin_backends()


def test_a_fifth_backend_is_one_record(toy, tiny_hdr, tmp_path: Path) -> None:
    ckpt, export = tiny_hdr
    onnx_file = export / "model.onnx"
    commands = next(a for a in build_parser()._actions if isinstance(a.choices, dict)).choices
    assert "toy" in commands["fuse"].format_help() and "toyrt" in commands["bench"].format_help()

    # fuse: the record's runtime, with the output of the session it wraps
    inputs = _brackets(tmp_path)
    raw = tmp_path / "toy.npy"
    argv = ["fuse", "--task", "hdr", "--runtime", "toyrt", "--model", str(onnx_file), *inputs]
    assert main([*argv, "--exposures", "-2", "0", "2", "--raw", str(raw)]) == 0
    from mgdn_edge.model.tasks import prepare_inputs

    prepared = prepare_inputs("hdr", [Path(p) for p in inputs], [-2.0, 0.0, 2.0])
    expected = open_runtime("onnxruntime", onnx_file, native_op=False).run(prepared.inputs)
    got = np.load(raw)
    assert np.abs(got - expected[0].transpose(1, 2, 0)).max() <= 1e-6

    # bench, in its worker process, and the layer profile the record says the runtime has
    report = tmp_path / "bench.json"
    bench = ["bench", "--runtime", "toy", "--model", str(onnx_file), "--sizes", "32x32"]
    assert main([*bench, "--warmup", "0", "--repeats", "2", "--profile", "--json", str(report)]) == 0
    result = json.loads(report.read_text())["result"]
    assert result["describe"]["runtime"] == "toy" and result["job"]["runtime"] == "toy"
    assert len(result["bench"]) == 1 and result["bench"][0]["p50_ms"] > 0
    assert {row["layer_type"] for row in result["layer_times"]} >= {"Conv", "MatMul"}

    # pipeline --runtimes toy: the record's variant is built, measured in workers and reported
    from quick_pipeline import quick_options

    from mgdn_edge.pipeline import run_pipeline

    out = tmp_path / "pipeline"
    options = quick_options(ckpt, out, ["toy"], repeats=2)
    results = run_pipeline(options).to_dict()
    by_name = {v["name"]: v for v in results["variants"]}
    assert set(by_name) == {"torch-fp32", "toy-fp32"}
    toy_variant = by_name["toy-fp32"]
    assert toy_variant["status"] == "ok", toy_variant.get("reason")
    assert toy_variant["parity"]["passed"] and toy_variant["parity"]["max_abs"] <= 1e-4
    assert "Toy runtime FP32" in (out / "report.md").read_text(encoding="utf-8")
