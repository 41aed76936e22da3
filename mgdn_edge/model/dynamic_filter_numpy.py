"""The DynamicFilter contract in numpy, for processes that have no torch.

The native libraries' self-checks compare one op's output with this function, so an OpenVINO or
ONNX Runtime box without PyTorch can still accept (or refuse) a freshly built library. It is the
contract of :mod:`mgdn_edge.model.dynamic_filter` (replicate borders, one k x k kernel per pixel
shared by all channels), accumulated tap by tap in the lean filter's order in float32, so it
agrees with :func:`~mgdn_edge.model.dynamic_filter.dynamic_filter_lean` to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from mgdn_edge.core.errors import InputError


def dynamic_filter_numpy(feat: np.ndarray, kernels: np.ndarray, kernel_size: int) -> np.ndarray:
    """``out[n,c,y,x] = sum_ij kernels[n,i*k+j,y,x] * feat[n,c,clamp(y+i-r),clamp(x+j-r)]`` (float32)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise InputError(f"DynamicFilter kernel_size must be odd and positive, got {kernel_size}")
    if feat.ndim != 4 or kernels.shape != (feat.shape[0], kernel_size**2, *feat.shape[2:]):
        raise InputError(
            f"DynamicFilter feat {feat.shape} and kernels {kernels.shape} do not fit "
            f"kernel_size {kernel_size}"
        )
    r = (kernel_size - 1) // 2
    h, w = feat.shape[2:]
    feat32, kernels32 = feat.astype(np.float32, copy=False), kernels.astype(np.float32, copy=False)
    padded = np.pad(feat32, ((0, 0), (0, 0), (r, r), (r, r)), mode="edge")
    out = np.zeros_like(feat32)
    for i in range(kernel_size):
        for j in range(kernel_size):
            tap = i * kernel_size + j
            out += padded[:, :, i : i + h, j : j + w] * kernels32[:, tap : tap + 1]
    return out
