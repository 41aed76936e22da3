"""``diff --suggest``: the fewest modules to keep float for an INT8 variant (FP32 for an FP16 one)
to meet its budget.

Candidates are ranked by the error each module lets in: the PSNR a stage loses against the stage
before it in execution order, the largest over the module's calls (``diff``'s per-stage figures).
Keeping the top k float is then assumed to help monotonically in k, so a bisection over k finds
the smallest prefix that meets the budget with about log2(candidates) re-quantizations; each is
a real ``quantize --keep-float`` run (``--precision fp16`` for FP16) judged on the diff's own
input. Modules with nothing to quantize (the DynamicFilter op, always float in INT8) are not
candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mgdn_edge.calibration.divergence import StageError

PSNR_CEILING_DB = 150.0  # float32 rounding: a stage this close is exact
# Stage PSNR a precision's rounding alone gives, above which a stage lets in no error worth
# keeping float: FP16 storage puts every stage of the authors' MFF at 75-92 dB against PyTorch.
ROUNDING_PSNR_DB = {"fp16": 75.0}
NEVER_QUANTIZED = ("dynamic_filter",)


def entry_drops(
    errors: Sequence[StageError], ceiling: float = PSNR_CEILING_DB, below_all: bool = False
) -> dict[str, float]:
    """Module path -> the largest PSNR drop (dB) one of its calls adds, in execution order (stage
    PSNRs capped at ``ceiling``): against the stage before it, or with ``below_all`` against the
    lowest PSNR of every stage before it, so an error that entered in one branch of a stage is
    not charged again to the stages that merely carry it on (FP16: an overflow is one event)."""
    previous = ceiling
    drops: dict[str, float] = {}
    for error in errors:
        psnr = min(error.psnr_db, ceiling)
        module = error.stage.split("#")[0]
        drops[module] = max(drops.get(module, 0.0), previous - psnr)
        previous = min(previous, psnr) if below_all else psnr
    return drops


def candidates(errors: Sequence[StageError], precision: str = "int8") -> list[str]:
    """Modules worth keeping float, the largest error first.

    INT8 leaves the DynamicFilter op float anyway (:data:`NEVER_QUANTIZED`); FP16 converts it too,
    so for ``precision`` fp16 it is a candidate like any other module. FP16's rounding alone costs
    every stage about the same (:data:`ROUNDING_PSNR_DB`), so FP16 drops count from there, against
    the worst stage so far.

    The glue no stage module owns (``layers.N``: a stage's concats and reshapes; ``MGDN``: the
    skip connection's add before the head) has no tensor of its own in the diff, so it is ranked
    by the worst drop among the stages it sits between.
    """
    from mgdn_edge.export.keep_float import NETWORK

    rounding = precision in ROUNDING_PSNR_DB
    drops = entry_drops(errors, ROUNDING_PSNR_DB.get(precision, PSNR_CEILING_DB), below_all=rounding)
    never = NEVER_QUANTIZED if precision == "int8" else ()
    quantizable = {m: d for m, d in drops.items() if m.rsplit(".", 1)[-1] not in never}
    for module, drop in drops.items():
        glue = ".".join(module.split(".")[:2]) if module.startswith("layers.") else NETWORK
        quantizable[glue] = max(quantizable.get(glue, 0.0), drop)
    return sorted(quantizable, key=lambda m: -quantizable[m])


@dataclass
class Trial:
    keep: int  # how many of the ranked candidates stayed float
    psnr_db: float
    broken: list[str]  # the budget's bounds it breaks


@dataclass
class Suggestion:
    keep_float: list[str] | None  # None: even every candidate float misses the budget
    trials: list[Trial] = field(default_factory=list)
    ms_variant: float | None = None
    ms_suggested: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "keep_float": self.keep_float,
            "trials": [t.__dict__ for t in self.trials],
            "ms_variant": self.ms_variant,
            "ms_suggested": self.ms_suggested,
        }


def bisect_keep(ranked: Sequence[str], evaluate: Callable[[list[str]], Trial]) -> Suggestion:
    """The shortest prefix of ``ranked`` whose trial breaks nothing (see the module doc)."""
    trials: list[Trial] = []

    def trial(k: int) -> Trial:
        result = evaluate(list(ranked[:k]))
        trials.append(result)
        return result

    if trial(len(ranked)).broken:
        return Suggestion(None, trials)
    lo, hi = 0, len(ranked)
    while lo < hi:
        mid = (lo + hi) // 2
        if trial(mid).broken:
            lo = mid + 1
        else:
            hi = mid
    return Suggestion(list(ranked[:hi]), trials)
