"""What an exported file says about itself (ONNX metadata) and what ``manifest.json`` records."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import onnx
import torch

from mgdn_edge import __version__
from mgdn_edge.export.artefacts import (
    KERNEL_SIZE_ATTR,
    MANIFEST_VERSION,
    METADATA_CONFIG_KEY,
    METADATA_STATIC_KEY,
    METADATA_VERSION_KEY,
    OP_DOMAIN,
    OP_TYPE,
    OUTPUT_NAME,
    PLUGIN_ATTRIBUTES,
    sha256_file,
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
) -> dict:
    h_dim, w_dim = static if static else ("height", "width")
    io_spec = config.io
    return {
        "manifest_version": MANIFEST_VERSION,
        "task": config.task,
        "preset": config.name,
        "config": config.to_dict(),
        "inputs": [
            {"name": n, "layout": "NCHW", "dtype": "float32", "shape": ["batch", c, h_dim, w_dim]}
            for n, c in zip(io_spec.input_names, io_spec.input_channels, strict=True)
        ],
        "outputs": [
            {
                "name": OUTPUT_NAME,
                "layout": "NCHW",
                "dtype": "float32",
                "range": [0.0, 1.0],
                "shape": ["batch", io_spec.output_channels, h_dim, w_dim],
            }
        ],
        "dynamic_axes": {"batch": True, "height": static is None, "width": static is None},
        "opset": opset,
        "custom_op": {
            "domain": OP_DOMAIN,
            "op_type": OP_TYPE,
            KERNEL_SIZE_ATTR: config.kernel_size,
            **PLUGIN_ATTRIBUTES,
            "nodes": n_filters,
            "portable_decomposition": decomposition,
        },
        "files": {name: {"sha256": sha256_file(p)} for name, p in files.items()},
        "source_checkpoint": (
            {"path": str(checkpoint), "sha256": sha256_file(checkpoint)} if checkpoint is not None else None
        ),
        "simplifier": "onnxsim",
        "verification_max_abs": verification,
        "tool_versions": tool_versions(),
    }
