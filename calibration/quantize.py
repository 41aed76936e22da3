"""``quantize_model``: an export folder + calibration data -> an INT8 (or FP16) model file.

Two backends (their quantize builders are named in :mod:`mgdn_edge.runtimes.backends`), each with
its field's own tool:

* ``onnxruntime``: QDQ INT8 ``.onnx`` from ``onnxruntime.quantization`` (recipe and reasons in
  :mod:`.quantize_onnx`), linted for TensorRT (:mod:`.qdq_lint`) before it is written.
* ``openvino``: NNCF post-training quantization of the model OpenVINO reads from ``model.onnx``
  (recipe in :mod:`.quantize_openvino`), saved as an IR.

Accuracy is judged against the FP32 model itself (:mod:`.accuracy`): ``max_drop=20`` asks for
>= 38.9 dB against FP32 on the evaluation split.

Everything is decoded and computed before anything is written, and files are renamed into place,
so a failure (bad data, an accuracy budget that cannot be met) leaves no output behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mgdn_edge.atomic import refuse_overwriting_inputs
from mgdn_edge.calibration.accuracy import PSNR_CEILING_DB
from mgdn_edge.calibration.base import DataSource, Sample
from mgdn_edge.calibration.export_files import ExportFiles, export_files
from mgdn_edge.calibration.quantize_request import CalibrationData, QuantizeOptions, QuantizeRequest
from mgdn_edge.calibration.sample_stream import checked_stream
from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.export.artefacts import INT8_ONNX, IR_SUFFIX, ir_weights, quantized_file, tensorrt_file
from mgdn_edge.precision import Precision
from mgdn_edge.runtimes.backends import builders, get_backend
from mgdn_edge.runtimes.base import check_against_manifest, export_folder_files
from mgdn_edge.runtimes.build_contract import BuildRequest, BuildResult

EVAL_CROPS = 8  # evaluation samples drawn when the data is cropped (accuracy-aware mode)


@dataclass
class QuantizeResult:
    """What was written and how it measured; ``float_layers`` maps node name -> why it stayed float."""

    path: Path
    backend: str
    precision: str
    method: str | None
    samples: int  # calibration samples
    seconds: float
    float_layers: dict[str, str] = field(default_factory=dict)
    eval_samples: int = 0
    eval_psnr_db: float | None = None  # mean PSNR vs the FP32 output (capped at the ceiling)
    eval_drop_db: float | None = None  # PSNR_CEILING_DB - eval_psnr_db
    max_drop_db: float | None = None
    speed: dict[str, Any] | None = None  # INT8 vs the float variant it must beat, timed on this CPU
    notes: list[str] = field(default_factory=list)  # how calibration ran (passes, memory), one line each

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def _load_samples(
    data: DataSource | str | os.PathLike[str] | Sequence[Sample],
    task: str,
    samples: int | None,
    crop: str | int | None,
    seed: int,
) -> DataSource | list[Sample]:
    if isinstance(data, (str, os.PathLike)):
        from mgdn_edge.calibration.sources import open_source

        return open_source(task, os.fspath(data), crop=crop, samples=samples, seed=seed)
    if isinstance(data, DataSource):
        if crop is not None or samples is not None:
            return data.with_options(crop=crop if crop is not None else False, samples=samples or False)
        return data
    return list(data)


def calibration_and_evaluation(
    data: DataSource | list[Sample], evaluation: DataSource | list[Sample] | None, needed: bool, seed: int
) -> tuple[DataSource | list[Sample], DataSource | list[Sample] | None]:
    """Split a source by items into calibration and evaluation parts when an evaluation is needed."""
    if evaluation is not None or not needed:
        return data, evaluation
    if not isinstance(data, DataSource):
        raise InputError("accuracy-aware quantization needs evaluation data (pass eval_data)")
    from mgdn_edge.calibration.splits import split

    if len(data.items) < 2:
        raise InputError(
            f"accuracy-aware quantization splits the data into calibration and evaluation items; "
            f"{len(data.items)} item is not enough"
        )
    n_eval = max(1, len(data.items) // 4)
    calib, evaluation = split(data, len(data.items) - n_eval, n_eval, seed=seed).sources(data)
    if evaluation.crop is not None:
        evaluation = evaluation.with_options(samples=min(EVAL_CROPS, len(evaluation)))
    return calib, evaluation


def _checked(data: DataSource | list[Sample], what: str, progress: bool) -> Sequence[Sample]:
    """Every sample decoded once (a bad file fails here, before any work), then read as needed:
    a source is streamed, so memory does not grow with the number of samples."""
    if isinstance(data, DataSource):
        return checked_stream(data, what, progress)
    if not data:
        raise InputError(f"no {what} samples")
    return data


def _quantizer_name(backend: str, quantizers: dict[str, Any]) -> str:
    """The backend name of ``backend`` (a name or alias; ``onnx``: the deprecated spelling of
    onnxruntime), checked to have a quantize builder."""
    from mgdn_edge.runtimes.backends import get_backend

    try:
        name = get_backend("onnxruntime" if backend == "onnx" else backend).name
    except BackendError:
        name = backend
    if name not in quantizers:
        raise InputError(f"unknown backend {backend!r}; expected one of {', '.join(quantizers)}")
    return name


def _out_path(out: str | os.PathLike[str], backend: str, suffix: str, precision: str) -> Path:
    path = Path(out)
    if path.is_dir():
        path = path / quantized_file(precision, suffix)
    if path.suffix.lower() != suffix:
        raise InputError(f"--runtime {backend} writes a {suffix} file, got {path}")
    return path


def written_files(out_path: Path) -> list[Path]:
    """Every file a quantize run writes for ``out_path``: an IR's .bin, a QDQ file's TensorRT twin."""
    if out_path.suffix.lower() == IR_SUFFIX:
        return [out_path, ir_weights(out_path)]
    return [out_path, out_path.with_name(tensorrt_file(out_path.name))]


def _check_limits(max_drop: float | None, calib_memory_mb: float) -> None:
    """Refuse a negative ``max_drop`` or a calibration memory bound that is not positive."""
    if max_drop is not None and not max_drop >= 0:
        raise InputError(f"max_drop must be >= 0 dB, got {max_drop}")
    if not calib_memory_mb > 0:
        raise InputError(f"--calib-memory must be > 0 MB, got {calib_memory_mb:g}")


def _check_export(
    files: ExportFiles,
    keep_float: Sequence[str],
    out_path: Path,
    data: DataSource | str | os.PathLike[str] | Sequence[Sample],
) -> None:
    """Refuse unknown ``keep_float`` names, a portable graph the manifest disowns and an ``out``
    that would overwrite an input, all before any data is read."""
    if keep_float:
        from mgdn_edge.calibration.keep_float import keep_float_patterns

        keep_float_patterns(files.config, keep_float)  # unknown names fail before any data is read
    if files.portable is not None:
        check_against_manifest(files.portable)  # model.onnx was checked when it was opened
    refuse_overwriting_inputs(
        [("--out", p) for p in written_files(out_path)],
        [*export_folder_files(files.onnx), files.portable, data if isinstance(data, (str, Path)) else None],
    )


def _read_samples(task: str, opts: QuantizeOptions) -> tuple[Sequence[Sample], Sequence[Sample] | None]:
    """The calibration and evaluation samples, split and decoded before any work or output."""
    assert opts.data is not None
    source = _load_samples(opts.data, task, opts.samples, opts.crop, opts.seed)
    evaluation = None
    if opts.eval_data is not None:
        evaluation = _load_samples(opts.eval_data, task, None, opts.crop, opts.seed)
    source, evaluation = calibration_and_evaluation(source, evaluation, opts.max_drop is not None, opts.seed)
    calib = _checked(source, "calibration", opts.progress)  # decode all before any work or output
    evals = None if evaluation is None else _checked(evaluation, "evaluation", opts.progress)
    return calib, evals


def quantize_model(
    model: str | os.PathLike[str],
    data: CalibrationData | None,
    backend: str,
    precision: str = "int8",
    out: str | os.PathLike[str] = INT8_ONNX,
    method: str | None = None,
    max_drop: float | None = None,
    **options: Any,
) -> QuantizeResult:
    """Quantize the export ``model`` with calibration ``data`` for ``backend`` (a name or alias)
    through its quantize builder; ``options``: the other fields of :class:`QuantizeOptions`."""
    quantizers = builders("quantize")
    _, builder = quantizers[_quantizer_name(backend, quantizers)]
    keep_float = tuple(options.pop("keep_float", ()))
    given = QuantizeOptions(data, method, max_drop, keep_float=keep_float, **options)
    result = builder.build(BuildRequest(Path(model), Path(out), precision, given))
    return result.details


def quantize_with(
    request: BuildRequest, backend: str, recipe: Callable[[QuantizeRequest], dict[str, Any]]
) -> BuildResult:
    """A quantize builder's steps around its backend's ``recipe``; see the module doc.

    Everything is checked (precision, limits, output path, export, ``keep_float`` names) and the
    samples decoded before the recipe runs; the recipe returns the method, the float layers and
    what it measured.
    """
    start = time.perf_counter()
    opts: QuantizeOptions = request.options or QuantizeOptions()
    builder = get_backend(backend).builder("quantize")
    precision = Precision.parse(request.precision, builder.precisions).value
    _check_limits(opts.max_drop, opts.calib_memory_mb)
    out_path = _out_path(request.out, backend, builder.suffix, precision)
    files = export_files(request.source)
    _check_export(files, opts.keep_float, out_path, opts.data)
    if precision == "fp16":
        if (opts.keep_float or opts.method) and backend != "onnxruntime":
            raise InputError(
                "--keep-float and --method with --precision fp16 take --runtime onnxruntime (the FP16 "
                f"graph; the {backend} FP16 file only stores FP16 weights, its runtime picks the precision)"
            )
        req = QuantizeRequest(files, precision, out_path, method=opts.method, keep_float=opts.keep_float)
    else:
        if opts.data is None:
            raise InputError("int8 quantization needs calibration data")
        calib, evals = _read_samples(files.config.task, opts)
        req = QuantizeRequest(
            files, precision, out_path, calib, evals, opts.method, opts.max_drop,
            keep_float=opts.keep_float, progress=opts.progress, calib_memory_mb=opts.calib_memory_mb,
        )  # fmt: skip
    result = _result(req, backend, recipe(req), time.perf_counter() - start)
    return BuildResult(out_path, precision, result.seconds, result, tuple(result.notes))


def _result(request: QuantizeRequest, backend: str, report: dict[str, Any], seconds: float) -> QuantizeResult:
    """The :class:`QuantizeResult` of ``request`` from its recipe's ``report``."""
    psnr = report.get("eval_psnr_db")
    evals = request.evaluation
    return QuantizeResult(
        path=request.out,
        backend=backend,
        precision=request.precision,
        method=report["method"],
        samples=len(request.calib),
        seconds=seconds,
        float_layers=report["float_layers"],
        eval_samples=0 if evals is None else len(evals),
        eval_psnr_db=psnr,
        eval_drop_db=None if psnr is None else PSNR_CEILING_DB - psnr,
        max_drop_db=request.max_drop,
        speed=report.get("speed"),
        notes=list(report.get("notes", [])),
    )
