"""The pipeline's options and the state its steps hand each other during one run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgdn_edge.core.size import Size
from mgdn_edge.pipeline.bench import (
    DEFAULT_REPEATS,
    DEFAULT_SEED,
    DEFAULT_SIZES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WARMUP,
)

DEFAULT_OUT = "mgdn-edge-out"
DEFAULT_DATA = "synthetic:24"
DEFAULT_CROP = "128x128"
# A variant folder's own records and logs, beside (never among) its artefacts.
BUILD_RECORD, RESULT_RECORD = "build.json", "result.json"
BUILD_LOG, MEASURE_LOG = "build.log", "measure.log"
BOOKKEEPING = {BUILD_RECORD, RESULT_RECORD, BUILD_LOG, MEASURE_LOG}


@dataclass(frozen=True)
class PipelineOptions:
    model: Path | None = None  # None: the bundled demo HDR model
    data: str = DEFAULT_DATA
    crop: str | None = DEFAULT_CROP
    calib: int | None = None
    eval: int | None = None
    seed: int = DEFAULT_SEED
    out: Path = Path(DEFAULT_OUT)
    runtimes: Sequence[str] | None = None  # runtime names/aliases or variant names; None: all
    sizes: Sequence[Size] = DEFAULT_SIZES
    warmup: int = DEFAULT_WARMUP
    repeats: int = DEFAULT_REPEATS
    threads: int | None = None  # None: the CPU count
    force: bool = False
    progress: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify_export: bool = True  # the exporter's own ONNX Runtime vs PyTorch check at three sizes


@dataclass
class RunState:
    """What the steps hand each other during one run (options already resolved)."""

    options: PipelineOptions
    run_id: str
    checkpoint: Path
    checkpoint_sha: str
    task: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    export_dir: Path = Path()
    export_key: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    built: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant -> build record

    @property
    def out(self) -> Path:
        return self.options.out

    def variant_dir(self, name: str) -> Path:
        """Where one variant's artefacts and records live: ``OUT/variants/<name>/``."""
        return self.out / "variants" / name
