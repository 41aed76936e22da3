"""The files of an export folder that quantization reads, and the network config they carry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.core.errors import BackendError, one_line
from mgdn_edge.core.size import Size
from mgdn_edge.export.artefacts import PORTABLE_ONNX
from mgdn_edge.model.config import MGDNConfig


@dataclass(frozen=True)
class ExportFiles:
    onnx: Path  # model.onnx: custom DynamicFilter nodes
    portable: Path | None  # model.portable.onnx, where the export wrote one
    config: MGDNConfig
    static_size: Size | None


def export_files(model: str | os.PathLike[str]) -> ExportFiles:
    """An export folder (or its model.onnx) -> its files and network config."""
    import onnx

    from mgdn_edge.runtimes.base import model_description, resolve_onnx_path

    path = resolve_onnx_path(model)
    portable = path.parent / PORTABLE_ONNX
    try:
        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    except Exception as exc:
        raise BackendError(f"cannot read {path}: {one_line(exc)}") from exc
    config, static = model_description(path, meta, None)
    return ExportFiles(path, portable if portable.is_file() else None, config, static)
