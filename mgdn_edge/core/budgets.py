"""Tolerance budgets per precision: the ONE place that says how far a backend may drift.

Every backend's output is compared with the PyTorch FP32 reference on the same inputs. Bounds
are absolute on the network output, which is a sigmoid in [0, 1] (GDSR: normalised depth).
HDR adds bounds on the mu-law tonemapped output (mu = 5000), where an error near black is
amplified ~590x, so its PSNR-mu floor sits below the linear one.

Each bound is the worst value the README measures for that precision plus a stated margin,
given on its line. "Measured" means, unless a line says otherwise: the authors' MFF model on the
three Lytro fixture crops (64, 96, 61x75) and full 520x520 Lytro pairs, and the bundled demo HDR
model on synthetic 128x128 scenes, each against PyTorch FP32 (AMD EPYC, AVX-512 BF16, no AMX).
Float precisions get 10 dB of PSNR headroom and ~3-4x on absolute errors, room for other images,
sizes and CPU kernels; INT8, whose error depends on the calibration data, sits just below the
worst documented recipe, so every one of those passes and a broken recipe (31-33 dB) does not.
A new measurement outside a bound is a finding to explain, not a reason to widen it.
``None`` disables a bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mgdn_edge.core.precision import Precision


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
        max_abs=1e-4,  # 3.3x the worst measured, 2.99e-5 (ONNX Runtime, 20 full 520x520 MFF pairs)
        mean_abs=1e-5,  # 100x the crops' worst mean (1.0e-7): full frames' max error was 45x the crops'
        psnr_min=90.0,  # what a 2.99e-5 error at every pixel still gives (90.5 dB); measured >= 137 dB
        ssim_min=0.99999,  # float32 rounding moves SSIM only past the 9th decimal (measured 1 - 6e-12)
        psnr_mu_min=90.0,  # 10.7 dB under the worst measured, 100.7 dB (ONNX Runtime, demo HDR)
        ssim_mu_min=0.9999,  # measured 1 - 3e-7 (float32 mu-law SSIM); 0.9999 flags any structural change
    ),
    Precision.FP16: Budget(
        # FP16 as a GPU rounds it (every stored FP16 tensor rounded: export/fp16_emulation.py);
        # ONNX Runtime's CPU provider keeps most tensors FP32 and errs 2-3x less.
        max_abs=7e-3,  # 4.1x the worst measured, 1.71e-3 (model.fp16.onnx emulated, MFF crop 61x75)
        mean_abs=8e-4,  # 4.4x the worst measured mean, 1.8e-4 (emulated, MFF crop 64)
        psnr_min=62.0,  # 10.6 dB under the worst measured, 72.6 dB (emulated, MFF crop 61x75)
        ssim_min=0.9996,  # 20x the worst measured SSIM deficit (1 - 0.99998, emulated, MFF crop 64)
        psnr_mu_min=75.0,  # 10.3 dB under the worst measured, 85.3 dB (model.fp16.onnx, demo HDR)
        ssim_mu_min=0.99999,  # 21x the worst measured SSIM-mu deficit (1 - 0.99999952, demo HDR)
    ),
    Precision.BF16: Budget(
        max_abs=5e-2,  # 3.4x the worst measured, 1.45e-2 (OpenVINO bf16, MFF crop 61x75)
        mean_abs=5e-3,  # 2.8x the worst measured mean, 1.76e-3 (OpenVINO bf16, MFF crop 64)
        psnr_min=43.0,  # 10.4 dB under the worst measured, 53.4 dB (OpenVINO bf16, MFF crop 61x75)
        ssim_min=0.995,  # 10x the worst measured SSIM deficit (1 - 0.99949, MFF crop 64)
        psnr_mu_min=51.0,  # 10.5 dB under the worst measured, 61.5 dB (OpenVINO bf16, demo HDR)
        ssim_mu_min=0.999,  # 11x the worst measured SSIM-mu deficit (1 - 0.999906, demo HDR)
    ),
    Precision.INT8: Budget(
        max_abs=1.5e-1,  # 5.6x the measured 2.69e-2 (OpenVINO INT8, MFF 520x520): minmax's RMSE is 2.5x
        mean_abs=1.2e-2,  # the RMSE psnr_min allows (10^(-38/20) = 1.26e-2); mean abs <= RMSE
        psnr_min=38.0,  # 1.45 dB under the worst measured recipe (minmax, 39.45 dB); defaults >= 42.26 dB
        ssim_min=0.95,  # under the worst measured recipe (minmax, 0.958); defaults >= 0.979
        psnr_mu_min=40.0,  # as HDR_INT8's: only HDR outputs have mu-law metrics
        ssim_mu_min=0.99,  # as HDR_INT8's
    ),
}

# INT8 on HDR: the linear output's largest errors sit in bright pixels, where the mu-law
# tonemapping (the task's metric) compresses them: 32.9 dB linear PSNR next to 44.6 dB PSNR-mu on
# the same outputs. Measured on the demo HDR model, 8 synthetic 128x128 scenes, each
# runtime's default INT8 recipe calibrated on 16 synthetic scenes (AMD EPYC, 2026-12-06).
HDR_INT8 = Budget(
    max_abs=3e-1,  # 1.3x the worst measured, 0.229 (OpenVINO INT8)
    mean_abs=2e-2,  # 2.6x the worst measured mean, 7.7e-3 (OpenVINO INT8)
    psnr_min=31.0,  # linear PSNR: 1.85 dB under the worst measured, 32.85 dB (OpenVINO INT8)
    ssim_min=0.98,  # 2.5x the worst measured SSIM deficit (1 - 0.9919, OpenVINO INT8)
    psnr_mu_min=40.0,  # 3.9 dB under the worst measured, 43.9 dB (ONNX Runtime INT8); README's run: 45.4
    ssim_mu_min=0.99,  # 2.1x the worst measured SSIM-mu deficit (1 - 0.9953, ONNX Runtime INT8)
)
TASK_BUDGETS: dict[tuple[Precision, str], Budget] = {(Precision.INT8, "hdr"): HDR_INT8}


def budget_for(precision: str, task: str | None = None) -> Budget:
    """The budget of a precision (every :class:`~mgdn_edge.core.precision.Precision` has one), or of a
    precision on a task whose measurements need their own (HDR INT8)."""
    key = Precision.parse(precision)
    return TASK_BUDGETS.get((key, task or ""), BUDGETS[key])


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
