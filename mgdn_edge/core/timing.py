"""Timing helpers every measuring layer shares: run statistics, a median timer, round-robin rows
of calls on a shared machine, and the machine description that goes with the figures.

The bench jobs (:mod:`mgdn_edge.pipeline.bench`), ``quantize``'s INT8-vs-float timing
(:mod:`mgdn_edge.calibration`), the device report and the measurement tools all time through
these, so a figure means the same wherever it was taken.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mgdn_edge.core.errors import InputError


def latency_stats(times_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / mean / min / max / std of timed runs (ms); percentiles interpolate linearly."""
    if len(times_ms) == 0:
        raise InputError("no timed runs to summarise (repeats must be >= 1)")
    t = np.asarray(times_ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(t, 50)),
        "p90_ms": float(np.percentile(t, 90)),
        "mean_ms": float(t.mean()),
        "min_ms": float(t.min()),
        "max_ms": float(t.max()),
        "std_ms": float(t.std()),
    }


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in ms after ``warmup`` untimed calls (robust to a disturbed run)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def round_robin_ms(
    calls: dict[str, Callable[[], object]],
    runs: int,
    warmup: int = 1,
    limits: dict[str, int] | None = None,
    pause_s: float = 0.5,
) -> dict[str, list[float]]:
    """Wall times (ms) of every call, one call each per round, after ``warmup`` untimed rounds.

    Round-robin, so that a change in the load of a shared machine during the run hits all rows
    alike instead of skewing their ratios; a pause before each call lets the previous runtime's
    worker threads go idle (few cores). ``limits`` caps the timed runs of slow rows.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_index in range(warmup + runs):
        for name, call in calls.items():
            if round_index >= warmup + (limits or {}).get(name, runs):
                continue
            time.sleep(pause_s)
            start = time.perf_counter()
            call()
            if round_index >= warmup:
                samples[name].append(1000.0 * (time.perf_counter() - start))
    return samples


def machine_info() -> dict[str, Any]:
    """CPU model, core count, OS: enough to say where figures were measured."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
