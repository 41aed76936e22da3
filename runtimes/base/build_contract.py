"""The one call contract of every builder capability: ``BuildRequest -> BuildResult``.

A backend record names its builders (``convert``, ``quantize``, ``engine``; see
:mod:`.record`), and each builder function takes one :class:`BuildRequest` and returns one
:class:`BuildResult`, so the pipeline and the CLIs call any of them the same way
(:meth:`Builder.build <mgdn_edge.runtimes.base.record.Builder.build>`). What only one capability
takes (calibration data, an engine's shape profile, an extension library) travels in the
request's ``options``: a small dataclass per capability, defined beside the builder that reads
it; ``None`` means that capability's defaults.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BuildRequest:
    """What to build: from which export, into which file, at which precision, with which options."""

    source: Path  # the export folder (or a file in it) the artefact is made from
    out: Path  # the artefact to write (a folder: the builder's default file name in it)
    precision: str  # the precision of the artefact
    options: Any = None  # the capability's options dataclass; None: its defaults


@dataclass(frozen=True)
class BuildResult:
    """What was built: the artefact a runtime opens, and how it was made.

    ``details`` is the capability's own record (the engine's sidecar facts, the quantization's
    accuracy and float layers, the conversion's source) for the command that prints it;
    :meth:`info` is the same as JSON types, for the pipeline's build records.
    """

    path: Path  # the artefact a runtime opens
    precision: str
    seconds: float  # wall time of the build
    details: Any = None  # a dataclass, or a dict of JSON types
    notes: tuple[str, ...] = field(default=())  # one line each: how the build ran

    def info(self) -> dict[str, Any]:
        """``details`` as JSON types (paths and other objects as strings)."""
        data = self.details
        if dataclasses.is_dataclass(data) and not isinstance(data, type):
            data = dataclasses.asdict(data)
        return json.loads(json.dumps(data or {}, default=str))
