"""The memory-lean DynamicFilter equals the unfold oracle and stays lean."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mgdn_edge.core.errors import InputError
from mgdn_edge.model import MGDN, dynamic_filter_lean, dynamic_filter_unfold, preset, use_dynamic_filter
from mgdn_edge.model.dynamic_filter import dynamic_filter, dynamic_filter_authors

SHAPES = [(1, 5, 9, 11), (2, 3, 2, 6), (1, 4, 6, 1), (2, 7, 1, 1), (1, 30, 17, 13)]


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("shape", SHAPES)
def test_lean_equals_unfold_oracle(shape, k):
    gen = torch.Generator().manual_seed(sum(shape) * k)
    n, c, h, w = shape
    feat = torch.randn(n, c, h, w, generator=gen)
    kernels = torch.randn(n, k * k, h, w, generator=gen)
    oracle = dynamic_filter_unfold(feat, kernels, k)
    assert torch.allclose(dynamic_filter_lean(feat, kernels, k), oracle, atol=1e-5)
    # the authors' op sequence (the speed baseline of the benchmarks) is the same function
    assert torch.allclose(dynamic_filter_authors(feat, kernels, k), oracle, atol=1e-5)


def test_closed_form_cases():
    feat = torch.arange(12.0).reshape(1, 1, 3, 4)
    k = 3
    identity = torch.zeros(1, k * k, 3, 4)
    identity[:, 4] = 1.0  # centre tap
    assert torch.equal(dynamic_filter_lean(feat, identity, k), feat)
    shift_left = torch.zeros(1, k * k, 3, 4)
    shift_left[:, 5] = 1.0  # tap (i=1, j=2): the right neighbour, replicated at the border
    expected = torch.cat([feat[..., 1:], feat[..., -1:]], dim=-1)
    assert torch.equal(dynamic_filter_lean(feat, shift_left, k), expected)
    box = torch.full((1, k * k, 3, 4), 1.0 / 9)
    corner = (feat[0, 0, 0, 0] * 4 + feat[0, 0, 0, 1] * 2 + feat[0, 0, 1, 0] * 2 + feat[0, 0, 1, 1]) / 9
    assert torch.isclose(dynamic_filter_lean(feat, box, k)[0, 0, 0, 0], corner)


def test_bad_shapes_are_reported():
    feat = torch.zeros(1, 4, 8, 8)
    with pytest.raises(InputError, match="kernels have 9 channels, expected kernel_size\\^2 = 49"):
        dynamic_filter(feat, torch.zeros(1, 9, 8, 8), 7)
    with pytest.raises(InputError, match="disagree in N, H or W"):
        dynamic_filter(feat, torch.zeros(1, 49, 8, 7), 7)


def test_model_routes_through_the_selected_implementation():
    model = MGDN(preset("mff", embed_dim=12, depths=[1], swin_heads=[2])).eval()
    calls = []

    def spy(feat, kernels, k):
        calls.append(tuple(feat.shape))
        return dynamic_filter_unfold(feat, kernels, k)

    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        lean = model(a, b)
        with use_dynamic_filter(spy):
            oracle = model(a, b)
    assert calls == [(1, 12, 16, 16), (1, 12, 16, 16)]
    assert torch.allclose(lean, oracle, atol=1e-5)


_PEAK_SCRIPT = """
import resource, torch
from mgdn_edge.model.dynamic_filter import dynamic_filter_lean
torch.set_num_threads(2)
feat = torch.rand(1, 60, 512, 512); kernels = torch.rand(1, 49, 512, 512)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = dynamic_filter_lean(feat, kernels, 7)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024 / (feat.numel() * 4))
"""


def test_lean_peak_extra_memory_below_four_feature_maps():
    """Peak RSS growth of one call at C=60, 512x512, in a fresh process, in feature-map units."""
    ratio = float(
        subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True
        ).stdout
    )
    assert ratio < 4.0, f"peak extra memory {ratio:.2f}x the feature map"
