"""Which variants the pipeline knows, which the user asked for, and which this machine can build.

A variant is one deployable form of the model: a backend (its :class:`~mgdn_edge.runtimes.
backends.Backend` record) running one artefact at one precision. How the artefact is made is
the variant's ``build`` kind; for ``convert``, ``quantize`` and ``engine`` the backend record
names the builder, so nothing here knows a backend's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.errors import InputError
from mgdn_edge.export.artefacts import FP16_ONNX
from mgdn_edge.precision import Precision
from mgdn_edge.results import REFERENCE_VARIANT
from mgdn_edge.runtimes.backends import Builder, get_backend

FP32, FP16, BF16, INT8 = Precision.FP32, Precision.FP16, Precision.BF16, Precision.INT8
# Artefacts made by a backend's builder, named as the Backend record's fields.
BUILDER_KINDS = ("convert", "quantize", "engine")


@dataclass(frozen=True)
class Variant:
    """One deployable form of the model: which runtime opens which artefact at which precision."""

    name: str
    label: str
    runtime: str
    precision: Precision
    build: str  # checkpoint | export | export-fp16 | reuse | one of BUILDER_KINDS
    source: str | None = None  # reuse / engine: the variant whose artefact this one runs or builds from

    def builder(self) -> Builder | None:
        """The backend's builder for this variant's artefact (None for checkpoint/export/reuse)."""
        return getattr(get_backend(self.runtime), self.build) if self.build in BUILDER_KINDS else None


VARIANTS: tuple[Variant, ...] = (
    Variant(REFERENCE_VARIANT, "PyTorch FP32 (reference)", "torch", FP32, "checkpoint"),
    Variant("ort-fp32", "ONNX Runtime FP32", "onnxruntime", FP32, "export"),
    Variant("ort-fp16", "ONNX Runtime FP16 graph", "onnxruntime", FP16, "export-fp16"),
    Variant("ort-int8", "ONNX Runtime INT8 (QDQ)", "onnxruntime", INT8, "quantize"),
    Variant("ov-fp32", "OpenVINO FP32 IR", "openvino", FP32, "convert"),
    Variant("ov-fp16", "OpenVINO FP16 IR", "openvino", FP16, "convert"),
    Variant("ov-bf16", "OpenVINO BF16 (FP32 IR, bf16 hint)", "openvino", BF16, "reuse", source="ov-fp32"),
    Variant("ov-int8", "OpenVINO INT8 (NNCF)", "openvino", INT8, "quantize"),
    Variant("trt-fp32", "TensorRT FP32", "tensorrt", FP32, "engine"),
    Variant("trt-fp16", "TensorRT FP16", "tensorrt", FP16, "engine"),
    Variant("trt-int8", "TensorRT INT8 (QDQ)", "tensorrt", INT8, "engine", source="ort-int8"),
)


def select_variants(requested: Sequence[str] | None) -> list[Variant]:
    """Variants named directly or through their runtime (or its alias), plus those they build on.

    The PyTorch reference is always included: every speed-up and parity figure is relative to it.
    """
    catalogue = VARIANTS
    if not requested:
        return list(catalogue)
    wanted: set[str] = {REFERENCE_VARIANT}
    for item in requested:
        matched = [v.name for v in catalogue if item.lower() == v.name or _names_runtime(item, v)]
        if not matched:
            runtimes = sorted({v.runtime for v in catalogue})
            raise InputError(
                f"unknown runtime or variant {item!r}; runtimes: {', '.join(runtimes)}; "
                f"variants: {', '.join(v.name for v in catalogue)}"
            )
        wanted.update(matched)
    by_name = {v.name: v for v in catalogue}
    pending = list(wanted)
    while pending:  # a variant that runs another one's artefact (bf16 on the FP32 IR) needs that one
        source = by_name[pending.pop()].source
        if source and source not in wanted:
            wanted.add(source)
            pending.append(source)
    return [v for v in catalogue if v.name in wanted]


def _names_runtime(item: str, variant: Variant) -> bool:
    backend = get_backend(variant.runtime)
    return item.lower() in (backend.name, *backend.aliases)


def unavailable_reason(variant: Variant, export_dir: Path | None = None) -> str | None:
    """Why ``variant`` cannot be built on this machine now, or None if it can be tried."""
    reason = get_backend(variant.runtime).unavailable_reason(variant.precision)
    if reason is not None:
        return reason
    builder = variant.builder()
    if builder is not None:
        return builder.unavailable_reason(variant.precision)
    if variant.build == "export-fp16" and export_dir is not None and not (export_dir / FP16_ONNX).is_file():
        return f"not available: the export wrote no {FP16_ONNX}"
    return None


def default_model() -> Path:
    """The bundled demo HDR checkpoint."""
    from mgdn_edge.assets import demo_model_path

    path = Path(demo_model_path())
    if not path.is_file():
        raise InputError(f"the demo model {path} is missing; pass --model CKPT")
    return path
