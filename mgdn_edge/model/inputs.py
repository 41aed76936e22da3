"""Input validation shared by the PyTorch model and every runtime backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from mgdn_edge.core.errors import InputError
from mgdn_edge.model.config import MGDNConfig


class _ArrayLike(Protocol):
    shape: Sequence[int]


def _is_finite(x: object) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.isfinite(x).all())
    import torch

    return bool(torch.isfinite(x).all())  # type: ignore[arg-type]


def validate_inputs(config: MGDNConfig, inputs: Sequence[_ArrayLike], check_finite: bool = True) -> None:
    """Raise :class:`InputError` naming the problem: count, rank, channels, sizes, non-finite values."""
    io = config.io
    names = io.input_names
    if len(inputs) != len(names):
        raise InputError(
            f"task {config.task!r} takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}"
        )
    first = tuple(inputs[0].shape)
    for name, channels, x in zip(names, io.input_channels, inputs, strict=True):
        shape = tuple(x.shape)
        if len(shape) != 4:
            raise InputError(f"input {name!r} must be [N, C, H, W], got shape {shape}")
        if shape[1] != channels:
            raise InputError(
                f"input {name!r} must have {channels} channels for task {config.task!r}, got {shape[1]}"
            )
        if (shape[0], shape[2], shape[3]) != (first[0], first[2], first[3]):
            raise InputError(
                f"inputs must share batch and size: {names[0]!r} is {first[0]}x{first[2]}x{first[3]}, "
                f"{name!r} is {shape[0]}x{shape[2]}x{shape[3]} (NxHxW)"
            )
        if check_finite and not _is_finite(x):
            raise InputError(f"input {name!r} contains NaN or Inf values")
    ws = config.window_size
    for dim_name, size in (("height", first[2]), ("width", first[3])):
        pad = (ws - size % ws) % ws
        if size < 1 or pad >= size:
            raise InputError(
                f"image {dim_name} {size} is too small: it must exceed the reflect padding ({pad}) "
                f"to a multiple of the window size {ws}"
            )
