"""What the runtime tests share: tiny networks per task, their inputs, the PyTorch reference."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mgdn_edge.model import MGDN, preset

TOL = 1e-4  # FP32 runtimes against PyTorch on the tiny networks (measured: ~1e-6)
TASKS = ("mff", "mef", "hdr", "gdsr")


def tiny(task: str, seed: int = 0) -> MGDN:
    torch.manual_seed(seed)
    return MGDN(preset(task, embed_dim=12, depths=[1, 1], swin_heads=[2, 2])).eval()


def inputs(task: str, h: int = 20, w: int = 27, batch: int = 1, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((batch, c, h, w), dtype=np.float32) for c in preset(task).io.input_channels]


def torch_output(model: MGDN, arrays: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(*(torch.from_numpy(x) for x in arrays)).numpy()


def png(path: Path, rgb01: np.ndarray) -> str:
    """``rgb01`` (HxWx3 in [0, 1]) written as an 8-bit PNG; its path as a string."""
    cv2.imwrite(str(path), np.round(rgb01[:, :, ::-1] * 255).astype(np.uint8))
    return str(path)


def fuse_files(task: str, folder: Path, h: int, w: int, seed: int) -> list[str]:
    """Random input files of ``task`` for `fuse`: PNGs, and a half-size depth .npy for GDSR."""
    rng = np.random.default_rng(seed)
    if task == "gdsr":
        depth = folder / "depth.npy"
        np.save(depth, rng.random((h // 2, w // 2)).astype(np.float32) * 5 + 1)
        return [png(folder / "rgb.png", rng.random((h, w, 3))), str(depth)]
    return [png(folder / f"in{i}.png", rng.random((h, w, 3))) for i in range(3 if task == "hdr" else 2)]
