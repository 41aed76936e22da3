"""The report's tables and text as plain cells, shared by the markdown and HTML renderings."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import LayerTime, PipelineResults, VariantResult
from mgdn_edge.report.derive import quantize_to
from mgdn_edge.runtimes.backends import int8_speed_targets

# Integer kernels as OpenVINO (brgconv_avx512_I8, brgemm_avx512_i8) and ONNX Runtime (provider
# plus an int8/uint8 input type) name them.
INTEGER_KERNEL = re.compile(r"(^|[_ ])(i8|u8|int8|uint8)$", re.IGNORECASE)


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


def _float_time(layer_times: list[LayerTime] | None, top: int = 3) -> str:
    """Where an INT8 variant's time goes outside integer kernels, from its layer profile."""
    if not layer_times:
        return "no layer profile"
    floats = [r for r in layer_times if not INTEGER_KERNEL.search(r.exec_type)]
    share = sum(r.share for r in floats)
    slowest = ", ".join(f"{r.layer_type} {r.exec_type} {100 * r.share:.0f}%" for r in floats[:top])
    return f"{100 * share:.0f}% of its time runs in float kernels ({slowest})"


def int8_rows(results: PipelineResults) -> tuple[list[str], list[list[str]]]:
    """INT8 speed against the float variants of the same runtime, judged by the backends' INT8 targets,
    at the largest size both measured; a missed target says where the INT8 time goes."""
    header = ["INT8 variant", "versus", "size", "speed-up", "target", "verdict"]
    measured = {(v.runtime, v.precision): v for v in results.variants if v.ok and v.bench}
    rows = []
    for target in int8_speed_targets():
        int8 = measured.get((target.runtime, Precision.INT8))
        other = measured.get((target.runtime, target.versus))
        if int8 is None or other is None:
            continue
        sizes = {tuple(r.size) for r in int8.bench} & {tuple(r.size) for r in other.bench}
        if not sizes:
            continue
        size = max(sizes, key=lambda s: s[0] * s[1])
        ratio = _p50(other, size) / _p50(int8, size)
        verdict = "meets" if ratio >= target.ratio else f"misses: {_float_time(int8.layer_times)}"
        if ratio < target.ratio and target.versus == Precision.BF16:
            verdict += f"; use {other.label} on this CPU: INT8 is only {ratio:.2f}× as fast and less accurate"
        shown = f"{size[0]}x{size[1]}"
        rows.append([int8.label, other.label, shown, f"{ratio:.2f}×", f"≥ {target.ratio:g}×", verdict])
    return header, rows


def _p50(variant: VariantResult, size: tuple[int, ...]) -> float:
    return next(r.p50_ms for r in variant.bench if tuple(r.size) == size)


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
    on_devices = [v for v in results.variants if v.runtime.startswith("mgdn-fuse/")]
    devices = sorted({str(v.describe.get("device")) for v in on_devices})
    if devices:
        notes.append(
            f"@device rows ({', '.join(devices)}): run by mgdn-fuse on that device (--json run record) and "
            "judged on this PC against PyTorch on the run's own inputs, not the evaluation split; their "
            "latencies are the device's, so a speed-up compares the device with PyTorch on this machine."
        )
    cached = [v.name for v in results.variants if v.cached]
    if cached:
        notes.append(f"Reused from an earlier run (cache): {', '.join(cached)}.")
    return notes


def divergence_rows(results: PipelineResults) -> tuple[list[str], list[list[str]]]:
    """Over-budget variants and where they diverge (``mgdn-edge diff`` on one evaluation sample)."""
    rows = []
    for v in results.variants:
        if v.divergence is None:
            continue
        if "error" in v.divergence:
            rows.append([v.label, "–", f"diff failed: {v.divergence['error']}"])
        else:
            first = v.divergence.get("first_divergent") or "none below the tolerance"
            rows.append([v.label, first, v.divergence["plot"]])
    return ["variant", "first divergent stage", "error by stage"], rows
