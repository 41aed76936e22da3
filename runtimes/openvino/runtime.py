"""OpenVINO backend: an exported ``model.onnx`` (or export folder) or a converted IR ``model.xml``.

The exported model keeps ``mgdn.DynamicFilter`` as one node; OpenVINO runs it with our native
extension (``libmgdn_openvino.so``), which is loaded only when the model needs it (a portable
ONNX file or an IR without the op runs without it). Reading ``model.onnx`` gives the extension
the window attention and the filters in their fast forms (:mod:`.window_attention`,
:mod:`.channels_last_filter`). OpenVINO does not fall back to the node's
ONNX function body, so a model with the op and no extension cannot run at all.

Missing extension: when the *default* library (``~/.cache/mgdn-edge/openvino/<version>-<key>``,
see :mod:`mgdn_edge.plugins.openvino_ext`) is absent, truncated or stale and cmake plus a C++
compiler exist, it is built on first use with a one-line note on stderr. Why
build rather than fail: the library must be compiled against the very OpenVINO release that
loads it, so a prebuilt file cannot ship with the package, and users should never need to know
CMake; the only cost is one build. An explicit ``extension=`` path or
$MGDN_OPENVINO_EXTENSION is never replaced by a build (a typo there fails naming the file), and
without build tools the error names the file looked for and the command that builds it. Every
library is checked (manifest sha256, child-process self-check) before it is loaded here.

Precision (``precision=``), and what actually executes on the CPU:
- ``fp32``: f32 weights and f32 compute. INFERENCE_PRECISION_HINT is set to f32 explicitly,
  because OpenVINO's CPU plugin otherwise picks bf16 by itself on CPUs that have it.
- ``fp16``: an IR whose weights are stored FP16-compressed (from ``convert --precision fp16``, or
  made in memory from an fp32 model). The CPU plugin decompresses them to f32 when it compiles,
  so compute is f32: only the weight rounding differs from fp32 (and the file is half the size).
- ``bf16``: INFERENCE_PRECISION_HINT=bf16, offered only where the device lists BF16 in its
  OPTIMIZATION_CAPABILITIES; the convolutions and matmuls run in bf16, and so do the
  extension's ops (DynamicFilter, WindowAttention), fed bf16 by Converts added at open
  (:mod:`.extension_precision`; the execution graph in ``describe()["dynamic_filter_precision"]``
  reports the filter's).
- ``int8``: an IR whose rt_info precision is int8 (NNCF post-training quantization). What is not
  quantized (normalisations, softmax, element-wise chains, the layers NNCF left float) runs in
  bf16 where the device has it, else f32 (``int8_rest=`` picks one). Why bf16: on a bf16 CPU the
  float remainder dominates INT8 time, and in bf16 it is markedly faster at no measurable loss
  against the FP32 output (README, INT8 table); ``int8_rest="f32"`` is there to measure that.
A file built as fp16 or int8 is opened with that precision (or bf16 for fp16), never relabelled;
``precision=None`` (the default) runs the file at the precision it was built for, and
``precision="auto"`` picks from the CPU (:meth:`OpenVinoRuntime._auto_precision`).

Shapes: exports have dynamic batch, height and width (unless exported ``--static``). Opening
reads the file and checks it (config, inputs, precision, batch relaxation) but compiles nothing;
``run`` compiles a copy specialised to the input shape it meets and reuses it while the shape
stays the same (``specialize=True``, the default), so a process that runs one size compiles
exactly once. Only the latest shape's compiled model is kept, so memory holds one set of
activation buffers (tiled inference uses one tile shape). A compile failure is reported by the
first ``run`` (or ``describe``) as a one-line BackendError.
Why: with every dimension static the CPU plugin fuses bias adds into convolutions, picks jit
kernels for splits and plans memory once; on the authors' MFF model at 520x520 that is ~12 %
faster. ``specialize=False`` runs every shape on the dynamic model (compiled at the first run).
An INT8 IR whose channel attention was quantized (made before that was avoided) compiles
without the CPU plugin's snippets (:mod:`mgdn_edge.runtimes.openvino.int8`). A static batch
dimension is relaxed once. ``run`` is not thread-safe.

Compiled-model cache (``cache=True``): compiled blobs are kept between processes, so a second
process skips compilation. Each compile key (model bytes, precision, every compile property,
input shapes, device) has its own folder under
``<cache>/openvino-model-cache/<openvino version>-<extension sha256>``, because OpenVINO's own key
leaves out the inference precision and the custom op's code (:mod:`.model_cache`). A
blob that does not match the record written with it is deleted before OpenVINO may import it,
and an output with NaN/Inf from a model imported from the cache is recomputed once by a fresh
compile (the blob deleted, one warning line) before any verdict blames the model.
An unwritable cache folder just means no caching.

Layer profiling (``profile=True``, ``bench --profile``): every model is compiled with
``PERF_COUNT``, and after a run the infer request's ``profiling_info`` holds each execution-graph
node's type, kernel (``exec_type``, with its precision) and time. OpenVINO offers this only as a
compile property, so it is on for every run of a profiled runtime, timed runs included; it only
reads a clock around each node. Nodes OpenVINO fused away or did not run (``NOT_RUN``,
``OPTIMIZED_OUT``) are left out; every executed node counts, even one that took under the
microsecond the records resolve.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.errors import BackendError
from mgdn_edge.core.results import LayerTime
from mgdn_edge.export.artefacts import (
    IR_SUFFIX,
    IR_XML,
    METADATA_PRECISION_KEY,
    MODEL_ONNX,
    ONNX_SUFFIX,
    ir_weights,
)
from mgdn_edge.runtimes.base import (
    Runtime,
    check_input_count,
    check_precision,
    file_sha256,
    for_task,
    model_description,
)
from mgdn_edge.runtimes.base.profile import LayerSample, aggregate, check_runs
from mgdn_edge.runtimes.openvino.channels_last_filter import CHANNELS_LAST_OP
from mgdn_edge.runtimes.openvino.extension_precision import feed_extension_ops
from mgdn_edge.runtimes.openvino.int8 import quantized_channel_attention
from mgdn_edge.runtimes.openvino.ir import (
    FILTER_OPS,
    onnx_metadata,
    ov_error_line,
    read_ir_description,
    read_model,
)
from mgdn_edge.runtimes.openvino.model_cache import (
    CacheEntry,
    compile_key,
    model_cache_dir,
    warn,
)
from mgdn_edge.runtimes.openvino.record import OPENVINO
from mgdn_edge.runtimes.openvino.window_attention import ATTENTION_OP

AUTO = "auto"  # precision=: the fastest precision that holds its budget on this CPU
CACHE_DIR = "CACHE_DIR"
Shapes = tuple[tuple[int, ...], ...]  # the input shapes a model is specialised to
HINTS = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")
EXECUTES = {
    "fp32": "f32 weights, f32 compute",
    "fp16": "f16 weights in the IR, decompressed to f32 at compile time; f32 compute",
    "bf16": "bf16 compute (INFERENCE_PRECISION_HINT=bf16) on {weights} weights",
    "int8": "int8 quantized convolutions/matmuls (NNCF), the rest {rest}",
}


def unavailable_reason(precision: str | None = None) -> str | None:
    """Why OpenVINO cannot run ``precision`` on this machine's CPU (bf16 needs hardware support)."""
    if precision != "bf16":
        return None
    try:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses from C++
        return f"not available: cannot query the OpenVINO CPU device: {ov_error_line(exc)}"
    if "BF16" not in caps:
        return f"not available: this CPU has no bf16 execution in OpenVINO (capabilities: {', '.join(caps)})"
    return None


