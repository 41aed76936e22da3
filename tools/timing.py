"""Timing helpers the benchmark scripts share: a warmed-up median, and the machine's copy bandwidth."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


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


def copy_bandwidth_gbs(repeats: int = 10) -> float:
    """A 256 MiB numpy copy (one thread): bytes read + written per second, the practical memory ceiling."""
    src = np.ones(64 * 1024 * 1024, np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / ms / 1e6
