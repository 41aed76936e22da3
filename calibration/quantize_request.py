"""What a backend's quantize builder receives: one request, so every builder has one signature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.calibration.base import Sample
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
    keep_float: tuple[str, ...] = ()  # module paths to leave unquantized (export/keep_float.py)
    progress: bool = True
    calib_memory_mb: float = DEFAULT_CALIB_MEMORY_MB  # activations a calibration pass may hold
