"""How quantization accuracy is judged: PSNR against the FP32 model's own output, capped.

Most fusion data (e.g. Lytro MFF) has no ground truth, so accuracy is judged against the FP32
model itself. "PSNR drop" is measured from :data:`PSNR_CEILING_DB`, the PSNR of the FP32
output's own 8-bit rounding (10 log10(12 * 255^2) = 58.9 dB): an INT8 output closer to FP32 than
that is indistinguishable once saved as an 8-bit image, so it counts as no drop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PSNR_CEILING_DB = 10 * math.log10(12 * 255**2)


def capped_psnr(references: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> float:
    """Mean over samples of PSNR (data range 1) each capped at :data:`PSNR_CEILING_DB`."""
    values = []
    for ref, out in zip(references, outputs, strict=True):
        mse = float(np.mean((ref.astype(np.float64) - out.astype(np.float64)) ** 2))
        values.append(PSNR_CEILING_DB if mse == 0 else min(PSNR_CEILING_DB, 10 * math.log10(1 / mse)))
    return float(np.mean(values))
