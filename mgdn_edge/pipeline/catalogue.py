"""Which variants the pipeline knows, which the user asked for, and which this machine can build.

A variant is one deployable form of the model: a backend (its :class:`~mgdn_edge.runtimes.
backends.Backend` record) running one artefact at one precision. The records list their
variants (``Backend.variants``) and name the builder of each artefact, so nothing here knows a
backend: a backend registered later (a plugin) brings its variants with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import REFERENCE_VARIANT
from mgdn_edge.export.artefacts import FP16_ONNX
from mgdn_edge.runtimes.backends import BACKENDS, Builder, get_backend

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


def all_variants() -> tuple[Variant, ...]:
    """Every variant the backend records offer (``Backend.variants``), in the records' order."""
    return tuple(
        Variant(spec.name, spec.label, backend.name, spec.precision, spec.build, spec.source)
        for backend in BACKENDS.values()
        for spec in backend.variants
    )


def select_variants(requested: Sequence[str] | None) -> list[Variant]:
    """Variants named directly or through their runtime (or its alias), plus those they build on.

    The PyTorch reference is always included: every speed-up and parity figure is relative to it.
    """
    catalogue = all_variants()
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
