"""Where an over-budget variant diverges: ``diff`` of its first evaluation sample, in a worker.

Only variants whose parity broke the budget are diffed (a diff costs about one inference per
group of stages on each side), and only on runtimes that expose intermediate tensors. The
worker writes ``divergence.json`` and ``divergence.png`` (PSNR by stage) into the variant's
folder; the report links the plot. A failure here is noted on the row, never fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mgdn_edge.core.atomic import write_bytes, write_json
from mgdn_edge.core.errors import one_line
from mgdn_edge.core.results import VariantResult
from mgdn_edge.pipeline.catalogue import Variant
from mgdn_edge.pipeline.state import RunState
from mgdn_edge.pipeline.steps import EVAL_NPZ

DIVERGENCE_JSON = "divergence.json"
DIVERGENCE_PNG = "divergence.png"
DIVERGENCE_LOG = "divergence.log"
DIFFABLE = ("onnxruntime", "openvino")


def divergence_job(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side: diff the variant against the checkpoint on the first evaluation sample."""
    import numpy as np

    from mgdn_edge.calibration.divergence import diff_runtimes
    from mgdn_edge.report.plot import render_divergence_plot
    from mgdn_edge.runtimes import open_runtime

    data = np.load(job["eval"])
    inputs = [data[k] for k in sorted(k for k in data.files if k.startswith("s0_in"))]
    reference = open_runtime("torch", job["reference"], task=job["task"])
    model = open_runtime(job["runtime"], job["model"], task=job["task"], precision=job["precision"])
    result = diff_runtimes(reference, model, inputs)
    out = Path(job["out_dir"])
    write_json(out / DIVERGENCE_JSON, result.to_dict())
    write_bytes(out / DIVERGENCE_PNG, render_divergence_plot(result, f"{job['variant']} vs PyTorch FP32"))
    return {"first_divergent": result.first_divergent, "tolerance_db": result.tolerance_db}


def divergence_step(state: RunState, variant: Variant, build: dict[str, Any], row: VariantResult) -> None:
    """Diff ``row`` if its parity broke the budget; record the outcome (or why not) on the row."""
    if row.parity is None or row.parity.passed or variant.runtime not in DIFFABLE:
        return
    from mgdn_edge.pipeline.worker import run_in_worker

    vdir = state.variant_dir(variant.name)
    job = {
        "variant": variant.name,
        "reference": str(state.checkpoint),
        "model": str(state.out / build["model"]),
        "runtime": variant.runtime,
        "precision": str(variant.precision),
        "task": state.task,
        "eval": str(state.out / "data" / EVAL_NPZ),
        "out_dir": str(vdir),
    }
    try:
        found = run_in_worker(
            "divergence", job, log_path=vdir / DIVERGENCE_LOG, timeout_s=state.options.timeout_s
        )
    except Exception as exc:  # a diff that fails leaves the row's measurement as it is
        row.divergence = {"error": one_line(exc)}
        return
    relative = vdir.relative_to(state.out)
    row.divergence = {
        **found,
        "plot": str(relative / DIVERGENCE_PNG),
        "json": str(relative / DIVERGENCE_JSON),
    }
