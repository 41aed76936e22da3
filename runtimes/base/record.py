"""The record types a backend is described by: :class:`Backend`, its :class:`Builder`s and the
pipeline :class:`VariantSpec`s it offers.

Every backend's home (``runtimes/<backend>/record.py``) builds its record from these, and the
registry (:mod:`mgdn_edge.runtimes.backends`) gathers the records; plugin packages build theirs the
same way. Records name code as ``"module:attribute"`` strings that are imported only when used,
so reading a record (``mgdn-edge --help``, availability checks) pulls in neither torch nor any
runtime package.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mgdn_edge.core.errors import BackendError
from mgdn_edge.core.precision import Precision
from mgdn_edge.runtimes.base.build_contract import BuildRequest, BuildResult


@dataclass(frozen=True)
class Builder:
    """How a backend makes one kind of artefact from an export folder: ``function`` and what it writes."""

    name: str  # the backend it builds for, as ``--runtime`` names it (``quantize --runtime onnxruntime``)
    function: str  # "module:attribute" of a BuildRequest -> BuildResult function (.build_contract)
    precisions: tuple[Precision, ...]  # the precisions this builder writes
    suffix: str  # the suffix of the file it writes
    requires: tuple[str, ...] = ()  # Python packages it needs beyond the backend's own

    def unavailable_reason(self, precision: str) -> str | None:
        """Why this builder cannot make a ``precision`` artefact here, or None."""
        if Precision.parse(precision) not in self.precisions:
            built = ", ".join(map(str, self.precisions))
            return f"not available: the {self.name} builder makes {built}, not {precision}"
        missing = [p for p in self.requires if _missing_module(p)]
        if missing:
            return f"not available: Python package {missing[0]!r} is not installed"
        return None

    def build(self, request: BuildRequest) -> BuildResult:
        """Make the artefact ``request`` asks for (imports the builder's module now)."""
        return load_attribute(self.function)(request)


@dataclass(frozen=True)
class VariantSpec:
    """One deployable form a backend offers the pipeline: its artefact at one precision.

    ``build``: how the artefact is made - ``checkpoint`` (the PyTorch file itself), ``export`` /
    ``export-fp16`` (the export's FP32 / FP16 graph), ``reuse`` (``source``'s artefact, run at
    another precision) or the name of one of the backend's builders (``convert``, ``quantize``,
    ``engine``; ``source``: the variant whose artefact an engine is built from).
    """

    name: str  # unique across backends: what `pipeline --runtimes` and the report call it
    label: str
    precision: Precision
    build: str
    source: str | None = None


@dataclass(frozen=True)
class Backend:
    name: str
    label: str  # how reports name it
    runtime: str | Callable[..., Any]  # "module:Class" (or the class) implementing base.Runtime
    package: str  # the Python package the runtime imports
    install: str  # what to install when the package is missing
    precisions: tuple[Precision, ...]  # what the runtime can execute; the first is its default
    aliases: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()  # model files ``--runtime auto`` gives to this backend
    convert: Builder | None = None  # export -> this backend's own format
    quantize: Builder | None = None  # export + calibration data -> a quantized file
    engine: Builder | None = None  # export -> a device-specific engine
    checks: str | None = None  # "module:function(precision) -> reason | None": machine checks
    variants: tuple[VariantSpec, ...] = ()  # what the pipeline builds and measures, in report order
    # INT8 must earn its accuracy cost in speed: (float precision, ratio) - the INT8 variant's p50
    # must be at least ``ratio`` times faster than that float variant's of this backend.
    int8_targets: tuple[tuple[Precision, float], ...] = ()
    profiled: bool = False  # the runtime implements profile_layers (`bench --profile`)

    def unavailable_reason(self, precision: str | None = None) -> str | None:
        """Why this backend (at ``precision``) cannot run on this machine now, or None."""
        if _missing_module(self.package):
            return f"not available: Python package {self.package!r} is not installed ({self.install})"
        if precision is not None and Precision.parse(precision) not in self.precisions:
            return f"not available: {self.name} does not run {precision}"
        if self.checks is not None:
            return load_attribute(self.checks)(precision)
        return None

    def builder(self, kind: str) -> Builder:
        """This backend's ``kind`` builder ("convert", "quantize", "engine"); BackendError if none."""
        found = getattr(self, kind, None)
        if not isinstance(found, Builder):
            raise BackendError(f"{self.name} has no {kind} builder")
        return found

    def runtime_class(self) -> Callable[..., Any]:
        """The runtime class; a missing package is a BackendError that says what to install."""
        if not isinstance(self.runtime, str):
            return self.runtime
        try:
            return load_attribute(self.runtime)
        except ModuleNotFoundError as exc:
            from mgdn_edge.core.extras import MissingExtraError, needs_line

            line = needs_line(f"the {self.label} runtime ({self.name})", exc.name or self.package)
            if line is not None:
                raise MissingExtraError(line) from exc
            raise BackendError(
                f"runtime {self.name!r} needs the Python package {exc.name!r}, which is not installed "
                f"({self.install})"
            ) from exc


def load_attribute(spec: str) -> Any:
    """``"package.module:attribute"`` -> the attribute (imports the module)."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _missing_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True
