"""ONNX Runtime backend for exported models (``model.onnx`` or ``model.portable.onnx``).

The ``mgdn.DynamicFilter`` node: ONNX Runtime runs its native kernel from ``libmgdn_ort.so``
(:mod:`mgdn_edge.plugins.onnxruntime_ops`, the CPU kernel the OpenVINO extension runs) when the
model has the node, the session's first provider is the CPU one and the library is available;
otherwise it inlines the node's portable ONNX function body (standard ops; about half of ORT's
time on MGDN models), so the file with the custom node runs here either way. The default library
is built on first use (one note on stderr) where onnxruntime >= 1.21, its C API headers, cmake
and a C++ compiler exist; where any is missing the portable body runs and ``describe()`` says
why. ``ops_library=`` or ``$MGDN_ONNXRUNTIME_OPS`` name a library built elsewhere (a missing
file is a one-line error, never a silent fallback); ``native_op=False`` forces the portable
body (benchmarks, tests), ``native_op=True`` makes an unavailable library an error.
``describe()["dynamic_filter"]`` reports which one runs.

Execution providers are picked from what the installed onnxruntime offers, best first
(TensorRT, CUDA, CPU) unless ``providers=`` says otherwise; ``describe()`` reports the provider
that actually got the session. Precision is the file's (its ``mgdn_edge.core.precision``
metadata: an FP16 graph, an INT8 QDQ graph, else fp32); ``precision="fp16"`` on an export folder
opens its FP16 graph, and on an fp32 file only the TensorRT EP can honour it (``trt_fp16_enable``).

Layer profiling (``profile=True``, then :meth:`OnnxRuntime.profile_layers`): ONNX Runtime can
switch its profiler on only when a session is created, and then it records every run of that
session until ``end_profiling``, which may be called once. So the session that ``run`` uses is
never profiled -- its latency and memory carry no profiler cost -- and ``profile_layers`` creates
a second session with the same options and profiling on, runs it once to warm up and then the
requested runs, and reads the trace file (in a temporary folder, deleted). Of the trace's node
events (``<node>_kernel_time``: op type, provider, duration) only those of the requested runs
are kept, told apart by their ``model_run`` events.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.errors import BackendError, one_line
from mgdn_edge.core.precision import PRECISIONS
from mgdn_edge.core.results import LayerTime
from mgdn_edge.export.artefacts import FP16_ONNX
from mgdn_edge.export.filter_check import check_fed_arrays, check_onnx_file_filters
from mgdn_edge.runtimes.base import (
    Runtime,
    check_input_count,
    check_precision,
    model_description,
    onnx_file_precision,
    resolve_onnx_path,
)
from mgdn_edge.runtimes.base.profile import LayerSample, aggregate, check_runs

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
SHORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


def select_providers(available: Sequence[str], requested: Sequence[str] | str | None) -> list[str]:
    """Requested providers (short names allowed) that exist, or the best available ones."""
    if requested is None:
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
    else:
        items = [requested] if isinstance(requested, str) else list(requested)
        chosen = [SHORT_NAMES.get(p.lower(), p) for p in items]
        missing = [p for p in chosen if p not in available]
        if missing:
            raise BackendError(
                f"onnxruntime has no {', '.join(missing)} here; available: {', '.join(available)}"
            )
    if not chosen:
        raise BackendError(f"no usable onnxruntime execution provider among {list(available)}")
    return chosen


# ONNX Runtime's names of tensor element types, as OpenVINO spells precisions in its kernels.
_ELEMENT_TYPES = {
    "float": "f32",
    "float16": "f16",
    "bfloat16": "bf16",
    "double": "f64",
    "int8": "i8",
    "uint8": "u8",
    "int32": "i32",
    "int64": "i64",
}


def trace_samples(events: Sequence[dict[str, Any]], runs: int) -> list[LayerSample]:
    """The node kernel times of the last ``runs`` runs in an ONNX Runtime profile trace.

    Exec type: the provider and the element type of the node's first input (what a QDQ graph's
    convolutions really ran in shows there, e.g. ``u8`` for QLinearConv).
    """
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    if len(starts) < check_runs(runs):
        raise BackendError(f"the onnxruntime profile holds {len(starts)} runs, not the {runs} asked for")
    first = starts[-runs]
    samples = []
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time") or e["ts"] < first:
            continue
        args = e.get("args") or {}
        inputs = args.get("input_type_shape") or [{}]
        element = next(iter(inputs[0]), None) if isinstance(inputs[0], dict) else None
        exec_type = str(args.get("provider", "?"))
        if element:
            exec_type += f" {_ELEMENT_TYPES.get(element, element)}"
        samples.append(LayerSample(str(args.get("op_name", "?")), exec_type, float(e["dur"]) / 1000.0))
    return samples


def _has_filter_node(path: Path) -> bool:
    """Whether the ONNX file's main graph holds an ``mgdn.DynamicFilter`` node."""
    import onnx

    from mgdn_edge.export.artefacts import is_filter_node

    model = onnx.load(str(path), load_external_data=False)
    return any(is_filter_node(node) for node in model.graph.node)


