"""Inference backends behind one small interface, opened by name with :func:`open_runtime`.

Backends are looked up lazily (``"module:Class"``), so importing this package pulls in neither
torch-heavy code nor onnxruntime/openvino/tensorrt; a backend whose package is missing gives a
:class:`BackendError` saying what to install. Other backends join with :func:`register_runtime`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgdn_edge.errors import BackendError
from mgdn_edge.runtimes.base import PRECISIONS, Runtime, check_inputs

RuntimeFactory = Callable[..., Runtime]

_RUNTIMES: dict[str, str | RuntimeFactory] = {
    "torch": "mgdn_edge.runtimes.torch_runtime:TorchRuntime",
    "onnxruntime": "mgdn_edge.runtimes.onnxruntime_runtime:OnnxRuntime",
    "openvino": "mgdn_edge.runtimes.openvino_runtime:OpenVinoRuntime",
    "tensorrt": "mgdn_edge.runtimes.tensorrt_runtime:TensorRTRuntime",
}
# What ``--runtime auto`` picks from the model file's suffix (an export folder -> onnxruntime).
RUNTIME_BY_SUFFIX = {
    ".pth": "torch",
    ".pt": "torch",
    ".onnx": "onnxruntime",
    ".xml": "openvino",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
}
ALIASES = {"pytorch": "torch", "ort": "onnxruntime"}


def register_runtime(name: str, factory: str | RuntimeFactory) -> None:
    """Make a backend available to ``open_runtime`` (a class/callable or a ``"module:attr"`` path)."""
    _RUNTIMES[name] = factory


def available_runtimes() -> list[str]:
    return sorted(_RUNTIMES)


def runtime_for_model(model_path: str | Path) -> str:
    """The runtime ``auto`` means for this model file."""
    path = Path(model_path)
    if path.is_dir():
        return "onnxruntime"
    name = RUNTIME_BY_SUFFIX.get(path.suffix.lower())
    if name is None:
        raise BackendError(
            f"cannot tell which runtime runs {path.name!r} from its suffix (known: "
            f"{', '.join(sorted(RUNTIME_BY_SUFFIX))}); pass --runtime"
        )
    return name


def _factory(name: str) -> RuntimeFactory:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in _RUNTIMES:
        raise BackendError(f"unknown runtime {name!r}; available: {', '.join(available_runtimes())}")
    entry = _RUNTIMES[key]
    if not isinstance(entry, str):
        return entry
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise BackendError(
            f"runtime {key!r} needs the Python package {exc.name!r}, which is not installed"
        ) from exc
    return getattr(module, attr)


def open_runtime(name: str, model_path: str | Path | Any, task: str | None = None, **opts: Any) -> Runtime:
    """Load ``model_path`` on backend ``name``.

    ``model_path``: a checkpoint (.pth) for ``torch``; an exported ``.onnx`` file or export folder
    for ``onnxruntime``; ``name="auto"`` picks the runtime from the file suffix. ``task`` checks
    the model against a task (MFF/MEF are interchangeable).
    Common options: ``precision`` (fp32, fp16, bf16, int8 where the backend has it), ``threads``;
    backend-specific ones (e.g. ``providers`` for onnxruntime) are passed through. An option the
    backend does not take is a :class:`BackendError`, not a silent no-op.
    """
    if name.lower() == "auto":
        name = runtime_for_model(model_path)
    factory = _factory(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k, v in opts.items() if k not in params and v is not None)
        if unknown:
            raise BackendError(f"runtime {name!r} does not take option(s) {', '.join(unknown)}")
        opts = {k: v for k, v in opts.items() if k in params}
    return factory(model_path, task=task, **opts)


__all__ = [
    "PRECISIONS",
    "Runtime",
    "available_runtimes",
    "check_inputs",
    "open_runtime",
    "register_runtime",
    "runtime_for_model",
]
