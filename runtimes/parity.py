"""Parity harness: any backend against the PyTorch FP32 reference, judged by the budgets.

Per case and output it reports max / mean absolute error, PSNR and SSIM of the output image
against the reference output, and for HDR the mu-law metrics (PSNR-mu, SSIM-mu on
T(x) = log(1 + 5000 x) / log(1 + 5000)) plus PSNR-L / SSIM-L on the linear output. PSNR and SSIM
come from scikit-image (``peak_signal_noise_ratio``, ``structural_similarity``; data range 1,
skimage's default 7x7 uniform window, smaller for tiny crops), not hand-rolled; the mu-law is the
toolkit's one definition, :func:`mgdn_edge.model.tasks.mu_law`. Identical outputs give
an infinite PSNR, written as ``null`` in JSON (and never a budget violation).

:func:`evaluate_stored_split` runs the same harness against reference outputs stored with their
inputs (the pipeline computes them once per run, not once per variant) and adds the task metric
against ground truth where the split has it.

Inputs are either ``.npz`` files (keys named after the task's inputs, case-insensitive, e.g.
``A``/``B``, ``rgb``/``depth``; or ``<prefix>_in0.._inN`` groups such as the HDR fixtures) or
seeded synthetic inputs at given sizes. Synthetic inputs exercise numerics, not image quality.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.budgets import Budget, budget_for
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.core.precision import Precision
from mgdn_edge.core.results import Evaluation, ParitySummary, QualityDrop
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.model.tasks import mu_law
from mgdn_edge.runtimes.base import Runtime


@dataclass
class Case:
    name: str
    inputs: list[np.ndarray]


def synthetic_cases(
    config: MGDNConfig, sizes: Sequence[tuple[int, int]], batch: int = 1, seed: int = 0
) -> list[Case]:
    """Seeded inputs: smooth random fields in [0, 1] (images are smooth; white noise is not)."""
    rng = np.random.default_rng(seed)
    cases = []
    for h, w in sizes:
        inputs = []
        for c in config.io.input_channels:
            coarse = rng.random((batch, c, max(2, h // 8), max(2, w // 8)), dtype=np.float32)
            rows = np.linspace(0, coarse.shape[2] - 1, h).round().astype(int)
            cols = np.linspace(0, coarse.shape[3] - 1, w).round().astype(int)
            field = coarse[:, :, rows][:, :, :, cols]
            noise = 0.05 * rng.standard_normal((batch, c, h, w)).astype(np.float32)
            inputs.append(np.clip(field + noise, 0.0, 1.0).astype(np.float32))
        cases.append(Case(f"synthetic_{h}x{w}", inputs))
    return cases


def _load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file; a missing or unreadable file is one ImageReadError naming ``what``."""
    if not path.is_file():
        raise ImageReadError(f"{what} not found: {path}")
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"cannot read {path} as .npz: {exc}") from exc


def npz_cases(paths: Sequence[str | Path], config: MGDNConfig) -> list[Case]:
    """Cases from .npz files: task-named keys, or ``<prefix>_in<i>`` groups (one case per prefix)."""
    names = config.io.input_names
    cases = []
    for p in paths:
        path = Path(p)
        arrays = _load_npz(path, "input file")
        lower = {k.lower(): k for k in arrays}
        if all(n in lower for n in names):
            cases.append(Case(path.stem, [arrays[lower[n]].astype(np.float32) for n in names]))
            continue
        groups = sorted({m.group(1) for k in arrays if (m := re.fullmatch(r"(.*)_in\d+", k))})
        found = False
        for prefix in groups:
            keys = [f"{prefix}_in{i}" for i in range(len(names))]
            if all(k in arrays for k in keys):
                cases.append(Case(f"{path.stem}:{prefix}", [arrays[k].astype(np.float32) for k in keys]))
                found = True
        if not found:
            raise InputError(
                f"{path} has keys {sorted(arrays)}; expected {list(names)} (any case) "
                f"or <prefix>_in0..{len(names) - 1}"
            )
    return cases