class OnnxRuntime(Runtime):
    """``open_runtime("onnxruntime", "export_dir/model.onnx", task=..., providers=None, threads=None,
    profile=False, native_op=None, ops_library=None)``."""

    name = "onnxruntime"

    def __init__(
        self,
        model_path: str | Path,
        task: str | None = None,
        precision: str | None = None,
        threads: int | None = None,
        providers: Sequence[str] | str | None = None,
        portable: bool = False,
        optimization: str = "all",
        profile: bool = False,
        native_op: bool | None = None,
        ops_library: str | os.PathLike[str] | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError("onnxruntime is not installed (pip install 'mgdn-edge[onnx]')") from exc
        self._ort = ort
        requested = None if precision is None else check_precision(precision, PRECISIONS, self.name)
        self.model_path = resolve_onnx_path(model_path, portable, requested)
        chosen = select_providers(ort.get_available_providers(), providers)
        self.file_precision = onnx_file_precision(self.model_path)
        self.precision = self._checked_precision(requested, chosen[0])
        levels = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        if optimization not in levels:
            raise BackendError(
                f"unknown optimization level {optimization!r}; expected one of {sorted(levels)}"
            )
        self._level = levels[optimization]
        self.optimization = optimization
        self.threads = threads
        self.profile = bool(profile)
        self._provider_args: list[Any] = []
        for p in chosen:
            if p == "TensorrtExecutionProvider" and self.precision == "fp16":
                self._provider_args.append((p, {"trt_fp16_enable": True}))
            else:
                self._provider_args.append(p)
        # ONNX Runtime runs the function body and never reads kernel_size: the shared check gives
        # this runtime the same verdict on a bad DynamicFilter node as OpenVINO and TensorRT.
        self._fed = check_onnx_file_filters(self.model_path)
        self.ops_library, self.filter_reason = self._filter_kernel(native_op, ops_library, chosen[0])
        self.session = self._session(self._session_options())
        metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.config, self.static_size = model_description(self.model_path, metadata, task)
        self.input_names = [i.name for i in self.session.get_inputs()]
        check_input_count(self.model_path, len(self.input_names), self.config)

    def _session_options(self) -> Any:
        options = self._ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = self._level
        if self.threads is not None:
            options.intra_op_num_threads = int(self.threads)
        if self.ops_library is not None:
            try:
                options.register_custom_ops_library(str(self.ops_library))
            except Exception as exc:  # the library's own status message (e.g. an onnxruntime too old)
                why = one_line(exc)
                raise BackendError(f"onnxruntime cannot register {self.ops_library}: {why}") from exc
        return options

    def _filter_kernel(
        self, native_op: bool | None, library: str | os.PathLike[str] | None, provider: str
    ) -> tuple[Path | None, str]:
        """(op library to register or None, why the portable body runs instead) for this model."""
        from mgdn_edge.plugins import onnxruntime_ops as ops

        explicit = library is not None or bool(os.environ.get(ops.ENV_VAR))
        if native_op is False:
            return None, "native op disabled (native_op=False)"
        if explicit:  # the user's word: a wrong path fails even for a model without the node
            return ops.ensure_onnxruntime_ops(library), ""
        if not _has_filter_node(self.model_path):
            return None, "the model has no mgdn.DynamicFilter node"
        if provider != "CPUExecutionProvider" and native_op is None:
            return None, f"the native op runs on the CPU provider, this session's first is {provider}"
        reason = ops.unavailable_reason()
        if reason is not None:
            if native_op:
                raise BackendError(f"the native DynamicFilter op is unavailable: {reason}")
            return None, reason
        try:
            return ops.ensure_onnxruntime_ops(), ""
        except BackendError as exc:
            if native_op:
                raise
            print(f"mgdn-edge: running the portable DynamicFilter body: {exc}", file=sys.stderr)
            return None, str(exc)

    def _session(self, options: Any) -> Any:
        try:
            return self._ort.InferenceSession(str(self.model_path), options, providers=self._provider_args)
        except Exception as exc:  # onnxruntime raises its own exception types from C++
            raise BackendError(f"onnxruntime cannot load {self.model_path}: {one_line(exc)}") from exc

    def _checked_precision(self, requested: str | None, provider: str) -> str:
        """The file's own precision, or fp16 made by the TensorRT EP from an fp32 graph; never a relabel."""
        file_p = self.file_precision
        if requested is None or requested == file_p:
            return file_p
        if requested == "fp16" and file_p == "fp32" and provider == "TensorrtExecutionProvider":
            return "fp16"
        how = {
            "fp16": f"an export folder's {FP16_ONNX} (written by `mgdn-edge export`)",
            "int8": "a QDQ file from `mgdn-edge quantize --runtime onnxruntime`",
        }.get(requested, "no ONNX graph; use the openvino runtime")
        raise BackendError(
            f"{self.model_path.name} was built as {file_p} and {provider} does not run it as {requested}; "
            f"for {requested} open {how}"
        )

    def _feeds(self, arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Checked input arrays by graph input name, their DynamicFilter kernel sizes checked."""
        feeds = dict(zip(self.input_names, arrays, strict=True))
        if self._fed:
            check_fed_arrays(self._fed, feeds, self.model_path.name)
        return feeds

    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        feeds = self._feeds(arrays)
        try:
            return self.session.run(None, feeds)[0]
        except Exception as exc:  # anything left is a backend failure, not a user input problem
            raise BackendError(f"onnxruntime failed on {self.model_path.name}: {one_line(exc)}") from exc

    def graph_tensors(self) -> list[str]:
        """The graph's tensor names in execution order (node order of the ONNX file)."""
        import onnx

        graph = onnx.load(str(self.model_path), load_external_data=False).graph
        return [name for node in graph.node for name in node.output if name]

    def run_tensors(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
        """One run of a copy of the model that also outputs the graph tensors ``names``.

        The copy lives only for this call, so the session ``run`` uses keeps every optimisation
        across the tensors asked for. Each is declared with what ONNX shape inference knows of it
        (element type, rank, symbolic sizes): declared without a shape, an output that other nodes
        read can make ONNX Runtime's optimiser fail on a Reshape further on ("multiple -1
        dimensions").
        """
        import onnx

        model = onnx.load(str(self.model_path))
        inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
        unknown = onnx.TensorProto.FLOAT
        model.graph.output.extend(
            inferred.get(n) or onnx.helper.make_tensor_value_info(n, unknown, None) for n in names
        )
        try:
            session = self._ort.InferenceSession(
                model.SerializeToString(), self._session_options(), providers=self._provider_args
            )
            values = session.run(list(names), self._feeds(self.checked_inputs(inputs)))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(
                f"onnxruntime cannot expose {len(names)} tensors of {self.model_path.name}: {one_line(exc)}"
            ) from exc
        return {n: np.asarray(v, dtype=np.float32) for n, v in zip(names, values, strict=True)}

    def profile_layers(self, inputs: Sequence[np.ndarray], runs: int) -> list[LayerTime]:
        """Layer times per run over ``runs`` runs of a profiling session (see the module doc)."""
        if not self.profile:
            raise BackendError("this onnxruntime runtime was opened without profile=True: no layer times")
        feeds = self._feeds(self.checked_inputs(inputs))
        with tempfile.TemporaryDirectory(prefix="mgdn_ort_profile_") as tmp:
            options = self._session_options()
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(tmp, "ort")
            session = self._session(options)
            try:
                for _ in range(1 + check_runs(runs)):  # the first run allocates and picks kernels
                    session.run(None, feeds)
            except Exception as exc:
                raise BackendError(f"onnxruntime failed on {self.model_path.name}: {one_line(exc)}") from exc
            finally:
                trace = session.end_profiling()
            with open(trace) as fh:
                events = json.load(fh)
        return aggregate(trace_samples(events, runs), runs)

    def describe(self) -> dict[str, Any]:
        providers = self.session.get_providers()
        return {
            "runtime": self.name,
            "model": str(self.model_path),
            "task": self.config.task,
            "provider": providers[0],
            "providers": providers,
            "precision": self.precision,
            "file_precision": self.file_precision,
            "threads": self.threads if self.threads is not None else f"auto ({os.cpu_count()} cpus)",
            "graph_optimization": self.optimization,
            "profiling": self.profile,
            "onnxruntime": self._ort.__version__,
            "dynamic_filter": (
                f"native ({self.ops_library.name}, {self.ops_library})"
                if self.ops_library is not None
                else f"portable ONNX function body ({self.filter_reason})"
            ),
        }
