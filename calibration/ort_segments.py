"""ONNX Runtime calibration in graph segments: memory bounded by a budget, not by the graph.

ONNX Runtime's histogram calibrators (entropy, percentile) make every tensor to calibrate a graph
output and run the whole model, so one image holds all of them at once: 7.6 GB for the authors'
MFF model at 520x520 (and the whole graph's own working set is 4.4 GB there, which bounds even
MinMax, whose in-graph reductions return scalars). Here the graph is cut, in node order, into
segments whose calibrated tensors (plus the tensors crossing the cut) fit a byte budget, sized
from the tensor sizes at the largest sample (:func:`tensor_sizes`: element counts on a small
probe, scaled). Each sample runs segment by segment - a later segment reads what crosses the
cut as its inputs, so the model still runs once per sample - and each segment's tensors go to
ONNX Runtime's own ``HistogramCollector`` (or :class:`MinMaxCollector`) and are released before
the next segment runs.

Every tensor still reaches the collector once per sample, in sample order, with the values the
same kernels compute in the whole graph, so the histograms and ranges are ONNX Runtime's own
(``tests/calibration/test_calibration_memory.py`` compares them with a whole-graph calibrator).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnx.utils
from onnx import helper

from mgdn_edge.core.errors import BackendError
from mgdn_edge.core.memory import release_freed_memory


@dataclass(frozen=True)
class Segment:
    """One run of a sub-graph: what it reads, returns, hands to the collector and leaves alive."""

    model: onnx.ModelProto
    inputs: tuple[str, ...]  # graph inputs and tensors of earlier segments
    outputs: tuple[str, ...]  # its calibrated tensors and the tensors later segments read
    calibrated: tuple[str, ...]  # tensors collected once it has run
    keep: frozenset[str]  # tensors still needed by later segments
    held_bytes: int  # planned: calibrated + crossing tensors, at the planning size


def itemsize(model: onnx.ModelProto) -> dict[str, int]:
    """Bytes per element of every typed tensor of a shape-inferred ``model``."""
    out = {}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        elem = vi.type.tensor_type.elem_type
        if elem:
            out[vi.name] = np.dtype(helper.tensor_dtype_to_np_dtype(elem)).itemsize
    return out


PROBE_SIDE = 128  # the size probe runs at most this many pixels on the long side


def probe_feed(feed: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Zeros of ``feed``'s shapes scaled down to :data:`PROBE_SIDE` (a multiple of 8, the window
    size), and the pixel ratio that scales the probe's sizes back up."""
    shapes = [a.shape for a in feed.values()]
    h, w = max(s[-2] for s in shapes), max(s[-1] for s in shapes)
    f = min(1.0, PROBE_SIDE / max(h, w))
    ph, pw = (max(8, -(-round(d * f) // 8) * 8) for d in (h, w))
    if ph >= h and pw >= w:
        return {k: np.zeros_like(a) for k, a in feed.items()}, 1.0
    out = {}
    for name, a in feed.items():
        sh, sw = -(-a.shape[-2] * ph // h), -(-a.shape[-1] * pw // w)  # every input scaled alike
        out[name] = np.zeros((*a.shape[:-2], sh, sw), dtype=a.dtype)
    return out, (h * w) / (ph * pw)


def tensor_sizes(
    model: onnx.ModelProto, feed: dict[str, np.ndarray], session: Callable[[bytes], Any]
) -> dict[str, int]:
    """Estimated bytes of every node output of ``model`` for the shapes in ``feed``.

    Measured on a scaled-down probe (:func:`probe_feed`) by a graph that puts a ``Size`` node
    after each producer and returns only those, then scaled by the pixel ratio: MGDN's tensors
    grow with the pixel count (the channel attention's CxC matrices do not, so they are
    overestimated; window padding adds at most a few percent). Unknown types count 4 bytes.
    """
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    graph = probe.graph
    nodes = list(graph.node)
    del graph.node[:]
    del graph.output[:]
    names = []
    for node in nodes:
        graph.node.append(node)
        for name in node.output:
            if name:
                size = f"mgdn_probe_size/{len(names)}"
                graph.node.append(helper.make_node("Size", [name], [size], name=size))
                graph.output.append(helper.make_tensor_value_info(size, onnx.TensorProto.INT64, []))
                names.append(name)
    small, scale = probe_feed(feed)
    counts = session(probe.SerializeToString()).run(None, small)
    widths = itemsize(model)
    sizes = {name: round(int(n) * widths.get(name, 4) * scale) for name, n in zip(names, counts, strict=True)}
    sizes.update({name: int(a.nbytes) for name, a in feed.items()})
    return sizes


def _has_subgraphs(model: onnx.ModelProto) -> bool:
    kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return any(a.type in kinds for n in model.graph.node for a in n.attribute)


def plan_segments(
    model: onnx.ModelProto, calibrated: set[str], sizes: dict[str, int], budget_bytes: int
) -> list[Segment]:
    """Cut shape-inferred ``model`` (topologically sorted, as ONNX requires) into segments.

    Greedy in node order: a segment ends before the node whose calibrated outputs would take its
    calibrated bytes plus the tensors crossing the cut over ``budget_bytes``. A cut is only made
    where every crossing tensor has a declared type (a segment's inputs need one). A single
    tensor over the budget gets a segment of its own; a graph with sub-graphs (If, Loop) is one
    segment. The model's own outputs are not computed unless a calibrated tensor needs them.
    """
    graph = model.graph
    nodes = list(graph.node)
    inits = {t.name for t in graph.initializer}
    declared = [*graph.value_info, *graph.input, *graph.output]
    typed = {vi.name for vi in declared if vi.type.tensor_type.elem_type}
    graph_inputs = [i.name for i in graph.input if i.name not in inits]
    produced = {name: -1 for name in graph_inputs}
    last_use: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for name in node.output:
            if name:
                produced[name] = i
        for name in node.input:
            if name and name not in inits:
                last_use[name] = i
    unknown = calibrated - set(produced)
    if unknown:
        raise BackendError(f"no node produces the tensor to calibrate {sorted(unknown)[0]!r}")

    cuts: list[int] = []  # index of the last node of each segment but the last
    if not _has_subgraphs(model):
        live = {name for name in graph_inputs if name in last_use}
        held = sum(sizes.get(t, 0) for t in graph_inputs if t in calibrated)
        for i, node in enumerate(nodes):
            add = sum(sizes.get(t, 0) for t in node.output if t in calibrated)
            crossing = sum(sizes.get(t, 0) for t in live)
            if i > 0 and held > 0 and held + add + crossing > budget_bytes and live <= typed:
                cuts.append(i - 1)
                held = 0
            held += add
            live |= {t for t in node.output if t and last_use.get(t, -1) > i}
            live -= {t for t in node.input if last_use.get(t) == i}
    last = max((produced[t] for t in calibrated), default=-1)
    bounds = [-1, *[c for c in cuts if c < last], max(last, 0)]
    extractor = onnx.utils.Extractor(model)
    return [
        _segment(extractor, nodes, calibrated, sizes, produced, last_use, a + 1, b)
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def _segment(
    extractor: onnx.utils.Extractor,
    nodes: list[onnx.NodeProto],
    calibrated: set[str],
    sizes: dict[str, int],
    produced: dict[str, int],
    last_use: dict[str, int],
    start: int,
    end: int,
) -> Segment:
    """The segment of nodes ``start..end`` (inclusive), extracted with ONNX's own extractor."""
    made = {t for node in nodes[start : end + 1] for t in node.output if t}
    inits = set(extractor.initializers)
    reads = {t for node in nodes[start : end + 1] for t in node.input if t and t not in inits} - made
    outputs = sorted(t for t in made if t in calibrated or last_use.get(t, -1) > end)
    first = start == 0
    mine = sorted(t for t in calibrated if start <= produced[t] <= end or (first and produced[t] == -1))
    keep = frozenset(t for t, p in produced.items() if p <= end < last_use.get(t, -1))
    inputs = sorted(reads | ({t for t in mine if produced[t] == -1}))
    held = sum(sizes.get(t, 0) for t in {*mine, *inputs, *outputs})
    sub = extractor.extract_model(inputs, outputs)
    return Segment(sub, tuple(inputs), tuple(outputs), tuple(mine), keep, held)


class MinMaxCollector:
    """ONNX Runtime's symmetric MinMax calibration for tensors handed over by segments.

    ``MinMaxCalibrater`` reduces in the graph (ReduceMin/ReduceMax, so it needs no segments for
    its outputs), but the whole graph's working set at 520x520 is 4.4 GB: segments bound that
    too. This is its arithmetic, unchanged: per sample the largest magnitude of the tensor's
    min and max, as a float32 array of shape (1,), then the largest over samples, as the range
    (-m, m). The test compares it with ONNX Runtime's calibrator.
    """

    def __init__(self) -> None:
        self.magnitude: dict[str, np.ndarray] = {}

    def collect(self, tensors: dict[str, np.ndarray]) -> None:
        for name, a in tensors.items():
            lo, hi = np.min(a).reshape(1), np.max(a).reshape(1)
            m = np.nanmax([np.abs(lo), np.abs(hi)], axis=0)
            self.magnitude[name] = m if name not in self.magnitude else max(self.magnitude[name], m)

    def tensors_data(self, quant: Any) -> Any:
        """The ranges as ONNX Runtime's ``TensorsData`` (method MinMax)."""
        pairs = {name: (-m, m) for name, m in self.magnitude.items()}
        return quant.calibrate.TensorsData(quant.CalibrationMethod.MinMax, pairs)


def collect_in_segments(
    segments: Sequence[Segment],
    sessions: Sequence[Any],
    samples: Sequence[Any],
    input_names: Sequence[str],
    collector: Any,
    step: Callable[[], None] = lambda: None,
) -> None:
    """Run every sample through the segments in order, feeding each segment's calibrated
    tensors to ONNX Runtime's ``collector`` and dropping every tensor no later segment reads.

    The collector prints a line per call; it is silenced here (a progress bar reports instead).
    ``step`` is called after each segment. Freed heap pages are returned after each segment too,
    or the heap keeps every segment's high-water mark.
    """
    for sample in samples:
        values: dict[str, np.ndarray] = dict(zip(input_names, sample.inputs, strict=True))
        for segment, sess in zip(segments, sessions, strict=True):
            outs = sess.run(list(segment.outputs), {t: values[t] for t in segment.inputs})
            values.update(zip(segment.outputs, outs, strict=True))
            del outs
            release_freed_memory()  # the segment's own activations
            with contextlib.redirect_stdout(io.StringIO()):
                collector.collect({t: values[t] for t in segment.calibrated})
            values = {t: v for t, v in values.items() if t in segment.keep}
            release_freed_memory()  # what the collector read
            step()
        del values
