"""Inference backends behind one small interface, opened by name with :func:`open_runtime`.

Which backends exist, their aliases, packages and artefacts are in :mod:`.backends` (one record
each). Runtime classes are imported lazily, so importing this package pulls in neither
torch-heavy code nor onnxruntime/openvino/tensorrt; a backend whose package is missing gives a
:class:`BackendError` saying what to install.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from mgdn_edge.errors import BackendError
from mgdn_edge.runtimes.backends import (
    BACKENDS,
    Backend,
    backend_for_model,
    backend_names,
    get_backend,
    register_backend,
)
from mgdn_edge.runtimes.base import Runtime, check_inputs


def available_runtimes() -> list[str]:
    return backend_names()


def runtime_for_model(model_path: str | Path) -> str:
    """The runtime ``auto`` means for this model file."""
    return backend_for_model(model_path).name


def open_runtime(name: str, model_path: str | Path | Any, task: str | None = None, **opts: Any) -> Runtime:
    """Load ``model_path`` on backend ``name`` (a name or alias, or ``auto``: from the file suffix).

    ``model_path``: a checkpoint (.pth) for ``torch``; an exported ``.onnx`` file or export folder
    for ``onnxruntime``; and so on per backend. ``task`` checks the model against a task (MFF/MEF
    are interchangeable). Common options: ``precision`` (fp32, fp16, bf16, int8 where the backend
    has it), ``threads``; backend-specific ones (e.g. ``providers`` for onnxruntime) are passed
    through. An option the backend does not take is a :class:`BackendError`, not a silent no-op.
    ``precision="auto"``: the fastest precision that holds its budget on this machine, where the
    runtime can choose one (OpenVINO: bf16 on CPUs that execute it); elsewhere the file's own.
    """
    backend = backend_for_model(model_path) if name.lower() == "auto" else get_backend(name)
    factory = backend.runtime_class()
    if not (isinstance(factory, type) and issubclass(factory, Runtime)):
        raise BackendError(
            f"runtime {backend.name!r} ({backend.runtime}) does not subclass "
            "mgdn_edge.runtimes.base.Runtime: implement _run and describe on that base"
        )
    if opts.get("precision") == "auto" and not factory.chooses_precision:
        opts["precision"] = None  # nothing faster to choose: the file runs at its own precision
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k, v in opts.items() if k not in params and v is not None)
        if unknown:
            raise BackendError(f"runtime {backend.name!r} does not take option(s) {', '.join(unknown)}")
        opts = {k: v for k, v in opts.items() if k in params}
    return factory(model_path, task=task, **opts)


__all__ = [
    "BACKENDS",
    "Backend",
    "Runtime",
    "available_runtimes",
    "check_inputs",
    "get_backend",
    "open_runtime",
    "register_backend",
    "runtime_for_model",
]
