"""``manifest.json``, the record of one export folder, as typed frozen dataclasses.

Written by ``mgdn-edge export`` (:func:`mgdn_edge.export.manifest.build_manifest`), read by every
runtime that opens a file of the folder (config, static size, the sha256 of each file) and by
``parity`` (the source checkpoint). The JSON layout is the file format: field names and order
are the keys and their order on disk, so a manifest read and written again is the same bytes.
Fields added after the first format (``largest_tensor``, ``fp16``, ``tensorrt``) may be absent.
Deliberately light (no onnx, no torch): a runtime-only install reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgdn_edge.export.json_record import OMIT_NONE, from_json, read_json_object, to_json

REEXPORT = "re-export with `mgdn-edge export`"


@dataclass(frozen=True)
class FileEntry:
    """A file of the export folder, by its bytes."""

    sha256: str


@dataclass(frozen=True)
class SourceCheckpoint:
    path: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class TensorSpec:
    """One graph input or output: NCHW float32, ``shape`` holding sizes or axis names."""

    name: str
    layout: str
    dtype: str
    range: tuple[float, float] | None = field(default=None, metadata=OMIT_NONE)  # outputs only
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class DynamicAxes:
    batch: bool
    height: bool
    width: bool


@dataclass(frozen=True)
class CustomOp:
    """The custom op's identity in the graphs, how many nodes it has and how its body is written."""

    domain: str
    op_type: str
    kernel_size: int
    plugin_namespace: str | None = None
    plugin_version: str | None = None
    nodes: int | None = None
    portable_decomposition: str | None = None


@dataclass(frozen=True)
class LargestTensor:
    """The largest tensor of the portable graph at ``size`` (no unfold-sized intermediate)."""

    size: str
    name: str
    elements: int
    vs_feature_map: float


@dataclass(frozen=True)
class Fp16Graph:
    """``model.fp16.onnx``: converter, the ops kept FP32, node counts and the check against PyTorch."""

    file: str
    converter: str
    io_dtype: str
    fp32_ops: tuple[str, ...]
    nodes: dict[str, int]
    verification_max_abs: dict[str, float] | None
    tolerance: float


@dataclass(frozen=True)
class TensorRTGraphs:
    """The graphs for TensorRT's parser: their files, the sibling each was verified against, the
    max abs error per size, and each parser release's lint verdict."""

    files: tuple[str, ...] = ()
    verified_against: dict[str, str] = field(default_factory=dict)
    verification_max_abs: dict[str, dict[str, float]] = field(default_factory=dict)
    lint: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    manifest_version: int
    task: str
    preset: str
    config: dict[str, Any]  # MGDNConfig.to_dict(), kept as written (MGDNConfig.from_dict reads it)
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dynamic_axes: DynamicAxes
    opset: int
    custom_op: CustomOp
    files: dict[str, FileEntry]
    source_checkpoint: SourceCheckpoint | None
    simplifier: str
    verification_max_abs: dict[str, dict[str, float]] | None  # file -> size -> max abs vs PyTorch
    tool_versions: dict[str, str]
    largest_tensor: LargestTensor | None = None
    fp16: Fp16Graph | None = None
    tensorrt: TensorRTGraphs | None = None

    @property
    def static_size(self) -> tuple[int, int] | None:
        """The fixed (H, W) of a ``--static`` export, None for any size."""
        if self.dynamic_axes.height:
            return None
        shape = self.inputs[0].shape
        return int(shape[2]), int(shape[3])

    def sha256_of(self, name: str) -> str | None:
        """The sha256 recorded for file ``name`` of the folder, None when it is not listed."""
        entry = self.files.get(name)
        return None if entry is None else entry.sha256

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: Any, source: str | Path) -> Manifest:
        """``data`` as a manifest; BackendError naming ``source`` and the field if it is malformed."""
        return from_json(cls, data, source, REEXPORT)


def read_manifest_file(path: Path) -> Manifest | None:
    """The manifest at ``path``, None when there is none; BackendError when it is malformed."""
    if not path.is_file():
        return None
    return Manifest.from_json(read_json_object(path, "the export manifest"), path)


def write_manifest_file(path: Path, manifest: Manifest) -> Path:
    """Write ``manifest`` as ``export`` always has: two-space indent, a final newline."""
    path.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return path
