"""Run records written by the native runner on a device (``mgdn-fuse --json RUN.json``).

Schema ``mgdn-edge.device-run/1`` (documented in docs/jetson.md): the device's name, the runtime
and precision that ran, the task, the model, the input files and the ``--raw`` output (each as
``{"path", "sha256"}``, paths relative to the record's folder where they lay under it), the HDR
exposures, the tile grid, and per ``--bench`` size the first call, warm-up and timed runs.

Reading one checks what the PC can check: the schema, the fields the judging needs, and that
every file it will use is the very file the device read or wrote (same sha256), so a copy that
was truncated on the way back, or inputs that differ from the device's, are refused by name
instead of being judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.size import Size
from mgdn_edge.report.schema_json import read_record

DEVICE_RUN_SCHEMA = "mgdn-edge.device-run/1"


@dataclass(frozen=True)
class RecordedFile:
    path: str  # as recorded (relative to the record's folder where it lay under it)
    sha256: str


@dataclass(frozen=True)
class BenchEntry:
    size: Size
    first_ms: float
    warmup: int
    repeats: int
    times_ms: list[float]
    peak_rss_mb: float | None = None
    peak_device_mb: float | None = None


@dataclass(frozen=True)
class DeviceRun:
    """One run record, with the folder it was read from (where its relative paths start)."""

    source: Path
    device: str
    runtime: str
    backend_device: str
    precision: str
    task: str
    runner: str
    model: RecordedFile
    inputs: list[RecordedFile]
    raw: RecordedFile | None
    exposures: list[float] | None = None
    tile: Size | None = None
    overlap: int | None = None
    bench: list[BenchEntry] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file(value: Any, where: str) -> RecordedFile:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("path"), str)
        or not isinstance(value.get("sha256"), str)
    ):
        raise InputError(f"{where} must be an object with 'path' and 'sha256'")
    return RecordedFile(value["path"], value["sha256"])


def _bench(row: Any, where: str) -> BenchEntry:
    try:
        times = [float(t) for t in row["times_ms"]]
        entry = BenchEntry(
            Size.parse(row["size"], f"{where} size"),
            float(row["first_ms"]),
            int(row["warmup"]),
            int(row["repeats"]),
            times,
            row.get("peak_rss_mb"),
            row.get("peak_device_mb"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where} is not a benchmark row ({type(exc).__name__}: {exc})") from None
    if not times:
        raise InputError(f"{where} has no timed runs")
    return entry


def load_device_run(path: str | Path) -> DeviceRun:
    """Read and check a run record; a wrong or incomplete file is one InputError naming it."""
    path = Path(path)
    data = read_record(
        path,
        DEVICE_RUN_SCHEMA,
        "a device run record",
        "device run record",
        "; write one with mgdn-fuse --json",
    )
    missing = [
        k for k in ("device", "runtime", "precision", "task", "model", "inputs", "raw") if k not in data
    ]
    if missing:
        raise InputError(f"{path} lacks {', '.join(missing)}")
    tile = data.get("tile")
    return DeviceRun(
        source=path,
        device=str(data["device"]),
        runtime=str(data["runtime"]),
        backend_device=str(data.get("backend_device") or ""),
        precision=str(data["precision"]),
        task=str(data["task"]),
        runner=str(data.get("runner") or "mgdn-fuse"),
        model=_file(data["model"], f"{path}: model"),
        inputs=[_file(f, f"{path}: inputs[{i}]") for i, f in enumerate(data["inputs"] or [])],
        raw=None if data["raw"] is None else _file(data["raw"], f"{path}: raw"),
        exposures=None if data.get("exposures") is None else [float(e) for e in data["exposures"]],
        tile=None if tile is None else Size.parse(tile, f"{path}: tile"),
        overlap=data.get("overlap"),
        bench=[_bench(row, f"{path}: bench[{i}]") for i, row in enumerate(data.get("bench") or [])],
    )


def locate(run: DeviceRun, recorded: RecordedFile, what: str, search: Sequence[Path] = ()) -> Path:
    """The file on this PC with the recorded sha256: at its recorded path (relative to the record's
    folder, or as given), or by name in the record's folder or a ``search`` folder."""
    given = Path(recorded.path)
    candidates = [run.source.parent / given, given, run.source.parent / given.name]
    candidates += [Path(folder) / given.name for folder in search]
    found_other = None
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            if sha256_of(candidate) == recorded.sha256:
                return candidate
            found_other = found_other or candidate
    if found_other is not None:
        verb = "wrote" if what == "raw output" else "read"
        raise InputError(
            f"{what} {found_other} differs from the file the device {verb} "
            f"(sha256 {recorded.sha256[:12]}… recorded in {run.source}): "
            + (
                "copy it back again, whole"
                if what == "raw output"
                else "pass --inputs-dir with the device's files"
            )
        )
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise InputError(f"{what} {recorded.path} of {run.source} not found (looked for {looked})")
