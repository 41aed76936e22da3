"""Calibration in bounded memory: segmented ONNX Runtime histograms give ONNX Runtime's own ranges,
samples are streamed, NNCF statistics are collected in groups with unchanged results.

A tiny random-weight MFF network (as in test_quantize) at 48x48; the budgets are set small enough
to force many segments / groups, which is what a 520x520 image does to the default budget.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from mgdn_edge.calibration import open_source
from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.ort_segments import plan_segments, probe_feed, tensor_sizes
from mgdn_edge.calibration.qdq_build import calibrate, calibration_session, portable_graph
from mgdn_edge.calibration.sample_stream import SampleStream, checked_stream, largest_sample
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes.parity import synthetic_cases

TINY_BUDGET_MB = 0.2  # about 8 segments of the tiny model at 48x48


def write_pairs(root: Path, n: int, size: int) -> Path:
    """MFF pair folders A/ and B/ of smooth random 8-bit PNGs, as ``quantize --data`` reads."""
    from PIL import Image

    for sub in ("A", "B"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b = synthetic_cases(preset("mff"), [(size, size)], seed=i)[0].inputs
        for sub, img in (("A", a), ("B", b)):
            pixels = (img[0].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
            Image.fromarray(pixels).save(root / sub / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = MGDN(preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()
    out = tmp_path_factory.mktemp("export")
    export_model(model, out, verify=False, fp16=False)
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    root = write_pairs(tmp_path_factory.mktemp("pairs"), 4, size=48)
    return open_source("mff", root).load(progress=False)


def _portable(export_dir: Path) -> onnx.ModelProto:
    return portable_graph(onnx.load(export_dir / "model.onnx"), onnx.load(export_dir / "model.portable.onnx"))


def _whole_graph_ranges(portable: onnx.ModelProto, samples: list[Sample], method: str, tmp: Path) -> object:
    """ONNX Runtime's calibrator as it is meant to be used: the whole augmented graph, one sample
    per collect_data call (what quantize did before segments)."""
    import onnxruntime.quantization as quant

    from mgdn_edge.calibration.qdq_build import calibration_method

    class OneSample:  # a CalibrationDataReader over one feed
        def __init__(self, feed: dict[str, np.ndarray]) -> None:
            self.feed: dict[str, np.ndarray] | None = feed

        def get_next(self) -> dict[str, np.ndarray] | None:
            feed, self.feed = self.feed, None
            return feed

    path = tmp / "portable.onnx"
    onnx.save(portable, path)
    options = {"symmetric": True} | ({"percentile": 99.999} if method == "percentile" else {})
    calibrator = quant.create_calibrator(
        path,
        ["Conv", "MatMul", "Gemm"],
        augmented_model_path=str(tmp / "augmented.onnx"),
        calibrate_method=calibration_method(method),
        extra_options=options,
    )
    for s in samples:
        calibrator.collect_data(OneSample(dict(zip(["a", "b"], s.inputs, strict=True))))
    return calibrator.compute_data()


@pytest.mark.parametrize("method", ["entropy", "percentile", "minmax"])
def test_segmented_ranges_equal_whole_graph_ranges(
    export_dir: Path, samples: list[Sample], tmp_path: Path, method: str
) -> None:
    portable = _portable(export_dir)
    want = _whole_graph_ranges(portable, samples, method, tmp_path)
    got = calibrate(portable, samples, ["a", "b"], method, progress=False, memory_mb=TINY_BUDGET_MB)
    assert set(got.keys()) == set(want.keys()) and len(want.keys()) > 20
    for name in want:
        lo, hi = got[name].range_value
        want_lo, want_hi = want[name].range_value
        np.testing.assert_allclose([lo, hi], [want_lo, want_hi], rtol=1e-6, atol=0, err_msg=name)
        if method != "minmax":  # the histograms themselves, bin for bin
            np.testing.assert_array_equal(got[name].hist, want[name].hist, err_msg=name)


def test_small_budget_makes_segments_that_hold_less(export_dir: Path, samples: list[Sample]) -> None:
    import onnxruntime.quantization as quant

    model = quant.quant_utils.load_model_with_shape_infer(export_dir / "model.portable.onnx")
    feed = dict(zip(["a", "b"], samples[0].inputs, strict=True))
    sizes = tensor_sizes(model, feed, calibration_session)
    read = {t for n in model.graph.node if n.op_type in ("Conv", "MatMul") for t in n.input}
    calibrated = read & set(sizes)
    whole = plan_segments(model, calibrated, sizes, 2**40)
    split = plan_segments(model, calibrated, sizes, int(TINY_BUDGET_MB * 2**20))
    assert len(whole) == 1 and len(split) >= 4
    assert max(s.held_bytes for s in split) < whole[0].held_bytes / 2
    # every calibrated tensor is collected exactly once, in the segment that makes it
    collected = [t for s in split for t in s.calibrated]
    assert sorted(collected) == sorted(calibrated)
    # each segment reads only graph inputs and what earlier segments kept
    available = {"a", "b"}
    for s in split:
        assert set(s.inputs) <= available, set(s.inputs) - available
        available = set(s.keep) | {"a", "b"}


def test_probe_sizes_scale_with_pixels(export_dir: Path) -> None:
    import onnxruntime.quantization as quant

    model = quant.quant_utils.load_model_with_shape_infer(export_dir / "model.portable.onnx")
    feed = {k: np.zeros((1, 3, 256, 384), np.float32) for k in ("a", "b")}
    small, scale = probe_feed(feed)
    assert small["a"].shape == (1, 3, 88, 128) and scale == pytest.approx(256 * 384 / (88 * 128))
    estimated = tensor_sizes(model, feed, calibration_session)
    session = calibration_session(export_dir / "model.portable.onnx")
    out = session.get_outputs()[0].name
    (y,) = session.run([out], feed)
    assert estimated[out] == pytest.approx(y.nbytes, rel=0.1)


def test_sample_stream_reads_lazily_and_checks_everything_first(tmp_path: Path) -> None:
    root = write_pairs(tmp_path / "pairs", 5, size=32)
    source = open_source("mff", root)
    stream = checked_stream(source, "calibration", progress=False)
    assert isinstance(stream, SampleStream) and len(stream) == 5
    assert [s.name for s in stream] == [s.name for s in source.load(progress=False)]
    assert [s.name for s in stream[1:3]] == ["001", "002"] and stream[-1].name == "004"
    assert stream.largest().name == "000" and largest_sample(list(stream)).name == "000"
    assert len(stream._source.cache._frames) <= 1  # one frame held, whatever the count
    (root / "B" / "003.png").write_bytes(b"not a png")
    with pytest.raises((ImageReadError, InputError), match="003"):
        checked_stream(open_source("mff", root), "calibration", progress=False)


# NNCF runs in a child process, as the pipeline and test_quantize run it.
_NNCF_GROUPS_CHILD = """
import json, sys
from pathlib import Path
import numpy as np
import openvino as ov
from mgdn_edge.calibration.quantize import quantize_model
from mgdn_edge.runtimes.openvino.ir import read_model

