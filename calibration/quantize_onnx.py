"""ONNX INT8 in QDQ form for ONNX Runtime and TensorRT, made with ``onnxruntime.quantization``.

Recipe, and why each part is there (measured with ``mgdn_edge.tools.bench_calibration`` on the
authors' MFF checkpoint; figures in the README). :func:`quantize_export` runs the whole recipe.

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
  ``percentile`` (99.999 %, histogram), ONNX Runtime's calibrators fed one sample at a time;
  the histogram methods run the graph in segments that hold ``--calib-memory`` of activations
  (:mod:`.ort_segments`), so memory depends neither on the graph's size nor on the sample
  count. Why entropy: on the authors' MFF model it is ~3 dB closer to FP32 than minmax and as
  close as percentile in a third of percentile's time (the README's INT8 table).
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

import shutil
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from mgdn_edge.atomic import atomic_files
from mgdn_edge.calibration.accuracy import PSNR_CEILING_DB, capped_psnr
from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.qdq_build import (
    DEFAULT_OP_TYPES,
    ONNX_METHODS,
    build_qdq,
    calibrate,
    portable_graph,
    quantizable_nodes,
    quantized_nodes,
    run_all,
    session,
)
from mgdn_edge.calibration.qdq_lint import lint_qdq
from mgdn_edge.calibration.quantize_request import QuantizeRequest
from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import FP16_ONNX, METADATA_PRECISION_KEY, is_filter_node, tensorrt_file
from mgdn_edge.export.trt_graph import linted_tensorrt_graph
from mgdn_edge.runtimes.build_contract import BuildRequest, BuildResult

if TYPE_CHECKING:
    from mgdn_edge.calibration.export_files import ExportFiles
    from mgdn_edge.calibration.onnx_search import SearchResult


def filter_nodes(model: onnx.ModelProto) -> list[str]:
    return [n.name for n in model.graph.node if is_filter_node(n)]


# -- the whole recipe ----------------------------------------------------------------------------
PROBE_SAMPLES, PROBE_SIZE = 4, 96  # the sensitivity scan runs one graph per layer: keep it small


def _center_crop(sample: Sample, size: int) -> Sample:
    h, w = sample.size
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    inputs = [np.ascontiguousarray(a[:, :, y : y + size, x : x + size]) for a in sample.inputs]
    return Sample(inputs, None, sample.name, sample.item)


FILTER_REASON = "mgdn.DynamicFilter custom op: runs in float (its own kernel / TensorRT plugin)"
# The last conv writes the image: its INT8 error lands on the output unfiltered, which costs more
# than any other single layer on the authors' MFF model. Kept float by default; the accuracy
# search decides for itself.
OUTPUT_REASON = "output conv: writes the image directly (float by default)"


def _kept_by_request(req: QuantizeRequest, model: onnx.ModelProto) -> dict[str, str]:
    """The quantizable nodes of the modules in ``req.keep_float``, with why they stay float."""
    from mgdn_edge.calibration.keep_float import keep_float_patterns, matching

    kept: dict[str, str] = {}
    for module, patterns in keep_float_patterns(req.files.config, req.keep_float).items():
        for node in matching(quantizable_nodes(model), patterns):
            kept[node] = f"kept float: --keep-float {module}"
    return kept


def quantize_build(request: BuildRequest) -> BuildResult:
    """The ONNX Runtime quantize builder (the backend record names it): the shared quantize steps
    (:func:`~mgdn_edge.calibration.quantize.quantize_with`) around :func:`quantize_export`."""
    from mgdn_edge.calibration.quantize import quantize_with

    return quantize_with(request, "onnxruntime", quantize_export)


def quantize_export(req: QuantizeRequest) -> dict[str, Any]:
    """The ONNX recipe: QDQ INT8, or the export's FP16 graph.

    INT8: calibrate, (search,) build, lint and write the QDQ model; return the method, the float
    layers and the evaluation PSNR. The written file keeps the export's metadata (network config,
    so runtimes open it without a manifest) and is labelled ``int8`` under the precision key.
    FP16 needs no calibration: it is the export's own FP16 graph, copied, or with ``--method`` /
    ``--keep-float`` a new one (:mod:`mgdn_edge.export.fp16_variant`).
    """
    files, out, calib, evaluation = req.files, req.out, req.calib, req.evaluation
    if req.precision == "fp16":
        return _fp16(req)
    method = req.method or ONNX_METHODS[0]
    model = onnx.load(files.onnx)
    portable = None if files.portable is None else onnx.load(files.portable)
    names = [i.name for i in model.graph.input]
    notes: list[str] = []
    ranges = calibrate(
        portable_graph(model, portable), calib, names, method,
        progress=req.progress, memory_mb=req.calib_memory_mb, notes=notes,
    )  # fmt: skip
    reference = None if evaluation is None else run_all(session(model), evaluation)
    keep, float_layers = _kept_float(req, model, ranges, method, reference)
    qdq = build_qdq(model, ranges, method, keep_float=keep)
    problems = lint_qdq(qdq)
    if problems:
        raise BackendError("the QDQ model breaks TensorRT's rules: " + "; ".join(problems[:3]))
    _note_unquantized(model, qdq, float_layers)
    props = {p.key: p.value for p in model.metadata_props}
    onnx.helper.set_model_props(qdq, {**props, METADATA_PRECISION_KEY: "int8"})
    psnr = None if reference is None else capped_psnr(reference, run_all(session(qdq), evaluation or []))
    trt_path, trt_lint = _save_with_tensorrt_copy(qdq, out)
    from mgdn_edge.calibration.sample_stream import largest_sample

    return {
        "method": method,
        "float_layers": float_layers,
        "eval_psnr_db": psnr,
        "tensorrt_path": trt_path,
        "tensorrt_lint": trt_lint,
        "notes": notes,
        "speed": int8_versus_fp32(files.onnx, out, largest_sample(calib)),
    }


def _fp16(req: QuantizeRequest) -> dict[str, Any]:
    """The export's own FP16 graph, copied; with ``--method`` / ``--keep-float`` a new one."""
    if req.method or req.keep_float:
        from mgdn_edge.export.fp16_variant import write_fp16_variant

        return write_fp16_variant(req.files.onnx, req.files.config, req.out, req.method, req.keep_float)
    return _copy_fp16(req.files, req.out)


