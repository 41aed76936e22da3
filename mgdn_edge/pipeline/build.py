"""Each variant's artefact under ``variants/<name>/``: made once, reused while its inputs hold.

Checkpoint, export and reuse variants point at files that already exist. Variants whose
artefact a backend builder makes (``convert``, ``quantize``, ``engine``: see the backend
records) are built in a worker process (:mod:`mgdn_edge.pipeline.worker`), so a crash in a
native library fails that variant only; calibration uses the calibration split only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgdn_edge.atomic import write_json
from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.export.artefacts import CHECKPOINT_FILE, FP16_ONNX, MANIFEST_FILE, MODEL_ONNX
from mgdn_edge.pipeline.cache import (
    artefact_records,
    artefacts_intact,
    cache_key,
    read_record,
    relative,
    tool_versions,
)
from mgdn_edge.pipeline.catalogue import BUILDER_KINDS, Variant
from mgdn_edge.pipeline.state import BOOKKEEPING, BUILD_LOG, BUILD_RECORD, RunState
from mgdn_edge.pipeline.worker import run_in_worker
from mgdn_edge.runtimes.backends import get_backend
from mgdn_edge.runtimes.build_contract import BuildRequest
from mgdn_edge.size import Size


def _build_key(state: RunState, variant: Variant) -> str:
    builder = variant.builder()
    parts: dict[str, Any] = {
        "variant": variant.name,
        "build": variant.build,
        "precision": variant.precision,
        "export": state.export_key if variant.build != "checkpoint" else None,
        "checkpoint": state.checkpoint_sha,
        "versions": tool_versions(
            get_backend(variant.runtime).package, *(builder.requires if builder else ()), "onnx"
        ),
    }
    if variant.build == "quantize":
        parts["calibration"] = [state.data["key"], state.data["calib_items"]]
    if variant.source:
        parts["source"] = state.built.get(variant.source, {}).get("key")
    return cache_key(parts)


def _source_record(state: RunState, variant: Variant) -> dict[str, Any]:
    source = state.built.get(variant.source or "")
    if source is None:
        raise BackendError(f"needs variant {variant.source}, which did not build")
    return source


def _worker_job(state: RunState, variant: Variant, vdir: Path) -> dict[str, Any]:
    """The job a build worker runs for ``variant``: its builder, the export, the calibration data."""
    root = state.out
    return {
        "runtime": variant.runtime,
        "build": variant.build,
        "precision": str(variant.precision),
        "out_dir": str(vdir),
        "task": state.task,
        "data": {
            "spec": state.options.data,
            "crop": state.data.get("crop"),
            "seed": state.options.seed,
            "items": state.data.get("calib_items"),
        },
        # a builder reads a folder: the export, or the source variant's (the QDQ files for int8)
        "source_dir": str(
            (root / _source_record(state, variant)["model"]).parent if variant.source else state.export_dir
        ),
    }


def build_step(state: RunState, variant: Variant) -> dict[str, Any]:
    """Artefacts of ``variant`` (reused when its key and hashes match); raises on failure."""
    vdir, root = state.variant_dir(variant.name), state.out
    key = _build_key(state, variant)
    record = read_record(vdir / BUILD_RECORD)
    if (
        not state.options.force
        and record is not None
        and record.get("key") == key
        and artefacts_intact(record["artefacts"], root)
    ):
        return {**record, "cached": True}
    if vdir.exists():
        shutil.rmtree(vdir)
    vdir.mkdir(parents=True)
    info: dict[str, Any] = {}
    if variant.build == "checkpoint":
        model = vdir / CHECKPOINT_FILE
        shutil.copyfile(state.checkpoint, model)
        files = [model]
    elif variant.build == "export":
        model = state.export_dir / MODEL_ONNX
        files = [model, state.export_dir / MANIFEST_FILE]
    elif variant.build == "export-fp16":
        model = state.export_dir / FP16_ONNX
        files = [model]
    elif variant.build == "reuse":
        source = _source_record(state, variant)
        model = root / source["model"]
        files = [root / a["path"] for a in source["artefacts"]]
    else:
        job = _worker_job(state, variant, vdir)
        produced = run_in_worker("build", job, vdir / BUILD_LOG, state.options.timeout_s)
        model = Path(produced["model"])
        info = produced.get("info", {})
        files = sorted(p for p in vdir.iterdir() if p.is_file() and p.name not in BOOKKEEPING)
    record = {
        "key": key,
        "model": relative(model, root),
        "artefacts": artefact_records(files, root),
        "info": info,
        "run_id": state.run_id,
    }
    write_json(vdir / BUILD_RECORD, record)
    return {**record, "cached": False}


def run_build_job(job: dict[str, Any]) -> dict[str, Any]:
    """Inside the build worker: make one variant's artefact with its backend's builder.

    The builder writes into the variant's folder under its own default file name; a quantize
    builder also gets the calibration split as its options, the others their defaults.
    """
    if job["build"] not in BUILDER_KINDS:
        raise InputError(f"unknown build kind {job['build']!r}")
    builder = get_backend(job["runtime"]).builder(job["build"])
    options = _OPTIONS.get(job["build"], lambda job: None)(job)
    request = BuildRequest(Path(job["source_dir"]), Path(job["out_dir"]), job["precision"], options)
    result = builder.build(request)
    return {"model": str(result.path), "info": result.info()}


def _quantize_options(job: dict[str, Any]) -> Any:
    """A quantize builder's options: the run's calibration items, decoded as the data spec says."""
    from mgdn_edge.calibration import open_source
    from mgdn_edge.calibration.quantize_request import QuantizeOptions

    data = job["data"]
    crop = None if data["crop"] is None else str(Size.parse(data["crop"]))
    source = open_source(job["task"], data["spec"], crop=crop, seed=data["seed"]).subset(data["items"])
    return QuantizeOptions(source)


# Options a builder kind takes from the pipeline's job (kinds not listed take their defaults).
_OPTIONS: dict[str, Callable[[dict[str, Any]], Any]] = {"quantize": _quantize_options}
