"""Building blocks of ONNX QDQ quantization: calibrate, build the QDQ graph, rewire, run.

Thin, checked wrappers over ``onnxruntime.quantization`` that the recipe
(:mod:`.quantize_onnx`) and the accuracy search (:mod:`.onnx_search`) share.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.quantize_request import DEFAULT_CALIB_MEMORY_MB
from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import MODEL_ONNX, OP_DOMAIN

DEFAULT_OP_TYPES = ("Conv", "MatMul", "Gemm")
ONNX_METHODS = ("entropy", "minmax", "percentile")  # the first is the default
DEFAULT_PERCENTILE = 99.999


def _ort_quant() -> Any:
    try:
        import onnxruntime.quantization as quant
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise BackendError("onnxruntime is not installed (pip install 'mgdn-edge[onnx]')") from exc
    return quant


def calibration_method(method: str) -> Any:
    quant = _ort_quant()
    table = {
        "minmax": quant.CalibrationMethod.MinMax,
        "percentile": quant.CalibrationMethod.Percentile,
        "entropy": quant.CalibrationMethod.Entropy,
    }
    if method not in table:
        raise BackendError(f"unknown ONNX calibration method {method!r}; expected one of {', '.join(table)}")
    return table[method]


def portable_graph(model: onnx.ModelProto, portable: onnx.ModelProto | None) -> onnx.ModelProto:
    """The portable twin of ``model`` (given, or made by inlining its functions) - names checked.

    The ranges calibrated on it are applied to ``model`` by tensor name, so every graph-level
    tensor that a quantized node reads must exist under the same name in both.
    """
    if portable is None:
        from onnx import inliner

        portable = inliner.inline_local_functions(model)
    if any(n.domain == OP_DOMAIN for n in portable.graph.node):
        raise BackendError("the portable graph still holds mgdn.DynamicFilter nodes (functions not inlined)")
    outer = {o for n in model.graph.node if n.domain != OP_DOMAIN for o in n.output}
    missing = outer - {o for n in portable.graph.node for o in n.output}
    if missing:
        raise BackendError(
            f"{MODEL_ONNX} and its portable graph disagree on {len(missing)} tensor names (e.g. "
            f"{sorted(missing)[0]!r}); re-export the model so both come from one trace"
        )
    return portable


def calibration_session(model: bytes | str | os.PathLike[str]) -> Any:
    """A session as ONNX Runtime's calibrators make one (no graph optimisation: every tensor keeps
    its name and value), without the CPU arena: the arena keeps its high-water mark for the
    session's life and grows with every new shape, so freed activations would stay resident.
    Nodes run in priority (graph) order: the default order runs the branches that only feed
    extra outputs late, which at 256x256 held 8 GB instead of 2 GB in the size probe."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.enable_cpu_mem_arena = False
    options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    source = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def calibrate(
    portable: onnx.ModelProto,
    samples: Sequence[Sample],
    input_names: Sequence[str],
    method: str = "entropy",
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
    percentile: float = DEFAULT_PERCENTILE,
    progress: bool = True,
    memory_mb: float = DEFAULT_CALIB_MEMORY_MB,
    notes: list[str] | None = None,
) -> Any:
    """Activation ranges (ONNX Runtime ``TensorsData``) of the tensors ``op_types`` nodes read.

    ONNX Runtime's calibrator picks the tensors; the graph runs in segments holding about
    ``memory_mb`` of activations (:mod:`.ort_segments`), whose tensors go to ONNX Runtime's
    histogram collector (entropy, percentile) or its MinMax arithmetic. Samples are read one at
    a time (a :class:`SampleStream` decodes each when read). ``notes`` receives a line on how
    the run was split.
    """
    from tqdm import tqdm

    from mgdn_edge.calibration.ort_segments import (
        MinMaxCollector,
        collect_in_segments,
        plan_segments,
        tensor_sizes,
    )
    from mgdn_edge.calibration.sample_stream import largest_sample
    from mgdn_edge.core.memory import release_freed_memory

    quant = _ort_quant()
    if not samples:
        raise BackendError("calibration needs at least one sample")
    with tempfile.TemporaryDirectory(prefix="mgdn_calib_") as tmp:
        path = Path(tmp) / "portable.onnx"
        onnx.save(portable, path)
        calibrator = _ort_calibrator(quant, path, op_types, method, percentile)
        calibrator.infer_session = None  # made on the whole augmented graph: segments run instead
        model = quant.quant_utils.load_model_with_shape_infer(path)
        tensors, _ = calibrator.select_tensors_to_calibrate(model)
        big = largest_sample(samples)
        sizes = tensor_sizes(model, dict(zip(input_names, big.inputs, strict=True)), calibration_session)
        release_freed_memory()
        segments = plan_segments(model, set(tensors), sizes, int(memory_mb * 2**20))
        sessions = [calibration_session(s.model.SerializeToString()) for s in segments]
        if notes is not None and len(segments) > 1:
            notes.append(_segments_note(len(segments), memory_mb, big.size))
        collector = MinMaxCollector() if method == "minmax" else _histogram_collector(quant, calibrator)
        label = f"calibrating ({method}, {len(segments)} segment{'s' * (len(segments) > 1)})"
        total = len(samples) * len(segments)
        with tqdm(total=total, desc=label, unit="segment", disable=not progress) as bar:
            collect_in_segments(segments, sessions, samples, input_names, collector, bar.update)
        del sessions
        if method == "minmax":
            ranges = collector.tensors_data(quant)
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # ONNX Runtime prints its settings
                ranges = calibrator.compute_data()
        del calibrator
    release_freed_memory()
    return ranges


