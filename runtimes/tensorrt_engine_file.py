"""A TensorRT engine on disk: the engine and its JSON sidecar, written together or not at all.

Engines are specific to the GPU and the TensorRT version that built them; the sidecar
(``X.engine.json``: TensorRT version, GPU, precision, profile, plugin, source files, MGDN config)
lets the runtime say so instead of failing obscurely.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mgdn_edge.atomic import atomic_files
from mgdn_edge.errors import BackendError, MgdnEdgeError

SIDECAR_SUFFIX = ".json"


class EngineBuildError(MgdnEdgeError):
    """TensorRT could not parse or build the model (the message carries TensorRT's own errors)."""


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    path = Path(engine_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(engine_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The JSON written beside an engine by :func:`build_engine`, if any."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"cannot read the engine sidecar {path}: {exc}") from exc


def write_engine(engine_path: str | os.PathLike[str], engine: bytes, sidecar: dict[str, Any]) -> Path:
    """Write the engine and its sidecar so that neither is ever seen half-written.

    Both go to temporary files first; the sidecar is removed before the engine is renamed into
    place and renamed in last, so a reader never pairs a new engine with an old sidecar.
    """
    path = Path(engine_path)
    if not engine:
        raise EngineBuildError("refusing to write an empty engine")
    with atomic_files(path, sidecar_path(path)) as (tmp_engine, tmp_side):
        tmp_engine.write_bytes(bytes(engine))
        tmp_side.write_text(json.dumps(sidecar, indent=2) + "\n")
    return path