def resolve_model_file(model_path: str | os.PathLike[str]) -> Path:
    """An .onnx / .xml file, or an export folder (its model.onnx, else its model.xml)."""
    path = Path(model_path)
    if path.is_dir():
        candidates = [path / MODEL_ONNX, path / IR_XML]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise BackendError(f"{path} holds neither {MODEL_ONNX} nor {IR_XML}")
        path = found
    if not path.is_file():
        raise BackendError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (ONNX_SUFFIX, IR_SUFFIX):
        raise BackendError(f"OpenVINO loads an {ONNX_SUFFIX} or an IR {IR_SUFFIX} file, not {path.name!r}")
    if suffix == IR_SUFFIX and not ir_weights(path).is_file():
        raise BackendError(f"the IR {path} has no weights file {ir_weights(path).name} beside it")
    return path


@dataclass
class Compiled:
    """One compiled model: the shapes it was specialised to (None: dynamic), the ov.Model it was
    compiled from, the compiled model, its infer request and its cache entry (None: uncached)."""

    shapes: Shapes | None
    model: Any
    compiled: Any
    request: Any
    entry: CacheEntry | None

    def parts(self) -> tuple[Any, Any, Any, CacheEntry | None]:
        return self.model, self.compiled, self.request, self.entry

    def loaded_from_cache(self) -> bool:
        """Whether OpenVINO imported this model from a cached blob rather than compiling it."""
        if self.entry is None:
            return False
        try:
            return bool(self.compiled.get_property("LOADED_FROM_CACHE"))
        except Exception:  # a device without the property
            return False


