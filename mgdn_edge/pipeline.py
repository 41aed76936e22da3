"""``mgdn-edge pipeline``: export, build every variant available here, check and time each, report.

Steps, and where their outputs go under ``OUT``:

1. ``data/``: the calibration/evaluation split of ``--data`` (disjoint, checked by
   :func:`mgdn_edge.calibration.split`; ``split.json``) and ``eval.npz``: the evaluation inputs,
   their ground truth and the PyTorch FP32 reference outputs, computed once. First, so that bad
   data fails the run before anything slow has happened.
2. ``export/``: ``model.onnx``, ``model.portable.onnx``, ``manifest.json`` (+ ``model.fp16.onnx``
   where the exporter writes one), verified against PyTorch by the exporter itself.
3. ``variants/<name>/``: each variant's artefacts (IRs, quantized models, engines). Builds run in a
   worker process (``python -m mgdn_edge.pipeline build ...``) so a crash in a native library
   fails that variant only; calibration uses the calibration split only.
4. Per variant, one worker (:func:`mgdn_edge.bench.run_job_isolated`) opens the runtime, runs the
   parity harness on the evaluation split against the stored reference outputs (and the task
   metric against ground truth), then benchmarks every size.
5. ``results.json`` (what ``mgdn-edge report`` reads), ``report.md``/``.html``/``.json``,
   ``pareto.png``, and ``manifest.json`` with the sha256 of every file written.

Variants that cannot be built here (package missing, no GPU, no bf16 on this CPU, a module not
written yet) are *skipped* with the reason; a variant that was attempted and failed is *failed*
with its one-line error; neither stops the others.

Caching: every step stores the key of its inputs (sha256 of the checkpoint, the options, the
data split, the upstream artefacts' sha256, the tool versions). A re-run reuses a step whose key
and artefact hashes match, so changing only ``--sizes`` re-measures without rebuilding;
``--force`` redoes everything. Failed variants are always retried. A reused measurement keeps the
run id it was made in, and the report marks speed-ups whose two measurements come from
different runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge import __version__
from mgdn_edge.errors import BackendError, InputError, MgdnEdgeError
from mgdn_edge.report import RESULTS_SCHEMA
from mgdn_edge.runtimes.base import sha256_file

DEFAULT_OUT = "mgdn-edge-out"
DEFAULT_DATA = "synthetic:24"
DEFAULT_CROP = "128x128"
DEFAULT_SIZES = ("128x128", "256x256")
DEFAULT_WARMUP = 1
DEFAULT_REPEATS = 5
MAX_DEFAULT_CALIB, MAX_DEFAULT_EVAL = 16, 8
REFERENCE = "torch-fp32"
BOOKKEEPING = {"build.json", "result.json", "build.log", "measure.log"}


@dataclass(frozen=True)
class Variant:
    """One deployable form of the model: which runtime opens which artefact at which precision."""

    name: str
    label: str
    runtime: str
    precision: str
    build: str  # checkpoint | export | export-fp16 | openvino-ir | quantize | reuse | tensorrt
    backend: str | None = None  # quantize: "onnx" | "openvino"
    source: str | None = None  # reuse / tensorrt int8: the variant whose artefact this one runs


VARIANTS: tuple[Variant, ...] = (
    Variant(REFERENCE, "PyTorch FP32 (reference)", "torch", "fp32", "checkpoint"),
    Variant("ort-fp32", "ONNX Runtime FP32", "onnxruntime", "fp32", "export"),
    Variant("ort-fp16", "ONNX Runtime FP16 graph", "onnxruntime", "fp16", "export-fp16"),
    Variant("ort-int8", "ONNX Runtime INT8 (QDQ)", "onnxruntime", "int8", "quantize", backend="onnx"),
    Variant("ov-fp32", "OpenVINO FP32 IR", "openvino", "fp32", "openvino-ir"),
    Variant("ov-fp16", "OpenVINO FP16 IR", "openvino", "fp16", "openvino-ir"),
    Variant("ov-bf16", "OpenVINO BF16 (FP32 IR, bf16 hint)", "openvino", "bf16", "reuse", source="ov-fp32"),
    Variant("ov-int8", "OpenVINO INT8 (NNCF)", "openvino", "int8", "quantize", backend="openvino"),
    Variant("trt-fp32", "TensorRT FP32", "tensorrt", "fp32", "tensorrt"),
    Variant("trt-fp16", "TensorRT FP16", "tensorrt", "fp16", "tensorrt"),
    Variant("trt-int8", "TensorRT INT8 (QDQ)", "tensorrt", "int8", "tensorrt", source="ort-int8"),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
RUNTIME_ALIASES = {"ort": "onnxruntime", "ov": "openvino", "trt": "tensorrt", "pytorch": "torch"}


@dataclass
class PipelineOptions:
    model: Path | None = None
    data: str = DEFAULT_DATA
    crop: str | None = DEFAULT_CROP
    calib: int | None = None
    eval: int | None = None
    seed: int = 0
    out: Path = Path(DEFAULT_OUT)
    runtimes: Sequence[str] | None = None  # runtime names or variant names; None: all
    sizes: Sequence[tuple[int, int]] = ((128, 128), (256, 256))
    warmup: int = DEFAULT_WARMUP
    repeats: int = DEFAULT_REPEATS
    threads: int | None = None
    force: bool = False
    progress: bool = True
    timeout_s: float = 1800.0
    verify_export: bool = True  # the exporter's own ONNX Runtime vs PyTorch check at three sizes


@dataclass
class _State:
    """What the steps hand each other during one run."""

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


# ------------------------------------------------------------------------------------- helpers


def cache_key(value: Any) -> str:
    """sha256 of a canonical JSON rendering: equal inputs, equal key, on every machine."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line if isinstance(exc, MgdnEdgeError) and line else f"{type(exc).__name__}: {line}".rstrip(": ")


