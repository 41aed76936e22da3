"""Which install extra provides which optional package, and the one-line error when one is missing.

torch, onnx, onnxruntime, openvino/nncf and tensorrt are extras (``pyproject.toml``): a box that
only runs exported models installs no torch. A command that reaches a missing package stops
with one line naming the extra that brings it, e.g.
``mgdn-edge export needs PyTorch: pip install 'mgdn-edge[torch]'``, never an import traceback.
"""

from __future__ import annotations

import importlib

from mgdn_edge.core.errors import BackendError

# top-level module -> (how users call it, the extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("PyTorch", "torch"),
    "onnx": ("the onnx package", "onnxruntime"),
    "onnxruntime": ("ONNX Runtime", "onnxruntime"),
    "onnxsim": ("onnxsim", "onnx"),
    "openvino": ("OpenVINO", "openvino"),
    "nncf": ("NNCF", "openvino"),
    "tensorrt": ("TensorRT", "tensorrt"),
}


class MissingExtraError(BackendError):
    """A command needs an optional package that is not installed (the message names the extra)."""


def needs_line(what: str, module: str) -> str | None:
    """``WHAT needs LABEL: pip install 'mgdn-edge[EXTRA]'``, or None for a module no extra provides."""
    found = EXTRAS.get(module.split(".")[0])
    if found is None:
        return None
    label, extra = found
    return f"{what} needs {label}: pip install 'mgdn-edge[{extra}]'"


def require(module: str, what: str) -> None:
    """Import ``module`` now, or raise :class:`MissingExtraError` saying ``what`` needs it.

    Called where a command starts, so it stops before doing any work; the import is not wasted,
    the command goes on to use the module.
    """
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        line = needs_line(what, exc.name or module)
        if line is None:  # a dependency of the package is broken, not the extra missing: keep it
            raise
        raise MissingExtraError(line) from exc


def missing_extra(exc: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The one-line error for ``exc`` when it is an extra's package, else None (a real bug)."""
    line = needs_line(what, exc.name or "")
    return MissingExtraError(line) if line else None
