"""What a quantize builder takes: :class:`QuantizeOptions` (in a :class:`BuildRequest`, the builder
contract), and what its backend's recipe receives once the data is decoded (:class:`QuantizeRequest`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.calibration.base import DataSource, Sample
from mgdn_edge.calibration.export_files import ExportFiles

# Activations one calibration pass may hold at once. With the authors' MFF model at 520x520 the
# whole-graph figure is 7.6 GB (ONNX Runtime) and 5.8 GB (NNCF); 1 GiB keeps a run under 4 GB.
DEFAULT_CALIB_MEMORY_MB = 1024.0


@dataclass(frozen=True)
class QuantizeRequest:
    files: ExportFiles  # the export to quantize
    precision: str  # int8, or fp16 (no calibration)
    out: Path  # the file to write (atomically)
    calib: Sequence[Sample] = ()  # decoded calibration samples (int8)
    evaluation: Sequence[Sample] | None = None  # held-out samples to measure (and, with max_drop, to meet)
    method: str | None = None  # the builder's calibration method or recipe; None: its default
    max_drop: float | None = None  # accuracy-aware mode: allowed PSNR drop in dB
    keep_float: tuple[str, ...] = ()  # module paths to leave unquantized (calibration/keep_float.py)
    progress: bool = True
    calib_memory_mb: float = DEFAULT_CALIB_MEMORY_MB  # activations a calibration pass may hold


CalibrationData = DataSource | str | os.PathLike[str] | Sequence[Sample]


@dataclass(frozen=True)
class QuantizeOptions:
    """A quantize build's options (``BuildRequest.options``): the calibration data and the recipe.

    ``data``: a data source, a folder or spec string (:func:`~mgdn_edge.calibration.open_source`),
    or decoded samples; None only for fp16. ``method``: ONNX calibration (entropy / minmax /
    percentile) or NNCF recipe (default / mixed). ``max_drop`` (dB): accuracy-aware mode, keeping
    the fewest layers float that meet it on ``eval_data`` (default: a quarter of ``data``'s items,
    split off); ``eval_data`` without ``max_drop`` is only measured. ``keep_float``: module paths
    whose layers stay float (as ``mgdn-edge diff`` names stages), on top of the recipe's.
    ``calib_memory_mb``: see :class:`QuantizeRequest`; samples are streamed, so neither bound
    depends on how many there are.
    """

    data: CalibrationData | None = None
    method: str | None = None
    max_drop: float | None = None
    samples: int | None = None
    crop: str | int | None = None
    eval_data: CalibrationData | None = None
    seed: int = 0
    progress: bool = True
    keep_float: tuple[str, ...] = ()
    calib_memory_mb: float = DEFAULT_CALIB_MEMORY_MB
