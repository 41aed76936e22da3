"""Which tensors inside a stage overflow FP16, on an emulated FP16 graph (``diff`` on FP16 variants).

A stage's output can be finite while a tensor inside it overflowed: the channel attention divides
by an L2 norm whose sum of squares went to inf, and its output is merely wrong. The emulated graph
(:mod:`mgdn_edge.export.fp16_emulation`) keeps every FP16 tensor's value before rounding under
``NAME/fp32``, so the largest magnitude each one reached is known and compared with FP16's
65504. Tensors are read in groups that fit the diff's memory budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mgdn_edge.calibration.divergence import FP16_MAX, groups
from mgdn_edge.export.fp16_emulation import UNROUNDED


@dataclass(frozen=True)
class Overflow:
    """One FP16 tensor whose value before rounding passed 65504 (so FP16 stores it as inf)."""

    tensor: str
    peak: float  # largest |value| before rounding (inf or nan if the FP32 value was already)

    def line(self) -> str:
        return f"{self.tensor} reaches {self.peak:.4g} before FP16 rounding (> {FP16_MAX:g}): stored as inf"


def stage_overflows(
    runtime: Any, inputs: Sequence[np.ndarray], scope: str, per_tensor: int, max_memory_mb: float
) -> list[Overflow]:
    """The tensors of ``runtime`` (an emulated FP16 graph) inside ``scope`` that overflow FP16."""
    prefix = f"/{scope}/"
    names = [t for t in runtime.graph_tensors() if t.startswith(prefix) and t.endswith(UNROUNDED)]
    found: list[Overflow] = []
    for batch in groups(names, per_tensor, max_memory_mb):
        for name, value in runtime.run_tensors(inputs, batch).items():
            finite = value[np.isfinite(value)]
            peak = float(np.abs(finite).max()) if finite.size == value.size and finite.size else np.inf
            if peak > FP16_MAX:
                found.append(Overflow(name[: -len(UNROUNDED)], peak))
    return found
