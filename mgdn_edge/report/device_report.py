"""Device runs into a report's results: judge each run record and add (or replace) its row."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.results import PipelineResults, VariantResult
from mgdn_edge.report.device import device_lines, judge_device_run
from mgdn_edge.report.device_record import sha256_of


def _reference_path(results: PipelineResults | None, reference: str | None) -> Path:
    chosen = reference or (results.model.get("checkpoint") if results else None)
    if not chosen:
        raise InputError("judging a device run needs the PyTorch checkpoint: give --reference CKPT")
    path = Path(chosen)
    if not path.is_file():
        source = "--reference" if reference else "the results' model checkpoint"
        raise InputError(f"reference checkpoint not found: {path} ({source})")
    return path


def _fresh_results(reference: Path, config: Any, rows: Sequence[VariantResult]) -> PipelineResults:
    """Results holding only device rows, for a report made without a pipeline run."""
    from mgdn_edge.core.timing import machine_info

    sizes = sorted({tuple(b.size) for row in rows for b in row.bench}, key=lambda s: s[0] * s[1])
    return PipelineResults(
        run_id="device-runs",
        variants=[],
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        machine=machine_info(),
        model={
            "task": config.task,
            "checkpoint": str(reference),
            "sha256": sha256_of(reference),
            "config": {
                "embed_dim": config.embed_dim,
                "depths": config.depths,
                "window_size": config.window_size,
            },
        },
        data={"spec": "each device run's own inputs"},
        settings={"sizes": [list(s) for s in sizes], "threads": "the device's default"},
    )


def add_device_runs(
    results: PipelineResults | None,
    records: Sequence[str | Path],
    reference: str | None = None,
    precision: str | None = None,
    search: Sequence[Path] = (),
) -> tuple[PipelineResults, list[str], bool]:
    """``results`` with one judged row per run record (a row of the same name is replaced); also
    the verdict lines and whether every device run is within its budget."""
    from mgdn_edge.runtimes import open_runtime

    ref_path = _reference_path(results, reference)
    runtime = open_runtime("torch", ref_path)
    rows: list[VariantResult] = [judge_device_run(r, runtime, precision, search) for r in records]
    base = results or _fresh_results(ref_path, runtime.config, rows)
    names = {row.name for row in rows}
    variants = [v for v in base.variants if v.name not in names] + rows
    passed = all(row.parity is not None and row.parity.passed for row in rows)
    return replace(base, variants=variants), device_lines(rows), passed
