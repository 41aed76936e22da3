"""The report's tables and text as plain cells, shared by the markdown and HTML renderings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mgdn_edge.report.derive import quantize_to
from mgdn_edge.results import PipelineResults, VariantResult


def _num(value: Any, fmt: str = "{:.3g}", none: str = "–") -> str:
    if value is None:
        return none
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return fmt.format(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _size_on_disk(variant: VariantResult) -> str:
    total = sum(a.get("bytes", 0) for a in variant.artefacts)
    return f"{total / 1e6:.2f} MB" if total else "–"


def variant_rows(results: PipelineResults) -> tuple[list[str], list[list[str]]]:
    """Accuracy table: one row per variant that was measured."""
    task_hdr = results.model.get("task") == "hdr"
    metric = "PSNR-μ" if task_hdr else "PSNR"
    ssim = "SSIM-μ" if task_hdr else "SSIM"
    header = [
        "Variant",
        "Runtime",
        "Precision",
        "Parity (budget)",
        "max abs",
        f"min {metric} vs ref (dB)",
        f"min {ssim} vs ref",
        f"{metric} vs GT (dB)",
        "drop (dB)",
        "artefacts",
    ]
    rows = []
    for v in results.variants:
        if not v.ok:
            continue
        par, q = v.parity, v.quality
        broken = "; ".join(par.violations[:3]) if par else "not evaluated"
        verdict = "pass" if par and par.passed else f"over budget: {broken}"
        rows.append(
            [
                v.label,
                v.runtime,
                str(v.precision),
                f"{verdict} ({par.precision if par else v.precision})",
                _num(par and par.max_abs, "{:.2e}"),
                _num(par and par.psnr_min, "{:.2f}", "∞ (identical)"),
                _num(par and par.ssim_min, "{:.5f}", "1 (identical)"),
                _num(q and q.mean_vs_gt, "{:.2f}"),
                _num(q and quantize_to(q.drop_db, 0.001), "{:+.3f}"),
                _size_on_disk(v),
            ]
        )
    return header, rows


def latency_rows(results: PipelineResults, derived: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "Variant",
        "Size",
        "p50 ms",
        "p90 ms",
        "speed-up vs PyTorch",
        "threads",
        "peak RSS MB",
        "+MB vs base",
        "load s",
        "Pareto",
    ]
    by_variant = {v.name: v for v in results.variants}
    rows = []
    for p in derived["points"]:
        v = by_variant[p["variant"]]
        row = next(r for r in v.bench if list(r.size) == p["size"])
        speedup = _num(p["speedup"], "{:.2f}×") + (
            " †" if p["cross_run"] and p["speedup"] is not None else ""
        )
        rows.append(
            [
                v.label,
                f"{p['size'][0]}x{p['size'][1]}",
                f"{p['p50_ms']:.1f}",
                f"{p['p90_ms']:.1f}",
                speedup,
                str(v.describe.get("threads", "–")),
                _num(row.peak_rss_mb, "{:.0f}"),
                _num(row.peak_delta_mb, "{:.0f}"),
                _num(v.load and v.load.seconds, "{:.2f}"),
                "★" if p["pareto"] else "",
            ]
        )
    return header, rows


def not_run_rows(results: PipelineResults) -> tuple[list[str], list[list[str]]]:
    header = ["Variant", "Status", "Stage", "Reason"]
    rows = [[v.label, v.status, v.stage or "–", v.reason or ""] for v in results.variants if not v.ok]
    return header, rows


def summary(results: PipelineResults) -> list[tuple[str, str]]:
    model, data, settings = results.model, results.data, results.settings
    machine, cfg = results.machine, model.get("config", {})
    crop = data.get("crop")
    sizes = ", ".join(f"{h}x{w}" for h, w in settings.get("sizes", []))
    statuses = [v.status for v in results.variants]
    return [
        (
            "Model",
            f"{'bundled demo ' if model.get('demo') else ''}MGDN-{str(model.get('task', '')).upper()} "
            f"{Path(str(model.get('checkpoint', ''))).name} (sha256 {str(model.get('sha256', ''))[:12]}…), "
            f"embed {cfg.get('embed_dim')}, depths {cfg.get('depths')}, window {cfg.get('window_size')}, "
            f"{_count(model.get('parameters'))} parameters",
        ),
        (
            "Data",
            f"{data.get('spec')}, {'full frames' if not crop else f'{crop[0]}x{crop[1]} crops'}: "
            f"{len(data.get('calib_items', []))} calibration items, {len(data.get('eval_items', []))} "
            f"evaluation items (disjoint, seed {data.get('seed')}), ground truth: "
            f"{'yes' if data.get('has_ground_truth') else 'no'}",
        ),
        (
            "Benchmark",
            f"sizes {sizes}; {settings.get('warmup')} warm-up + {settings.get('repeats')} timed runs "
            "per size; "
            f"{settings.get('threads')} threads for every runtime; one process per variant",
        ),
        (
            "Machine",
            f"{machine.get('cpu')}, {machine.get('cpu_count')} logical CPUs, {machine.get('platform')}",
        ),
        (
            "Run",
            f"{results.created} (run {results.run_id}), {results.wall_s} s; "
            f"{statuses.count('ok')} measured, {statuses.count('failed')} failed, "
            f"{statuses.count('skipped')} skipped",
        ),
        (
            "Tools",
            ", ".join(f"{k} {v}" for k, v in results.tools.items() if v is not None),
        ),
    ]


def notes(results: PipelineResults, derived: dict[str, Any]) -> list[str]:
    methods = sorted({v.memory_method for v in results.variants if v.memory_method})
    notes = [
        "Parity: each variant against the PyTorch FP32 outputs on the evaluation split, judged by the "
        "budget of its precision (mgdn_edge/runtimes/budgets.py); 'min … vs ref' is the worst case over "
        "the split, '∞ (identical)' means bit-identical outputs.",
        f"Quality drop (plot y axis): {derived['quality_axis']['label']}; lower is better.",
        "Latency: p50/p90 of the timed runs after the warm-up runs (numpy percentiles, linear "
        "interpolation); speed-up = PyTorch p50 / variant p50 at the same size.",
        "Memory: peak RSS of the variant's own process while running that size; '+MB vs base' "
        "subtracts the RSS after the backend library was imported, before the model was opened "
        f"(method: {'; '.join(methods) or 'n/a'}).",
        "Pareto (★): no other variant at the same size is both at least as fast and at least as "
        "accurate, and better in one.",
    ]
    if any(p["cross_run"] for p in derived["points"]):
        notes.append(
            "†: the variant and the PyTorch reference were measured in different runs (one was cached)."
        )
    cached = [v.name for v in results.variants if v.cached]
    if cached:
        notes.append(f"Reused from an earlier run (cache): {', '.join(cached)}.")
    return notes
