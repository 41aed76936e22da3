"""Typed results that cross process boundaries and files: parity, benchmark and pipeline rows.

Measurements are made in worker processes and stored in ``results.json``; the report and the
CLI read them back. Each crossing goes through these dataclasses (``to_dict`` / ``from_dict``),
so a field is named once and a missing or misspelt one fails where it is read, not as a ``None``
deep inside a table. Unknown keys in stored files are ignored, so a newer writer's extra fields
do not break an older reader.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.core.size import Size

T = TypeVar("T", bound="Record")
RESULTS_SCHEMA = "mgdn-edge.pipeline-results/1"
REFERENCE_VARIANT = "torch-fp32"  # the PyTorch FP32 variant every ratio is relative to


class Record:
    """``to_dict``/``from_dict`` for a dataclass whose fields are JSON types, Sizes or Records."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]  # subclasses are dataclasses

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise InputError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # subclasses are dataclasses
            if f.name in data:
                values[f.name] = _convert(hints[f.name], data[f.name])
        try:
            return cls(**values)
        except TypeError as exc:
            raise InputError(f"{cls.__name__}: {exc}") from None


def _plain(value: Any) -> Any:
    """Tuples (Sizes) as lists and enums as their values: what JSON and the readers expect."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Precision):
        return value.value
    return value


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    if hint is Size:
        return Size.parse(value)
    if hint is Precision:
        return Precision.parse(value)
    return value


@dataclass
class LatencyRow(Record):
    """One benchmark size: timed runs (ms), their statistics and the peak memory while running."""

    size: Size
    p50_ms: float
    p90_ms: float
    warmup: int | None = None
    repeats: int | None = None
    times_ms: list[float] = field(default_factory=list)
    mean_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    peak_rss_mb: float | None = None
    peak_delta_mb: float | None = None


@dataclass
class LayerTime(Record):
    """One row of a layer profile (``bench --profile``): a layer type on one kernel, per run."""

    layer_type: str
    exec_type: str  # kernel and precision, as the runtime names them (e.g. brgconv_avx512_f32)
    count: int  # nodes (or op calls) of this kind in one run
    ms: float  # milliseconds per run, summed over those nodes
    share: float  # fraction of the profiled total (0..1)


@dataclass
class LoadInfo(Record):
    seconds: float
    rss_before_mb: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class ParitySummary(Record):
    """The verdict of the parity harness on an evaluation split, worst case over its samples."""

    passed: bool
    precision: Precision
    max_abs: float | None
    mean_abs: float | None
    psnr_min: float | None  # None: identical outputs (infinite PSNR)
    ssim_min: float | None
    violations: list[str] = field(default_factory=list)
    cases: int | None = None
    psnr_key: str | None = None
    budget: dict[str, float | None] = field(default_factory=dict)


@dataclass
class QualityDrop(Record):
    """The task metric against ground truth: the reference's mean minus the variant's (dB)."""

    metric: str
    mean_vs_gt: float
    reference_mean_vs_gt: float
    drop_db: float


@dataclass
class Evaluation(Record):
    parity: ParitySummary
    quality: QualityDrop | None = None
    parity_report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurement(Record):
    """What one measuring worker returns: load, latency per size, and optionally an evaluation."""

    job: dict[str, Any]
    load: LoadInfo
    memory_method: str
    bench: list[LatencyRow]
    describe: dict[str, Any]
    machine: dict[str, Any]
    evaluation: Evaluation | None = None
    run_id: str | None = None
    measured_at: str | None = None
    # bench --profile: per-layer times of the largest size, slowest first; None: not profiled
    layer_times: list[LayerTime] | None = None


@dataclass
class VariantResult(Record):
    """One row of the pipeline: a variant that was measured, skipped (with why) or failed (where)."""

    name: str
    label: str
    runtime: str
    precision: Precision
    status: str  # ok | skipped | failed
    reason: str | None = None
    stage: str | None = None  # build | measure, for failures
    artefacts: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    build: dict[str, Any] | None = None
    parity: ParitySummary | None = None
    quality: QualityDrop | None = None
    bench: list[LatencyRow] = field(default_factory=list)
    load: LoadInfo | None = None
    memory_method: str | None = None
    describe: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] | None = None
    run_id: str | None = None
    measured_at: str | None = None
    cached: bool = False
    layer_times: list[LayerTime] | None = None  # INT8 variants: where the time goes (bench --profile)
    # over budget: the first divergent stage and the plot/JSON paths (pipeline/diverge.py), or an error
    divergence: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class PipelineResults(Record):
    """``results.json``: the run, the model and data it used, and one row per variant."""

    run_id: str
    variants: list[VariantResult]
    schema: str = RESULTS_SCHEMA
    created: str | None = None
    wall_s: float | None = None
    machine: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str | None] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] | None = None
    reference: str = REFERENCE_VARIANT

    @classmethod
    def coerce(cls, results: PipelineResults | dict[str, Any]) -> PipelineResults:
        """Typed results from either form (a results.json already read, or the dataclass)."""
        return results if isinstance(results, PipelineResults) else cls.from_dict(results)

    def variant(self, name: str) -> VariantResult | None:
        return next((v for v in self.variants if v.name == name), None)
