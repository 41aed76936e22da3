"""The backend registry: every backend's record, gathered, and the questions callers ask of them.

A backend lives in one home, ``runtimes/<backend>/``: its runtime class, its builders and its
:class:`Backend` record (``record.py``); the record types are :mod:`mgdn_edge.runtimes.base.record`'s,
re-exported here for records kept outside this repository.
Every caller asks the records instead of keeping its own table (the pipeline's variants, the INT8
speed targets, which runtimes profile layers, the CLI's runtime choices), so adding a backend is
one folder with one record listed here, or a package of its own named by ``$MGDN_EDGE_BACKENDS``
(``module:attribute`` entries, comma-separated) or by the ``mgdn_edge.backends`` entry-point
group, loaded with this module so that every process (the pipeline's workers too) sees the same
table.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from mgdn_edge.core.budgets import SpeedTarget
from mgdn_edge.core.errors import BackendError
from mgdn_edge.runtimes.base.record import Backend as Backend
from mgdn_edge.runtimes.base.record import Builder as Builder
from mgdn_edge.runtimes.base.record import VariantSpec as VariantSpec
from mgdn_edge.runtimes.base.record import load_attribute
from mgdn_edge.runtimes.onnxruntime.record import ONNXRUNTIME
from mgdn_edge.runtimes.openvino.record import OPENVINO
from mgdn_edge.runtimes.pytorch.record import TORCH
from mgdn_edge.runtimes.tensorrt.record import TENSORRT

# in report order: the reference first
BACKENDS: dict[str, Backend] = {b.name: b for b in (TORCH, ONNXRUNTIME, OPENVINO, TENSORRT)}


def register_backend(backend: Backend) -> None:
    """Add (or replace) a backend record, e.g. from a plugin package."""
    BACKENDS[backend.name] = backend


PLUGINS_ENV = "MGDN_EDGE_BACKENDS"
ENTRY_POINT_GROUP = "mgdn_edge.backends"


def load_plugin_backends() -> None:
    """Register the records named by ``$MGDN_EDGE_BACKENDS`` and the ``mgdn_edge.backends``
    entry points; a name that does not load is a BackendError naming it."""
    specs = [s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(",") if s.strip()]
    specs += [ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for spec in specs:
        try:
            record = load_attribute(spec)
        except (ImportError, AttributeError, ValueError) as exc:
            raise BackendError(f"backend plugin {spec!r} ({PLUGINS_ENV}) does not load: {exc}") from exc
        if not isinstance(record, Backend):
            raise BackendError(f"backend plugin {spec!r} is a {type(record).__name__}, not a Backend record")
        register_backend(record)


def int8_speed_targets() -> tuple[SpeedTarget, ...]:
    """Every backend's INT8 speed targets (what the report, quantize and bench_int8 judge by)."""
    return tuple(
        SpeedTarget(b.name, versus, ratio) for b in BACKENDS.values() for versus, ratio in b.int8_targets
    )


def profiled_backends() -> list[str]:
    """The backends whose runtimes time layers (`bench --profile`)."""
    return [b.name for b in BACKENDS.values() if b.profiled]


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def get_backend(name: str) -> Backend:
    """The record for a name or alias (case-insensitive); unknown names list the known ones."""
    key = name.strip().lower()
    for backend in BACKENDS.values():
        if key == backend.name or key in backend.aliases:
            return backend
    known = ", ".join(f"{b.name} ({'/'.join(b.aliases)})" if b.aliases else b.name for b in BACKENDS.values())
    raise BackendError(f"unknown runtime {name!r}; available: {known}")


def backend_for_model(model_path: str | Path) -> Backend:
    """The backend ``--runtime auto`` means for this model file (an export folder -> ONNX Runtime)."""
    path = Path(model_path)
    if path.is_dir():
        return BACKENDS["onnxruntime"]
    suffix = path.suffix.lower()
    for backend in BACKENDS.values():
        if suffix in backend.suffixes:
            return backend
    known = sorted(s for b in BACKENDS.values() for s in b.suffixes)
    raise BackendError(
        f"cannot tell which runtime runs {path.name!r} from its suffix (known: {', '.join(known)}); "
        "pass --runtime"
    )


def builders(kind: str) -> dict[str, tuple[Backend, Builder]]:
    """Every backend's builder of one ``kind`` ("convert", "quantize", "engine"), by builder name."""
    found = {}
    for backend in BACKENDS.values():
        builder = getattr(backend, kind)
        if builder is not None:
            found[builder.name] = (backend, builder)
    return found


load_plugin_backends()