export, pairs, out = map(Path, sys.argv[1:4])
budget = float(sys.argv[4])
result = quantize_model(export, pairs, "openvino", out=out, progress=False, calib_memory_mb=budget)
model, _ = read_model(ov.Core(), result.path)
fq = {}
for op in model.get_ops():
    if op.get_type_name() == "FakeQuantize":
        limits = [op.input_value(i).get_node().get_data() for i in range(1, 5)]
        fq[op.get_friendly_name()] = [np.asarray(a, np.float64).ravel().tolist() for a in limits]
print(json.dumps({"fq": fq, "notes": result.notes}))
"""


def test_nncf_statistics_in_groups_give_the_same_int8_model(export_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    pairs = write_pairs(tmp_path / "pairs", 3, size=48)
    got = {}
    for budget in (1e6, TINY_BUDGET_MB):  # one group; many groups
        argv = [sys.executable, "-c", _NNCF_GROUPS_CHILD, str(export_dir), str(pairs)]
        argv += [str(tmp_path / f"q{budget:g}.xml"), str(budget)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        got[budget] = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert got[1e6]["notes"] == [] and "passes over the data" in got[TINY_BUDGET_MB]["notes"][0]
    whole, grouped = got[1e6]["fq"], got[TINY_BUDGET_MB]["fq"]
    assert len(whole) > 10 and whole.keys() == grouped.keys()
    for name in whole:
        for a, b in zip(whole[name], grouped[name], strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7, err_msg=name)