def _ort_calibrator(quant: Any, path: Path, op_types: Sequence[str], method: str, percentile: float) -> Any:
    """ONNX Runtime's symmetric calibrator for the model saved at ``path`` (its augmented copy beside it)."""
    options: dict[str, Any] = {"symmetric": True}
    if method == "percentile":
        options["percentile"] = percentile
    return quant.create_calibrator(
        path,
        list(op_types),
        augmented_model_path=str(path.parent / "augmented.onnx"),
        calibrate_method=calibration_method(method),
        extra_options=options,
    )


def _histogram_collector(quant: Any, calibrator: Any) -> Any:
    """ONNX Runtime's histogram collector with ``calibrator``'s settings, installed as its collector."""
    collector = calibrator.collector = quant.calibrate.HistogramCollector(
        method=calibrator.method,
        symmetric=calibrator.symmetric,
        num_bins=calibrator.num_bins,
        num_quantized_bins=calibrator.num_quantized_bins,
        percentile=calibrator.percentile,
        scenario=calibrator.scenario,
    )
    return collector


def _segments_note(count: int, memory_mb: float, size: tuple[int, int]) -> str:
    """The note saying into how many segments calibration split the graph."""
    h, w = size
    return (
        f"ONNX Runtime calibration in {count} graph segments of at most {memory_mb:g} MB "
        f"of activations at {w}x{h} (--calib-memory)"
    )


def quantize_static(
    model: onnx.ModelProto,
    ranges: Any,
    method: str,
    op_types: Sequence[str],
    exclude: Iterable[str],
    weight_pairs: bool,
) -> onnx.ModelProto:
    """ONNX Runtime's static QDQ quantization of ``model`` with precomputed ranges."""
    import logging

    quant = _ort_quant()
    extra = {
        "ActivationSymmetric": True,
        "WeightSymmetric": True,
        "QuantizeBias": False,
        "OpTypesToExcludeOutputQuantization": list(op_types),
        "AddQDQPairToWeight": weight_pairs,
    }
    with tempfile.TemporaryDirectory(prefix="mgdn_qdq_") as tmp:
        src, out, cache = (Path(tmp) / n for n in (MODEL_ONNX, "qdq.onnx", "ranges.json"))
        onnx.save(model, src)
        quant.save_tensors_data(ranges, cache)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # ORT logs a "consider pre-processing" warning on every call
        try:
            quant.quantize_static(
                str(src),
                str(out),
                None,
                quant_format=quant.QuantFormat.QDQ,
                op_types_to_quantize=list(op_types),
                per_channel=True,
                activation_type=quant.QuantType.QInt8,
                weight_type=quant.QuantType.QInt8,
                calibrate_method=calibration_method(method),
                nodes_to_exclude=sorted(exclude),
                calibration_cache_path=str(cache),
                extra_options=extra,
            )
        finally:
            root.setLevel(level)
        return onnx.load(out)