def _nan_to_none(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else float(value)


def _hwc(x: np.ndarray) -> np.ndarray:
    """CHW -> HWC (or HW for one channel), float64 for the metric libraries."""
    return x[0].astype(np.float64) if x.shape[0] == 1 else np.moveaxis(x, 0, -1).astype(np.float64)


def _psnr(reference: np.ndarray, output: np.ndarray) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divide by zero -> inf for identical images
        return float(peak_signal_noise_ratio(reference, output, data_range=1.0))


def _ssim(reference: np.ndarray, output: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    side = min(reference.shape[0], reference.shape[1])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    return float(
        structural_similarity(
            reference, output, data_range=1.0, win_size=win, channel_axis=-1 if reference.ndim == 3 else None
        )
    )


def image_metrics(reference: np.ndarray, output: np.ndarray, task: str) -> dict[str, float | None]:
    """Metrics for one NCHW output against the reference; image metrics are the worst over the batch."""
    if reference.shape != output.shape:
        raise InputError(
            f"output shape {list(output.shape)} differs from the reference {list(reference.shape)}"
        )
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64))
    metrics: dict[str, float] = {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}
    per_image: dict[str, list[float]] = {}
    for ref_img, out_img in zip(reference, output, strict=True):
        r, o = _hwc(ref_img), _hwc(out_img)
        pairs = {"": (r, o)}
        if task == "hdr":
            pairs = {"_l": (r, o), "_mu": (mu_law(r), mu_law(o))}
        for suffix, (a, b) in pairs.items():
            per_image.setdefault(f"psnr{suffix}", []).append(_psnr(a, b))
            per_image.setdefault(f"ssim{suffix}", []).append(_ssim(a, b))
    for key, values in per_image.items():
        metrics[key] = min(values)
    if task == "hdr":  # the generic image metrics are the linear ones
        metrics["psnr"], metrics["ssim"] = metrics["psnr_l"], metrics["ssim_l"]
    return {k: _nan_to_none(v) for k, v in metrics.items()}


def violations(metrics: dict[str, float | None], budget: Budget, task: str) -> list[str]:
    """Human-readable list of broken bounds (empty when within budget)."""
    broken = []
    upper = {"max_abs": budget.max_abs, "mean_abs": budget.mean_abs}
    lower = {"psnr": budget.psnr_min, "ssim": budget.ssim_min}
    if task == "hdr":
        lower |= {"psnr_mu": budget.psnr_mu_min, "ssim_mu": budget.ssim_mu_min}
    for key, bound in upper.items():
        value = metrics.get(key)
        if bound is not None and (value is None or value > bound):
            broken.append(f"{key} {value:.3g} > {bound:g}" if value is not None else f"{key} is not finite")
    for key, bound in lower.items():
        value = metrics.get(key)
        # None here means an infinite PSNR (identical) -- or an SSIM too small to compute: both pass.
        if bound is not None and value is not None and value < bound:
            broken.append(f"{key} {value:.6g} < {bound:g}")
    return broken


def run_parity(
    runtime: Runtime, reference: Runtime, cases: Sequence[Case], budget: Budget, precision: str
) -> dict[str, Any]:
    """Run every case on both, compare, and judge; ``report["passed"]`` is the verdict."""
    task = reference.config.task
    results = []
    for case in cases:
        expected = reference.run(case.inputs)
        got = runtime.run(case.inputs)
        metrics = image_metrics(expected, got, task)
        broken = violations(metrics, budget, task)
        results.append(
            {
                "case": case.name,
                "shape": list(case.inputs[0].shape),
                "outputs": {"output": metrics},
                "violations": broken,
                "passed": not broken,
            }
        )
    worst = {
        key: max((r["outputs"]["output"][key] for r in results), default=None)
        for key in ("max_abs", "mean_abs")
    }
    return {
        "task": task,
        "precision": precision,
        "runtime": runtime.describe(),
        "reference": reference.describe(),
        "budget": budget.to_dict(),
        "cases": results,
        "worst": worst,
        "passed": all(r["passed"] for r in results),
    }


# ------------------------------------------------------------- against stored reference outputs


