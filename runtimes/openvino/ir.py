"""Write and read OpenVINO IR files (``model.xml`` + ``model.bin``) that carry their MGDN description.

An IR has no ``manifest.json`` beside it necessarily (users copy the .xml/.bin pair around), so
what a runtime needs to validate inputs and report what runs lives in the IR's own ``rt_info``
under ``["mgdn_edge", key]``: ``config`` (JSON of :meth:`MGDNConfig.to_dict`), ``static_size``
(``"HxW"`` or ``""`` for any size) and ``precision`` (``fp32`` / ``fp16`` / ``int8``, the
variant the file was built as). The same three facts are in ONNX ``metadata_props`` for ONNX
files; OpenVINO surfaces those under ``rt_info["framework"]`` when it reads an ONNX model, which
:func:`onnx_metadata` reads back.

Files are written under a temporary name in the target folder and renamed into place (.bin
first, .xml last), so a failed save never leaves a half-written pair that would load later.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnx.external_data_helper import load_external_data_for_model

from mgdn_edge.core.atomic import atomic_files
from mgdn_edge.core.errors import BackendError
from mgdn_edge.core.precision import FILE_PRECISIONS, PRECISIONS
from mgdn_edge.core.size import Size
from mgdn_edge.export.artefacts import (
    IR_RT_CONFIG,
    IR_RT_PRECISION,
    IR_RT_SECTION,
    IR_RT_STATIC,
    IR_SUFFIX,
    ONNX_SUFFIX,
    OP_TYPE,
    ir_weights,
    is_filter_node,
)
from mgdn_edge.export.filter_check import load_checked_onnx
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.runtimes.openvino.channels_last_filter import CHANNELS_LAST_OP, filter_channels_last
from mgdn_edge.runtimes.openvino.window_attention import fuse_window_attention


@dataclass(frozen=True)
class IrDescription:
    """What an IR says about itself (``static_size`` None = any H/W)."""

    config: MGDNConfig
    static_size: tuple[int, int] | None
    precision: str


def _static_text(static_size: tuple[int, int] | None) -> str:
    return "" if static_size is None else f"{int(static_size[0])}x{int(static_size[1])}"


def annotate(
    ov_model: Any, config: MGDNConfig, precision: str, static_size: tuple[int, int] | None = None
) -> None:
    """Record config / static size / precision in ``ov_model``'s rt_info (in place)."""
    if precision not in FILE_PRECISIONS:
        raise BackendError(f"an IR is built as one of {', '.join(FILE_PRECISIONS)}, not {precision!r}")
    ov_model.set_rt_info(json.dumps(config.to_dict()), [IR_RT_SECTION, IR_RT_CONFIG])
    ov_model.set_rt_info(_static_text(static_size), [IR_RT_SECTION, IR_RT_STATIC])
    ov_model.set_rt_info(precision, [IR_RT_SECTION, IR_RT_PRECISION])


def save_ir(
    ov_model: Any,
    xml_path: str | os.PathLike[str],
    config: MGDNConfig,
    precision: str,
    static_size: tuple[int, int] | None = None,
    compress_to_fp16: bool = False,
) -> Path:
    """Annotate ``ov_model`` and save it as ``xml_path`` (+ the .bin beside it); return the .xml path.

    ``precision="fp16"`` always stores FP16-compressed weights (``compress_to_fp16`` is implied):
    a file labelled fp16 whose weights are f32 would make reports lie. ``ov.save_model`` itself
    compresses by default, so the flag is always passed explicitly here.
    """
    import openvino as ov

    xml_path = Path(xml_path)
    if xml_path.suffix.lower() != IR_SUFFIX:
        raise BackendError(f"an OpenVINO IR is saved as a {IR_SUFFIX} file, got {xml_path}")
    compress = bool(compress_to_fp16) or precision == "fp16"
    annotate(ov_model, config, precision, static_size)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    # save_model writes the .bin beside the .xml it is given: the temporary pair shares one stem.
    try:
        with atomic_files(ir_weights(xml_path), xml_path) as (tmp_bin, tmp_xml):
            ov.save_model(ov_model, str(tmp_xml), compress_to_fp16=compress)
            if not tmp_bin.is_file():
                raise BackendError(f"OpenVINO wrote no weights file beside {tmp_xml.name}")
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"cannot save the OpenVINO IR {xml_path}: {ov_error_line(exc)}") from exc
    return xml_path


_NOISE = re.compile(
    r"^(Exception from \S+:\d+:|Check '.*' failed at \S+:\d+:|FrontEnd API failed with \w+:"
    r"|While validating .*:$)\s*"
)
_FAILED_OP = re.compile(r"^-- (\S+) with a message:$")


def _reasons(lines: list[str]) -> list[str]:
    """Per failed op of a conversion log, its own last message line (the op's validation text)."""
    reasons, op, last = [], None, ""
    for line in [*lines, "-- end with a message:"]:
        if (match := _FAILED_OP.match(line)) or line == "Summary:":
            if op and last:
                reasons.append(last if last.startswith(op.rsplit(".", 1)[-1] + ":") else f"{op}: {last}")
            op, last = (match.group(1) if match else None), ""
            if line == "Summary:":
                break
        elif op and (text := _NOISE.sub("", line)):
            last = text
    return reasons


