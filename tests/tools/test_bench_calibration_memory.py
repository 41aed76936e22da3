"""tools/bench_calibration_memory: its pairs are distinct, image-sized MFF pairs `quantize` reads,
its child measurement sees a child's memory, and its verdicts follow the stated targets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.calibration import open_source
from mgdn_edge.tools.bench_calibration_memory import Row, make_pairs, measure, report


@pytest.mark.parametrize("fixture", ["shared", "absent"])
def test_pairs_are_distinct_and_readable(tmp_path: Path, fixture: str) -> None:
    kwargs = {} if fixture == "shared" else {"fixture": tmp_path / "missing.npz"}
    root = make_pairs(tmp_path / "pairs", 6, 72, **kwargs)
    samples = open_source("mff", root).load(progress=False)
    assert len(samples) == 6 and all(s.size == (72, 72) for s in samples)
    firsts = {s.inputs[0].tobytes() for s in samples}
    assert len(firsts) == 6  # flips, offsets and transposes make every pair its own
    assert all(not np.array_equal(s.inputs[0], s.inputs[1]) for s in samples)


def test_measure_sees_the_child_memory(tmp_path: Path) -> None:
    code = "import numpy as np, time; a = np.ones(64 * 2**20 // 8); time.sleep(0.5); print('done')"
    tree, process, seconds, output = measure([sys.executable, "-c", code])
    assert output.strip() == "done" and seconds > 0.4
    assert process > 64 and (tree == 0 or tree > 64)  # tree: 0 only without psutil


def test_report_ratios_and_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        Row("onnx", 10, 2000, 2100, 100.0, ["note: x"]),
        Row("onnx", 40, 2200, 2300, 400.0, []),
        Row("openvino", 10, 3000, 3000, 50.0, []),
        Row("openvino", 40, 4200, 4200, 200.0, []),
    ]
    report(rows, 520)
    out = capsys.readouterr().out
    assert "onnx: 40/10 pairs: peak x1.10, wall x4.00; worst peak 2300 MB (meets" in out
    assert "openvino: 40/10 pairs: peak x1.40, wall x4.00; worst peak 4200 MB (misses" in out
