"""MGDN's spatially-variant dynamic filter as one well-defined op, and the seam backends plug into.

Semantics (the contract every backend implements, see MGDN-ARCHITECTURE.md):

    feat    [N, C, H, W]
    kernels [N, k*k, H, W]          one k x k kernel per pixel, shared by all channels
    out[n, c, y, x] = sum_{i, j < k} kernels[n, i*k + j, y, x]
                      * feat[n, c, clamp(y + i - r), clamp(x + j - r)]

with r = (k - 1) // 2 and clamp() = replicate borders. The predictor's raw values are used
(no softmax, no normalisation).

The network never calls an implementation directly: it calls :func:`dynamic_filter`, which
dispatches to the implementation selected with :func:`use_dynamic_filter`. ONNX export swaps in
a custom op that becomes one ``mgdn.DynamicFilter`` node, tests swap in the unfold oracle, and
the network code stays untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from mgdn_edge.core.errors import InputError

DynamicFilterImpl = Callable[[Tensor, Tensor, int], Tensor]


def check_dynamic_filter_inputs(feat: Tensor, kernels: Tensor, kernel_size: int) -> None:
    """Raise :class:`InputError` when the two tensors cannot be a dynamic-filter call."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise InputError(f"DynamicFilter kernel_size must be odd and positive, got {kernel_size}")
    if feat.dim() != 4 or kernels.dim() != 4:
        raise InputError(
            f"DynamicFilter expects 4-D feat and kernels, got {tuple(feat.shape)} and {tuple(kernels.shape)}"
        )
    if kernels.shape[1] != kernel_size * kernel_size:
        raise InputError(
            f"DynamicFilter kernels have {kernels.shape[1]} channels, expected kernel_size^2 = "
            f"{kernel_size * kernel_size}"
        )
    n, _, h, w = feat.shape
    if (kernels.shape[0], kernels.shape[2], kernels.shape[3]) != (n, h, w):
        raise InputError(
            f"DynamicFilter feat {tuple(feat.shape)} and kernels {tuple(kernels.shape)} disagree in N, H or W"
        )


def dynamic_filter_lean(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """Accumulate the k*k shifted products; peak extra memory ~2x the feature map.

    The feature map is padded once (replicate) and each tap adds ``shifted * kernel_tap`` into
    the output in place, so nothing k*k times the feature map is ever allocated.
    """
    r = (kernel_size - 1) // 2
    _, _, h, w = feat.shape
    padded = F.pad(feat, (r, r, r, r), mode="replicate")
    out = torch.zeros_like(feat)
    for i in range(kernel_size):
        for j in range(kernel_size):
            tap = i * kernel_size + j
            out.addcmul_(padded[:, :, i : i + h, j : j + w], kernels[:, tap : tap + 1])
    return out


def dynamic_filter_unfold(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """The authors' formulation (materialises [N, H, W, C, k*k]); kept only as the test oracle."""
    n, c, h, w = feat.shape
    r = (kernel_size - 1) // 2
    patches = F.pad(feat, (r, r, r, r), mode="replicate").unfold(2, kernel_size, 1).unfold(3, kernel_size, 1)
    # patches: [N, C, H, W, i, j] -> [N, H, W, C, i*k + j]
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(n, h, w, c, kernel_size * kernel_size)
    weights = kernels.permute(0, 2, 3, 1).unsqueeze(3)  # [N, H, W, 1, k*k]
    return (patches * weights).sum(-1).permute(0, 3, 1, 2).contiguous()


def dynamic_filter_authors(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """The authors' own sequence of tensor ops, kept as the speed baseline of the benchmarks.

    Same result as :func:`dynamic_filter_unfold`, but as the authors' code does it: the patches
    are stored with the two tap axes swapped (a contiguous copy), and the per-pixel kernel is
    *repeated* over the channels (another [N, H, W, C, k*k] tensor, plus its reordering copy)
    instead of broadcast. That costs about three times the oracle's memory traffic.
    """
    n, c, h, w = feat.shape
    k, r = kernel_size, (kernel_size - 1) // 2
    patches = F.pad(feat, (r, r, r, r), mode="replicate").unfold(2, k, 1).unfold(3, k, 1)
    patches = patches.permute(0, 2, 3, 1, 5, 4).contiguous().reshape(n, h, w, c, k * k)  # tap j*k + i
    taps = kernels.permute(0, 2, 3, 1).reshape(n, h, w, 1, k, k).repeat(1, 1, 1, c, 1, 1)
    taps = taps.permute(0, 1, 2, 3, 5, 4).reshape(n, h, w, c, k * k)  # the same swapped tap order
    return (patches * taps).sum(-1).permute(0, 3, 1, 2).contiguous()


_IMPLEMENTATIONS: dict[str, DynamicFilterImpl] = {
    "lean": dynamic_filter_lean,
    "unfold": dynamic_filter_unfold,
    "authors": dynamic_filter_authors,
}
_active: DynamicFilterImpl = dynamic_filter_lean


def register_dynamic_filter(name: str, impl: DynamicFilterImpl) -> None:
    """Make ``impl`` selectable by name (backends register themselves on import)."""
    _IMPLEMENTATIONS[name] = impl


def available_dynamic_filters() -> list[str]:
    return sorted(_IMPLEMENTATIONS)


@contextlib.contextmanager
def use_dynamic_filter(impl: str | DynamicFilterImpl) -> Iterator[DynamicFilterImpl]:
    """Route every :func:`dynamic_filter` call inside the block to ``impl`` (a name or a callable)."""
    global _active
    if isinstance(impl, str):
        if impl not in _IMPLEMENTATIONS:
            raise ValueError(
                f"unknown DynamicFilter implementation {impl!r}; known: {available_dynamic_filters()}"
            )
        impl = _IMPLEMENTATIONS[impl]
    previous, _active = _active, impl
    try:
        yield impl
    finally:
        _active = previous


def dynamic_filter(feat: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """Apply the per-pixel dynamic filter with the currently selected implementation."""
    if not torch.jit.is_tracing() and not torch.compiler.is_compiling():
        check_dynamic_filter_inputs(feat, kernels, kernel_size)
    return _active(feat, kernels, kernel_size)


class DynamicFilter(torch.nn.Module):
    """Module wrapper so the op shows up as one named unit in the network and in exports."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, feat: Tensor, kernels: Tensor) -> Tensor:
        return dynamic_filter(feat, kernels, self.kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"
