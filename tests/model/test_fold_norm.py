"""fold_norm: a LayerNorm's scale and shift moved into the linear layer (or 1x1 conv) after it."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mgdn_edge.model.network import fold_norm, standardize


def _norm(dim: int) -> nn.LayerNorm:
    norm = nn.LayerNorm(dim).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1.0, 1.0)
    return norm


def test_linear_after_a_norm_equals_the_folded_linear_on_the_standardized_input() -> None:
    torch.manual_seed(0)
    norm, layer = _norm(6), nn.Linear(6, 4).double()
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    folded = F.linear(standardize(x, norm), *fold_norm(layer.weight, layer.bias, norm))
    torch.testing.assert_close(folded, layer(norm(x)), rtol=0, atol=1e-12)


def test_1x1_conv_after_a_norm_over_channels() -> None:
    torch.manual_seed(1)
    norm, conv = _norm(6), nn.Conv2d(6, 3, 1).double()
    tokens = torch.randn(2, 20, 6, dtype=torch.float64)  # [b, h*w, c], normalised over c
    as_image = lambda t: t.reshape(2, 4, 5, 6).permute(0, 3, 1, 2)  # noqa: E731
    folded = F.conv2d(as_image(standardize(tokens, norm)), *fold_norm(conv.weight, conv.bias, norm))
    torch.testing.assert_close(folded, conv(as_image(norm(tokens))), rtol=0, atol=1e-12)


def test_no_norm_leaves_the_layer_alone_and_larger_kernels_are_refused() -> None:
    weight, bias = torch.randn(3, 6), torch.randn(3)
    assert fold_norm(weight, bias, None) == (weight, bias)
    with pytest.raises(ValueError, match="1x1 convolutions"):
        fold_norm(torch.randn(3, 6, 3, 3), bias, _norm(6))
