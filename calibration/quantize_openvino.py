"""OpenVINO INT8 IR made with NNCF post-training quantization.

Recipe, and why (authors' MFF checkpoint, Lytro crops; ``mgdn_edge.tools.bench_calibration``):

* The model is the one OpenVINO reads from ``model.onnx`` with the ``mgdn.DynamicFilter``
  extension (channels-last, :mod:`mgdn_edge.runtimes.openvino.channels_last_filter`), so the
  filter stays one op. NNCF does not know it and never quantizes it; it is also
  named in the ignored scope so that stays true whatever NNCF learns later. Its inputs stay float.
* The channel attention's two MatMuls (``TCA``) stay float: quantized, they make OpenVINO's CPU
  snippets corrupt the heap (:mod:`mgdn_edge.runtimes.openvino.int8`).
* ``model_type=TRANSFORMER`` (method ``default``): NNCF's transformer recipe keeps Softmax and
  the normalisations float and applies SmoothQuant to the MatMuls. On Lytro crops it is about
  12 dB closer to FP32 than the plain CNN recipe (README). ``mixed`` adds
  asymmetric activations (NNCF's MIXED preset); ``plain`` is NNCF's default CNN recipe.
* Accuracy-aware mode: ``nncf.quantize_with_accuracy_control`` with the capped PSNR against the
  FP32 model on the evaluation split as its metric (see :mod:`.quantize`), reverting the
  layers NNCF ranks most harmful until the drop fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mgdn_edge.calibration.accuracy import PSNR_CEILING_DB, capped_psnr
from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.nncf_groups import grouped_statistics
from mgdn_edge.calibration.quantize_request import QuantizeRequest
from mgdn_edge.calibration.sample_stream import largest_sample
from mgdn_edge.core.errors import BackendError
from mgdn_edge.runtimes.base.build_contract import BuildRequest, BuildResult
from mgdn_edge.runtimes.openvino.int8 import CHANNEL_ATTENTION_MATMUL, int8_fed
from mgdn_edge.runtimes.openvino.ir import FILTER_OPS

OPENVINO_METHODS = ("default", "mixed", "plain")
WEIGHTED_OPS = ("Convolution", "MatMul", "GroupConvolution")


def _nncf_options(method: str, keep_patterns: Sequence[str] = ()) -> dict[str, Any]:
    import nncf

    if method not in OPENVINO_METHODS:
        raise BackendError(f"unknown NNCF method {method!r}; expected one of {', '.join(OPENVINO_METHODS)}")
    patterns = [CHANNEL_ATTENTION_MATMUL.pattern, *keep_patterns]
    ignored = nncf.IgnoredScope(types=list(FILTER_OPS), patterns=patterns, validate=False)
    options: dict[str, Any] = {"ignored_scope": ignored}
    if method != "plain":
        options["model_type"] = nncf.ModelType.TRANSFORMER
    if method == "mixed":
        options["preset"] = nncf.QuantizationPreset.MIXED
    return options


def float_ops(ov_model: Any) -> dict[str, str]:
    """Ops of the quantized model that run in float, with why: the filter, and un-quantized layers."""
    out = {}
    for op in ov_model.get_ops():
        kind = op.get_type_name()
        if kind in FILTER_OPS:
            out[op.get_friendly_name()] = "mgdn.DynamicFilter custom op: runs in float (its own kernel)"
        elif kind in WEIGHTED_OPS:
            floats = [
                src.get_type_name()
                for src in (i.get_source_output().get_node() for i in op.inputs())
                if not int8_fed(src)
            ]
            if floats and CHANNEL_ATTENTION_MATMUL.match(op.get_friendly_name()):
                out[op.get_friendly_name()] = "channel-attention MatMul: kept float (OpenVINO snippet crash)"
            elif floats:
                out[op.get_friendly_name()] = (
                    f"{kind} reads float {'/'.join(floats)} output (NNCF left it float)"
                )
    return out


def _fp16_ir(onnx_path: Path, out: Path) -> dict[str, Any]:
    """The FP16 "quantization": convert the export's model to an IR with FP16-compressed weights."""
    from mgdn_edge.runtimes.openvino.convert import convert_to_openvino

    convert_to_openvino(onnx_path, out, precision="fp16")
    return {"method": None, "float_layers": {}, "eval_psnr_db": None}


def _import_nncf() -> tuple[Any, Any]:
    """The nncf and openvino modules, or a BackendError saying how to install them."""
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        raise BackendError(
            "INT8 for OpenVINO needs nncf and openvino (pip install 'mgdn-edge[openvino]')"
        ) from exc
    return nncf, ov


def _run_nncf_grouped(
    calib_memory_mb: float,
    shapes: dict[str, Any],
    model: Any,
    dataset: Any,
    count: int,
    options: dict[str, Any],
    evaluation: Sequence[Sample] | None,
    validate: Callable[[Any, Any], float],
    max_drop: float | None,
) -> tuple[Any, list[str]]:
    """Run NNCF with statistics passes of about ``calib_memory_mb`` each; return the model and notes."""
    from mgdn_edge.runtimes.openvino.ir import ov_error_line

    budget = int(calib_memory_mb * 2**20)
    try:
        with grouped_statistics(budget, shapes) as groups:
            quantized = _run_nncf(model, dataset, count, options, evaluation, validate, max_drop)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"NNCF quantization failed: {ov_error_line(exc)}") from exc
    notes = []
    if max(groups, default=1) > 1:
        notes.append(
            f"NNCF statistics in {'+'.join(map(str, groups))} passes over the data, each holding at "
            f"most {calib_memory_mb:g} MB of tensors (--calib-memory)"
        )
    return quantized, notes