def _kept_float(
    req: QuantizeRequest, model: onnx.ModelProto, ranges: Any, method: str, reference: Any
) -> tuple[list[str], dict[str, str]]:
    """(nodes left float, why each layer is float): the filter nodes, the output convolution (or
    what the accuracy search keeps instead) and the modules the request names."""
    float_layers = {name: FILTER_REASON for name in filter_nodes(model)}
    output_conv = quantizable_nodes(model)[-1]
    keep = [output_conv]
    float_layers[output_conv] = OUTPUT_REASON
    if req.max_drop is not None:
        assert req.evaluation is not None and reference is not None
        found = _accuracy_search(
            model, ranges, method, req.calib, req.evaluation, reference, req.max_drop, req.progress
        )
        keep = found.keep_float
        del float_layers[output_conv]
        float_layers |= {n: f"accuracy search: +{found.gains[n]:.2f} dB when float" for n in keep}
    forced = _kept_by_request(req, model)
    float_layers |= forced
    return [*keep, *forced], float_layers


def _copy_fp16(files: ExportFiles, out: Path) -> dict[str, Any]:
    """The FP16 "quantization": copy the export's own FP16 graph to ``out``."""
    src = files.onnx.parent / FP16_ONNX
    if not src.is_file():
        raise BackendError(
            f"{files.onnx.parent} has no {FP16_ONNX}; FP16 ONNX graphs are made by `mgdn-edge export` "
            f"(re-export with its FP16 option), not by quantize"
        )
    if src.resolve() != out.resolve():
        with atomic_files(out) as (tmp,):
            shutil.copyfile(src, tmp)
    return {"method": None, "float_layers": {}, "eval_psnr_db": None}


def _accuracy_search(
    model: onnx.ModelProto,
    ranges: Any,
    method: str,
    calib: list[Sample],
    evaluation: list[Sample],
    reference: list,
    max_drop: float,
    progress: bool,
) -> SearchResult:
    """Search the layers to keep float for ``--max-drop``; refuse when even all-float misses it."""
    probe = [_center_crop(s, PROBE_SIZE) for s in calib[:PROBE_SAMPLES]]
    probe_ref = run_all(session(model), probe)
    from mgdn_edge.calibration.onnx_search import search_float_layers

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
    return found


def _note_unquantized(model: onnx.ModelProto, qdq: onnx.ModelProto, float_layers: dict[str, str]) -> None:
    """Add to ``float_layers`` the quantizable nodes the quantizer left float without being asked."""
    done = set(quantized_nodes(qdq))
    for name in quantizable_nodes(model):
        if name not in done and name not in float_layers:
            float_layers[name] = "left float by onnxruntime's quantizer (no calibrated range)"


def _save_with_tensorrt_copy(qdq: onnx.ModelProto, out: Path) -> tuple[Path, dict[str, str]]:
    """Write ``qdq`` to ``out`` and its TensorRT-ready variant beside it; return that path and its lint."""
    trt_qdq, trt_lint = linted_tensorrt_graph(qdq)
    trt_path = out.with_name(tensorrt_file(out.name))
    with atomic_files(out, trt_path) as (tmp, trt_tmp):
        onnx.save(qdq, tmp)
        onnx.save(trt_qdq, trt_tmp)
    return trt_path, trt_lint


def int8_versus_fp32(fp32: Path, int8: Path, sample: Sample, repeats: int = 3) -> dict[str, Any]:
    """Median times of the INT8 QDQ file and the FP32 model in ONNX Runtime on this CPU, opened as
    ``fuse`` opens them (DynamicFilter native where its library is available), on the largest
    calibration sample, so ``quantize`` can say whether INT8 pays in ONNX Runtime here. One
    session is open at a time, so the timing holds no more memory than one inference."""
    from mgdn_edge.bench import machine_info, median_ms
    from mgdn_edge.runtimes import open_runtime

    times = {}
    for name, path in (("int8", int8), ("fp32", fp32)):
        runtime = open_runtime("onnxruntime", path)
        times[name] = median_ms(partial(runtime.run, sample.inputs), repeats, warmup=1)
        del runtime  # one session at a time: calibration's memory bound holds for the timing too
    h, w = sample.size
    return {
        "runtime": "onnxruntime",
        "versus": "fp32",
        "size": f"{h}x{w}",
        "int8_ms": times["int8"],
        "float_ms": times["fp32"],
        "cpu": machine_info()["cpu"],
    }
