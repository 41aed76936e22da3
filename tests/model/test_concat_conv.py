"""ConcatConv2d: a convolution of concatenated inputs, computed per input and summed."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mgdn_edge.model.network import ConcatConv2d


@pytest.mark.parametrize(("parts", "kernel"), [(2, 1), (3, 1), (2, 3)])
def test_equals_the_convolution_of_the_concatenation(parts: int, kernel: int) -> None:
    torch.manual_seed(0)
    conv = ConcatConv2d(parts * 5, 4, kernel, padding=kernel // 2)
    inputs = [torch.randn(2, 5, 9, 7, dtype=torch.float64) for _ in range(parts)]
    conv = conv.double()
    expected = F.conv2d(torch.cat(inputs, dim=1), conv.weight, conv.bias, padding=kernel // 2)
    np.testing.assert_allclose(conv(inputs).detach().numpy(), expected.detach().numpy(), rtol=0, atol=1e-12)


def test_loads_a_conv2d_state_dict_strictly() -> None:
    plain = nn.Conv2d(10, 4, 3, padding=1)
    conv = ConcatConv2d(10, 4, 3, padding=1)
    conv.load_state_dict(plain.state_dict(), strict=True)
    halves = [torch.randn(1, 5, 6, 6), torch.randn(1, 5, 6, 6)]
    torch.testing.assert_close(conv(halves), plain(torch.cat(halves, dim=1)), rtol=1e-5, atol=1e-6)


def test_unequal_parts_are_refused() -> None:
    conv = ConcatConv2d(10, 4, 1)
    with pytest.raises(ValueError, match="parts of 5 channels expected"):
        conv([torch.randn(1, 4, 3, 3), torch.randn(1, 6, 3, 3)])
    with pytest.raises(ValueError, match="do not split into 3 equal parts"):
        conv([torch.randn(1, 5, 3, 3)] * 3)
