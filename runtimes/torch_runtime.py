"""The PyTorch reference as a runtime: eager FP32 on CPU, a checkpoint loaded strictly.

This is the yardstick every other backend is compared against (parity, benchmarks), so it does
nothing clever: the network as written, the default lean dynamic filter (or, for context,
``filter="authors"``, the authors' own op sequence, or ``filter="unfold"``, the unfold oracle),
``torch.no_grad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgdn_edge.errors import BackendError
from mgdn_edge.model import MGDN, load_model, use_dynamic_filter
from mgdn_edge.runtimes.base import check_inputs, check_precision


class TorchRuntime:
    """``open_runtime("torch", "ckpt.pth", task=...)``; ``model`` may also be an MGDN instance."""

    name = "torch"

    def __init__(
        self,
        model_path: str | Path | MGDN,
        task: str | None = None,
        precision: str | None = None,
        threads: int | None = None,
        filter: str = "lean",  # noqa: A002 - the dynamic-filter implementation's registered name
    ) -> None:
        self.precision = check_precision(precision, ("fp32",), self.name)
        if isinstance(model_path, MGDN):
            self.model, self.model_path = model_path.eval(), None
        else:
            path = Path(model_path)
            if path.suffix.lower() == ".onnx" or path.is_dir():
                raise BackendError(f"runtime 'torch' needs a PyTorch checkpoint (.pth), got {path}")
            self.model, self.model_path = load_model(path, task=task), path
        self.config = self.model.config
        if threads is not None:
            torch.set_num_threads(int(threads))  # process-wide in torch
        self.filter = filter

    def run(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        arrays = check_inputs(self.config, inputs)
        with torch.no_grad(), use_dynamic_filter(self.filter):
            return self.model(*(torch.from_numpy(x) for x in arrays)).numpy()

    def describe(self) -> dict[str, Any]:
        return {
            "runtime": self.name,
            "model": str(self.model_path) if self.model_path else None,
            "task": self.config.task,
            "provider": "cpu",
            "precision": self.precision,
            "threads": torch.get_num_threads(),
            "dynamic_filter": self.filter,
            "torch": torch.__version__,
        }
