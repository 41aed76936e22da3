"""A TensorRT engine on disk: the engine and its JSON sidecar, written together or not at all.

Engines are specific to the GPU and the TensorRT version that built them, and an engine holding
plugin layers is tied to the plugin library it was built with; the sidecar (``X.engine.json``:
TensorRT version, GPU, precision, profile, plugin path and sha256, source files, MGDN config)
lets the runtime refuse a mismatch in one line (:func:`check_engine_matches`) instead of
failing obscurely, or running a plugin whose layout the engine does not expect.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mgdn_edge.core.atomic import atomic_files
from mgdn_edge.core.errors import BackendError, MgdnEdgeError

SIDECAR_SUFFIX = ".json"
# Sidecar fields that must equal the running environment's (field, what it is for the message).
MUST_MATCH = (("tensorrt_version", "TensorRT"), ("device", "GPU"), ("plugin_sha256", "plugin library sha256"))


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


def _release(version: object) -> str:
    """major.minor.patch of a TensorRT version: the pip wheel says "10.3.0", JetPack's package and
    the native runner's sidecar "10.3.0.30" for the same release (the native side compares so too)."""
    return ".".join(str(version).split(".")[:3])


def engine_mismatches(sidecar: dict[str, Any] | None, running: dict[str, str | None]) -> list[str]:
    """What differs between the engine's sidecar and ``running`` (same keys as :data:`MUST_MATCH`).

    Pure, so it is testable without TensorRT or a GPU. A field the sidecar lacks (an engine from
    an older mgdn-edge) or the running side cannot know (None) is not compared; an engine built
    without the plugin (sidecar ``plugin`` None) does not depend on the plugin's bytes.
    """
    if not sidecar:
        return []
    found = []
    for field, label in MUST_MATCH:
        built, now = sidecar.get(field), running.get(field)
        if field == "plugin_sha256" and sidecar.get("plugin", "") is None:
            continue
        if built is None or now is None:
            continue
        if field == "tensorrt_version":
            built_cmp, now_cmp = _release(built), _release(now)
        else:
            built_cmp, now_cmp = str(built), str(now)
        if built_cmp != now_cmp:
            short = 12 if field == "plugin_sha256" else None
            found.append(f"{label} {str(built)[:short]} (running: {str(now)[:short]})")
    return found


def check_engine_matches(path: Path, sidecar: dict[str, Any] | None, running: dict[str, str | None]) -> None:
    """One-line BackendError when the engine was built for another TensorRT, GPU or plugin library."""
    found = engine_mismatches(sidecar, running)
    if found:
        raise BackendError(
            f"{Path(path).name} was built with {'; '.join(found)}; engines are specific to one TensorRT, "
            "GPU and plugin build: rebuild it here with `mgdn-edge build-engine`"
        )
