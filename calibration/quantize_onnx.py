"""ONNX INT8 in QDQ form for ONNX Runtime and TensorRT, made with ``onnxruntime.quantization``.

Recipe, and why each part is there (numbers: the authors' MFF checkpoint, Lytro pairs, see
``mgdn_edge.tools.bench_calibration``). :func:`quantize_onnx_file` runs the whole recipe.

* Form: QuantizeLinear/DequantizeLinear pairs, INT8 only, activations symmetric per tensor,
  weights symmetric per channel, zero points 0 - the only form TensorRT's explicit quantization
  accepts (:mod:`.qdq_lint` checks it before anything is written). Biases stay float
  (``QuantizeBias=False``): an int32 bias DequantizeLinear is not an INT8 tensor to TensorRT.
* What is quantized: the inputs (activations and weights) of Conv, Gemm and MatMul only. Their
  outputs are not re-quantized (``OpTypesToExcludeOutputQuantization``): re-quantizing every
  output would put the dynamic filter's 49-tap kernels and the pre-sigmoid logits through INT8;
  TensorRT picks the precision of what lies between by itself. Softmax, LayerNormalization and
  the element-wise ops stay float, and so does the output conv (``OUTPUT_REASON``).
* The dynamic filter: calibration runs on the portable graph (``model.portable.onnx``, standard
  ops only, which ONNX Runtime runs), and the ranges are applied to ``model.onnx`` by tensor name
  - the two files share every graph-level name, which is checked. ONNX Runtime's quantizer does
  not know the ``mgdn.DynamicFilter`` node and leaves it (and its function body) alone, but it
  hands every consumer of a quantized tensor the dequantized copy; :func:`keep_float_consumers`
  gives each consumer that is not itself quantized (the filter, residual adds, layer norms) the
  original float tensor back, so the filter runs on float features and float kernels.
* Calibration: ``entropy`` (default; KL divergence, TensorRT's own default), ``minmax`` or
  ``percentile`` (99.999 %, histogram), ONNX Runtime's calibrators fed one sample at a time, so
  memory holds one sample's activations. Why entropy: on the authors' MFF model (32 Lytro crops
  256^2, 8 held-out 520^2 pairs) it gave 43.2 / 42.7 dB mean / min PSNR vs FP32 in 137 s, where
  minmax gave 40.3 / 39.5 dB (35 s) and percentile 43.3 / 42.6 dB but took 419 s.
* Accuracy-aware mode (:func:`search_float_layers`): rank every quantized layer by the PSNR it
  gives back when it alone stays float (measured on 96x96 centre crops of 4 calibration samples,
  by rewiring one fully quantized graph - no re-calibration), then keep the most sensitive layers float, the
  fewest that bring the evaluation split within the budget (doubling, then bisection on the
  ranked prefix).
* TensorRT: beside the ONNX Runtime file a TensorRT twin is written (``model.int8.onnx`` ->
  ``model.trt.int8.onnx``): the same Q/DQ graph without the DynamicFilter function bodies and
  with LayerNormalization written out (:mod:`mgdn_edge.export.trt_graph`), so that no TensorRT
  parser prefers the function over the plugin. It is linted against the parser tables of the
  releases it is for (:mod:`mgdn_edge.export.trt_lint`) before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.qdq_lint import FILTER_DOMAIN, FILTER_OP, lint_qdq
from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import tensorrt_file

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
    if any(n.domain == FILTER_DOMAIN for n in portable.graph.node):
        raise BackendError("the portable graph still holds mgdn.DynamicFilter nodes (functions not inlined)")
    outer = {o for n in model.graph.node if n.domain != FILTER_DOMAIN for o in n.output}
    missing = outer - {o for n in portable.graph.node for o in n.output}
    if missing:
        raise BackendError(
            f"model.onnx and its portable graph disagree on {len(missing)} tensor names (e.g. "
            f"{sorted(missing)[0]!r}); re-export the model so both come from one trace"
        )
    return portable


class _OneSample:
    """A CalibrationDataReader over one input dict (the calibrators are fed one sample per call)."""

    def __init__(self, feed: dict[str, np.ndarray]) -> None:
        self._feed: dict[str, np.ndarray] | None = feed

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self._feed = self._feed, None
        return feed

    def __len__(self) -> int:
        return 1


def calibrate(
    portable: onnx.ModelProto,
    samples: Sequence[Sample],
    input_names: Sequence[str],
    method: str = "entropy",
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
    percentile: float = DEFAULT_PERCENTILE,
    progress: bool = True,
) -> Any:
    """Activation ranges (ONNX Runtime ``TensorsData``) of the tensors ``op_types`` nodes read."""
    from tqdm import tqdm

    quant = _ort_quant()
    if not samples:
        raise BackendError("calibration needs at least one sample")
    options: dict[str, Any] = {"symmetric": True}
    if method == "percentile":
        options["percentile"] = percentile
    with tempfile.TemporaryDirectory(prefix="mgdn_calib_") as tmp:
        path = Path(tmp) / "portable.onnx"
        onnx.save(portable, path)
        calibrator = quant.create_calibrator(
            path,
            list(op_types),
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=calibration_method(method),
            extra_options=options,
        )
        for sample in tqdm(samples, desc=f"calibrating ({method})", unit="sample", disable=not progress):
            calibrator.collect_data(_OneSample(dict(zip(input_names, sample.inputs, strict=True))))
        ranges = calibrator.compute_data()
        del calibrator
    return ranges


def _quantize_static(
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
        src, out, cache = (Path(tmp) / n for n in ("model.onnx", "qdq.onnx", "ranges.json"))
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
    qdq = _quantize_static(model, ranges, method, op_types, keep, weight_pairs)
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


@dataclass
class SearchResult:
    """Outcome of :func:`search_float_layers`: what stays float, and the measurements behind it."""

    keep_float: list[str]
    score: float
    drop: float
    gains: dict[str, float] = field(default_factory=dict)  # node -> dB given back when it alone is float
    base_score: float = float("nan")  # all quantized, on the sensitivity samples
    steps: list[tuple[int, float]] = field(default_factory=list)  # (layers float, eval score)


def search_float_layers(
    model: onnx.ModelProto,
    ranges: Any,
    method: str,
    op_types: Sequence[str],
    probe: Sequence[Sample],
    probe_score: Callable[[list[np.ndarray]], float],
    eval_score: Callable[[list[np.ndarray]], float],
    evaluation: Sequence[Sample],
    reference_score: float,
    max_drop: float,
    progress: bool = True,
) -> SearchResult:
    """The fewest most-sensitive layers to keep float so that ``reference_score - score <= max_drop``.

    ``probe_score(outputs on probe)`` ranks layers (higher is better); ``eval_score(outputs on
    evaluation)`` is the budgeted metric. Sensitivity of a layer = the probe score with that
    layer alone float minus the probe score with everything quantized.
    """
    from tqdm import tqdm

    pairs = _quantize_static(model, ranges, method, op_types, (), weight_pairs=True)
    candidates = quantizable_nodes(model, op_types)
    pairs = keep_float_consumers(pairs, set(candidates))
    quantized = [n for n in candidates if n in set(quantized_nodes(pairs))]
    base = probe_score(run_all(session(pairs, fast=True), probe))
    gains: dict[str, float] = {}
    for name in tqdm(quantized, desc="layer sensitivity", unit="layer", disable=not progress):
        graph = restore_float(pairs, [name], quantized)
        gains[name] = probe_score(run_all(session(graph, fast=True), probe)) - base
    ranked = sorted(quantized, key=lambda n: gains[n], reverse=True)

    cache: dict[int, float] = {}

    def score_at(k: int) -> float:
        if k not in cache:
            cache[k] = eval_score(run_all(session(restore_float(pairs, ranked[:k], quantized)), evaluation))
        return cache[k]

    def fits(k: int) -> bool:
        return reference_score - score_at(k) <= max_drop

    bar = tqdm(desc="accuracy search", unit="eval", disable=not progress)
    lo, hi = -1, None  # lo: largest k known to fail; hi: smallest k known to pass
    k = 0
    while hi is None:
        bar.update()
        if fits(k):
            hi = k
        elif k >= len(ranked):
            hi = len(ranked)  # everything float: the best this recipe can do
        else:
            lo, k = k, min(len(ranked), max(1, 2 * k))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        bar.update()
        if fits(mid):
            hi = mid
        else:
            lo = mid
    bar.close()
    return SearchResult(
        keep_float=ranked[:hi],
        score=score_at(hi),
        drop=reference_score - score_at(hi),
        gains=gains,
        base_score=base,
        steps=sorted(cache.items()),
    )


def filter_nodes(model: onnx.ModelProto) -> list[str]:
    return [n.name for n in model.graph.node if n.op_type == FILTER_OP and n.domain == FILTER_DOMAIN]


# -- the whole recipe ----------------------------------------------------------------------------
PROBE_SAMPLES, PROBE_SIZE = 4, 96  # the sensitivity scan runs one graph per layer: keep it small


def _center_crop(sample: Sample, size: int) -> Sample:
    h, w = sample.size
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    inputs = [np.ascontiguousarray(a[:, :, y : y + size, x : x + size]) for a in sample.inputs]
    return Sample(inputs, None, sample.name, sample.item)


FILTER_REASON = "mgdn.DynamicFilter custom op: runs in float (its own kernel / TensorRT plugin)"
# The last conv writes the image: its INT8 error lands on the output unfiltered. Kept float by
# default (authors' MFF model, 32 Lytro crops 256^2, minmax, 8 held-out 520^2 pairs: mean PSNR vs
# FP32 39.0 -> 40.3 dB, SSIM 0.958 -> 0.968); the accuracy search decides for itself.
OUTPUT_REASON = "output conv: writes the image directly (float by default)"


def quantize_onnx_file(
    onnx_path: Path,
    portable_path: Path | None,
    calib: Sequence[Sample],
    evaluation: Sequence[Sample] | None,
    out: Path,
    method: str = "entropy",
    max_drop: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Calibrate, (search,) build, lint and write the QDQ model; return float layers and eval PSNR.

    The written file keeps the export's metadata (network config, so runtimes open it without a
    manifest) and is labelled ``int8`` under the runtimes' precision key.
    """
    from mgdn_edge.calibration.quantize import PSNR_CEILING_DB, capped_psnr, write_atomically
    from mgdn_edge.runtimes.base import METADATA_PRECISION_KEY

    model = onnx.load(onnx_path)
    portable = None if portable_path is None else onnx.load(portable_path)
    names = [i.name for i in model.graph.input]
    ranges = calibrate(portable_graph(model, portable), calib, names, method, progress=progress)
    float_layers = {name: FILTER_REASON for name in filter_nodes(model)}
    reference = None if evaluation is None else run_all(session(model), evaluation)
    output_conv = quantizable_nodes(model)[-1]
    keep = [output_conv]
    float_layers[output_conv] = OUTPUT_REASON
    if max_drop is not None:
        assert evaluation is not None and reference is not None
        probe = [_center_crop(s, PROBE_SIZE) for s in calib[:PROBE_SAMPLES]]
        probe_ref = run_all(session(model), probe)
        found = search_float_layers(
            model,
            ranges,
            method,
            DEFAULT_OP_TYPES,
            probe,
            lambda outs: capped_psnr(probe_ref, outs),
            lambda outs: capped_psnr(reference, outs),
            evaluation,
            PSNR_CEILING_DB,
            max_drop,
            progress=progress,
        )
        if found.drop > max_drop:
            raise BackendError(
                f"even with every layer float the drop is {found.drop:.2f} dB > --max-drop {max_drop:g}"
            )
        keep = found.keep_float
        del float_layers[output_conv]
        float_layers |= {n: f"accuracy search: +{found.gains[n]:.2f} dB when float" for n in keep}
    qdq = build_qdq(model, ranges, method, keep_float=keep)
    problems = lint_qdq(qdq)
    if problems:
        raise BackendError("the QDQ model breaks TensorRT's rules: " + "; ".join(problems[:3]))
    done = set(quantized_nodes(qdq))
    for name in quantizable_nodes(model):
        if name not in done and name not in float_layers:
            float_layers[name] = "left float by onnxruntime's quantizer (no calibrated range)"
    props = {p.key: p.value for p in model.metadata_props}
    onnx.helper.set_model_props(qdq, {**props, METADATA_PRECISION_KEY: "int8"})
    psnr = None if reference is None else capped_psnr(reference, run_all(session(qdq), evaluation or []))
    trt_qdq, trt_lint = tensorrt_qdq(qdq)
    trt_path = out.with_name(tensorrt_file(out.name))
    write_atomically(out, lambda tmp: onnx.save(qdq, tmp))
    write_atomically(trt_path, lambda tmp: onnx.save(trt_qdq, tmp))
    return {
        "float_layers": float_layers,
        "eval_psnr_db": psnr,
        "tensorrt_path": trt_path,
        "tensorrt_lint": trt_lint,
    }


def tensorrt_qdq(qdq: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The TensorRT twin of a Q/DQ graph, linted for every target release (BackendError if it fails).

    A release that documents a lower opset than the graph's is recorded in the verdicts, not
    fatal, as in the export.
    """
    from mgdn_edge.export.trt_graph import tensorrt_graph
    from mgdn_edge.export.trt_lint import TARGET_RELEASES, lint_tensorrt

    trt = tensorrt_graph(qdq)
    verdicts: dict[str, str] = {}
    for release in TARGET_RELEASES:
        report = lint_tensorrt(trt, release)
        verdicts[release] = "ok" if report.ok else report.message()
        if not report.ok and any(i.node != "(model)" for i in report.issues):
            raise BackendError(report.message())
    return trt, verdicts
