"""The PyTorch reference as a runtime: eager FP32 on CPU, a checkpoint loaded strictly.

This is the yardstick every other backend is compared against (parity, benchmarks), so it does
nothing clever: the network as written, the default lean dynamic filter (or, for context,
``filter="authors"``, the authors' own op sequence, or ``filter="unfold"``, the unfold oracle),
``torch.no_grad``.

Layer profiling (``profile=True``, then :meth:`TorchRuntime.profile_layers`): ``torch.profiler``
around the requested runs, grouped by op name with *self* CPU time, since an op's total time
includes the ops it calls (``aten::conv2d`` contains ``aten::convolution`` and so on) and totals
would count the same work several times. PyTorch needs nothing set up in advance; ``profile`` is
taken so that every profiling backend is opened the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgdn_edge.errors import BackendError
from mgdn_edge.export.artefacts import ONNX_SUFFIX
from mgdn_edge.layer_profile import LayerSample, aggregate, check_runs
from mgdn_edge.model import MGDN, load_model, use_dynamic_filter
from mgdn_edge.results import LayerTime
from mgdn_edge.runtimes.base import Runtime, check_precision


class TorchRuntime(Runtime):
    """``open_runtime("torch", "ckpt.pth", task=..., profile=False)``; ``model`` may also be an MGDN
    instance."""

    name = "torch"

    def __init__(
        self,
        model_path: str | Path | MGDN,
        task: str | None = None,
        precision: str | None = None,
        threads: int | None = None,
        filter: str = "lean",  # noqa: A002 - the dynamic-filter implementation's registered name
        profile: bool = False,
    ) -> None:
        self.precision = check_precision(precision, ("fp32",), self.name)
        if isinstance(model_path, MGDN):
            self.model, self.model_path = model_path.eval(), None
        else:
            path = Path(model_path)
            if path.suffix.lower() == ONNX_SUFFIX or path.is_dir():
                raise BackendError(f"runtime 'torch' needs a PyTorch checkpoint (.pth), got {path}")
            self.model, self.model_path = load_model(path, task=task), path
        self.config = self.model.config
        if threads is not None:
            torch.set_num_threads(int(threads))  # process-wide in torch
        self.filter = filter
        self.profile = bool(profile)

    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        with torch.no_grad(), use_dynamic_filter(self.filter):
            return self.model(*(torch.from_numpy(x) for x in arrays)).numpy()

    def run_stages(self, inputs: Sequence[np.ndarray], points: Sequence[Any]) -> dict[str, np.ndarray]:
        """One run that also returns the outputs of the given module calls
        (:class:`mgdn_edge.divergence.StagePoint`), by stage name; nothing else is kept."""
        wanted = {(p.module, p.call): p.name for p in points}
        calls: dict[str, int] = {}
        kept: dict[str, np.ndarray] = {}

        def keep(path: str, output: torch.Tensor) -> None:
            calls[path] = calls.get(path, 0) + 1
            name = wanted.get((path, calls[path]))
            if name is not None:
                kept[name] = output.detach().numpy().copy()

        hooks = [
            self.model.get_submodule(path).register_forward_hook(lambda m, i, o, path=path: keep(path, o))
            for path in {p.module for p in points}
        ]
        try:
            self.run(inputs)
        finally:
            for hook in hooks:
                hook.remove()
        return kept

    def profile_layers(self, inputs: Sequence[np.ndarray], runs: int) -> list[LayerTime]:
        """Self CPU time per op over ``runs`` runs under ``torch.profiler``, per run."""
        from torch.profiler import ProfilerActivity, profile

        if not self.profile:
            raise BackendError("this torch runtime was opened without profile=True: no layer times")
        exec_type = f"cpu {str(self.precision).replace('fp', 'f')}"
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(check_runs(runs)):
                self.run(inputs)
        samples = [
            LayerSample(e.key, exec_type, e.self_cpu_time_total / 1000.0, e.count)
            for e in prof.key_averages()
            if e.self_cpu_time_total > 0
        ]
        return aggregate(samples, runs)

    def describe(self) -> dict[str, Any]:
        return {
            "runtime": self.name,
            "model": str(self.model_path) if self.model_path else None,
            "task": self.config.task,
            "provider": "cpu",
            "precision": self.precision,
            "threads": torch.get_num_threads(),
            "dynamic_filter": self.filter,
            "profiling": self.profile,
            "torch": torch.__version__,
        }
