"""Judge a device's run on this PC and give it a row of the trade-off report.

A run record (:mod:`.device_record`) names the inputs the device read and the raw float32 output
it wrote. Here the same inputs go through ``mgdn_edge.model.tasks.prepare_inputs`` and the PyTorch
FP32 reference (tiled on the device's grid where the device ran tiles, since MGCA's attention is
global and a tiled run legitimately differs from a whole one), and the device's output is judged
by the budget of its precision (``mgdn_edge/core/budgets.py``) with the parity harness's own metrics.
The row carries the device's latencies, so it joins the latency table and the Pareto plot,
named ``<runtime>-<precision>@<device>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import LatencyRow, ParitySummary, VariantResult
from mgdn_edge.report.device_record import DeviceRun, load_device_run, locate, sha256_of


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def reference_output(run: DeviceRun, reference: Any, paths: list[Path]) -> np.ndarray:
    """PyTorch's NCHW output on the device's inputs, whole or on the device's tile grid."""
    from mgdn_edge.model.tasks import prepare_inputs
    from mgdn_edge.model.tiling import plan_tiles, run_tiled

    prepared = prepare_inputs(run.task, paths, run.exposures)
    if run.tile is None:
        return reference.run(prepared.inputs)
    h, w = prepared.inputs[0].shape[2:]
    plan = plan_tiles(h, w, reference.config, tile=run.tile, overlap=run.overlap, max_memory_mb=None)
    return (
        reference.run(prepared.inputs)
        if plan.grid is None
        else run_tiled(reference.run, prepared.inputs, plan.grid)
    )


def read_raw(path: Path, expected: tuple[int, ...]) -> np.ndarray:
    """The device's HxWxC float32 ``--raw`` output as NCHW, checked against the reference's shape."""
    try:
        raw = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the raw output {path} as a .npy array: {exc}") from None
    if raw.dtype != np.float32 or raw.ndim != 3:
        raise InputError(
            f"raw output {path} is {raw.dtype} {list(raw.shape)}; mgdn-fuse --raw writes float32 HxWxC"
        )
    nchw = raw.transpose(2, 0, 1)[None]
    if nchw.shape != expected:
        raise InputError(
            f"raw output {path} is {list(raw.shape)} (HxWxC) but the reference output on the recorded "
            f"inputs is {[expected[2], expected[3], expected[1]]}"
        )
    return nchw


def parity_summary(expected: np.ndarray, got: np.ndarray, task: str, precision: Precision) -> ParitySummary:
    """The parity harness's metrics and verdict for one output (``runtimes.parity``)."""
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.runtimes.parity import image_metrics, violations

    budget = budget_for(precision.value)
    metrics = image_metrics(expected, got, task)
    broken = violations(metrics, budget, task)
    psnr_key, ssim_key = ("psnr_mu", "ssim_mu") if task == "hdr" else ("psnr", "ssim")
    return ParitySummary(
        passed=not broken,
        precision=precision,
        max_abs=metrics["max_abs"],
        mean_abs=metrics["mean_abs"],
        psnr_min=metrics.get(psnr_key),
        ssim_min=metrics.get(ssim_key),
        violations=broken,
        cases=1,
        psnr_key=psnr_key,
        budget=budget.to_dict(),
    )


def latency_rows(run: DeviceRun) -> list[LatencyRow]:
    from mgdn_edge.core.timing import latency_stats

    return [
        LatencyRow(
            size=b.size,
            warmup=b.warmup,
            repeats=b.repeats,
            times_ms=b.times_ms,
            peak_rss_mb=b.peak_rss_mb,
            **latency_stats(b.times_ms),
        )
        for b in run.bench
    ]


def judge_device_run(
    record: str | Path,
    reference: Any,
    precision: str | None = None,
    search: Sequence[Path] = (),
) -> VariantResult:
    """A report row for one run record, judged against ``reference`` (an opened PyTorch runtime)."""
    run = load_device_run(record)
    if run.raw is None:
        raise InputError(
            f"{run.source} has no raw output: run mgdn-fuse with --raw OUT.npy as well as --json"
        )
    if reference.config.task != run.task and {reference.config.task, run.task} != {"mff", "mef"}:
        raise InputError(
            f"{run.source} is a {run.task.upper()} run but the reference is a "
            f"{reference.config.task.upper()} model"
        )
    chosen = Precision.parse(precision or run.precision)
    paths = [locate(run, f, "input", search) for f in run.inputs]
    raw_path = locate(run, run.raw, "raw output", search)
    expected = reference_output(run, reference, paths)
    got = read_raw(raw_path, expected.shape)
    label = f"{run.runtime}-{chosen.value}@{_slug(run.device)}"
    return VariantResult(
        name=label,
        label=f"mgdn-fuse {run.runtime} {chosen.value.upper()} @ {run.device}",
        runtime=f"mgdn-fuse/{run.runtime}",
        precision=chosen,
        status="ok",
        artefacts=[{"path": run.model.path, "sha256": run.model.sha256}],
        model=run.model.path,
        parity=parity_summary(expected, got, run.task, chosen),
        bench=latency_rows(run),
        describe={"device": run.device, "backend_device": run.backend_device, "runner": run.runner},
        machine={"device": run.device, "cpu": run.device},
        run_id=f"device:{sha256_of(run.source)[:12]}",
    )


def device_lines(rows: Sequence[VariantResult]) -> list[str]:
    """One line per judged device run: its verdict and the numbers behind it."""
    lines = []
    for row in rows:
        par = row.parity
        assert par is not None
        psnr = "∞" if par.psnr_min is None else f"{par.psnr_min:.2f}"
        worst = "not finite" if par.max_abs is None else f"{par.max_abs:.3g}"
        verdict = "pass" if par.passed else "over budget: " + "; ".join(par.violations)
        lines.append(
            f"{row.name}: {verdict} ({par.precision} budget; max abs {worst}, min {par.psnr_key} {psnr} dB)"
        )
    return lines
