"""Layer profiles: aggregation per run, the printed table, the JSON record, the runtimes offered."""

from __future__ import annotations

import pytest

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.results import LatencyRow, LayerTime, LoadInfo, Measurement
from mgdn_edge.core.size import Size
from mgdn_edge.runtimes.base.profile import LayerSample, aggregate
from mgdn_edge.runtimes.layer_profile import check_profiled, format_layer_table


def _two_runs() -> list[LayerSample]:
    """Two runs of a graph with three convolutions, one f32 reorder and one reference op."""
    one_run = [
        LayerSample("Convolution", "brgconv_avx512_f32", 2.0),
        LayerSample("Convolution", "brgconv_avx512_f32", 1.0),
        LayerSample("Convolution", "brgconv_avx512_1x1_f32", 0.5),
        LayerSample("Reorder", "reorder_f32", 4.0),
        LayerSample("Reference", "ref_f32", 0.5),
    ]
    return one_run + [s._replace(ms=s.ms * 3) for s in one_run]  # the second run is slower


def test_aggregate_gives_counts_and_times_per_run_slowest_first():
    rows = aggregate(_two_runs(), runs=2)
    by_key = {(r.layer_type, r.exec_type): r for r in rows}
    conv = by_key[("Convolution", "brgconv_avx512_f32")]
    assert conv.count == 2 and conv.ms == pytest.approx((3.0 + 9.0) / 2)
    assert by_key[("Convolution", "brgconv_avx512_1x1_f32")].count == 1  # kernels stay apart
    assert [r.layer_type for r in rows] == ["Reorder", "Convolution", "Convolution", "Reference"]
    assert sum(r.count for r in rows) == 5
    assert sum(r.share for r in rows) == pytest.approx(1.0, abs=1e-3)
    assert by_key[("Reorder", "reorder_f32")].share == pytest.approx(8.0 / 16.0)


def test_aggregate_weights_op_calls_and_refuses_zero_runs():
    rows = aggregate([LayerSample("aten::bmm", "cpu f32", 6.0, calls=8)], runs=2)
    assert (rows[0].count, rows[0].ms, rows[0].share) == (4, 3.0, 1.0)
    with pytest.raises(InputError):
        aggregate([], runs=0)


def test_table_has_a_row_per_kind_a_total_and_the_wall_clock_comparison():
    rows = aggregate(_two_runs(), runs=2)
    lines = format_layer_table(rows, wall_p50_ms=20.0, title="layer profile at 96x96")
    assert lines[0] == "layer profile at 96x96"
    assert lines[1].split() == ["layer", "type", "exec", "type", "nodes", "ms/run", "share"]
    assert lines[2].split()[:3] == ["Reorder", "reorder_f32", "1"]
    total = lines[-2].split()
    assert total[0] == "total" and total[1] == "5" and float(total[2]) == pytest.approx(16.0)
    assert "wall-clock p50 20.00 ms" in lines[-1] and "(80%)" in lines[-1] and "+4.00 ms" in lines[-1]


def test_table_folds_rows_past_the_slowest_into_one_line():
    rows = aggregate([LayerSample(f"Op{i}", "CPUExecutionProvider f32", float(i + 1)) for i in range(6)])
    lines = format_layer_table(rows, most=4)
    assert len(lines) == 2 + 4 + 1 + 1  # title, header, 4 rows, "(2 more)", total
    assert lines[-2].split()[:3] == ["(2", "more)", "2"]
    assert float(lines[-2].split()[3]) == pytest.approx(1.0 + 2.0)
    assert float(lines[-1].split()[2]) == pytest.approx(21.0)  # the total still covers every row


def test_measurement_json_round_trips_the_layer_times():
    rows = aggregate(_two_runs(), runs=2)
    measurement = Measurement(
        job={"runtime": "openvino", "repeats": 2},
        load=LoadInfo(seconds=0.5),
        memory_method="VmHWM",
        bench=[LatencyRow(size=Size(96, 96), p50_ms=20.0, p90_ms=21.0)],
        describe={},
        machine={},
        layer_times=rows,
    )
    back = Measurement.from_dict(measurement.to_dict())
    assert back.layer_times == rows and isinstance(back.layer_times[0], LayerTime)
    unprofiled = measurement.to_dict()
    del unprofiled["layer_times"]  # a Measurement stored before profiling existed
    assert Measurement.from_dict(unprofiled).layer_times is None


@pytest.mark.parametrize(
    ("runtime", "model", "backend"),
    [
        ("openvino", "model.onnx", "openvino"),
        ("ov", "model.onnx", "openvino"),
        ("ORT", "model.onnx", "onnxruntime"),
        ("torch", "model.pth", "torch"),
        ("auto", "ir/model.xml", "openvino"),
        ("auto", "model.onnx", "onnxruntime"),
        ("auto", "mff.pth", "torch"),
    ],
)
def test_profiled_runtimes_are_accepted_as_the_backend_they_name(runtime, model, backend):
    assert check_profiled(runtime, model) == backend


@pytest.mark.parametrize(("runtime", "model"), [("tensorrt", "m.engine"), ("trt", "x"), ("auto", "m.plan")])
def test_tensorrt_profiling_is_refused_naming_the_runtimes_that_have_it(runtime, model):
    with pytest.raises(InputError, match="offered for onnxruntime, openvino and torch, not tensorrt$"):
        check_profiled(runtime, model)
