"""``run_pipeline``: the steps in order, one row per variant, then results and report.

Variants that cannot be built here (package missing, no GPU, no bf16 on this CPU) are *skipped*
with the reason; a variant that was attempted and failed is *failed* with its one-line error and
the stage it failed in; neither stops the others.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import mgdn_edge.pipeline.catalogue as catalogue
from mgdn_edge.core.errors import InputError, one_line
from mgdn_edge.core.results import REFERENCE_VARIANT, PipelineResults, VariantResult
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.pipeline.build import build_step
from mgdn_edge.pipeline.cache import read_record, tool_versions
from mgdn_edge.pipeline.catalogue import Variant, default_model, unavailable_reason
from mgdn_edge.pipeline.diverge import divergence_step
from mgdn_edge.pipeline.manifest import finish
from mgdn_edge.pipeline.measure import measure_step
from mgdn_edge.pipeline.state import PipelineOptions, RunState
from mgdn_edge.pipeline.steps import EXPORT_RECORD, data_step, export_step


def _row(variant: Variant, status: str, reason: str | None = None, stage: str | None = None) -> VariantResult:
    return VariantResult(
        name=variant.name,
        label=variant.label,
        runtime=variant.runtime,
        precision=variant.precision,
        status=status,
        reason=reason,
        stage=stage,
    )


def process_variant(state: RunState, variant: Variant, note: Callable[[str], None]) -> VariantResult:
    """Build, then measure one variant; any failure becomes the row's reason, never the run's."""
    reason = unavailable_reason(variant, state.export_dir)
    if reason is None and variant.source and variant.source not in state.built:
        reason = f"not available: needs variant {variant.source}, which was not built"
    if reason is not None:
        return _row(variant, "skipped", reason)
    note(f"{variant.name}: build")
    try:
        build = build_step(state, variant)
    except Exception as exc:  # one variant's failure is recorded, never fatal for the run
        return _row(variant, "failed", one_line(exc), "build")
    state.built[variant.name] = build
    note(f"{variant.name}: parity + benchmark")
    row = _row(variant, "ok")
    row.artefacts, row.model = build["artefacts"], build["model"]
    row.build = {"info": build.get("info", {}), "cached": build["cached"], "run_id": build["run_id"]}
    try:
        measured, cached = measure_step(state, variant, build)
    except Exception as exc:
        row.status, row.reason, row.stage = "failed", one_line(exc), "measure"
        return row
    if measured.evaluation is not None:
        row.parity, row.quality = measured.evaluation.parity, measured.evaluation.quality
    row.bench, row.load, row.memory_method = measured.bench, measured.load, measured.memory_method
    row.describe, row.machine, row.layer_times = measured.describe, measured.machine, measured.layer_times
    row.run_id, row.measured_at, row.cached = measured.run_id, measured.measured_at, cached
    if row.parity is not None and not row.parity.passed:
        note(f"{variant.name}: over budget, locating where it diverges")
        divergence_step(state, variant, build, row)
    return row


def _resolved(options: PipelineOptions) -> PipelineOptions:
    """The options with defaults filled in and checked (the caller's object is left as it is)."""
    if options.warmup < 0 or options.repeats < 1:
        raise InputError(f"need warmup >= 0 and repeats >= 1, got {options.warmup} and {options.repeats}")
    if not options.sizes:
        raise InputError("give at least one benchmark size (HxW)")
    if options.threads is not None and options.threads < 1:
        raise InputError(f"threads must be >= 1, got {options.threads}")
    return dataclasses.replace(
        options,
        threads=options.threads or os.cpu_count() or 1,
        model=Path(options.model) if options.model is not None else None,
        out=Path(options.out).resolve(),
    )


def _run_steps(state: RunState, variants: list[Variant], progress: bool) -> list[VariantResult]:
    """The data and export steps, then every variant, under one progress bar; the variants' rows."""
    from tqdm import tqdm

    bar = tqdm(total=2 + len(variants), desc="pipeline", unit="step", disable=not progress)
    with bar:
        bar.set_postfix_str("data + reference outputs")
        data_step(state)  # first: bad data fails the run before anything slow happens
        bar.update(1)
        bar.set_postfix_str("export")
        export_step(state)
        bar.update(1)
        rows = []
        for variant in variants:
            rows.append(process_variant(state, variant, bar.set_postfix_str))
            bar.update(1)
    return rows


def run_pipeline(options: PipelineOptions) -> PipelineResults:
    """Run every step; write results.json, the report and manifest.json under ``options.out``."""
    from mgdn_edge.core.timing import machine_info
    from mgdn_edge.model import count_parameters, load_model

    started = time.perf_counter()
    opts = _resolved(options)
    variants = catalogue.select_variants(opts.runtimes)
    checkpoint = opts.model or default_model()
    if not checkpoint.is_file():
        raise InputError(f"checkpoint not found: {checkpoint}")
    opts.out.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    state = RunState(opts, run_id, checkpoint.resolve(), sha256_file(checkpoint))
    model = load_model(checkpoint)
    state.task, state.config = model.config.task, model.config.to_dict()
    n_params = count_parameters(model)
    del model

    rows = _run_steps(state, variants, opts.progress)

    results = PipelineResults(
        run_id=run_id,
        variants=rows,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        machine=machine_info(),
        tools=tool_versions("torch", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt", "numpy"),
        model={
            "checkpoint": str(state.checkpoint),
            "sha256": state.checkpoint_sha,
            "task": state.task,
            "config": state.config,
            "parameters": n_params,
            "demo": options.model is None,
        },
        data={k: v for k, v in state.data.items() if k != "key"},
        settings={
            "sizes": [list(s) for s in opts.sizes],
            "warmup": opts.warmup,
            "repeats": opts.repeats,
            "threads": opts.threads,
            "seed": opts.seed,
        },
        export=read_record(state.out / EXPORT_RECORD),
        reference=REFERENCE_VARIANT,
    )
    results.wall_s = round(time.perf_counter() - started, 1)
    finish(results, opts.out)
    return results
