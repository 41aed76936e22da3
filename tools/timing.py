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


def copy_bandwidth_gbs(repeats: int = 10) -> float:
    """A 256 MiB numpy copy (one thread): bytes read + written per second, the practical memory ceiling."""
    src = np.ones(64 * 1024 * 1024, np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / ms / 1e6
