"""Where inference time goes: per-layer times grouped by layer type and kernel, as one table.

Every profiling runtime (OpenVINO, ONNX Runtime, PyTorch) reports its own per-node records in
its own form; each turns them into :class:`LayerSample` tuples, and :func:`aggregate` groups them
by (layer type, execution type) so the three read alike. The execution type carries the kernel
and the precision (OpenVINO ``brgconv_avx512_f32`` or ``ref_f32``, ONNX Runtime's provider plus
the first input's element type, ``cpu f32`` for PyTorch), because that is what explains a
variant's speed: an INT8 model that is not faster than FP32 shows its time in FakeQuantize,
Reorder and Transpose rows or in convolutions still running ``_f32``.

Times are per run (the sum over the profiled runs divided by their number) and node counts per
run, so a table made from five runs reads like one made from one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.results import LayerTime


class LayerSample(NamedTuple):
    """One profiler record: ``calls`` executions (1 for one node in one run) took ``ms`` in all."""

    layer_type: str
    exec_type: str
    ms: float
    calls: int = 1


@runtime_checkable
class LayerProfiler(Protocol):
    """What ``bench --profile`` needs from a runtime besides :class:`~mgdn_edge.runtimes.Runtime`."""

    def profile_layers(self, inputs: Sequence[np.ndarray], runs: int) -> list[LayerTime]:
        """Run ``inputs`` ``runs`` times with profiling and return the aggregated rows."""
        ...


def check_runs(runs: int) -> int:
    if runs < 1:
        raise InputError(f"need at least one profiled run, got {runs}")
    return runs


def aggregate(samples: Iterable[LayerSample], runs: int = 1) -> list[LayerTime]:
    """Group samples by (layer type, exec type); time and count per run, slowest first.

    Counts are rounded to whole nodes: every run executes the same nodes, so the sum of calls is
    a multiple of ``runs`` unless the runtime skipped a node in some run.
    """
    check_runs(runs)
    ms: dict[tuple[str, str], float] = defaultdict(float)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    for s in samples:
        key = (s.layer_type, s.exec_type)
        ms[key] += s.ms
        calls[key] += s.calls
    total = sum(ms.values())
    rows = [
        LayerTime(
            layer_type=key[0],
            exec_type=key[1],
            count=round(calls[key] / runs),
            ms=round(ms[key] / runs, 4),
            share=round(ms[key] / total, 4) if total > 0 else 0.0,
        )
        for key in ms
    ]
    return sorted(rows, key=lambda r: (-r.ms, r.layer_type, r.exec_type))