def _versions(*packages: str) -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"mgdn-edge": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _artefacts_intact(records: Sequence[dict[str, Any]], root: Path) -> bool:
    for rec in records:
        path = root / rec["path"]
        if not path.is_file() or sha256_file(path) != rec["sha256"]:
            return False
    return True


def _artefact_records(paths: Sequence[Path], root: Path) -> list[dict[str, Any]]:
    return [{"path": _rel(p, root), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths]


def default_model() -> Path:
    """The bundled demo HDR checkpoint."""
    try:
        from mgdn_edge.assets import demo_model_path
    except ModuleNotFoundError:
        raise InputError(
            "no --model given and the demo model is not available (mgdn_edge.assets missing); "
            "pass --model CKPT"
        ) from None
    path = Path(demo_model_path())
    if not path.is_file():
        raise InputError(f"the demo model {path} is missing; pass --model CKPT")
    return path


def select_variants(requested: Sequence[str] | None) -> list[Variant]:
    """Variants named directly or through their runtime, plus the variants they build on.

    The PyTorch reference is always included: every speed-up and parity figure is relative to it.
    """
    if not requested:
        return list(VARIANTS)
    wanted: set[str] = {REFERENCE}
    for item in requested:
        key = RUNTIME_ALIASES.get(item.lower(), item.lower())
        matched = [v.name for v in VARIANTS if key in (v.name, v.runtime)]
        if not matched:
            runtimes = sorted({v.runtime for v in VARIANTS})
            raise InputError(
                f"unknown runtime or variant {item!r}; runtimes: {', '.join(runtimes)}; "
                f"variants: {', '.join(VARIANT_NAMES)}"
            )
        wanted.update(matched)
    by_name = {v.name: v for v in VARIANTS}
    pending = list(wanted)
    while pending:  # a variant that runs another one's artefact (bf16 on the FP32 IR) needs that one
        source = by_name[pending.pop()].source
        if source and source not in wanted:
            wanted.add(source)
            pending.append(source)
    return [v for v in VARIANTS if v.name in wanted]


# ------------------------------------------------------------------------ availability (skips)


def _missing_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def unavailable_reason(variant: Variant, export_dir: Path | None = None) -> str | None:
    """Why ``variant`` cannot be built on this machine now, or None if it can be tried."""
    packages = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
    package = packages.get(variant.runtime)
    if package and _missing_module(package):
        return f"not available: Python package {package!r} is not installed"
    if variant.runtime == "tensorrt":
        return _tensorrt_reason()
    if (
        variant.build == "export-fp16"
        and export_dir is not None
        and not (export_dir / "model.fp16.onnx").is_file()
    ):
        return "not available: the export wrote no model.fp16.onnx"
    if variant.build == "quantize":
        if _missing_module("mgdn_edge.calibration.quantize"):
            return "not available: mgdn_edge.calibration.quantize missing"
        if variant.backend == "openvino" and _missing_module("nncf"):
            return "not available: Python package 'nncf' is not installed"
    if variant.build == "openvino-ir" and _missing_module("mgdn_edge.runtimes.openvino_convert"):
        return "not available: mgdn_edge.runtimes.openvino_convert missing"
    if variant.precision == "bf16" and variant.runtime == "openvino":
        return _openvino_bf16_reason()
    return None


def _openvino_bf16_reason() -> str | None:
    try:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses from C++
        return f"not available: cannot query the OpenVINO CPU device: {one_line(exc)}"
    if "BF16" not in caps:
        return f"not available: this CPU has no bf16 execution in OpenVINO (capabilities: {', '.join(caps)})"
    return None


def _tensorrt_reason() -> str | None:
    if _missing_module("tensorrt"):
        return "not available: Python package 'tensorrt' is not installed"
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:
        return f"not available: import tensorrt failed: {one_line(exc)}"
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    if not has_gpu:
        return "not available: no CUDA GPU"
    if _missing_module("mgdn_edge.runtimes.tensorrt_build"):
        return "not available: mgdn_edge.runtimes.tensorrt_build missing"
    return None


# ------------------------------------------------------------------------------ step: export


def export_step(state: _State) -> None:
    from mgdn_edge.export.onnx_export import export_checkpoint

    out = state.options.out / "export"
    key = cache_key(
        {
            "checkpoint": state.checkpoint_sha,
            "versions": _versions("torch", "onnx", "onnxsim"),
        }
    )
    record = _read_json(out / "export.json")
    reuse = (
        not state.options.force
        and record is not None
        and record.get("key") == key
        and _artefacts_intact(record.get("artefacts", []), state.options.out)
        and (record.get("verified") or not state.options.verify_export)  # a verified export serves both
    )
    if not reuse:
        if out.exists():
            shutil.rmtree(out)
        result = export_checkpoint(state.checkpoint, out, task=state.task, verify=state.options.verify_export)
        files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "export.json")
        record = {
            "key": key,
            "artefacts": _artefact_records(files, state.options.out),
            "run_id": state.run_id,
        }
        record["verified"] = state.options.verify_export
        record["verification_max_abs"] = result.manifest.get("verification_max_abs")
        _write_json(out / "export.json", record)
    state.export_dir, state.export_key = out, cache_key(record["artefacts"])  # type: ignore[index]


