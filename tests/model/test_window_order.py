"""The gather that partitions tokens into (shifted) windows equals roll + window partition."""

import numpy as np
import pytest
import torch

from mgdn_edge.model.network import window_order


def _windows_by_roll(image: np.ndarray, ws: int, shift: int) -> np.ndarray:
    """Swin's window partition of ``image`` [H, W, C] rolled by -shift: [nW * ws * ws, C]."""
    rolled = np.roll(image, (-shift, -shift), axis=(0, 1))
    h, w, c = rolled.shape
    return rolled.reshape(h // ws, ws, w // ws, ws, c).transpose(0, 2, 1, 3, 4).reshape(-1, c)


@pytest.mark.parametrize(("height", "width", "ws", "shift"), [(8, 12, 4, 0), (8, 12, 4, 2), (16, 8, 8, 4)])
def test_window_order_is_roll_then_partition_and_back(height: int, width: int, ws: int, shift: int) -> None:
    image = np.random.default_rng(0).random((height, width, 3)).astype(np.float32)
    tokens = torch.from_numpy(image.reshape(1, height * width, 3))
    to_windows, from_windows = window_order(height, width, ws, shift, torch.device("cpu"))
    windows = tokens.index_select(1, to_windows)[0].numpy()
    np.testing.assert_array_equal(windows, _windows_by_roll(image, ws, shift))
    back = torch.from_numpy(windows[None]).index_select(1, from_windows)
    np.testing.assert_array_equal(back[0].numpy(), image.reshape(-1, 3))
