"""The numpy DynamicFilter (the native self-checks' reference, torch-free) equals the torch filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import InputError
from mgdn_edge.model import dynamic_filter_lean, dynamic_filter_unfold
from mgdn_edge.model.dynamic_filter_numpy import dynamic_filter_numpy


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("shape", [(1, 4, 9, 13), (2, 3, 1, 6), (1, 5, 7, 1)])
def test_numpy_filter_equals_lean_and_the_unfold_oracle(shape, k):
    rng = np.random.default_rng(sum(shape) * k)
    n, c, h, w = shape
    feat = rng.standard_normal((n, c, h, w)).astype(np.float32)
    kernels = rng.standard_normal((n, k * k, h, w)).astype(np.float32)
    got = dynamic_filter_numpy(feat, kernels, k)
    assert got.dtype == np.float32 and got.shape == feat.shape
    lean = dynamic_filter_lean(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()
    oracle = dynamic_filter_unfold(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()
    np.testing.assert_allclose(got, lean, rtol=0, atol=2e-6)  # same taps, same order: rounding only
    np.testing.assert_allclose(got, oracle, rtol=0, atol=1e-5)


def test_closed_form_shift_with_replicated_border():
    feat = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    kernels = np.zeros((1, 9, 3, 4), np.float32)
    kernels[:, 5] = 1.0  # tap (i=1, j=2): the right neighbour, the last column repeated
    expected = np.concatenate([feat[..., 1:], feat[..., -1:]], axis=-1)
    np.testing.assert_array_equal(dynamic_filter_numpy(feat, kernels, 3), expected)


@pytest.mark.parametrize(("kernels_shape", "k"), [((1, 9, 3, 4), 2), ((1, 8, 3, 4), 3), ((1, 9, 3, 5), 3)])
def test_inputs_that_are_not_one_filter_call_are_refused(kernels_shape, k):
    with pytest.raises(InputError, match="DynamicFilter"):
        dynamic_filter_numpy(np.zeros((1, 2, 3, 4), np.float32), np.zeros(kernels_shape, np.float32), k)
