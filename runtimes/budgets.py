"""Tolerance budgets per precision: the ONE place that says how far a backend may drift.

Every backend's output is compared with the PyTorch FP32 reference on the same inputs. Bounds
are absolute on the network output, which is a sigmoid in [0, 1] (GDSR: normalised depth).
HDR adds bounds on the mu-law tonemapped output (mu = 5000), where an error near black is
amplified ~590x, so its PSNR-mu floor sits below the linear one.

FP32's 1e-4 max abs is the toolkit's acceptance bound for a faithful runtime. The FP16/BF16/INT8
rows are starting points for the TensorRT/OpenVINO work, to be tightened with measured numbers,
not loosened to make a run pass. ``None`` disables a bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mgdn_edge.precision import Precision


@dataclass(frozen=True)
class Budget:
    max_abs: float | None
    mean_abs: float | None
    psnr_min: float | None  # dB, output vs reference, data range 1
    ssim_min: float | None
    psnr_mu_min: float | None = None  # HDR only
    ssim_mu_min: float | None = None  # HDR only

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


BUDGETS: dict[Precision, Budget] = {
    Precision.FP32: Budget(
        max_abs=1e-4, mean_abs=1e-5, psnr_min=90.0, ssim_min=0.99999, psnr_mu_min=70.0, ssim_mu_min=0.9999
    ),
    Precision.FP16: Budget(
        max_abs=2e-2, mean_abs=2e-3, psnr_min=50.0, ssim_min=0.999, psnr_mu_min=38.0, ssim_mu_min=0.99
    ),
    Precision.BF16: Budget(
        max_abs=5e-2, mean_abs=5e-3, psnr_min=42.0, ssim_min=0.995, psnr_mu_min=32.0, ssim_mu_min=0.98
    ),
    Precision.INT8: Budget(
        max_abs=1.5e-1, mean_abs=1.5e-2, psnr_min=32.0, ssim_min=0.95, psnr_mu_min=25.0, ssim_mu_min=0.9
    ),
}


def budget_for(precision: str) -> Budget:
    """The budget of a precision; every :class:`~mgdn_edge.precision.Precision` has one."""
    return BUDGETS[Precision.parse(precision)]


@dataclass(frozen=True)
class SpeedTarget:
    """How much faster an INT8 variant must run than a float one of the same model and size.

    INT8 costs accuracy (its parity budget above is the loosest), so it has to earn it in speed:
    clearly faster than the FP32 it replaces and, where the CPU has bf16, than bf16, which costs
    far less accuracy. Each backend record states its targets (``Backend.int8_targets``).
    """

    runtime: str  # the INT8 variant's runtime
    versus: Precision  # the float variant it is compared with (same runtime)
    ratio: float  # float p50 / INT8 p50, at least


