"""Accuracy-aware QDQ: which layers to keep float so the drop stays within a budget.

Rank every quantized layer by the PSNR it gives back when it alone stays float (measured on small
centre crops of a few calibration samples, by rewiring one fully quantized graph, with no
re-calibration), then keep the most sensitive layers float: the fewest that bring the
evaluation split within the budget (doubling, then bisection on the ranked prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from mgdn_edge.calibration.base import Sample
from mgdn_edge.calibration.qdq_build import (
    keep_float_consumers,
    quantizable_nodes,
    quantize_static,
    quantized_nodes,
    restore_float,
    run_all,
    session,
)


@dataclass
class SearchResult:
    """Outcome of :func:`search_float_layers`: what stays float, and the measurements behind it."""

    keep_float: list[str]
    score: float
    drop: float
    gains: dict[str, float] = field(default_factory=dict)  # node -> dB given back when it alone is float
    base_score: float = float("nan")  # all quantized, on the sensitivity samples
    steps: list[tuple[int, float]] = field(default_factory=list)  # (layers float, eval score)


def search_float_layers(
    model: onnx.ModelProto,
    ranges: Any,
    method: str,
    op_types: Sequence[str],
    probe: Sequence[Sample],
    probe_score: Callable[[list[np.ndarray]], float],
    eval_score: Callable[[list[np.ndarray]], float],
    evaluation: Sequence[Sample],
    reference_score: float,
    max_drop: float,
    progress: bool = True,
) -> SearchResult:
    """The fewest most-sensitive layers to keep float so that ``reference_score - score <= max_drop``.

    ``probe_score(outputs on probe)`` ranks layers (higher is better); ``eval_score(outputs on
    evaluation)`` is the budgeted metric. Sensitivity of a layer = the probe score with that
    layer alone float minus the probe score with everything quantized.
    """
    pairs = quantize_static(model, ranges, method, op_types, (), weight_pairs=True)
    candidates = quantizable_nodes(model, op_types)
    pairs = keep_float_consumers(pairs, set(candidates))
    quantized = [n for n in candidates if n in set(quantized_nodes(pairs))]
    base, gains = _sensitivities(pairs, quantized, probe, probe_score, progress)
    ranked = sorted(quantized, key=lambda n: gains[n], reverse=True)

    cache: dict[int, float] = {}

    def score_at(k: int) -> float:
        if k not in cache:
            cache[k] = eval_score(run_all(session(restore_float(pairs, ranked[:k], quantized)), evaluation))
        return cache[k]

    def fits(k: int) -> bool:
        return reference_score - score_at(k) <= max_drop

    hi = _fewest_passing(fits, len(ranked), progress)
    return SearchResult(
        keep_float=ranked[:hi],
        score=score_at(hi),
        drop=reference_score - score_at(hi),
        gains=gains,
        base_score=base,
        steps=sorted(cache.items()),
    )


def _sensitivities(
    pairs: onnx.ModelProto,
    quantized: list[str],
    probe: Sequence[Sample],
    probe_score: Callable[[list[np.ndarray]], float],
    progress: bool,
) -> tuple[float, dict[str, float]]:
    """The all-quantized probe score, and each layer's gain in it when that layer alone is float."""
    from tqdm import tqdm

    base = probe_score(run_all(session(pairs, fast=True), probe))
    gains: dict[str, float] = {}
    for name in tqdm(quantized, desc="layer sensitivity", unit="layer", disable=not progress):
        graph = restore_float(pairs, [name], quantized)
        gains[name] = probe_score(run_all(session(graph, fast=True), probe)) - base
    return base, gains


def _fewest_passing(fits: Callable[[int], bool], count: int, progress: bool) -> int:
    """The smallest k in 0..count that ``fits`` (count when none does), by doubling then bisecting."""
    from tqdm import tqdm

    bar = tqdm(desc="accuracy search", unit="eval", disable=not progress)
    lo, hi = -1, None  # lo: largest k known to fail; hi: smallest k known to pass
    k = 0
    while hi is None:
        bar.update()
        if fits(k):
            hi = k
        elif k >= count:
            hi = count  # everything float: the best this recipe can do
        else:
            lo, k = k, min(count, max(1, 2 * k))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        bar.update()
        if fits(mid):
            hi = mid
        else:
            lo = mid
    bar.close()
    return hi
