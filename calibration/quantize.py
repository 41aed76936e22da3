"""``quantize_model``: an export folder + calibration data -> an INT8 (or FP16) model file.

Two backends, each with its field's own tool:

* ``onnx``: QDQ INT8 ``.onnx`` from ``onnxruntime.quantization`` (recipe and reasons in
  :mod:`.quantize_onnx`), linted for TensorRT (:mod:`.qdq_lint`) before it is written.
* ``openvino``: NNCF post-training quantization of the model OpenVINO reads from ``model.onnx``
  (recipe in :mod:`.quantize_openvino`), saved as an IR.

Accuracy is judged against the FP32 model itself, because most fusion data (e.g. Lytro MFF) has
no ground truth. "PSNR drop" is measured from :data:`PSNR_CEILING_DB`, the PSNR of the FP32
output's own 8-bit rounding (10 log10(12 * 255^2) = 58.9 dB): an INT8 output closer to FP32 than
that is indistinguishable once saved as an 8-bit image, so it counts as no drop. ``max_drop=20``
therefore asks for >= 38.9 dB against FP32 on the evaluation split.

Everything is decoded and computed before anything is written, and files are renamed into place,
so a failure (bad data, an accuracy budget that cannot be met) leaves no output behind.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.calibration.base import DataSource, Sample
from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.model.config import MGDNConfig

BACKENDS = ("onnx", "openvino")
QUANT_PRECISIONS = ("int8", "fp16")
PSNR_CEILING_DB = 10 * math.log10(12 * 255**2)  # 58.9 dB: the FP32 output's own 8-bit rounding
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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def capped_psnr(references: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> float:
    """Mean over samples of PSNR (data range 1) each capped at :data:`PSNR_CEILING_DB`."""
    values = []
    for ref, out in zip(references, outputs, strict=True):
        mse = float(np.mean((ref.astype(np.float64) - out.astype(np.float64)) ** 2))
        values.append(PSNR_CEILING_DB if mse == 0 else min(PSNR_CEILING_DB, 10 * math.log10(1 / mse)))
    return float(np.mean(values))


@dataclass(frozen=True)
class ExportFiles:
    """The files of an export folder that quantization reads."""

    onnx: Path
    portable: Path | None
    config: MGDNConfig
    static_size: tuple[int, int] | None


def export_files(model: str | os.PathLike[str]) -> ExportFiles:
    """An export folder (or its model.onnx) -> its files and network config."""
    import onnx

    from mgdn_edge.runtimes.base import model_description, resolve_onnx_path

    path = resolve_onnx_path(model)
    portable = path.parent / "model.portable.onnx"
    try:
        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    except Exception as exc:
        raise BackendError(f"cannot read {path}: {exc}") from exc
    config, static = model_description(path, meta, None)
    return ExportFiles(path, portable if portable.is_file() else None, config, static)


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


def _materialize(data: DataSource | list[Sample], what: str, progress: bool) -> list[Sample]:
    samples = (
        data.load(progress=progress, desc=f"loading {what} data") if isinstance(data, DataSource) else data
    )
    if not samples:
        raise InputError(f"no {what} samples")
    return samples


def _out_path(out: str | os.PathLike[str], backend: str, precision: str) -> Path:
    suffix = ".xml" if backend == "openvino" else ".onnx"
    path = Path(out)
    if path.is_dir():
        path = path / f"model.{precision}{suffix}"
    if path.suffix.lower() != suffix:
        raise InputError(f"--backend {backend} writes a {suffix} file, got {path}")
    return path


def write_atomically(out: Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``out``, then rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def quantize_model(
    model: str | os.PathLike[str],
    data: DataSource | str | os.PathLike[str] | Sequence[Sample],
    backend: str,
    precision: str = "int8",
    out: str | os.PathLike[str] = "model.int8.onnx",
    method: str | None = None,
    max_drop: float | None = None,
    *,
    samples: int | None = None,
    crop: str | int | None = None,
    eval_data: DataSource | str | os.PathLike[str] | Sequence[Sample] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> QuantizeResult:
    """Quantize the export ``model`` with calibration ``data`` for ``backend``; see the module doc.

    ``method``: ONNX calibration (entropy / minmax / percentile) or NNCF recipe (default / mixed).
    ``max_drop`` (dB, see :data:`PSNR_CEILING_DB`): accuracy-aware mode, keeping the fewest
    layers float that meet it on ``eval_data`` (default: a quarter of ``data``'s items, split off).
    ``eval_data`` given without ``max_drop`` is only measured.
    """
    start = time.perf_counter()
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    precision = precision.lower()
    if precision not in QUANT_PRECISIONS:
        raise InputError(f"quantize writes {' or '.join(QUANT_PRECISIONS)}, not {precision!r}")
    if max_drop is not None and not max_drop >= 0:
        raise InputError(f"max_drop must be >= 0 dB, got {max_drop}")
    out_path = _out_path(out, backend, precision)
    files = export_files(model)
    if precision == "fp16":
        return _fp16(files, backend, out_path, start)

    task = files.config.task
    source = _load_samples(data, task, samples, crop, seed)
    evaluation = None if eval_data is None else _load_samples(eval_data, task, None, crop, seed)
    source, evaluation = calibration_and_evaluation(source, evaluation, max_drop is not None, seed)
    calib = _materialize(source, "calibration", progress)  # decode all before any work or output
    evals = None if evaluation is None else _materialize(evaluation, "evaluation", progress)

    if backend == "onnx":
        from mgdn_edge.calibration.quantize_onnx import ONNX_METHODS, quantize_onnx_file

        method = method or ONNX_METHODS[0]
        report = quantize_onnx_file(
            files.onnx, files.portable, calib, evals, out_path, method, max_drop, progress
        )
    else:
        from mgdn_edge.calibration.quantize_openvino import OPENVINO_METHODS, quantize_openvino_file

        method = method or OPENVINO_METHODS[0]
        report = quantize_openvino_file(files, calib, evals, out_path, method, max_drop)
    psnr = report.get("eval_psnr_db")
    return QuantizeResult(
        path=out_path,
        backend=backend,
        precision="int8",
        method=method,
        samples=len(calib),
        seconds=time.perf_counter() - start,
        float_layers=report["float_layers"],
        eval_samples=0 if evals is None else len(evals),
        eval_psnr_db=psnr,
        eval_drop_db=None if psnr is None else PSNR_CEILING_DB - psnr,
        max_drop_db=max_drop,
    )


def _fp16(files: ExportFiles, backend: str, out: Path, start: float) -> QuantizeResult:
    """FP16 needs no calibration: the export's FP16 graph (ONNX) or FP16-compressed IR weights."""
    from mgdn_edge.runtimes.base import FP16_ONNX

    if backend == "onnx":
        src = files.onnx.parent / FP16_ONNX
        if not src.is_file():
            raise BackendError(
                f"{files.onnx.parent} has no {FP16_ONNX}; FP16 ONNX graphs are made by `mgdn-edge export` "
                f"(re-export with its FP16 option), not by quantize"
            )
        if src.resolve() != out.resolve():
            write_atomically(out, lambda tmp: shutil.copyfile(src, tmp))
    else:
        from mgdn_edge.runtimes.openvino_convert import convert_to_openvino

        out = convert_to_openvino(files.onnx, out, precision="fp16")
    return QuantizeResult(out, backend, "fp16", None, 0, time.perf_counter() - start)
