"""A Triton Inference Server model repository for an exported ONNX file (ONNX Runtime backend).

Layout Triton loads::

    REPO/NAME/config.pbtxt      platform "onnxruntime_onnx", inputs/outputs from the ONNX file
    REPO/NAME/1/model.onnx      the export's model.onnx, byte for byte

The graph's ``mgdn.DynamicFilter`` nodes need the ONNX Runtime custom-op library
(``libmgdn_ort.so``, domain ``mgdn``); Triton registers it from ``model_operations {
op_library_filename }`` before it creates the session. Its path is where the library lives on
the *server*, so it is an option with a placeholder default (:data:`DEFAULT_OP_LIBRARY`) that
the user replaces when the server keeps it elsewhere.

Inputs and outputs are named, typed and shaped as the ONNX file declares them, the batch
dimension included (``max_batch_size: 0``: MGDN's images differ in size, so Triton must not
batch requests of different shapes together); a dynamic dimension is ``-1``. The model folder is
written whole or not at all (:func:`mgdn_edge.core.atomic.atomic_directory`), beside any other model
the repository holds.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from mgdn_edge.core.atomic import atomic_directory
from mgdn_edge.core.errors import InputError

DEFAULT_OP_LIBRARY = "/opt/mgdn-edge/libmgdn_ort.so"  # placeholder: where the server keeps the library
CONFIG_FILE = "config.pbtxt"
MODEL_FILE = "model.onnx"  # Triton's default model file name for the ONNX Runtime backend
VERSION = "1"
PLATFORM = "onnxruntime_onnx"
BACKEND = "onnxruntime"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

# ONNX TensorProto element types -> Triton DataType names (model_config.proto)
TRITON_TYPES = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
    16: "TYPE_BF16",
}


def _tensor_entries(values: object, what: str) -> list[str]:
    """``input [...]`` / ``output [...]`` entries of config.pbtxt for ONNX ValueInfos."""
    entries = []
    for vi in values:  # type: ignore[attr-defined]
        ttype = vi.type.tensor_type
        if ttype.elem_type not in TRITON_TYPES:
            raise InputError(
                f"ONNX {what} {vi.name!r} has element type {ttype.elem_type}, which Triton has no type for"
            )
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in ttype.shape.dim]
        entries.append(
            "  {\n"
            f'    name: "{_escape(vi.name)}"\n'
            f"    data_type: {TRITON_TYPES[ttype.elem_type]}\n"
            f"    dims: [ {', '.join(map(str, dims))} ]\n"
            "  }"
        )
    return entries


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def triton_config(model: object, name: str, op_library: str) -> str:
    """config.pbtxt text for the ONNX ``model`` (a ModelProto) served as ``name``."""
    graph = model.graph  # type: ignore[attr-defined]
    inits = {t.name for t in graph.initializer}
    inputs = _tensor_entries([i for i in graph.input if i.name not in inits], "input")
    outputs = _tensor_entries(graph.output, "output")
    joined_inputs, joined_outputs = ",\n".join(inputs), ",\n".join(outputs)
    return (
        f'name: "{_escape(name)}"\n'
        f'platform: "{PLATFORM}"\n'
        f'backend: "{BACKEND}"\n'
        "max_batch_size: 0\n"
        f"input [\n{joined_inputs}\n]\n"
        f"output [\n{joined_outputs}\n]\n"
        "model_operations {\n"
        f'  op_library_filename: "{_escape(op_library)}"\n'
        "}\n"
    )


def check_triton_options(name: str, op_library: str) -> None:
    """One-line errors for a model name Triton cannot use as a folder, or a relative library path."""
    if not _NAME.fullmatch(name):
        raise InputError(
            f"Triton model name {name!r} must be letters, digits, '_', '.' or '-' "
            "(not starting with '.' or '-')"
        )
    if not os.path.isabs(op_library):
        raise InputError(f"--op-library must be an absolute path on the Triton server, got {op_library!r}")


def write_triton_repository(
    onnx_path: str | os.PathLike[str], repository: str | os.PathLike[str], name: str, op_library: str
) -> Path:
    """Write ``repository/name`` (config.pbtxt + 1/model.onnx) for ``onnx_path``; return that folder.

    An existing ``repository/name`` is replaced whole when it is an earlier Triton model folder
    (it holds a config.pbtxt); anything else there is refused.
    """
    import onnx

    check_triton_options(name, op_library)
    src = Path(onnx_path)
    if not src.is_file():
        raise InputError(f"ONNX file not found: {src}")
    repo = Path(repository)
    if repo.exists() and not repo.is_dir():
        raise InputError(f"Triton repository {repo} exists and is not a folder")
    dest = repo / name
    if dest.exists() and not (dest / CONFIG_FILE).is_file():
        raise InputError(
            f"{dest} exists and is not a Triton model folder (no {CONFIG_FILE}); pick another name"
        )
    config = triton_config(onnx.load(src, load_external_data=False), name, op_library)
    with atomic_directory(dest) as tmp:
        (tmp / VERSION).mkdir()
        shutil.copyfile(src, tmp / VERSION / MODEL_FILE)
        (tmp / CONFIG_FILE).write_text(config)
    return dest
