"""The machine's copy bandwidth, the floor the benchmark scripts compare memory-bound ops with."""

from __future__ import annotations

import numpy as np

from mgdn_edge.core.timing import median_ms


def copy_bandwidth_gbs(repeats: int = 10) -> float:
    """A 256 MiB numpy copy (one thread): bytes read + written per second, the practical memory ceiling."""
    src = np.ones(64 * 1024 * 1024, np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / ms / 1e6
