"""Parity and latency of one built variant, measured in a worker of its own, reused while valid."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mgdn_edge.core.atomic import write_json
from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import Measurement
from mgdn_edge.pipeline.bench import BenchJob, run_job_isolated
from mgdn_edge.pipeline.cache import cache_key, read_record
from mgdn_edge.pipeline.catalogue import Variant
from mgdn_edge.pipeline.state import MEASURE_LOG, RESULT_RECORD, RunState
from mgdn_edge.pipeline.steps import EVAL_NPZ
from mgdn_edge.runtimes.backends import profiled_backends


def _result_key(state: RunState, variant: Variant, build: dict[str, Any]) -> str:
    opts = state.options
    return cache_key(
        {
            "build": build["key"],
            "artefacts": [a["sha256"] for a in build["artefacts"]],
            "eval": state.data.get("eval_sha256"),
            "sizes": [list(s) for s in opts.sizes],
            "warmup": opts.warmup,
            "repeats": opts.repeats,
            "threads": opts.threads,
            "seed": opts.seed,
            "profile": profiled(variant),
        }
    )


def profiled(variant: Variant) -> bool:
    return variant.precision == Precision.INT8 and variant.runtime in profiled_backends()


def measure_step(state: RunState, variant: Variant, build: dict[str, Any]) -> tuple[Measurement, bool]:
    """The variant's Measurement (parity on the evaluation split + benchmark) and whether it was cached."""
    vdir = state.variant_dir(variant.name)
    key = _result_key(state, variant, build)
    record = read_record(vdir / RESULT_RECORD)
    if not state.options.force and record is not None and record.get("key") == key:
        return Measurement.from_dict(record["measurement"]), True
    opts = state.options
    job = BenchJob(
        runtime=variant.runtime,
        model=str(state.out / build["model"]),
        precision=str(variant.precision),
        task=state.task,
        sizes=list(opts.sizes),
        warmup=opts.warmup,
        repeats=opts.repeats,
        threads=opts.threads,
        seed=opts.seed,
        evaluate=str(state.out / "data" / EVAL_NPZ),
        # INT8 variants carry their layer profile, so the report can say where their time goes.
        options={"profile": True} if profiled(variant) else {},
    )
    measured = run_job_isolated(job, log_path=vdir / MEASURE_LOG, timeout_s=opts.timeout_s)
    measured.run_id = state.run_id
    measured.measured_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json(vdir / RESULT_RECORD, {"key": key, "measurement": measured.to_dict()})
    return measured, False