# -------------------------------------------------------------------------------- step: data


def _data_fingerprint(spec: str) -> Any:
    """What identifies the data: a synthetic spec itself, a folder by its files' names/sizes/mtimes."""
    root = Path(spec)
    if not root.is_dir():
        return spec
    return [
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def data_step(state: _State) -> None:
    """Split the data, load the evaluation samples, compute the reference outputs once (eval.npz)."""
    from mgdn_edge.calibration import open_source, split

    opts = state.options
    src = open_source(state.task, opts.data, crop=opts.crop, seed=opts.seed)
    n = len(src.items)
    n_eval = opts.eval if opts.eval is not None else min(MAX_DEFAULT_EVAL, max(1, n // 3))
    n_calib = opts.calib if opts.calib is not None else min(MAX_DEFAULT_CALIB, n - n_eval)
    parts = split(src, n_calib, n_eval, seed=opts.seed)  # raises if the sets would overlap
    out = opts.out / "data"
    key = cache_key(
        {
            "checkpoint": state.checkpoint_sha,
            "data": _data_fingerprint(opts.data),
            "crop": src.crop,
            "seed": opts.seed,
            "calib": parts.calib,
            "eval": parts.eval,
            "threads": opts.threads,
            "versions": _versions("torch"),
        }
    )
    info = {
        "spec": opts.data,
        "crop": None if src.crop is None else list(src.crop),
        "seed": opts.seed,
        "calib_items": parts.calib,
        "eval_items": parts.eval,
        "disjoint": True,  # Split.__post_init__ ran check_disjoint
        "key": key,
    }
    record = _read_json(out / "data.json")
    npz = out / "eval.npz"
    fresh = not opts.force and record is not None and record.get("key") == key and npz.is_file()
    if fresh and sha256_file(npz) == record.get("eval_sha256"):  # type: ignore[union-attr]
        state.data = record  # type: ignore[assignment]
        return
    from tqdm import tqdm

    from mgdn_edge.runtimes import open_runtime

    _, eval_src = parts.sources(src)
    samples = eval_src.load(progress=opts.progress, desc="loading evaluation samples")
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
    out.mkdir(parents=True, exist_ok=True)
    parts.save(out / "split.json")
    np.savez(npz, **arrays)
    info["has_ground_truth"] = all(s.target is not None for s in samples)
    info["eval_sha256"] = sha256_file(npz)
    info["eval_size"] = list(samples[0].size)
    _write_json(out / "data.json", info)
    state.data = info


# --------------------------------------------------------------------------- step: evaluation


class _StoredReference:
    """A Runtime whose outputs are the stored PyTorch ones, looked up by the inputs' bytes."""

    name = "torch"

    def __init__(self, config: Any, outputs: dict[str, np.ndarray], description: dict[str, Any]) -> None:
        self.config, self._outputs, self._description = config, outputs, description

    @staticmethod
    def key(inputs: Sequence[np.ndarray]) -> str:
        digest = hashlib.sha1()
        for x in inputs:
            digest.update(np.ascontiguousarray(x).tobytes())
        return digest.hexdigest()

    def run(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._outputs[self.key(inputs)]

    def describe(self) -> dict[str, Any]:
        return self._description


class _Recorder:
    """Passes runs through to a runtime and keeps the outputs (for the ground-truth metrics)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime, self.name, self.config = runtime, runtime.name, runtime.config
        self.outputs: list[np.ndarray] = []

    def run(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        out = self.runtime.run(inputs)
        self.outputs.append(out)
        return out

    def describe(self) -> dict[str, Any]:
        return self.runtime.describe()


def _finite_min(values: Sequence[float | None]) -> float | None:
    """Min of metrics where None means +inf (identical images): None if all are None."""
    finite = [v for v in values if v is not None]
    return min(finite) if finite else None


def evaluate_runtime(runtime: Any, npz_path: str | Path, precision: str) -> dict[str, Any]:
    """Parity on the stored evaluation split (vs the PyTorch reference) + the task metric vs ground truth.

    Runs inside the measuring worker on the already opened runtime. The parity verdict is the
    harness's own (:func:`mgdn_edge.runtimes.parity.run_parity`, budget of ``precision``).
    """
    from mgdn_edge.runtimes.budgets import budget_for
    from mgdn_edge.runtimes.parity import Case, image_metrics, run_parity

    with np.load(npz_path) as data:
        arrays = {k: data[k] for k in data.files}
    names = [str(n) for n in arrays["names"]]
    n_inputs = runtime.config.n_inputs
    cases, refs, targets = [], {}, []
    for i, name in enumerate(names):
        inputs = [arrays[f"s{i}_in{j}"] for j in range(n_inputs)]
        cases.append(Case(name, inputs))
        refs[_StoredReference.key(inputs)] = arrays[f"s{i}_ref"]
        targets.append(arrays.get(f"s{i}_target"))
    task = runtime.config.task
    reference = _StoredReference(
        runtime.config, refs, {"runtime": "torch", "precision": "fp32", "stored": True}
    )
    recorder = _Recorder(runtime)
    report = run_parity(recorder, reference, cases, budget_for(precision), precision)
    metrics = [c["outputs"]["output"] for c in report["cases"]]
    psnr_key, ssim_key = ("psnr_mu", "ssim_mu") if task == "hdr" else ("psnr", "ssim")
    parity = {
        "passed": report["passed"],
        "budget": report["budget"],
        "precision": precision,
        "cases": len(cases),
        "max_abs": report["worst"]["max_abs"],
        "mean_abs": max(m["mean_abs"] for m in metrics),
        "psnr_key": psnr_key,
        "psnr_min": _finite_min([m.get(psnr_key) for m in metrics]),
        "ssim_min": _finite_min([m.get(ssim_key) for m in metrics]),
        "violations": sorted({v for c in report["cases"] for v in c["violations"]}),
    }
    quality = None
    if targets and all(t is not None for t in targets):
        got = [image_metrics(t, o, task)[psnr_key] for t, o in zip(targets, recorder.outputs, strict=True)]
        ref = [image_metrics(t, arrays[f"s{i}_ref"], task)[psnr_key] for i, t in enumerate(targets)]
        if all(v is not None for v in got + ref):
            mean_got, mean_ref = float(np.mean(got)), float(np.mean(ref))
            quality = {
                "metric": psnr_key,
                "mean_vs_gt": mean_got,
                "reference_mean_vs_gt": mean_ref,
                "drop_db": mean_ref - mean_got,
            }
    return {"parity": parity, "quality": quality, "parity_report": report}


# ------------------------------------------------------------------------------ step: build


def _variant_dir(state: _State, variant: Variant) -> Path:
    return state.options.out / "variants" / variant.name


def _build_key(state: _State, variant: Variant) -> str:
    parts: dict[str, Any] = {
        "variant": variant.name,
        "build": variant.build,
        "precision": variant.precision,
        "export": state.export_key if variant.build != "checkpoint" else None,
        "checkpoint": state.checkpoint_sha,
        "versions": _versions(
            {"onnxruntime": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt"}.get(
                variant.runtime, "torch"
            ),
            "nncf",
            "onnx",
        ),
    }
    if variant.build == "quantize":
        parts["calibration"] = [state.data["key"], state.data["calib_items"]]
    if variant.source:
        parts["source"] = state.built.get(variant.source, {}).get("key")
    return cache_key(parts)


def build_step(state: _State, variant: Variant) -> dict[str, Any]:
    """Artefacts of ``variant`` (reused when its key and hashes match); raises on failure."""
    vdir = _variant_dir(state, variant)
    root = state.options.out
    key = _build_key(state, variant)
    record = _read_json(vdir / "build.json")
    if (
        not state.options.force
        and record is not None
        and record.get("key") == key
        and _artefacts_intact(record["artefacts"], root)
    ):
        record["cached"] = True
        return record
    if vdir.exists():
        shutil.rmtree(vdir)
    vdir.mkdir(parents=True)
    info: dict[str, Any] = {}
    if variant.build == "checkpoint":
        model = vdir / "model.pth"
        shutil.copyfile(state.checkpoint, model)
        files = [model]
    elif variant.build == "export":
        model = state.export_dir / "model.onnx"
        files = [model, state.export_dir / "manifest.json"]
    elif variant.build == "export-fp16":
        model = state.export_dir / "model.fp16.onnx"
        files = [model]
    elif variant.build == "reuse":
        source = state.built.get(variant.source or "")
        if source is None:
            raise BackendError(f"needs variant {variant.source}, which did not build")
        model = root / source["model"]
        files = [root / a["path"] for a in source["artefacts"]]
    else:
        job = _build_job(state, variant, vdir)
        job_file, out_file = vdir / "build-job.json", vdir / "build-out.json"
        _write_json(job_file, job)
        from mgdn_edge.bench import run_worker

        try:
            run_worker(
                "mgdn_edge.pipeline",
                ["build", str(job_file), str(out_file)],
                vdir / "build.log",
                state.options.timeout_s,
            )
            produced = json.loads(out_file.read_text())
        finally:
            for f in (job_file, out_file):
                f.unlink(missing_ok=True)
        model = Path(produced["model"])
        info = produced.get("info", {})
        files = sorted(p for p in vdir.iterdir() if p.is_file() and p.name not in BOOKKEEPING)
    record = {
        "key": key,
        "model": _rel(model, root),
        "artefacts": _artefact_records(files, root),
        "info": info,
        "run_id": state.run_id,
        "cached": False,
    }
    _write_json(vdir / "build.json", record)
    return record


def _build_job(state: _State, variant: Variant, vdir: Path) -> dict[str, Any]:
    job: dict[str, Any] = {
        "variant": variant.name,
        "build": variant.build,
        "precision": variant.precision,
        "backend": variant.backend,
        "export_dir": str(state.export_dir),
        "out_dir": str(vdir),
        "task": state.task,
        "sizes": [list(s) for s in state.options.sizes],
        "data": {
            "spec": state.options.data,
            "crop": state.data.get("crop"),
            "seed": state.options.seed,
            "items": state.data.get("calib_items"),
        },
    }
    if variant.source:
        source = state.built.get(variant.source)
        if source is None:
            raise BackendError(f"needs variant {variant.source}, which did not build")
        job["source_model"] = str(state.options.out / source["model"])
    return job


def _jsonable_info(result: Any) -> dict[str, Any]:
    """What a quantizer/builder says about its result, as JSON (to_dict, a dataclass, or attributes)."""
    import dataclasses

    if hasattr(result, "to_dict"):
        data = result.to_dict()
    elif dataclasses.is_dataclass(result):
        data = dataclasses.asdict(result)
    else:
        data = (
            {k: v for k, v in vars(result).items() if not k.startswith("_")}
            if hasattr(result, "__dict__")
            else {}
        )
    return json.loads(json.dumps(data, default=str))


def run_build_job(job: dict[str, Any]) -> dict[str, Any]:
    """Inside the build worker: make one variant's artefact; return its model path and build info."""
    out_dir, export_dir = Path(job["out_dir"]), Path(job["export_dir"])
    precision = job["precision"]
    if job["build"] == "openvino-ir":
        from mgdn_edge.runtimes.openvino_convert import convert_to_openvino

        xml = convert_to_openvino(export_dir / "model.onnx", out_dir / "model.xml", precision=precision)
        return {"model": str(xml), "info": {"converted_from": "export/model.onnx", "weights": precision}}
    if job["build"] == "quantize":
        from mgdn_edge.calibration import open_source
        from mgdn_edge.calibration.quantize import quantize_model

        data = job["data"]
        crop = None if data["crop"] is None else "x".join(str(v) for v in data["crop"])
        source = open_source(job["task"], data["spec"], crop=crop, seed=data["seed"]).subset(data["items"])
        suffix = ".xml" if job["backend"] == "openvino" else ".onnx"
        result = quantize_model(
            model=export_dir,
            data=source,
            backend=job["backend"],
            precision=precision,
            out=out_dir / f"model.int8{suffix}",
        )
        return {"model": str(result.path), "info": _jsonable_info(result)}
    if job["build"] == "tensorrt":
        from mgdn_edge.runtimes.tensorrt_build import build_engine  # type: ignore[import-not-found]

        onnx = Path(job.get("source_model") or export_dir / "model.onnx")
        engine = build_engine(onnx, out_dir / "model.engine", precision=precision)
        return {"model": str(getattr(engine, "path", engine)), "info": _jsonable_info(engine)}
    raise InputError(f"unknown build kind {job['build']!r}")


# ---------------------------------------------------------------------------- step: measure


def _result_key(state: _State, build: dict[str, Any]) -> str:
    opts = state.options
    return cache_key(
        {
            "build": build["key"],
            "artefacts": [a["sha256"] for a in build["artefacts"]],
            "eval": state.data.get("eval_sha256"),
            "sizes": [list(s) for s in opts.sizes],
            "warmup": opts.warmup,
            "repeats": opts.repeats,
            "threads": opts.threads,
            "seed": opts.seed,
        }
    )


def measure_step(state: _State, variant: Variant, build: dict[str, Any]) -> dict[str, Any]:
    """Parity + benchmark in one worker process (reused when nothing it depends on changed)."""
    from mgdn_edge.bench import BenchJob, run_job_isolated

    vdir = _variant_dir(state, variant)
    key = _result_key(state, build)
    record = _read_json(vdir / "result.json")
    if not state.options.force and record is not None and record.get("key") == key:
        return {**record["measurement"], "cached": True}
    opts = state.options
    job = BenchJob(
        runtime=variant.runtime,
        model=str(opts.out / build["model"]),
        precision=variant.precision,
        task=state.task,
        sizes=list(opts.sizes),
        warmup=opts.warmup,
        repeats=opts.repeats,
        threads=opts.threads,
        seed=opts.seed,
        evaluate={"npz": str(opts.out / "data" / "eval.npz"), "precision": variant.precision},
    )
    measured = run_job_isolated(job, log_path=vdir / "measure.log", timeout_s=opts.timeout_s)
    measured["run_id"] = state.run_id
    measured["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write_json(vdir / "result.json", {"key": key, "measurement": measured})
    return {**measured, "cached": False}


# ------------------------------------------------------------------------------- orchestration


def _entry(
    variant: Variant, status: str, reason: str | None = None, stage: str | None = None
) -> dict[str, Any]:
    return {
        "name": variant.name,
        "label": variant.label,
        "runtime": variant.runtime,
        "precision": variant.precision,
        "status": status,
        "reason": reason,
        "stage": stage,
    }


def _process_variant(state: _State, variant: Variant, note: Callable[[str], None]) -> dict[str, Any]:
    reason = unavailable_reason(variant, state.export_dir)
    if reason is None and variant.source and variant.source not in state.built:
        reason = f"not available: needs variant {variant.source}, which was not built"
    if reason is not None:
        return _entry(variant, "skipped", reason)
    note(f"{variant.name}: build")
    try:
        build = build_step(state, variant)
    except Exception as exc:  # one variant's failure is recorded, never fatal for the run
        return _entry(variant, "failed", one_line(exc), "build")
    state.built[variant.name] = build
    note(f"{variant.name}: parity + benchmark")
    entry = _entry(variant, "ok")
    entry.update(
        {
            "artefacts": build["artefacts"],
            "model": build["model"],
            "build": {
                "info": build.get("info", {}),
                "cached": build.get("cached", False),
                "run_id": build["run_id"],
            },
        }
    )
    try:
        measured = measure_step(state, variant, build)
    except Exception as exc:
        entry.update(status="failed", reason=one_line(exc), stage="measure")
        return entry
    evaluation = measured.get("evaluation", {})
    entry.update(
        {
            "parity": evaluation.get("parity"),
            "quality": evaluation.get("quality"),
            "bench": measured["bench"],
            "load": measured["load"],
            "memory_method": measured["memory_method"],
            "describe": measured["describe"],
            "machine": measured.get("machine"),
            "run_id": measured["run_id"],
            "measured_at": measured.get("measured_at"),
            "cached": measured.get("cached", False),
        }
    )
    return entry


def run_pipeline(options: PipelineOptions) -> dict[str, Any]:
    """Run every step; write results.json, the report and manifest.json under ``options.out``."""
    from tqdm import tqdm

    from mgdn_edge.bench import machine_info
    from mgdn_edge.model import count_parameters, load_model

    started = time.perf_counter()
    opts = options
    if opts.warmup < 0 or opts.repeats < 1:
        raise InputError(f"need warmup >= 0 and repeats >= 1, got {opts.warmup} and {opts.repeats}")
    if not opts.sizes:
        raise InputError("give at least one benchmark size (HxW)")
    if opts.threads is None:
        opts.threads = os.cpu_count() or 1
    variants = select_variants(opts.runtimes)
    checkpoint = Path(opts.model) if opts.model is not None else default_model()
    if not checkpoint.is_file():
        raise InputError(f"checkpoint not found: {checkpoint}")
    opts.out = Path(opts.out).resolve()
    opts.out.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    state = _State(opts, run_id, checkpoint.resolve(), sha256_file(checkpoint))
    model = load_model(checkpoint)
    state.task, state.config = model.config.task, model.config.to_dict()
    n_params = count_parameters(model)
    del model

    bar = tqdm(total=2 + len(variants), desc="pipeline", unit="step", disable=not opts.progress)
    with bar:
        bar.set_postfix_str("data + reference outputs")
        data_step(state)  # first: bad data fails the run before anything slow happens
        bar.update(1)
        bar.set_postfix_str("export")
        export_step(state)
        bar.update(1)
        entries = []
        for variant in variants:
            entries.append(_process_variant(state, variant, bar.set_postfix_str))
            bar.update(1)

    results = {
        "schema": RESULTS_SCHEMA,
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": None,
        "machine": machine_info(),
        "tools": _versions("torch", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt", "numpy"),
        "model": {
            "checkpoint": str(state.checkpoint),
            "sha256": state.checkpoint_sha,
            "task": state.task,
            "config": state.config,
            "parameters": n_params,
            "demo": opts.model is None,
        },
        "data": {k: v for k, v in state.data.items() if k != "key"},
        "settings": {
            "sizes": [list(s) for s in opts.sizes],
            "warmup": opts.warmup,
            "repeats": opts.repeats,
            "threads": opts.threads,
            "seed": opts.seed,
        },
        "export": _read_json(state.export_dir / "export.json"),
        "reference": REFERENCE,
        "variants": entries,
    }
    results["wall_s"] = round(time.perf_counter() - started, 1)
    finish(results, opts.out)
    return results


def finish(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """results.json, the report files, then manifest.json (hashes of everything under ``out``)."""
    from mgdn_edge.report import write_report

    _write_json(out / "results.json", results)
    paths = write_report(results, out)
    write_manifest(out, results)
    return paths


REPORT_FILES = {"results.json", "report.md", "report.html", "report.json", "pareto.png"}


def write_manifest(out: Path, results: dict[str, Any]) -> Path:
    """sha256 of every file this run's results refer to (stale variants of other runs are left out)."""
    variants = {v["name"] for v in results["variants"]}
    files = {}
    for path in sorted(out.rglob("*")):
        parts = path.relative_to(out).parts
        if not path.is_file() or path.suffix == ".log" or path.name.endswith(".tmp"):
            continue
        top = parts[0]
        keep = (
            (len(parts) == 1 and top in REPORT_FILES)
            or top in ("export", "data")
            or (top == "variants" and len(parts) > 2 and parts[1] in variants)
        )
        if keep:
            files["/".join(parts)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {
        "schema": "mgdn-edge.pipeline-manifest/1",
        "run_id": results.get("run_id"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_checkpoint": {"path": results["model"]["checkpoint"], "sha256": results["model"]["sha256"]},
        "files": files,
    }
    _write_json(out / "manifest.json", manifest)
    return out / "manifest.json"


def main(argv: Sequence[str] | None = None) -> int:
    """Build worker: ``python -m mgdn_edge.pipeline build JOB.json OUT.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "build":
        print("usage: python -m mgdn_edge.pipeline build JOB.json OUT.json", file=sys.stderr)
        return 2
    try:
        produced = run_build_job(json.loads(Path(args[1]).read_text()))
    except MgdnEdgeError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    Path(args[2]).write_text(json.dumps(produced, default=str))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
