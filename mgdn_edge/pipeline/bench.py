"""Latency and memory of one runtime at given input sizes: warm-up, timed runs, p50/p90, peak RSS.

How a measurement is made, and why:

- **Warm-up runs are not timed.** First runs pay for lazy initialisation (OpenVINO and ONNX
  Runtime allocate and pick kernels per shape, PyTorch grows its allocator), which a deployed
  model pays once, not per frame.
- **p50 and p90 of the timed runs** (``numpy.percentile``, linear interpolation): the median is
  robust to a run disturbed by another process on a shared machine, the p90 shows the tail.
- **Threads are set explicitly** for every runtime (``threads=``) and the count the runtime
  reports is recorded, so two variants are compared at the same parallelism.
- **One child process per measured variant** (:func:`run_job_isolated`). Peak memory is a
  per-process quantity: the Linux high-water mark (``VmHWM`` / ``ru_maxrss``) never goes down,
  and allocators (glibc, ONNX Runtime's arena, OpenVINO's caches) keep freed memory for reuse,
  so a second variant measured in the same process would be charged for -- or profit from -- the
  first one's leftovers. A fresh process per variant also isolates thread pools (an ONNX Runtime
  pool spinning next to an OpenVINO one distorts both) and crashes: a segfault in a native op
  fails that variant, not the whole pipeline. The cost is one interpreter start (~2-3 s) per
  variant.
- **Peak memory per size** (:class:`MemoryProbe`): inside the child, the kernel's high-water mark
  is reset to the current RSS before each size (``/proc/self/clear_refs`` = 5, Linux >= 4.0) and
  read from ``VmHWM`` after its runs. ``peak_rss_mb`` is that absolute high-water mark;
  ``peak_delta_mb`` subtracts the RSS measured after the backend library was imported but before
  the model was opened, i.e. what the model, the runtime's state and the working memory at this
  size cost beyond the interpreter and the libraries. Where the reset is not possible, the
  process-lifetime ``ru_maxrss`` is used, sizes run from small to large and the method string
  says so.
- **Layer profile** (``options={"profile": True}``, ``bench --profile``): after the timed runs and
  the memory reading of the largest size, ``repeats`` more runs of that size are profiled and
  their per-layer times aggregated (:mod:`mgdn_edge.runtimes.layer_profile`). Separate runs, so the timed
  figures are taken as without profiling (OpenVINO's PERF_COUNT is a compile property and stays
  on, see its runtime); the largest size only, because it is the one closest to deployment and
  its table is not dominated by per-node fixed costs, and one table stays readable.

:func:`run_job` measures in this process; :func:`run_job_isolated` runs it in a worker process
through the one worker protocol (:mod:`mgdn_edge.pipeline.worker`), optionally followed by the
parity harness's evaluation on the same loaded runtime.
"""

from __future__ import annotations

import contextlib
import importlib
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.errors import BackendError, InputError, MgdnEdgeError
from mgdn_edge.core.results import LatencyRow, LayerTime, LoadInfo, Measurement
from mgdn_edge.core.size import Size
from mgdn_edge.core.timing import latency_stats, machine_info
from mgdn_edge.runtimes.base.profile import LayerProfiler
from mgdn_edge.runtimes.layer_profile import check_profiled

DEFAULT_SIZES = (Size(128, 128), Size(256, 256))
DEFAULT_WARMUP = 1
DEFAULT_REPEATS = 5
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_SEED = 0
_MB = 2.0**20


# ---------------------------------------------------------------------------------------- memory


def _status_kb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


class MemoryProbe:
    """Current and peak resident memory of this process, with a resettable peak where Linux allows."""

    def __init__(self) -> None:
        self.resettable = _status_kb("VmHWM") is not None and self._clear_refs()
        self.method = (
            "VmHWM, reset per size via /proc/self/clear_refs"
            if self.resettable
            else "ru_maxrss (process high-water; cumulative over sizes, run from small to large)"
        )

    @staticmethod
    def _clear_refs() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # 5: reset the peak RSS to the current RSS (Linux >= 4.0)
            return True
        except OSError:
            return False

    def current_mb(self) -> float | None:
        kb = _status_kb("VmRSS")
        return None if kb is None else kb / 1024.0

    def reset_peak(self) -> None:
        if self.resettable:
            self._clear_refs()

    def peak_mb(self) -> float:
        kb = _status_kb("VmHWM") if self.resettable else None
        return kb / 1024.0 if kb is not None else _ru_maxrss_mb()


# ------------------------------------------------------------------------------------ measuring


