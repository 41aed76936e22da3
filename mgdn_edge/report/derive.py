"""Derived figures: speed-ups against PyTorch, the quality-drop axis and the Pareto front.

- **Speed-up vs PyTorch** = PyTorch FP32 p50 / variant p50 at the same size. Both come from
  the same pipeline run unless one was reused from a cache; such ratios are marked with a dagger.
- **Quality drop** (the plot's y axis): with ground truth (synthetic HDR, Kalantari scenes) it is
  the task metric's loss against ground truth, mean PSNR-mu (HDR) or PSNR of the reference minus
  that of the variant, in dB -- what a user loses in image quality, rather than how far the
  variant drifts from the reference. Without ground truth it is the mean absolute error against
  the reference output. Either way: lower is better.
- **Pareto front**, per benchmark size: a point is on it when no other variant at that size is
  at least as fast *and* at least as accurate while strictly better in one of the two. Speed is
  the p50 relative to PyTorch (or the p50 in ms where the reference was not measured). Quality
  is compared on a grid (0.01 dB, or 1e-6 mean abs error): an FP32 variant 1e-6 dB "better"
  than the reference by float rounding must not push a faster one off the front.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mgdn_edge.core.results import PipelineResults, VariantResult


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For each (cost_a, cost_b) point, whether no other point dominates it (both minimised)."""
    flags = []
    for i, (a, b) in enumerate(points):
        dominated = any(
            (a2 <= a and b2 <= b) and (a2 < a or b2 < b) for j, (a2, b2) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def quantize_to(value: float, resolution: float) -> float:
    """``value`` on a grid of ``resolution`` (so differences below it compare as equal; no -0.0)."""
    return round(value / resolution) * resolution + 0.0


def quality_axis(variants: Sequence[VariantResult]) -> dict[str, Any]:
    """Which quality-drop measure every measured variant has (see the module docstring)."""
    qualities = [v.quality for v in variants if v.ok]
    if qualities and all(q is not None and q.drop_db is not None for q in qualities):
        metric = next(q.metric for q in qualities if q is not None)
        name = "PSNR-μ" if metric == "psnr_mu" else "PSNR"
        return {
            "key": "drop_db",
            "label": f"quality drop: {name} vs ground truth, reference minus variant (dB)",
            "short": f"{name} drop (dB)",
            "resolution": 0.01,
        }
    return {
        "key": "mean_abs",
        "label": "mean |output − PyTorch reference output|",
        "short": "mean abs err",
        "resolution": 1e-6,
    }


def _quality_value(variant: VariantResult, key: str) -> float | None:
    if key == "drop_db":
        return None if variant.quality is None else variant.quality.drop_db
    return None if variant.parity is None else variant.parity.mean_abs


def derive(results: PipelineResults | dict[str, Any]) -> dict[str, Any]:
    """Speed-ups, quality drop and Pareto flags: one point per measured variant and size."""
    results = PipelineResults.coerce(results)
    variants = results.variants
    ref = results.variant(results.reference)
    ref = ref if ref is not None and ref.ok else None
    ref_ms = {tuple(r.size): r.p50_ms for r in (ref.bench if ref else [])}
    axis = quality_axis(variants)
    points = []
    for v in variants:
        if not v.ok:
            continue
        for row in v.bench:
            size = tuple(row.size)
            base = ref_ms.get(size)
            points.append(
                {
                    "variant": v.name,
                    "size": list(size),
                    "p50_ms": row.p50_ms,
                    "p90_ms": row.p90_ms,
                    "relative_latency": None if base is None else row.p50_ms / base,
                    "speedup": None if base is None else base / row.p50_ms,
                    "cross_run": ref is not None and v.run_id != ref.run_id,
                    "quality": _quality_value(v, axis["key"]),
                    "pareto": False,
                }
            )
    x_key = (
        "relative_latency" if points and all(p["relative_latency"] is not None for p in points) else "p50_ms"
    )
    for size in {tuple(p["size"]) for p in points}:
        group = [p for p in points if tuple(p["size"]) == size and p["quality"] is not None]
        costs = [(p[x_key], quantize_to(p["quality"], axis["resolution"])) for p in group]
        for p, flag in zip(group, pareto_front(costs), strict=True):
            p["pareto"] = flag
    return {"reference": ref.name if ref else None, "quality_axis": axis, "x_key": x_key, "points": points}