class _StoredReference:
    """A Runtime whose outputs are the stored PyTorch ones, looked up by the inputs' bytes."""

    name = "torch"

    def __init__(self, config: MGDNConfig, outputs: dict[str, np.ndarray]) -> None:
        self.config, self._outputs = config, outputs

    @staticmethod
    def key(inputs: Sequence[np.ndarray]) -> str:
        digest = hashlib.sha1()
        for x in inputs:
            digest.update(np.ascontiguousarray(x).tobytes())
        return digest.hexdigest()

    def run(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._outputs[self.key(inputs)]

    def describe(self) -> dict[str, Any]:
        return {"runtime": "torch", "precision": "fp32", "stored": True}


class _Recorder:
    """Passes runs through to a runtime and keeps the outputs (for the ground-truth metrics)."""

    def __init__(self, runtime: Runtime) -> None:
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


def _stored_keys(i: int, n_inputs: int) -> list[str]:
    return [f"s{i}_in{j}" for j in range(n_inputs)] + [f"s{i}_ref"]


def read_stored_split(
    npz_path: str | Path, config: MGDNConfig
) -> tuple[list[Case], Runtime, dict[str, np.ndarray]]:
    """The cases of a stored split, a reference that returns their stored outputs, and the arrays.

    The ``.npz`` holds ``names`` and per sample ``s<i>_in<j>`` (``config``'s inputs) and
    ``s<i>_ref`` (the PyTorch FP32 output), as :func:`write_stored_split` and the pipeline write
    it; comparing against it needs no torch. A file of another layout or task is an
    :class:`InputError` naming the missing key.
    """
    path = Path(npz_path)
    arrays = _load_npz(path, "stored reference outputs")
    if "names" not in arrays:
        raise InputError(
            f"{path} holds no stored reference outputs (no 'names'; expected s<i>_in<j>, s<i>_ref)"
        )
    cases, refs = [], {}
    for i, name in enumerate(str(n) for n in arrays["names"]):
        missing = [k for k in _stored_keys(i, config.n_inputs) if k not in arrays]
        if missing:
            raise InputError(f"{path} has no {missing[0]!r}: not stored outputs of a {config.task} model")
        inputs = [arrays[f"s{i}_in{j}"].astype(np.float32, copy=False) for j in range(config.n_inputs)]
        cases.append(Case(name, inputs))
        refs[_StoredReference.key(inputs)] = arrays[f"s{i}_ref"]
    return cases, _StoredReference(config, refs), arrays


def write_stored_split(path: str | Path, cases: Sequence[Case], reference: Runtime) -> Path:
    """Run ``reference`` on every case and store inputs and outputs for :func:`read_stored_split`
    (written whole or not at all)."""
    from mgdn_edge.core.atomic import atomic_files

    arrays: dict[str, np.ndarray] = {"names": np.array([c.name for c in cases])}
    for i, case in enumerate(cases):
        for j, x in enumerate(case.inputs):
            arrays[f"s{i}_in{j}"] = x
        arrays[f"s{i}_ref"] = reference.run(case.inputs)
    # A file object: np.savez would append .npz to the temporary's name.
    with atomic_files(path) as (tmp,), open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def evaluate_stored_split(runtime: Runtime, npz_path: str | Path, precision: str) -> Evaluation:
    """Parity on a stored split (vs its stored reference outputs) + the task metric vs ground truth.

    The ``.npz`` holds ``names`` and per sample ``s<i>_in<j>``, ``s<i>_ref`` (the PyTorch FP32
    output) and optionally ``s<i>_target``. The verdict is :func:`run_parity`'s, with the budget
    of ``precision``.
    """
    cases, reference, arrays = read_stored_split(npz_path, runtime.config)
    targets = [arrays.get(f"s{i}_target") for i in range(len(cases))]
    task = runtime.config.task
    recorder = _Recorder(runtime)
    report = run_parity(recorder, reference, cases, budget_for(precision, task), precision)
    metrics = [c["outputs"]["output"] for c in report["cases"]]
    psnr_key, ssim_key = ("psnr_mu", "ssim_mu") if task == "hdr" else ("psnr", "ssim")
    parity = ParitySummary(
        passed=report["passed"],
        budget=report["budget"],
        precision=Precision.parse(precision),
        cases=len(cases),
        max_abs=report["worst"]["max_abs"],
        mean_abs=max(m["mean_abs"] for m in metrics),
        psnr_key=psnr_key,
        psnr_min=_finite_min([m.get(psnr_key) for m in metrics]),
        ssim_min=_finite_min([m.get(ssim_key) for m in metrics]),
        violations=sorted({v for c in report["cases"] for v in c["violations"]}),
    )
    quality = None
    if targets and all(t is not None for t in targets):
        got = [image_metrics(t, o, task)[psnr_key] for t, o in zip(targets, recorder.outputs, strict=True)]
        ref = [image_metrics(t, arrays[f"s{i}_ref"], task)[psnr_key] for i, t in enumerate(targets)]
        if all(v is not None for v in got + ref):
            mean_got, mean_ref = float(np.mean(got)), float(np.mean(ref))
            quality = QualityDrop(psnr_key, mean_got, mean_ref, mean_ref - mean_got)
    return Evaluation(parity=parity, quality=quality, parity_report=report)
