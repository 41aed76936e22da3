"""Parity harness: any backend against the PyTorch FP32 reference, judged by the budgets.

Running and comparing are separate steps: :func:`run_cases` runs a runtime over the cases and
returns typed :class:`RunResults` (per case output and time); reference outputs stored with
their inputs load as :class:`RunResults` too (:func:`read_stored_split`), so a box without
torch compares against them exactly as against a live PyTorch run. :func:`compare` takes two
results and a budget and returns a :class:`ParityResult` (per case :class:`CaseComparison`,
the verdict, the worst case); :meth:`ParityResult.report` is the JSON ``mgdn-edge parity``
prints.

Per case and output it reports max / mean absolute error, PSNR and SSIM of the output image
against the reference output, and for HDR the mu-law metrics (PSNR-mu, SSIM-mu on
T(x) = log(1 + 5000 x) / log(1 + 5000)) plus PSNR-L / SSIM-L on the linear output. PSNR and SSIM
come from scikit-image (``peak_signal_noise_ratio``, ``structural_similarity``; data range 1,
skimage's default 7x7 uniform window, smaller for tiny crops), not hand-rolled; the mu-law is the
toolkit's one definition, :func:`mgdn_edge.tasks.mu_law`. Identical outputs give
an infinite PSNR, written as ``null`` in JSON (and never a budget violation).

:func:`evaluate_stored_split` judges a runtime against a stored split (the pipeline computes
the reference outputs once per run, not once per variant) and adds the task metric against
ground truth where the split has it.

Inputs are either ``.npz`` files (keys named after the task's inputs, case-insensitive, e.g.
``A``/``B``, ``rgb``/``depth``; or ``<prefix>_in0.._inN`` groups such as the HDR fixtures) or
seeded synthetic inputs at given sizes. Synthetic inputs exercise numerics, not image quality.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.errors import ImageReadError, InputError, listing
from mgdn_edge.export.artefacts import OUTPUT_NAME
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.precision import Precision
from mgdn_edge.results import Evaluation, ParitySummary, QualityDrop
from mgdn_edge.runtimes.base import Runtime
from mgdn_edge.runtimes.budgets import Budget, budget_for
from mgdn_edge.tasks import mu_law


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


# ------------------------------------------------------------------------- running, then comparing


@dataclass(frozen=True, eq=False)  # outputs are arrays: compare them with numpy, not ==
class CaseRun:
    """One case as one runner computed it: the output, and the seconds its run took."""

    name: str
    shape: tuple[int, ...]  # the case's first input, NCHW
    output: np.ndarray
    seconds: float | None = None  # None: a stored output, not timed here


@dataclass(frozen=True, eq=False)
class RunResults:
    """What one runner produced over the cases, in case order: a runtime run here
    (:func:`run_cases`) or reference outputs stored with their inputs (:func:`read_stored_split`)."""

    runner: dict[str, Any]  # what ran: the runtime's describe(), or what the stored file says
    task: str
    cases: tuple[CaseRun, ...]

    def outputs(self) -> list[np.ndarray]:
        return [c.output for c in self.cases]


def run_cases(runtime: Runtime, cases: Sequence[Case]) -> RunResults:
    """Run ``runtime`` on every case, timing each run."""
    runs = []
    for case in cases:
        start = time.perf_counter()
        output = runtime.run(case.inputs)
        runs.append(CaseRun(case.name, tuple(case.inputs[0].shape), output, time.perf_counter() - start))
    return RunResults(runtime.describe(), runtime.config.task, tuple(runs))


@dataclass(frozen=True)
class CaseComparison:
    """One case's output against the reference's: its metrics and the bounds it broke."""

    name: str
    shape: tuple[int, ...]
    metrics: dict[str, float | None]  # image_metrics(); None: infinite PSNR (identical) or not computable
    violations: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class ParityResult:
    """The verdict of :func:`compare`: every case's comparison, judged by one budget."""

    task: str
    runner: dict[str, Any]
    reference: dict[str, Any]
    budget: Budget
    cases: tuple[CaseComparison, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    def worst(self, key: str) -> float | None:
        """The largest error ``key`` (max_abs, mean_abs) over the cases."""
        return max((v for c in self.cases if (v := c.metrics.get(key)) is not None), default=None)

    def lowest(self, key: str) -> float | None:
        """The lowest similarity ``key`` (psnr, ssim, ...) over the cases; None where every case
        is identical (infinite PSNR) or has none."""
        return min((v for c in self.cases if (v := c.metrics.get(key)) is not None), default=None)

    @property
    def worst_case(self) -> CaseComparison | None:
        """The case with the largest max abs error."""
        return max(self.cases, key=lambda c: c.metrics.get("max_abs") or 0.0, default=None)

    def violations(self) -> list[str]:
        """Every broken bound, once, sorted."""
        return sorted({v for c in self.cases for v in c.violations})

    def report(self, precision: str) -> dict[str, Any]:
        """The JSON report ``mgdn-edge parity`` prints (``passed`` is the verdict)."""
        cases = [
            {
                "case": c.name,
                "shape": list(c.shape),
                "outputs": {OUTPUT_NAME: c.metrics},
                "violations": list(c.violations),
                "passed": c.passed,
            }
            for c in self.cases
        ]
        return {
            "task": self.task,
            "precision": precision,
            "runtime": self.runner,
            "reference": self.reference,
            "budget": self.budget.to_dict(),
            "cases": cases,
            "worst": {key: self.worst(key) for key in ("max_abs", "mean_abs")},
            "passed": self.passed,
        }


def compare(results: RunResults, reference: RunResults, budget: Budget) -> ParityResult:
    """Each case of ``results`` against the same case of ``reference``, judged by ``budget``."""
    names, expected = [c.name for c in results.cases], [c.name for c in reference.cases]
    if names != expected:
        raise InputError(f"the runs hold different cases ({listing(names)} vs {listing(expected)})")
    task = reference.task
    comparisons = []
    for got, ref in zip(results.cases, reference.cases, strict=True):
        metrics = image_metrics(ref.output, got.output, task)
        comparisons.append(
            CaseComparison(got.name, got.shape, metrics, tuple(violations(metrics, budget, task)))
        )
    return ParityResult(task, results.runner, reference.runner, budget, tuple(comparisons))


# ------------------------------------------------------------- reference outputs stored with inputs

# How stored outputs describe their runner in reports: PyTorch FP32, computed elsewhere.
STORED_REFERENCE = {"runtime": "torch", "precision": "fp32", "stored": True}


def _stored_keys(i: int, n_inputs: int) -> list[str]:
    return [f"s{i}_in{j}" for j in range(n_inputs)] + [f"s{i}_ref"]


def read_stored_split(
    npz_path: str | Path, config: MGDNConfig
) -> tuple[list[Case], RunResults, dict[str, np.ndarray]]:
    """The cases of a stored split, their stored reference outputs as results, and the arrays.

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
    cases, runs = [], []
    for i, name in enumerate(str(n) for n in arrays["names"]):
        missing = [k for k in _stored_keys(i, config.n_inputs) if k not in arrays]
        if missing:
            raise InputError(f"{path} has no {missing[0]!r}: not stored outputs of a {config.task} model")
        inputs = [arrays[f"s{i}_in{j}"].astype(np.float32, copy=False) for j in range(config.n_inputs)]
        cases.append(Case(name, inputs))
        runs.append(CaseRun(name, tuple(inputs[0].shape), arrays[f"s{i}_ref"]))
    return cases, RunResults(dict(STORED_REFERENCE), config.task, tuple(runs)), arrays


def write_stored_split(path: str | Path, cases: Sequence[Case], reference: RunResults) -> Path:
    """Store the cases' inputs and ``reference``'s outputs of them for :func:`read_stored_split`
    (written whole or not at all)."""
    from mgdn_edge.atomic import atomic_files

    arrays: dict[str, np.ndarray] = {"names": np.array([c.name for c in cases])}
    for i, (case, run) in enumerate(zip(cases, reference.cases, strict=True)):
        for j, x in enumerate(case.inputs):
            arrays[f"s{i}_in{j}"] = x
        arrays[f"s{i}_ref"] = run.output
    # A file object: np.savez would append .npz to the temporary's name.
    with atomic_files(path) as (tmp,), open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def evaluate_stored_split(runtime: Runtime, npz_path: str | Path, precision: str) -> Evaluation:
    """Parity on a stored split (vs its stored reference outputs) + the task metric vs ground truth.

    The ``.npz`` holds ``names`` and per sample ``s<i>_in<j>``, ``s<i>_ref`` (the PyTorch FP32
    output) and optionally ``s<i>_target``. The verdict is :func:`compare`'s, with the budget
    of ``precision``.
    """
    cases, reference, arrays = read_stored_split(npz_path, runtime.config)
    task = runtime.config.task
    results = run_cases(runtime, cases)
    result = compare(results, reference, budget_for(precision, task))
    psnr_key, ssim_key = ("psnr_mu", "ssim_mu") if task == "hdr" else ("psnr", "ssim")
    parity = ParitySummary(
        passed=result.passed,
        budget=result.budget.to_dict(),
        precision=Precision.parse(precision),
        cases=len(cases),
        max_abs=result.worst("max_abs"),
        mean_abs=result.worst("mean_abs"),
        psnr_key=psnr_key,
        psnr_min=result.lowest(psnr_key),
        ssim_min=result.lowest(ssim_key),
        violations=result.violations(),
    )
    targets = [arrays.get(f"s{i}_target") for i in range(len(cases))]
    quality = None
    if targets and all(t is not None for t in targets):
        got = [image_metrics(t, o, task)[psnr_key] for t, o in zip(targets, results.outputs(), strict=True)]
        ref = [image_metrics(t, o, task)[psnr_key] for t, o in zip(targets, reference.outputs(), strict=True)]
        if all(v is not None for v in got + ref):
            mean_got, mean_ref = float(np.mean(got)), float(np.mean(ref))
            quality = QualityDrop(psnr_key, mean_got, mean_ref, mean_ref - mean_got)
    return Evaluation(parity=parity, quality=quality, parity_report=result.report(precision))
