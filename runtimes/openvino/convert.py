"""Convert an exported ONNX model to an OpenVINO IR (``model.xml`` + ``model.bin``).

The IR keeps ``mgdn.DynamicFilter`` as one op (type ``DynamicFilterNHWC``, opset ``mgdn``: the
channels-last form OpenVINO reads ``model.onnx`` in), so it is as fast as the ONNX file in
OpenVINO and needs the same extension library when loaded. What a
runtime needs to know (config, static size, precision) goes into the IR's rt_info
(:mod:`mgdn_edge.runtimes.openvino.ir`), because the .xml/.bin pair often travels without the
export folder's manifest. ``fp16`` stores FP16-compressed weights (half the file); INT8 IRs come
from NNCF quantization in :mod:`mgdn_edge.calibration`, not from here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import IR_SUFFIX, IR_XML, METADATA_PRECISION_KEY, ir_weights
from mgdn_edge.runtimes.base import model_description, resolve_onnx_path
from mgdn_edge.runtimes.base.build_contract import BuildRequest, BuildResult
from mgdn_edge.runtimes.openvino.ir import count_filter_ops, onnx_metadata, read_model, save_ir
from mgdn_edge.runtimes.openvino.record import OPENVINO


@dataclass(frozen=True)
class ConvertOptions:
    """What a conversion takes beyond source, output and precision: the extension library
    (None: found as ``fuse`` finds it)."""

    extension: str | os.PathLike[str] | None = None


def convert_build(request: BuildRequest) -> BuildResult:
    """The OpenVINO convert builder (the backend record names it): :func:`convert_to_openvino`."""
    options = request.options or ConvertOptions()
    start = time.perf_counter()
    out = convert_to_openvino(request.source, request.out, request.precision, options.extension)
    details = {"converted_from": str(request.source), "weights": request.precision}
    return BuildResult(out, request.precision, time.perf_counter() - start, details)


def convert_to_openvino(
    model_path: str | os.PathLike[str],
    out_xml: str | os.PathLike[str],
    precision: str = "fp32",
    extension: str | os.PathLike[str] | None = None,
) -> Path:
    """ONNX file or export folder -> IR at ``out_xml`` (a folder gets ``model.xml``); return its path.

    The pair is written under temporary names and renamed into place, so a failed conversion
    leaves no file that a later run could pick up.
    """
    try:
        import openvino as ov
    except ImportError as exc:
        raise BackendError("openvino is not installed (pip install 'mgdn-edge[openvino]')") from exc
    precision = precision.lower()
    writes = OPENVINO.builder("convert").precisions
    if precision not in writes:
        raise BackendError(
            f"convert --runtime openvino writes {' or '.join(writes)}, not {precision!r} "
            f"(INT8 IRs come from NNCF quantization; bf16 is an execution mode: run with --precision bf16)"
        )
    source = resolve_onnx_path(model_path)
    out = Path(out_xml)
    if out.is_dir():
        out = out / IR_XML
    if out.suffix.lower() != IR_SUFFIX:
        raise BackendError(f"the IR is written as a .xml file (with a .bin beside it), got {out}")
    core = ov.Core()
    model, _ = read_model(core, source, extension)
    metadata = onnx_metadata(model)
    config, static = model_description(source, metadata, None)
    file_precision = metadata.get(METADATA_PRECISION_KEY, "fp32") or "fp32"
    if file_precision != "fp32":
        raise BackendError(f"{source} is an {file_precision} model; convert the fp32 export instead")
    return save_ir(model, out, config, precision, static, compress_to_fp16=precision == "fp16")


def describe_ir(xml_path: Path, extension: str | os.PathLike[str] | None = None) -> str:
    """One line about a written IR: size and how many DynamicFilter ops it keeps."""
    import openvino as ov

    core = ov.Core()
    model, _ = read_model(core, xml_path, extension)
    size = sum(p.stat().st_size for p in (xml_path, ir_weights(xml_path)))
    return f"{size / 1e6:.1f} MB, {count_filter_ops(model)} DynamicFilter ops"
