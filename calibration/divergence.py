"""Where two variants of one MGDN part ways: the error of every stage, in PyTorch's module names.

Stages, their names and the graph tensor of each are :mod:`mgdn_edge.export.stages`'s.

Memory: each pass over the network exposes only as many stages on both sides as fit
``max_memory_mb`` (stage tensors are the size of a feature map), so a 520x520 image never holds
every intermediate at once, and fusions inside a stage are left alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.export.stages import StagePoint, stage_points, tensors_for

FP16_MAX = 65504.0
DEFAULT_MAX_MEMORY_MB = 1024.0
# Feature PSNR (dB, against the reference stage's own range) below which a stage has diverged,
# by the compared variant's precision: what each precision's rounding normally stays above
# (README, "diff"), with room for the error a network accumulates over its depth.
DEFAULT_TOLERANCE_DB = {"fp32": 80.0, "fp16": 45.0, "bf16": 30.0, "int8": 20.0}


@dataclass(frozen=True)
class StageError:
    """The compared variant's error at one stage, against the reference's tensor there."""

    stage: str
    tensor: str | None
    shape: list[int]
    max_abs: float
    psnr_db: float  # against the reference tensor's range (max - min)
    cosine: float
    peak_reference: float  # largest |value| in the reference tensor (FP16 overflows past 65504)
    peak_model: float

    @property
    def fp16_overflow(self) -> bool:
        return max(self.peak_reference, self.peak_model) > FP16_MAX


def stage_error(stage: str, tensor: str | None, reference: np.ndarray, output: np.ndarray) -> StageError:
    """Max abs, PSNR and cosine of ``output`` against ``reference`` (same shape, float64 math)."""
    if reference.shape != output.shape:
        raise BackendError(
            f"stage {stage}: the two variants' tensors differ in shape ({list(reference.shape)} vs "
            f"{list(output.shape)}); they are not the same network"
        )
    ref = reference.astype(np.float64).ravel()
    out = output.astype(np.float64).ravel()
    finite = bool(np.isfinite(out).all())
    diff = np.abs(out - ref) if finite else np.full_like(ref, np.inf)
    mse = float(np.mean(diff**2))
    span = float(ref.max() - ref.min()) or 1.0
    psnr = math.inf if mse == 0 else (10 * math.log10(span**2 / mse) if finite else -math.inf)
    norms = float(np.linalg.norm(ref) * np.linalg.norm(out))
    cosine = float(ref @ out / norms) if finite and norms > 0 else (1.0 if finite else math.nan)
    return StageError(
        stage=stage,
        tensor=tensor,
        shape=list(reference.shape),
        max_abs=float(diff.max()),
        psnr_db=psnr,
        cosine=cosine,
        peak_reference=float(np.abs(ref).max()),
        peak_model=float(np.abs(out[np.isfinite(out)]).max()) if np.isfinite(out).any() else math.nan,
    )


@dataclass
class DiffResult:
    """Per-stage errors in execution order and the first stage under the tolerance (or None)."""

    reference: dict[str, Any]
    model: dict[str, Any]
    tolerance_db: float
    stages: list[StageError] = field(default_factory=list)
    passes: int = 0

    @property
    def first_divergent(self) -> str | None:
        return next((s.stage for s in self.stages if s.psnr_db < self.tolerance_db), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "model": self.model,
            "tolerance_db": self.tolerance_db,
            "first_divergent": self.first_divergent,
            "passes": self.passes,
            "stages": [asdict(s) | {"fp16_overflow": s.fp16_overflow} for s in self.stages],
        }


# A side of the comparison: (inputs, stage names) -> {stage name: tensor}.
StageRunner = Callable[[Sequence[np.ndarray], Sequence[str]], dict[str, np.ndarray]]


def stage_bytes(config: Any, inputs: Sequence[np.ndarray]) -> int:
    """Bytes of the largest stage tensor for these inputs (feature maps at the padded size)."""
    n, _, h, w = inputs[0].shape
    ws = config.window_size
    padded = (h + (-h) % ws) * (w + (-w) % ws)
    return 4 * n * padded * max(config.embed_dim, config.kernel_size**2)


def groups(names: Sequence[str], per_stage: int, max_memory_mb: float) -> list[list[str]]:
    """``names`` in consecutive groups whose tensors, on both sides, fit ``max_memory_mb``."""
    if max_memory_mb <= 0:
        raise InputError(f"--max-memory must be > 0 MB, got {max_memory_mb:g}")
    size = max(1, int(max_memory_mb * 1e6 // (2 * per_stage)))
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


def diff_stages(
    reference: StageRunner,
    model: StageRunner,
    inputs: Sequence[np.ndarray],
    stages: Sequence[str],
    tensors: dict[str, str | None],
    per_stage_bytes: int,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
) -> tuple[list[StageError], int]:
    """Run both sides once per group of stages and compare each stage; (errors, passes)."""
    errors: list[StageError] = []
    batches = groups(stages, per_stage_bytes, max_memory_mb)
    for batch in batches:
        ref = reference(inputs, batch)
        out = model(inputs, batch)
        for name in batch:
            if name in ref and name in out:
                errors.append(stage_error(name, tensors.get(name), ref.pop(name), out.pop(name)))
    return errors, len(batches)


class Side:
    """One variant of a diff: its runtime and how that runtime exposes a stage's tensor (PyTorch
    module hooks, or graph tensors found by scope; see the module doc)."""

    def __init__(self, runtime: Any, points: Sequence[StagePoint]) -> None:
        self.runtime = runtime
        self.points = {p.name: p for p in points}
        if hasattr(runtime, "run_stages"):
            self.tensors: dict[str, str | None] = {name: None for name in self.points}
        elif hasattr(runtime, "run_tensors"):
            self.tensors = dict(tensors_for(points, runtime.graph_tensors()))
        else:
            raise BackendError(f"runtime {runtime.name!r} cannot expose intermediate tensors for diff")

    def run(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
        if hasattr(self.runtime, "run_stages"):
            return self.runtime.run_stages(inputs, [self.points[n] for n in names])
        by_tensor = {self.tensors[n]: n for n in names}
        values = self.runtime.run_tensors(inputs, list(by_tensor))
        return {by_tensor[t]: v for t, v in values.items()}


def diff_runtimes(
    reference: Any,
    model: Any,
    inputs: Sequence[np.ndarray],
    tolerance_db: float | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
) -> DiffResult:
    """Every stage both runtimes show, compared on ``inputs`` (see :func:`diff_stages`).

    ``tolerance_db`` None: :data:`DEFAULT_TOLERANCE_DB` for the model's precision.
    """
    if reference.config != model.config:
        raise InputError("the reference and the model are different networks (their configs differ)")
    points = stage_points(model.config)
    ref_side, model_side = Side(reference, points), Side(model, points)
    stages = [p.name for p in points if p.name in ref_side.tensors and p.name in model_side.tensors]
    if not stages:
        raise InputError("no stage of the model could be located in both variants")
    described = model.describe()
    if tolerance_db is None:
        tolerance_db = DEFAULT_TOLERANCE_DB.get(str(described.get("precision") or "fp32"), 80.0)
    tensors = {n: model_side.tensors[n] or ref_side.tensors[n] for n in stages}
    errors, passes = diff_stages(
        ref_side.run,
        model_side.run,
        inputs,
        stages,
        tensors,
        stage_bytes(model.config, inputs),
        max_memory_mb,
    )
    return DiffResult(reference.describe(), described, tolerance_db, errors, passes)