def bench_inputs(config: Any, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Seeded smooth inputs of the task's channel counts (latency does not depend on content)."""
    from mgdn_edge.runtimes.parity import synthetic_cases

    return synthetic_cases(config, [size], batch=1, seed=seed)[0].inputs


def bench_size(
    runtime: Any,
    inputs: Sequence[np.ndarray],
    warmup: int,
    repeats: int,
    probe: MemoryProbe | None = None,
    baseline_mb: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> LatencyRow:
    """Warm up, then time ``repeats`` runs of ``runtime.run(inputs)``; statistics and peak memory."""
    if warmup < 0 or repeats < 1:
        raise InputError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if probe is not None:
        probe.reset_peak()
    for _ in range(warmup):
        runtime.run(inputs)
    times_ms = []
    for _ in range(repeats):
        start = clock()
        runtime.run(inputs)
        times_ms.append(1000.0 * (clock() - start))
    row = LatencyRow(
        size=Size(int(inputs[0].shape[2]), int(inputs[0].shape[3])),
        warmup=warmup,
        repeats=repeats,
        times_ms=[round(t, 4) for t in times_ms],
        **latency_stats(times_ms),
    )
    if probe is not None:
        peak = probe.peak_mb()
        row.peak_rss_mb = round(peak, 1)
        row.peak_delta_mb = None if baseline_mb is None else round(peak - baseline_mb, 1)
    return row


@dataclass
class BenchJob:
    """One runtime + model to measure (what a worker process receives as JSON)."""

    runtime: str
    model: str
    precision: str | None = None  # None: the model file's own
    task: str | None = None
    sizes: list[Size] = field(default_factory=lambda: list(DEFAULT_SIZES))
    warmup: int = DEFAULT_WARMUP
    repeats: int = DEFAULT_REPEATS
    threads: int | None = None
    seed: int = DEFAULT_SEED
    options: dict[str, Any] = field(default_factory=dict)  # extra open_runtime options
    evaluate: str | None = None  # a stored evaluation split (.npz): run the parity harness on it too

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sizes"] = [list(s) for s in self.sizes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchJob:
        data = dict(data)
        data["sizes"] = [Size.parse(s) for s in data.get("sizes", DEFAULT_SIZES)]
        return cls(**data)


def run_job(job: BenchJob, progress: bool = False) -> Measurement:
    """Open the runtime in this process, benchmark every size, then (optionally) evaluate it."""
    from tqdm import tqdm

    from mgdn_edge.runtimes import get_backend, open_runtime

    profile = bool(job.options.get("profile"))
    if profile:
        check_profiled(job.runtime, job.model)
    probe = MemoryProbe()
    # The backend's package is imported before the baseline is taken, so the baseline holds the
    # library and the delta only what the model costs; open_runtime reports a missing package.
    with contextlib.suppress(ImportError, MgdnEdgeError):
        importlib.import_module(get_backend(job.runtime).package)
    baseline = probe.current_mb() if probe.resettable else probe.peak_mb()
    probe.reset_peak()
    start = time.perf_counter()
    runtime = open_runtime(
        job.runtime, job.model, task=job.task, precision=job.precision, threads=job.threads, **job.options
    )
    load = LoadInfo(
        seconds=round(time.perf_counter() - start, 3),
        rss_before_mb=None if baseline is None else round(baseline, 1),
        peak_rss_mb=round(probe.peak_mb(), 1),
    )
    precision = job.precision or str(runtime.describe()["precision"])
    sizes = sorted(job.sizes, key=lambda s: s[0] * s[1])  # small to large: see MemoryProbe's fallback
    rows = []
    inputs: list[np.ndarray] = []
    for size in tqdm(sizes, desc=f"bench {job.runtime} {precision}", unit="size", disable=not progress):
        inputs = bench_inputs(runtime.config, size, job.seed)
        rows.append(bench_size(runtime, inputs, job.warmup, job.repeats, probe, baseline))
    layer_times: list[LayerTime] | None = None
    if profile:  # the largest size, whose inputs are still at hand (see the module doc)
        if not isinstance(runtime, LayerProfiler):
            raise BackendError(f"runtime {job.runtime!r} has no layer profiler")
        layer_times = runtime.profile_layers(inputs, job.repeats)
    evaluation = None
    if job.evaluate:  # after the timing, so its arrays are not in the memory figures
        from mgdn_edge.runtimes.parity import evaluate_stored_split

        evaluation = evaluate_stored_split(runtime, job.evaluate, precision)
    return Measurement(
        job=job.to_dict(),
        load=load,
        memory_method=probe.method,
        bench=rows,
        describe=_jsonable(runtime.describe()),
        machine=machine_info(),
        evaluation=evaluation,
        layer_times=layer_times,
    )


def measure_job(job: dict[str, Any]) -> dict[str, Any]:
    """The worker's ``measure`` job: a BenchJob as JSON in, a Measurement as JSON out."""
    return run_job(BenchJob.from_dict(job), progress=True).to_dict()


def run_job_isolated(
    job: BenchJob, log_path: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Measurement:
    """:func:`run_job` in a fresh Python process (see the module docstring for why)."""
    from mgdn_edge.pipeline.worker import run_in_worker

    return Measurement.from_dict(run_in_worker("measure", job.to_dict(), log_path, timeout_s))


def _jsonable(value: Any) -> Any:
    """describe() dicts may hold backend objects; keep JSON types, stringify the rest."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
