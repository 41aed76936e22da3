"""The two steps every variant shares: the data split with its reference outputs, and the export.

``data/``: the calibration/evaluation split of ``--data`` (disjoint, checked by
:func:`mgdn_edge.calibration.split`; ``split.json``) and ``eval.npz``: the evaluation inputs,
their ground truth and the PyTorch FP32 reference outputs, computed once. It runs first, so bad
data fails the run before anything slow has happened.

``export/``: what ``mgdn-edge export`` writes, verified against PyTorch by the exporter itself,
built in a temporary folder and renamed into place whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mgdn_edge.atomic import atomic_files, write_json
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.pipeline.cache import (
    artefact_records,
    artefacts_intact,
    cache_key,
    data_fingerprint,
    read_record,
    tool_versions,
)
from mgdn_edge.pipeline.state import RunState

if TYPE_CHECKING:
    from mgdn_edge.calibration.base import Sample
    from mgdn_edge.calibration.splits import Split

MAX_DEFAULT_CALIB, MAX_DEFAULT_EVAL = 16, 8
EXPORT_RECORD = "export.json"
DATA_RECORD = "data.json"
EVAL_NPZ = "eval.npz"


def export_step(state: RunState) -> None:
    from mgdn_edge.export.onnx_export import export_checkpoint

    opts = state.options
    out = state.out / "export"
    key = cache_key(
        {"checkpoint": state.checkpoint_sha, "versions": tool_versions("torch", "onnx", "onnxsim")}
    )
    record = read_record(state.out / EXPORT_RECORD)  # beside the export: the folder holds the export only
    reuse = (
        not opts.force
        and record is not None
        and record.get("key") == key
        and artefacts_intact(record.get("artefacts", []), state.out)
        and (record.get("verified") or not opts.verify_export)  # a verified export serves both
    )
    if not reuse:
        # The exporter builds and verifies its folder beside ``out`` and swaps it in whole.
        result = export_checkpoint(state.checkpoint, out, task=state.task, verify=opts.verify_export)
        files = sorted(p for p in out.iterdir() if p.is_file())
        record = {
            "key": key,
            "artefacts": artefact_records(files, state.out),
            "run_id": state.run_id,
            "verified": opts.verify_export,
            "verification_max_abs": result.manifest.verification_max_abs,
        }
        write_json(state.out / EXPORT_RECORD, record)
    assert record is not None
    state.export_dir, state.export_key = out, cache_key(record["artefacts"])


def _data_key(state: RunState, crop: tuple[int, int] | None, parts: Split) -> str:
    """The cache key of the data step: checkpoint, data, crop, seed, split, threads and torch version."""
    opts = state.options
    return cache_key(
        {
            "checkpoint": state.checkpoint_sha,
            "data": data_fingerprint(opts.data),
            "crop": crop,
            "seed": opts.seed,
            "calib": parts.calib,
            "eval": parts.eval,
            "threads": opts.threads,
            "versions": tool_versions("torch"),
        }
    )


def _reference_arrays(state: RunState, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
    """The eval.npz arrays: each sample's inputs, its PyTorch reference output and its target if any."""
    from tqdm import tqdm

    from mgdn_edge.runtimes import open_runtime

    opts = state.options
    reference = open_runtime("torch", state.checkpoint, task=state.task, threads=opts.threads)
    arrays: dict[str, np.ndarray] = {"names": np.array([s.name for s in samples])}
    for i, sample in enumerate(
        tqdm(samples, desc="reference outputs", unit="sample", disable=not opts.progress)
    ):
        for j, x in enumerate(sample.inputs):
            arrays[f"s{i}_in{j}"] = x
        arrays[f"s{i}_ref"] = reference.run(sample.inputs)
        if sample.target is not None:
            arrays[f"s{i}_target"] = sample.target
    return arrays


def data_step(state: RunState) -> None:
    """Split the data, load the evaluation samples, compute the reference outputs once (eval.npz)."""
    from mgdn_edge.calibration import open_source, split

    opts = state.options
    src = open_source(state.task, opts.data, crop=opts.crop, seed=opts.seed)
    n = len(src.items)
    n_eval = opts.eval if opts.eval is not None else min(MAX_DEFAULT_EVAL, max(1, n // 3))
    n_calib = opts.calib if opts.calib is not None else min(MAX_DEFAULT_CALIB, n - n_eval)
    parts = split(src, n_calib, n_eval, seed=opts.seed)  # raises if the sets would overlap
    out = state.out / "data"
    key = _data_key(state, src.crop, parts)
    record = read_record(out / DATA_RECORD)
    npz = out / EVAL_NPZ
    if (
        not opts.force
        and record is not None
        and record.get("key") == key
        and npz.is_file()
        and sha256_file(npz) == record.get("eval_sha256")
    ):
        state.data = record
        return
    _, eval_src = parts.sources(src)
    samples = eval_src.load(progress=opts.progress, desc="loading evaluation samples")
    arrays = _reference_arrays(state, samples)
    out.mkdir(parents=True, exist_ok=True)
    parts.save(out / "split.json")
    with atomic_files(npz) as (tmp,):
        np.savez(tmp, **arrays)
    state.data = {
        "spec": opts.data,
        "crop": None if src.crop is None else list(src.crop),
        "seed": opts.seed,
        "calib_items": parts.calib,
        "eval_items": parts.eval,
        "disjoint": True,  # Split.__post_init__ ran check_disjoint
        "key": key,
        "has_ground_truth": all(s.target is not None for s in samples),
        "eval_sha256": sha256_file(npz),
        "eval_size": list(samples[0].size),
    }
    write_json(out / DATA_RECORD, state.data)
