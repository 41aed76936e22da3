"""What an exported file says about itself (ONNX metadata) and what ``manifest.json`` records."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from mgdn_edge import __version__
from mgdn_edge.export.artefacts import (
    MANIFEST_VERSION,
    METADATA_CONFIG_KEY,
    METADATA_STATIC_KEY,
    METADATA_VERSION_KEY,
    OP_DOMAIN,
    OP_TYPE,
    OUTPUT_NAME,
    PLUGIN_NAMESPACE,
    PLUGIN_VERSION,
    sha256_file,
)
from mgdn_edge.export.manifest_record import (
    CustomOp,
    DynamicAxes,
    FileEntry,
    Fp16Graph,
    LargestTensor,
    Manifest,
    SourceCheckpoint,
    TensorRTGraphs,
    TensorSpec,
)
from mgdn_edge.model import MGDNConfig


def set_metadata(model: onnx.ModelProto, config: MGDNConfig, static: tuple[int, int] | None) -> None:
    """Record the config (and static size) in the file itself: runtimes validate inputs with it."""
    del model.metadata_props[:]
    entries = {
        METADATA_CONFIG_KEY: json.dumps(config.to_dict()),
        METADATA_STATIC_KEY: "" if static is None else f"{static[0]}x{static[1]}",
        METADATA_VERSION_KEY: __version__,
    }
    onnx.helper.set_model_props(model, entries)
    model.producer_name, model.producer_version = "mgdn-edge", __version__


def tool_versions() -> dict[str, str]:
    import onnxruntime
    import onnxsim

    return {
        "mgdn_edge": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxsim": onnxsim.__version__,
        "numpy": np.__version__,
    }


def build_manifest(
    config: MGDNConfig,
    opset: int,
    static: tuple[int, int] | None,
    decomposition: str,
    n_filters: int,
    checkpoint: Path | None,
    files: dict[str, Path],
    verification: dict[str, dict[str, float]] | None,
    extras: ManifestExtras,
) -> Manifest:
    """The manifest of an export folder holding ``files`` (each recorded by its sha256)."""
    h_dim, w_dim = static if static else ("height", "width")
    io_spec = config.io
    return Manifest(
        manifest_version=MANIFEST_VERSION,
        task=config.task,
        preset=config.name,
        config=config.to_dict(),
        inputs=tuple(
            TensorSpec(name=n, layout="NCHW", dtype="float32", shape=("batch", c, h_dim, w_dim))
            for n, c in zip(io_spec.input_names, io_spec.input_channels, strict=True)
        ),
        outputs=(
            TensorSpec(
                name=OUTPUT_NAME,
                layout="NCHW",
                dtype="float32",
                range=(0.0, 1.0),
                shape=("batch", io_spec.output_channels, h_dim, w_dim),
            ),
        ),
        dynamic_axes=DynamicAxes(batch=True, height=static is None, width=static is None),
        opset=opset,
        custom_op=CustomOp(
            domain=OP_DOMAIN,
            op_type=OP_TYPE,
            kernel_size=config.kernel_size,
            plugin_namespace=PLUGIN_NAMESPACE,
            plugin_version=PLUGIN_VERSION,
            nodes=n_filters,
            portable_decomposition=decomposition,
        ),
        files={name: FileEntry(sha256_file(p)) for name, p in files.items()},
        source_checkpoint=(
            SourceCheckpoint(str(checkpoint), sha256_file(checkpoint)) if checkpoint is not None else None
        ),
        simplifier="onnxsim",
        verification_max_abs=verification,
        tool_versions=tool_versions(),
        largest_tensor=extras.largest_tensor,
        fp16=extras.fp16,
        tensorrt=extras.tensorrt,
    )


@dataclass(frozen=True)
class ManifestExtras:
    """What the later export steps add: the largest-tensor check, the FP16 and TensorRT graphs."""

    largest_tensor: LargestTensor | None
    fp16: Fp16Graph | None
    tensorrt: TensorRTGraphs | None