def ov_error_line(exc: BaseException) -> str:
    """OpenVINO's multi-line exception text cut to the line that says what went wrong.

    Its messages open with C++ source locations ("Exception from src/...:84:"); a frontend
    conversion failure ends with a "Summary:" block naming the failed ops, while the reason each
    op gave (e.g. our DynamicFilter's "kernels have 48 channels, expected kernel_size^2 = 49")
    sits in the detailed log above it: both are kept.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if "Summary:" in lines:
        summary = "; ".join(line.lstrip("- ") for line in lines[lines.index("Summary:") + 1 :])
        reasons = _reasons(lines)
        return f"{summary} ({'; '.join(reasons)})" if reasons else summary
    for line in lines:
        text = _NOISE.sub("", line)
        while text != (stripped := _NOISE.sub("", text)):
            text = stripped
        if text:
            return text
    return type(exc).__name__


def _rt_text(ov_model: Any, path: list[str]) -> str | None:
    if not ov_model.has_rt_info(path):
        return None
    return str(ov_model.get_rt_info(path).astype(str))


def read_ir_description(ov_model: Any, source: str | os.PathLike[str] = "the model") -> IrDescription:
    """The config / static size / precision saved by :func:`save_ir` (BackendError when absent)."""
    text = _rt_text(ov_model, [IR_RT_SECTION, IR_RT_CONFIG])
    if not text:
        raise BackendError(
            f"{source} carries no MGDN config (rt_info {IR_RT_SECTION}/{IR_RT_CONFIG}); convert it with "
            f"`mgdn-edge convert --runtime openvino`"
        )
    try:
        config = MGDNConfig.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise BackendError(f"{source} has an unreadable MGDN config in its rt_info: {exc}") from exc
    static = _rt_text(ov_model, [IR_RT_SECTION, IR_RT_STATIC]) or ""
    precision = (_rt_text(ov_model, [IR_RT_SECTION, IR_RT_PRECISION]) or "fp32").lower()
    if precision not in PRECISIONS:
        raise BackendError(f"{source} records an unknown precision {precision!r} in its rt_info")
    return IrDescription(config, Size.parse(static, IR_RT_STATIC) if static else None, precision)


def _needs_extension(exc: BaseException) -> bool:
    """Whether a read failure is OpenVINO not knowing the mgdn.DynamicFilter op."""
    text = str(exc)
    return OP_TYPE in text and ("No conversion rule" in text or "unsupported opset" in text)


def read_model(
    core: Any,
    path: str | os.PathLike[str],
    extension: str | os.PathLike[str] | None = None,
    auto_build: bool = True,
) -> tuple[Any, Path | None]:
    """Read an .onnx / IR into ``core``; return (model, extension library loaded or None).

    The extension is loaded up front when ``extension`` names it (so a wrong path fails even for a
    model without the op) or an ONNX file holds the op, else only when an IR turns out to need it:
    OpenVINO does not fall back to the op's ONNX function body, so without the library such a model
    cannot be read.
    See :func:`mgdn_edge.plugins.openvino_ext.ensure_openvino_extension` for the build-on-demand.
    """
    from mgdn_edge.plugins.openvino_ext import ensure_openvino_extension, load_openvino_extension

    path = Path(path)
    loaded: Path | None = None
    # load_checked_onnx gives the verdict every runtime gives an ONNX file's custom nodes. A file
    # with the op is read with the library loaded: OpenVINO's ONNX frontend can crash the process
    # (not only fail) converting the nodes after an op it does not know.
    proto = load_checked_onnx(path) if path.suffix.lower() == ONNX_SUFFIX else None
    holds_op = proto is not None and any(is_filter_node(n) for n in proto.graph.node)
    if extension is not None or holds_op:
        loaded = load_openvino_extension(core, ensure_openvino_extension(extension, auto_build=auto_build))
    try:
        if holds_op:  # the extension is loaded: its ops can take the attention and filter layouts
            return core.read_model(_with_extension_ops(proto, path), b""), loaded
        return core.read_model(str(path)), loaded
    except Exception as exc:
        if loaded is not None or not _needs_extension(exc):
            raise BackendError(f"OpenVINO cannot read {path}: {ov_error_line(exc)}") from exc
    loaded = load_openvino_extension(core, ensure_openvino_extension(None, auto_build=auto_build))
    try:
        return core.read_model(str(path)), loaded
    except Exception as exc:
        raise BackendError(f"OpenVINO cannot read {path}: {ov_error_line(exc)}") from exc


def _with_extension_ops(proto: Any, path: Path) -> bytes:
    """The bytes of ``proto`` (read from ``path``), its external data loaded, with each window
    attention as one WindowAttention node and each filter as a channels-last one."""
    load_external_data_for_model(proto, str(path.parent))
    fuse_window_attention(proto)
    filter_channels_last(proto)
    return proto.SerializeToString()


FILTER_OPS = (OP_TYPE, CHANNELS_LAST_OP)
"""The extension's DynamicFilter ops: planar as exported, channels-last as OpenVINO reads it."""


def count_filter_ops(ov_model: Any) -> int:
    return sum(op.get_type_name() in FILTER_OPS for op in ov_model.get_ops())


def onnx_metadata(ov_model: Any) -> dict[str, str]:
    """ONNX ``metadata_props`` of a model OpenVINO read from .onnx (its ``rt_info["framework"]``)."""
    if not ov_model.has_rt_info(["framework"]):
        return {}
    section = ov_model.get_rt_info(["framework"])
    try:
        items = section.astype(dict)
    except Exception:  # not a map: no ONNX metadata recorded
        return {}
    return {str(k): str(v.astype(str) if hasattr(v, "astype") else v) for k, v in items.items()}