class OpenVinoRuntime(Runtime):
    """``open_runtime("openvino", path, task=, precision=, threads=, hint=, device=, extension=,
    specialize=, cache=, profile=, int8_rest=)``."""

    name = "openvino"
    chooses_precision = True  # precision="auto" (see _auto_precision)

    def __init__(
        self,
        model_path: str | Path,
        task: str | None = None,
        precision: str | None = None,
        threads: int | None = None,
        hint: str | None = "LATENCY",
        device: str = "CPU",
        extension: str | os.PathLike[str] | None = None,
        auto_build: bool = True,
        specialize: bool = True,
        cache: bool = True,
        profile: bool = False,
        int8_rest: str | None = None,
    ) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendError("openvino is not installed (pip install 'mgdn-edge[openvino]')") from exc
        self._ov = ov
        auto = precision == AUTO
        supported = OPENVINO.precisions
        requested = None if precision is None or auto else check_precision(precision, supported, self.name)
        self.model_path = resolve_model_file(model_path)
        self._set_execution(device, hint, threads)
        self.profile = bool(profile)
        self._last_request: Any = None  # the infer request that ran last (its profiling_info)
        model = self._load(device, extension, auto_build, task)
        model = self._set_precision(model, requested, auto, int8_rest)
        self._prepare_compile(model, specialize, cache)

    # -- loading -------------------------------------------------------------------------------
    def _load(
        self, device: str, extension: str | os.PathLike[str] | None, auto_build: bool, task: str | None
    ) -> Any:
        """Open the core, read the model with its extension and what it says about itself."""
        self._open_core(device)
        model, self.extension = read_model(self.core, self.model_path, extension, auto_build)
        # An ONNX file's attention and filters become other extension ops as it is read: the
        # file's hash alone cannot say so.
        kinds = [op.get_type_name() for op in model.get_ops()]
        self._rewritten = {kind: kinds.count(kind) for kind in (ATTENTION_OP, CHANNELS_LAST_OP)}
        self._read_description(model, task)
        check_input_count(self.model_path, len(model.inputs), self.config)
        return model

    def _set_precision(self, model: Any, requested: str | None, auto: bool, int8_rest: str | None) -> Any:
        """Settle the precision to run (``auto``: chosen here) and make the model run at it."""
        self.precision_choice: str | None = None  # why, when the precision was chosen by "auto"
        if auto:
            requested, self.precision_choice = self._auto_precision()
        self.precision = requested or self.file_precision  # None: run the file as it was built
        model = self._apply_precision(model)
        self.int8_rest = self._int8_rest(int8_rest) if self.precision == "int8" else None
        self._fed_ops = feed_extension_ops(model, self._compute_type())
        return model

    def _prepare_compile(self, model: Any, specialize: bool, cache: bool) -> None:
        """What compiling needs; nothing is compiled here.

        The file is read and checked at open, and ``run`` compiles once per input shape
        (compiling the dynamic model as well would double the start-up cost).
        """
        self._relax_batch(model)
        # An INT8 IR quantized with its channel attention in int8 crashes OpenVINO's snippets.
        self._snippets_crash = self.precision == "int8" and bool(quantized_channel_attention(model))
        self._filter_names = {
            op.get_friendly_name() for op in model.get_ops() if op.get_type_name() in FILTER_OPS
        }
        dynamic = any(port.get_partial_shape().is_dynamic for port in model.inputs)
        self._specialize = specialize and dynamic
        self._model = model
        self._dynamic: Compiled | None = None  # the model as read
        self._specialized: Compiled | None = None  # the model specialised to the latest shapes
        self.model_cache = model_cache_dir(self.extension) if cache else None

    def _set_execution(self, device: str, hint: str | None, threads: int | None) -> None:
        """Check and keep the device name, performance hint and thread count."""
        self.device = device.upper()
        self.hint = None if hint is None else hint.upper()
        if self.hint is not None and self.hint not in HINTS:
            raise BackendError(f"unknown performance hint {hint!r}; expected one of {', '.join(HINTS)}")
        if threads is not None and int(threads) < 1:
            raise BackendError(f"threads must be >= 1, got {threads}")
        self.threads = None if threads is None else int(threads)

    def _open_core(self, device: str) -> None:
        """An OpenVINO core on which ``self.device`` is available."""
        self.core = self._ov.Core()
        if self.device not in self.core.available_devices:
            raise BackendError(
                f"OpenVINO device {device!r} is not available here; available: "
                f"{', '.join(self.core.available_devices)}"
            )

    def _read_description(self, model: Any, task: str | None) -> None:
        """The network config, static size and file precision, from the IR's rt_info or the ONNX metadata."""
        if self.model_path.suffix.lower() == IR_SUFFIX:
            described = read_ir_description(model, self.model_path)
            self.config, self.static_size = described.config, described.static_size
            self.file_precision = described.precision
            self.config = for_task(self.config, task, self.model_path)
        else:
            metadata = onnx_metadata(model)
            self.config, self.static_size = model_description(self.model_path, metadata, task)
            self.file_precision = metadata.get(METADATA_PRECISION_KEY, "fp32") or "fp32"

    def _apply_precision(self, model: Any) -> Any:
        """Check the requested precision against the file; make an FP16-weight model if asked."""
        file_p, want = self.file_precision, self.precision
        if want == "bf16":
            self._require_bf16("use fp32 or fp16")
            if file_p not in ("fp32", "fp16"):
                raise BackendError(f"{self.model_path.name} is an {file_p} model; bf16 runs fp32/fp16 models")
            return model
        if want == file_p:
            return model
        if want == "fp16" and file_p == "fp32":
            return self._compressed(model)
        raise BackendError(
            f"{self.model_path.name} was built as {file_p}; open it with precision {file_p!r}"
            + (" (int8 IRs come from NNCF quantization)" if want == "int8" else "")
        )

    def _auto_precision(self) -> tuple[str, str]:
        """``precision="auto"``: the fastest precision this CPU runs the file at within its budget.

        An INT8 IR runs as built. A float file runs in bf16 where the CPU executes bf16 (AVX-512
        BF16 or AMX): it is OpenVINO's fastest float precision there and holds the bf16 budget on
        every model the tests run; elsewhere the file's own precision.
        """
        if self.file_precision == "int8":
            return "int8", "an INT8 IR runs as it was quantized"
        caps = self._capabilities()
        if "BF16" in caps:
            return "bf16", f"this CPU executes bf16 in OpenVINO (capabilities {', '.join(caps)})"
        return self.file_precision, f"this CPU has no bf16 in OpenVINO (capabilities {', '.join(caps)})"

    def _compute_type(self) -> str:
        """OpenVINO's name of the precision the float layers run in: bf16 or f32."""
        return "bf16" if "bf16" in (self.precision, self.int8_rest) else "f32"

    def _capabilities(self) -> list[str]:
        return list(self.core.get_property(self.device, "OPTIMIZATION_CAPABILITIES"))

    def _require_bf16(self, instead: str) -> None:
        caps = self._capabilities()
        if "BF16" not in caps:
            raise BackendError(
                f"the OpenVINO {self.device} device has no bf16 execution here (its capabilities: "
                f"{', '.join(caps)}); {instead}"
            )

    def _int8_rest(self, requested: str | None) -> str:
        """The precision of an INT8 model's float remainder: bf16 where the device has it, else f32."""
        if requested is None:
            return "bf16" if "BF16" in self._capabilities() else "f32"
        if requested not in ("bf16", "f32"):
            raise BackendError(f"int8_rest must be 'bf16' or 'f32', got {requested!r}")
        if requested == "bf16":
            self._require_bf16("use int8_rest='f32'")
        return requested

    def _compressed(self, model: Any) -> Any:
        """FP16-compressed weights, made the way ``ov.save_model`` writes them (then read back)."""
        with tempfile.TemporaryDirectory(prefix="mgdn_ov_fp16_") as tmp:
            xml = Path(tmp) / IR_XML
            try:
                self._ov.save_model(model, str(xml), compress_to_fp16=True)
                # Read into memory, not memory-mapped: the .bin is deleted when this block ends.
                compressed = self.core.read_model(str(xml), config={"ENABLE_MMAP": False})
            except Exception as exc:
                raise BackendError(
                    f"cannot compress {self.model_path.name} to fp16: {ov_error_line(exc)}"
                ) from exc
        self.file_precision = "fp16 (compressed in memory)"
        return compressed

    def _relax_batch(self, model: Any) -> None:
        """Give a static batch dimension back its freedom once, so that any batch size can run."""
        shapes = {}
        for i, port in enumerate(model.inputs):
            shape = port.get_partial_shape()
            if shape.rank.is_static and len(shape) == 4 and shape[0].is_static:
                shapes[i] = self._ov.PartialShape([-1, shape[1], shape[2], shape[3]])
        if shapes:
            try:
                model.reshape(shapes)
            except Exception as exc:
                raise BackendError(
                    f"{self.model_path.name} has a fixed batch size that OpenVINO cannot relax: "
                    f"{ov_error_line(exc)}"
                ) from exc

    def _compile_config(self) -> dict[str, Any]:
        import openvino.properties as props
        import openvino.properties.hint as hints

        config: dict[str, Any] = {hints.inference_precision: getattr(self._ov.Type, self._compute_type())}
        if self.hint is not None:
            config[hints.performance_mode] = getattr(hints.PerformanceMode, self.hint)
        if self.threads is not None:
            config[props.inference_num_threads] = self.threads
        if self.profile:
            config[props.enable_profiling] = True  # PERF_COUNT: per-node times in profiling_info
        if self._snippets_crash:
            config["SNIPPETS_MODE"] = "DISABLE"  # see runtimes/openvino/int8.py
        return config

    # -- running -------------------------------------------------------------------------------
    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        current = self._compiled_for(tuple(a.shape for a in arrays))
        out = self._infer(current, arrays)
        if not np.isfinite(out).all() and current.loaded_from_cache():
            out = self._rerun_without_blob(current, arrays)
        return out

    def _infer(self, current: Compiled, arrays: Sequence[np.ndarray]) -> np.ndarray:
        self._last_request = current.request
        try:
            current.request.infer({i: a for i, a in enumerate(arrays)})
            out = current.request.get_output_tensor(0).data
        except Exception as exc:  # anything left after the input check is a backend failure
            raise BackendError(f"OpenVINO failed on {self.model_path.name}: {ov_error_line(exc)}") from exc
        return np.array(out, dtype=np.float32, copy=True)

    def _rerun_without_blob(self, stale: Compiled, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """NaN/Inf from a model imported from the cache: delete its blob, compile afresh, run again.

        Only a non-finite output of a fresh compile is left for the output check to judge, so a
        bad blob is never reported as the model overflowing.
        """
        assert stale.entry is not None  # a model loaded from the cache has an entry
        stale.entry.discard()
        fresh = self._compile(stale.model, stale.shapes)
        if self._specialized is stale:
            self._specialized = fresh
        else:
            self._dynamic = fresh
        out = self._infer(fresh, arrays)
        if np.isfinite(out).all():
            warn(
                f"the cached compiled model {stale.entry.folder} gave NaN/Inf for {self.model_path.name} "
                f"({self.precision}); deleted it and recompiled: this output is from the fresh compile"
            )
        return out

    def _compile(self, model: Any, shapes: Shapes | None) -> Compiled:
        """Compile ``model`` (specialised to ``shapes``, or dynamic for None), through the cache."""
        config = self._compile_config()
        entry = None
        if self.model_cache is not None:
            entry = CacheEntry(self.model_cache, self._compile_key(config, shapes))
        try:
            if entry is None:
                compiled = self.core.compile_model(model, self.device, config)
            else:
                compiled = self._compile_cached(model, config, entry)
            return Compiled(shapes, model, compiled, compiled.create_infer_request(), entry)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses from C++
            raise BackendError(
                f"OpenVINO cannot compile {self.model_path.name}: {ov_error_line(exc)}"
            ) from exc

    def _compile_cached(self, model: Any, config: dict[str, Any], entry: CacheEntry) -> Any:
        """Import the entry's verified blob, or compile afresh and make the new blob the entry's."""
        present, warning = entry.verified()
        if warning is not None:
            warn(warning)
        if present:
            return self.core.compile_model(model, self.device, {**config, CACHE_DIR: str(entry.folder)})
        with entry.staging() as stage:
            return self.core.compile_model(model, self.device, {**config, CACHE_DIR: str(stage)})

    def _compile_key(self, config: dict[str, Any], shapes: Shapes | None) -> dict[str, Any]:
        """The cache key of one compile (:func:`compile_key`)."""
        files = [self.model_path]
        if self.model_path.suffix.lower() == IR_SUFFIX:
            files.append(ir_weights(self.model_path))
        return compile_key(
            [file_sha256(f) for f in files],
            f"{self.file_precision} as {self.precision}"
            + (f", extension ops in {self._compute_type()}" if self._fed_ops else "")
            + "".join(f", {count} {kind} ops" for kind, count in self._rewritten.items() if count),
            config,
            shapes,
            str(self.core.get_property(self.device, "FULL_DEVICE_NAME")),
        )

    def _dynamic_model(self) -> Compiled:
        """The model as read (dynamic H/W), compiled the first time it is needed."""
        if self._dynamic is None:
            self._dynamic = self._compile(self._model, None)
        return self._dynamic

    def _compiled_for(self, shapes: Shapes) -> Compiled:
        """The model compiled for exactly these input shapes (see module doc)."""
        if not self._specialize:
            return self._dynamic_model()
        if self._specialized is not None and self._specialized.shapes == shapes:
            return self._specialized
        self._specialized = None  # free the previous shape's buffers before compiling the next
        model = self._model.clone()
        try:
            model.reshape({i: self._ov.PartialShape(list(shape)) for i, shape in enumerate(shapes)})
            self._specialized = self._compile(model, shapes)
        except Exception:  # a shape this graph cannot be specialised to still runs dynamically
            self._specialized = Compiled(shapes, *self._dynamic_model().parts())
        return self._specialized

    # -- intermediate tensors ------------------------------------------------------------------
    def graph_tensors(self) -> list[str]:
        """The model's tensor names in execution order (OpenVINO keeps the ONNX tensor names)."""
        return [
            name for op in self._model.get_ordered_ops() for port in op.outputs() for name in port.get_names()
        ]

    def run_tensors(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
        """One run of a copy of the model, specialised to these inputs, that also outputs the
        tensors ``names``; compiled without the cache (a one-off graph)."""
        arrays = self.checked_inputs(inputs)
        model = self._model.clone()
        try:
            model.add_outputs(list(names))
            model.reshape({i: self._ov.PartialShape(list(a.shape)) for i, a in enumerate(arrays)})
            compiled = self.core.compile_model(model, self.device, self._compile_config())
            request = compiled.create_infer_request()
            request.infer({i: a for i, a in enumerate(arrays)})
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses from C++
            raise BackendError(
                f"OpenVINO cannot expose {len(names)} tensors of {self.model_path.name}: {ov_error_line(exc)}"
            ) from exc
        found = {}
        for port in compiled.outputs:
            for name in set(port.get_names()) & set(names):
                found[name] = np.array(request.get_tensor(port).data, dtype=np.float32, copy=True)
        return found

    # -- profiling -----------------------------------------------------------------------------
    def _layer_samples(self) -> list[LayerSample]:
        """The executed nodes of the last run, from its request's PERF_COUNT records."""
        if not self.profile:
            raise BackendError("this OpenVINO runtime was opened without profile=True: no layer times")
        if self._last_request is None:
            raise BackendError("no layer times yet: nothing has run")
        executed = self._ov.ProfilingInfo.Status.EXECUTED
        return [
            LayerSample(p.node_type, p.exec_type, p.real_time.total_seconds() * 1000.0)
            for p in self._last_request.profiling_info
            if p.status == executed
        ]

    def layer_times(self) -> list[LayerTime]:
        """Per-layer-type times of the last run (the compiled model of its input shape)."""
        return aggregate(self._layer_samples())

    def profile_layers(self, inputs: Sequence[np.ndarray], runs: int) -> list[LayerTime]:
        """``runs`` runs of ``inputs``, their layer times summed and divided by ``runs``.

        The records describe one run each (the last), so they are read after every run.
        """
        samples: list[LayerSample] = []
        for _ in range(check_runs(runs)):
            self.run(inputs)
            samples.extend(self._layer_samples())
        return aggregate(samples, runs)

    @property
    def compiled(self) -> Any:
        """The compiled model that ran last (the dynamic model, compiled now, if nothing ran yet)."""
        return (self._specialized or self._dynamic_model()).compiled

    def _filter_precision(self) -> str | None:
        """The element type the DynamicFilter op runs in, read from the compiled (execution) graph."""
        found = set()
        for op in self.compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            names = str(info["originalLayersNames"].astype(str)) if "originalLayersNames" in info else ""
            if self._filter_names & set(names.split(",")) and "runtimePrecision" in info:
                found.add(str(info["runtimePrecision"].astype(str)))
        return ",".join(sorted(found)) or None

    def describe(self) -> dict[str, Any]:
        def prop(key: str) -> Any:
            try:
                value = self.compiled.get_property(key)
            except Exception:  # a device without this property
                return None
            return value.to_string() if isinstance(value, self._ov.Type) else value

        weights = "f16" if self.file_precision.startswith("fp16") else "f32"
        return {
            "runtime": self.name,
            "model": str(self.model_path),
            "task": self.config.task,
            "provider": f"OpenVINO {self.device} ({self.core.get_property(self.device, 'FULL_DEVICE_NAME')})",
            "device": self.device,
            "precision": self.precision,
            "precision_choice": self.precision_choice,
            "file_precision": self.file_precision,
            "executes": EXECUTES[self.precision].format(weights=weights, rest=self.int8_rest),
            "inference_precision": prop("INFERENCE_PRECISION_HINT"),
            "dynamic_filter_precision": self._filter_precision(),
            "threads": prop("INFERENCE_NUM_THREADS") if self.threads is None else self.threads,
            "hint": str(prop("PERFORMANCE_HINT")),
            "streams": prop("NUM_STREAMS"),
            "shapes": "compiled per input shape" if self._specialize else "as compiled",
            "model_cache": None if self.model_cache is None else str(self.model_cache),
            "profiling": self.profile,
            "extension": None if self.extension is None else str(self.extension),
            "openvino": self._ov.__version__,
        }