def quantize_build(request: BuildRequest) -> BuildResult:
    """The OpenVINO quantize builder (the backend record names it): the shared quantize steps
    (:func:`~mgdn_edge.calibration.quantize.quantize_with`) around :func:`quantize_export`."""
    from mgdn_edge.calibration.quantize import quantize_with

    return quantize_with(request, "openvino", quantize_export)


def quantize_export(req: QuantizeRequest) -> dict[str, Any]:
    """The OpenVINO quantize builder (see the backend record): an NNCF INT8 IR, or an FP16 IR.

    INT8: NNCF-quantize the export's model, save the IR (rt_info precision int8); return the
    method, the float layers and the evaluation PSNR. FP16 needs no calibration: FP16-compressed
    IR weights. NNCF shows progress bars of its own, so ``req.progress`` is not used here.
    Statistics passes hold about ``req.calib_memory_mb`` of tensors (:mod:`.nncf_groups`).
    """
    files, precision, out, calib, evaluation = req.files, req.precision, req.out, req.calib, req.evaluation
    method, max_drop = req.method, req.max_drop
    if precision == "fp16":
        return _fp16_ir(files.onnx, out)
    method = method or OPENVINO_METHODS[0]
    nncf, ov = _import_nncf()
    from mgdn_edge.export.keep_float import keep_float_patterns
    from mgdn_edge.runtimes.openvino.ir import read_model, save_ir

    kept = keep_float_patterns(files.config, req.keep_float)
    options = _nncf_options(method, [p for patterns in kept.values() for p in patterns])
    core = ov.Core()
    model, _ = read_model(core, files.onnx)
    names = [i.get_any_name() for i in model.inputs]

    def feed(sample: Sample) -> dict[str, Any]:
        return dict(zip(names, sample.inputs, strict=True))

    dataset = nncf.Dataset(calib, feed)  # read one sample at a time (a stream decodes on reading)
    shapes = {name: a.shape for name, a in zip(names, largest_sample(calib).inputs, strict=True)}
    # f32 execution explicitly, as the runtime and NNCF's accuracy control run: the CPU plugin's
    # default on bf16-capable CPUs is bf16, which would make the reference itself ~60 dB off.
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    reference = None
    if evaluation is not None:
        fp32 = core.compile_model(model, "CPU", f32)
        reference = [fp32(feed(s))[0] for s in evaluation]

    def validate(compiled: Any, indices: Any) -> float:
        assert evaluation is not None and reference is not None
        picked = list(indices)
        return capped_psnr([reference[i] for i in picked], [compiled(feed(evaluation[i]))[0] for i in picked])

    quantized, notes = _run_nncf_grouped(
        req.calib_memory_mb, shapes, model, dataset, len(calib), options, evaluation, validate, max_drop
    )
    psnr = None
    if evaluation is not None:
        psnr = validate(core.compile_model(quantized, "CPU", f32), range(len(evaluation)))
    if max_drop is not None and psnr is not None and PSNR_CEILING_DB - psnr > max_drop:
        raise BackendError(
            f"NNCF could not meet --max-drop {max_drop:g}: drop {PSNR_CEILING_DB - psnr:.2f} dB remains"
        )
    save_ir(quantized, out, files.config, "int8", files.static_size)
    speed = int8_versus_bf16(core, model, quantized, feed(largest_sample(calib))) if len(calib) else None
    return {
        "method": method,
        "float_layers": float_ops(quantized),
        "eval_psnr_db": psnr,
        "notes": notes,
        "speed": speed,
    }


def int8_versus_bf16(core: Any, model: Any, quantized: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """Median times of the INT8 model (float remainder in bf16) and the float model in bf16, on one
    calibration sample's shape, so ``quantize`` can say whether INT8 pays on this CPU; None where
    the CPU has no bf16 (INT8 then competes with f32 only, which it beats)."""
    from mgdn_edge.core.timing import median_ms

    if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        return None
    shapes = {name: list(value.shape) for name, value in inputs.items()}
    times = {}
    for name, candidate in (("int8", quantized), ("bf16", model)):
        static = candidate.clone()
        static.reshape(shapes)
        compiled = core.compile_model(static, "CPU", {"INFERENCE_PRECISION_HINT": "bf16"})
        times[name] = median_ms(partial(compiled, inputs), 3, warmup=1)  # warm-up: first-run allocations
    size = "x".join(str(d) for d in next(iter(shapes.values()))[2:])
    return {
        "runtime": "openvino",
        "versus": "bf16",
        "size": size,
        "int8_ms": times["int8"],
        "float_ms": times["bf16"],
        "cpu": core.get_property("CPU", "FULL_DEVICE_NAME"),
    }


def _run_nncf(
    model: Any,
    dataset: Any,
    subset_size: int,
    options: dict[str, Any],
    evaluation: Sequence[Sample] | None,
    validate: Callable[[Any, Any], float],
    max_drop: float | None,
) -> Any:
    """``nncf.quantize``, or its accuracy-controlled form when ``max_drop`` is given."""
    import nncf

    if max_drop is None:
        return nncf.quantize(model, dataset, subset_size=subset_size, **options)
    assert evaluation is not None
    return nncf.quantize_with_accuracy_control(
        model,
        dataset,
        nncf.Dataset(list(range(len(evaluation)))),
        validate,
        max_drop=max_drop,
        subset_size=subset_size,
        **options,
    )