def keep_float_consumers(model: onnx.ModelProto, quantized: set[str]) -> onnx.ModelProto:
    """Give every node outside ``quantized`` its float inputs back; drop Q/DQ nodes left unused.

    ONNX Runtime replaces a quantized tensor by its dequantized copy for *all* consumers. A node
    that is not quantized itself (the dynamic filter, an Add, a LayerNorm) gains nothing from
    reading the rounded copy and only loses accuracy, so it reads the tensor the Q node read.
    """
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.name in quantized or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for i, name in enumerate(node.input):
            dq = producer.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producer.get(dq.input[0])
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[i] = q.input[0]
    _prune(model)
    return model


def _prune(model: onnx.ModelProto) -> None:
    """Remove Q/DQ nodes whose outputs nobody reads, then initializers nobody reads."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [
            n
            for n in graph.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and not any(o in used for o in n.output)
        ]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    used = {i for n in graph.node for i in n.input} | outputs
    for init in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(init)
    names = {i for n in graph.node for i in [*n.input, *n.output]} | outputs
    for vi in [v for v in graph.value_info if v.name not in names]:
        graph.value_info.remove(vi)


def quantizable_nodes(model: onnx.ModelProto, op_types: Sequence[str] = DEFAULT_OP_TYPES) -> list[str]:
    """Names of the nodes the recipe quantizes, in graph order."""
    names = [n.name for n in model.graph.node if n.op_type in op_types]
    if len(set(names)) != len(names) or not all(names):
        raise BackendError("the model has unnamed or duplicate node names; re-export it")
    return names


def quantized_nodes(qdq: onnx.ModelProto) -> list[str]:
    """Nodes of a QDQ graph that read at least one dequantized tensor."""
    dq_out = {n.output[0] for n in qdq.graph.node if n.op_type == "DequantizeLinear"}
    return [
        n.name
        for n in qdq.graph.node
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i in dq_out for i in n.input)
    ]


def build_qdq(
    model: onnx.ModelProto,
    ranges: Any,
    method: str = "entropy",
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
    keep_float: Iterable[str] = (),
    weight_pairs: bool = False,
) -> onnx.ModelProto:
    """``model`` (with its DynamicFilter nodes) quantized to QDQ; ``keep_float`` nodes stay float.

    ``weight_pairs=True`` keeps weights float behind Q/DQ pairs (the search rewires those); the
    delivered form stores int8 weights behind a DequantizeLinear.
    """
    keep = set(keep_float)
    unknown = keep - {n.name for n in model.graph.node}
    if unknown:
        raise BackendError(f"no node named {sorted(unknown)[0]!r} in the model (asked to keep it float)")
    qdq = quantize_static(model, ranges, method, op_types, keep, weight_pairs)
    wanted = {n for n in quantizable_nodes(model, op_types) if n not in keep}
    return keep_float_consumers(qdq, wanted)


def restore_float(
    qdq_pairs: onnx.ModelProto, nodes: Iterable[str], quantized: Iterable[str]
) -> onnx.ModelProto:
    """A copy of a ``weight_pairs`` QDQ graph in which ``nodes`` read float inputs again."""
    out = onnx.ModelProto()
    out.CopyFrom(qdq_pairs)
    return keep_float_consumers(out, set(quantized) - set(nodes))


# -- running graphs ------------------------------------------------------------------------------
def session(
    model: onnx.ModelProto | str | os.PathLike[str], threads: int | None = None, fast: bool = False
) -> Any:
    """An ONNX Runtime CPU session with full graph optimisation (what ``open_runtime`` runs).

    ``fast``: no graph optimisation, so Q/DQ run as plain ops (fake quantization, the same
    rounding); creating the session costs half, which dominates the per-layer sensitivity scan.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = level.ORT_DISABLE_ALL if fast else level.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BackendError(
            f"onnxruntime cannot load the quantized graph: {str(exc).splitlines()[0]}"
        ) from exc


def run_all(sess: Any, samples: Sequence[Sample]) -> list[np.ndarray]:
    names = [i.name for i in sess.get_inputs()]
    return [sess.run(None, dict(zip(names, s.inputs, strict=True)))[0] for s in samples]
