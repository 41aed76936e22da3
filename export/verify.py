"""Numerical verification of exported files: ONNX Runtime against PyTorch, file against file.

A silently wrong trace (a size baked in as a constant, a lost branch) shows up only when the file
runs at sizes other than the traced one, so every check runs several sizes, one of them not a
window multiple and one with batch 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from mgdn_edge.core.errors import ExportError
from mgdn_edge.model import MGDN, MGDNConfig

VERIFY_TOLERANCE = 1e-4


def trace_size(config: MGDNConfig) -> tuple[int, int]:
    """A small example size that is not a window multiple in either dimension.

    Tracing on it records the reflect-padding branch of the network; with H = 3ws + 1 and
    W = 4ws + ws/2 + 1 the padding is 0 < pad < size for any window >= 2.
    """
    ws = config.window_size
    return 3 * ws + 1, 4 * ws + ws // 2 + 1


def example_inputs(
    config: MGDNConfig, size: tuple[int, int], batch: int = 1, seed: int = 0
) -> list[np.ndarray]:
    """Deterministic inputs in [0, 1] of the task's channel counts."""
    rng = np.random.default_rng(seed)
    h, w = size
    return [rng.random((batch, c, h, w), dtype=np.float32) for c in config.io.input_channels]


def verify_sizes(config: MGDNConfig, static: tuple[int, int] | None) -> list[tuple[int, int]]:
    if static:
        return [static]
    ws = config.window_size
    return [trace_size(config), (5 * ws, 3 * ws), (2 * ws + 3, 5 * ws - 1)]


def verify_against_torch(
    model: MGDN, paths: list[Path], sizes: list[tuple[int, int]], tolerance: float
) -> dict[str, dict[str, float]]:
    """Max abs difference ORT vs PyTorch per file and size; ExportError above ``tolerance``."""
    import onnxruntime as ort

    config = model.config
    report: dict[str, dict[str, float]] = {}
    for path in paths:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for idx, size in enumerate(sizes):
            inputs = example_inputs(config, size, batch=2 if idx == 0 else 1, seed=idx + 1)
            with torch.no_grad():
                expected = model(*(torch.from_numpy(x) for x in inputs)).numpy()
            got = session.run(None, dict(zip(config.io.input_names, inputs, strict=True)))[0]
            err = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
            report.setdefault(path.name, {})[f"{size[0]}x{size[1]}"] = err
            if not err <= tolerance:
                raise ExportError(
                    f"{path.name} differs from PyTorch at {size[0]}x{size[1]}: "
                    f"max abs {err:.3g} > {tolerance:g} "
                    f"(shapes {list(got.shape)} vs {list(expected.shape)})"
                )
    return report


def max_abs_between(
    model: MGDN, reference: Path, candidate: onnx.ModelProto, sizes: list[tuple[int, int]]
) -> dict[str, float]:
    """Max abs difference, per size, between two graphs run in ONNX Runtime on the same inputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    ref = ort.InferenceSession(str(reference), options, providers=["CPUExecutionProvider"])
    cand = ort.InferenceSession(candidate.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = model.config.io.input_names
    errors: dict[str, float] = {}
    for idx, size in enumerate(sizes):
        feeds = dict(zip(names, example_inputs(model.config, size, seed=100 + idx), strict=True))
        expected, got = ref.run(None, feeds)[0], cand.run(None, feeds)[0]
        errors[f"{size[0]}x{size[1]}"] = (
            float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        )
    return errors
