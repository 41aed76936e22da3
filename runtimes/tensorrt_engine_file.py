"""A TensorRT engine on disk: the engine and its JSON sidecar, written together or not at all.

Engines are specific to the GPU and the TensorRT version that built them, and an engine holding
plugin layers is tied to the plugin library it was built with; the sidecar (``X.engine.json``:
TensorRT version, GPU, precision, profile, plugin path and sha256, source files, MGDN config)
lets the runtime refuse a mismatch in one line (:func:`check_engine_matches`) instead of
failing obscurely, or running a plugin whose layout the engine does not expect.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgdn_edge.atomic import atomic_files
from mgdn_edge.errors import BackendError, MgdnEdgeError
from mgdn_edge.export.artefacts import ENGINE_SIDECAR_SUFFIX
from mgdn_edge.export.json_record import NOT_IN_FILE, from_json, read_json_object, to_json
from mgdn_edge.runtimes.tensorrt_plan import ShapeProfile

SIDECAR_FORMAT = "mgdn-edge tensorrt engine"
REBUILD = "rebuild the engine with `mgdn-edge build-engine`"
# Sidecar fields that must equal the running environment's (field, what it is for the message).
MUST_MATCH = (("tensorrt_version", "TensorRT"), ("device", "GPU"), ("plugin_sha256", "plugin library sha256"))


class EngineBuildError(MgdnEdgeError):
    """TensorRT could not parse or build the model (the message carries TensorRT's own errors)."""


@dataclass(frozen=True, kw_only=True)
class EngineSidecar:
    """What ``build-engine`` records beside an engine (``X.engine.json``), as the file holds it.

    Every field may be absent: an engine from an older mgdn-edge has fewer, and the runtime then
    compares or uses what there is. ``recorded`` keeps which keys the file held (all of them for a
    sidecar made in code), so that a sidecar without ``plugin`` (which plugin is unknown) stays
    distinct from ``"plugin": null`` (built without the plugin), and a file read and written again
    is the same bytes. The C++ runner reads the same file (runtimes/native/src/tensorrt_sidecar.cpp).
    """

    format: str | None = None
    tensorrt_version: str | None = None
    device: str | None = None  # the GPU's name, as gpu_name() reports it
    precision: str | None = None
    strongly_typed: bool | None = None
    builder_flags: tuple[str, ...] | None = None
    fp32_pinned_layers: int | None = None
    keep_float: tuple[str, ...] | None = None
    extra_outputs: tuple[str, ...] | None = None  # tensors marked as outputs for a diff pass
    profile: ShapeProfile | None = None
    inputs: tuple[str, ...] | None = None
    plugin: str | None = None  # the plugin library's path; null: built without the plugin
    plugin_sha256: str | None = None
    plugin_layers: int | None = None
    onnx: str | None = None  # the ONNX file it was built from
    onnx_sha256: str | None = None
    config: dict[str, Any] | None = None  # MGDNConfig.to_dict()
    static_size: tuple[int, int] | None = None
    workspace: int | None = None
    build_seconds: float | None = None
    recorded: frozenset[str] | None = field(default=None, compare=False, repr=False, metadata=NOT_IN_FILE)

    def has(self, key: str) -> bool:
        """Whether the sidecar records ``key`` (made in code: every field)."""
        return self.recorded is None or key in self.recorded

    @property
    def built_without_plugin(self) -> bool:
        """The sidecar says ``"plugin": null``: the engine holds no plugin layers."""
        return self.has("plugin") and self.plugin is None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in to_json(self).items() if self.has(k)}

    @classmethod
    def from_json(cls, data: Any, source: str | Path) -> EngineSidecar:
        """``data`` as a sidecar; BackendError naming ``source`` and the field if it is malformed."""
        sidecar = from_json(cls, data, source, REBUILD)
        names = {f.name for f in dataclasses.fields(cls)} - {"recorded"}
        return dataclasses.replace(sidecar, recorded=frozenset(names & set(data)))


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    path = Path(engine_path)
    return path.with_name(path.name + ENGINE_SIDECAR_SUFFIX)


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineSidecar | None:
    """The sidecar written beside an engine by :func:`write_engine`, if any."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        return None
    return EngineSidecar.from_json(read_json_object(path, "the engine sidecar"), path)


def write_engine(engine_path: str | os.PathLike[str], engine: bytes, sidecar: EngineSidecar) -> Path:
    """Write the engine and its sidecar so that neither is ever seen half-written.

    Both go to temporary files first; the sidecar is removed before the engine is renamed into
    place and renamed in last, so a reader never pairs a new engine with an old sidecar.
    """
    path = Path(engine_path)
    if not engine:
        raise EngineBuildError("refusing to write an empty engine")
    with atomic_files(path, sidecar_path(path)) as (tmp_engine, tmp_side):
        tmp_engine.write_bytes(bytes(engine))
        tmp_side.write_text(json.dumps(sidecar.to_json(), indent=2) + "\n")
    return path


def _release(version: object) -> str:
    """major.minor.patch of a TensorRT version: the pip wheel says "10.3.0", JetPack's package and
    the native runner's sidecar "10.3.0.30" for the same release (the native side compares so too)."""
    return ".".join(str(version).split(".")[:3])


def engine_mismatches(sidecar: EngineSidecar | None, running: dict[str, str | None]) -> list[str]:
    """What differs between the engine's sidecar and ``running`` (same keys as :data:`MUST_MATCH`).

    Pure, so it is testable without TensorRT or a GPU. A field the sidecar lacks (an engine from
    an older mgdn-edge) or the running side cannot know (None) is not compared; an engine built
    without the plugin (sidecar ``plugin`` None) does not depend on the plugin's bytes.
    """
    if sidecar is None:
        return []
    found = []
    for key, label in MUST_MATCH:
        built, now = getattr(sidecar, key), running.get(key)
        if key == "plugin_sha256" and sidecar.built_without_plugin:
            continue
        if built is None or now is None:
            continue
        if key == "tensorrt_version":
            built_cmp, now_cmp = _release(built), _release(now)
        else:
            built_cmp, now_cmp = str(built), str(now)
        if built_cmp != now_cmp:
            short = 12 if key == "plugin_sha256" else None
            found.append(f"{label} {str(built)[:short]} (running: {str(now)[:short]})")
    return found


def check_engine_matches(path: Path, sidecar: EngineSidecar | None, running: dict[str, str | None]) -> None:
    """One-line BackendError when the engine was built for another TensorRT, GPU or plugin library."""
    found = engine_mismatches(sidecar, running)
    if found:
        raise BackendError(
            f"{Path(path).name} was built with {'; '.join(found)}; engines are specific to one TensorRT, "
            "GPU and plugin build: rebuild it here with `mgdn-edge build-engine`"
        )
