"""TensorRT backend: run an engine built by ``mgdn-edge build-engine`` (``.engine`` / ``.plan``).

The engine is deserialized with the DynamicFilter plugin library loaded first (the path recorded
in the engine's sidecar, else the default build), since an engine holding plugin layers cannot
be deserialized without their creators. Inputs are checked with the toolkit's own validation and
against the engine's optimisation profile *before* TensorRT sees them, so a size outside the
profile is an :class:`InputError` naming the range rather than a TensorRT log line.

Memory and the stream are torch.cuda's (torch is on every GPU machine this targets): inputs are
copied to the device, each call sets the input shapes for the engine's dynamic H/W/batch, binds
tensor addresses by name and runs ``execute_async_v3`` on a torch stream. The I/O is float32 --
FP16 engines come from ``model.fp16.onnx`` whose inputs/output stay float32 -- and any other I/O
type the engine reports is converted at the boundary rather than assumed.

The precision is the engine's own (sidecar); asking for another one is an error, never a relabel.

Intermediate tensors (``mgdn-edge diff``): :meth:`TensorRTRuntime.graph_tensors` lists the tensors
of the ONNX file the engine was built from (its sidecar names it) in node order, and
:meth:`TensorRTRuntime.run_tensors` builds one more engine from that file, with the same precision,
profile, plugin and FP32 modules, in which those tensors are marked as network outputs
(:func:`mark_outputs`: after parsing, before building; the ONNX parser names each network tensor
after its ONNX tensor), runs it once and returns them. An engine marks only what one diff pass
asks for, so each pass costs one build and holds only its own tensors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.errors import BackendError, InputError
from mgdn_edge.export.artefacts import ENGINE_SUFFIXES, sha256_file
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.precision import PRECISIONS
from mgdn_edge.runtimes.base import Runtime, check_precision, for_task, model_description
from mgdn_edge.runtimes.tensorrt_build import gpu_name, import_tensorrt, load_plugin_library
from mgdn_edge.runtimes.tensorrt_engine_file import (
    EngineSidecar,
    check_engine_matches,
    read_sidecar,
    sidecar_path,
)
from mgdn_edge.runtimes.tensorrt_plan import ShapeProfile


def unavailable_reason(precision: str | None = None) -> str | None:
    """Why TensorRT cannot run here: its package does not import, or there is no CUDA GPU."""
    try:
        import_tensorrt()
    except BackendError as exc:
        return f"not available: {exc}"
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    return None if has_gpu else "not available: no CUDA GPU"


def mark_outputs(network: Any, names: Sequence[str]) -> None:
    """Mark the network tensors named ``names`` (ONNX tensor names) as outputs; BackendError naming
    the ones the parsed network does not hold (a tensor the parser folded into a constant)."""
    tensors = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            tensors.setdefault(layer.get_output(j).name, layer.get_output(j))
    missing = missing_tensors(list(tensors), names)
    if missing:
        raise BackendError(
            f"the parsed TensorRT network has no tensor {missing[0]!r} ({len(missing)} of {len(names)} "
            "asked for are missing): the parser folded or renamed it"
        )
    for name in names:
        if not tensors[name].is_network_output:
            network.mark_output(tensors[name])


def missing_tensors(available: Sequence[str], names: Sequence[str]) -> list[str]:
    """``names`` that are not in ``available``, in their order (what :func:`mark_outputs` refuses)."""
    have = set(available)
    return [n for n in names if n not in have]


def model_output(outputs: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The engine's own output(s): its outputs less the tensors marked for a diff pass."""
    marked = set(extra)
    return [n for n in outputs if n not in marked]


def check_profile(shape: Sequence[int], profile: ShapeProfile, name: str) -> None:
    """InputError unless the NCHW ``shape`` lies within the engine's profile (batch, H, W)."""
    n, _, h, w = shape
    lo = (profile.min_batch, *profile.min_hw)
    hi = (profile.max_batch, *profile.max_hw)
    for label, value, a, b in zip(("batch", "height", "width"), (n, h, w), lo, hi, strict=True):
        if not a <= value <= b:
            raise InputError(
                f"input {name!r} has {label} {value}, outside the engine's profile {a}..{b} "
                f"(rebuild it with `mgdn-edge build-engine --min/--max`, or `fuse --tile`)"
            )


def _engine_config(path: Path, sidecar: EngineSidecar | None, task: str | None):  # type: ignore[no-untyped-def]
    """(config, static size) from the sidecar, else the export's manifest.json beside the engine."""
    if sidecar is not None and sidecar.config is not None:
        config = MGDNConfig.from_dict(sidecar.config)
        return for_task(config, task, path), sidecar.static_size
    try:
        return model_description(path, {}, task)
    except BackendError:
        raise BackendError(
            f"{path} has no sidecar {sidecar_path(path).name} and no manifest.json beside it, so its "
            "MGDN config is unknown; build engines with `mgdn-edge build-engine`"
        ) from None


def _engine_file(path: Path) -> Path:
    """``path`` if it is an engine file; a folder or another file is a BackendError saying what to build."""
    if path.is_dir():
        raise BackendError(
            f"{path} is a folder: the tensorrt runtime runs an engine; build one with "
            f"`mgdn-edge build-engine --model {path} --out {path / 'model.engine'}`"
        )
    if not path.is_file():
        raise BackendError(f"engine file not found: {path}")
    if path.suffix.lower() not in ENGINE_SUFFIXES:
        raise BackendError(
            f"{path.name} is not a TensorRT engine ({'/'.join(ENGINE_SUFFIXES)}); build one with "
            "`mgdn-edge build-engine`"
        )
    return path


class TensorRTRuntime(Runtime):
    """``open_runtime("tensorrt", "model.engine", task=..., plugin=None, device=0)``."""

    name = "tensorrt"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        task: str | None = None,
        precision: str | None = None,
        threads: int | None = None,
        plugin: str | os.PathLike[str] | None = None,
        device: int = 0,
    ) -> None:
        if threads is not None:
            raise BackendError("threads do not apply to the tensorrt runtime (it runs on the GPU)")
        self.model_path = _engine_file(Path(model_path))
        self._read_sidecar(task, precision)
        self._load_engine(plugin, int(device))
        self._bind_io()

    def _read_sidecar(self, task: str | None, precision: str | None) -> None:
        """Config, static size, precision and shape profile: what the engine was built as."""
        path = self.model_path
        self.sidecar = read_sidecar(path)
        self.config, self.static_size = _engine_config(path, self.sidecar, task)
        own = (self.sidecar and self.sidecar.precision) or "fp32"
        if precision is not None and check_precision(precision, PRECISIONS, self.name) != own:
            raise BackendError(
                f"{path.name} was built as {own}; an engine runs at the precision it was built with -- "
                f"build a {precision} engine with `mgdn-edge build-engine --precision {precision}`"
            )
        self.precision = own
        self.profile = self.sidecar.profile if self.sidecar else None

    def _load_engine(self, plugin: str | os.PathLike[str] | None, device: int) -> None:
        """Check the engine against this machine, load its plugin and deserialize it on ``device``."""
        trt = import_tensorrt()
        try:
            import torch
        except ImportError as exc:
            raise BackendError("the tensorrt runtime uses torch.cuda for memory: install torch") from exc
        if not torch.cuda.is_available():
            raise BackendError("the tensorrt runtime needs a CUDA GPU, and torch sees none")
        self._trt, self._torch = trt, torch
        self.device = torch.device("cuda", device)
        library = self._plugin_library(plugin)
        running = {
            "tensorrt_version": trt.__version__,
            "device": gpu_name(device),
            "plugin_sha256": sha256_file(library) if library is not None else None,
        }
        check_engine_matches(self.model_path, self.sidecar, running)  # before TensorRT sees the bytes
        self.plugin = None if library is None else load_plugin_library(trt, library)  # once per process
        self._logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(self.model_path.read_bytes())
            if self.engine is None:
                raise BackendError(self._deserialize_failure())
            self.context = self.engine.create_execution_context()
            self.stream = torch.cuda.Stream(self.device)

    def _deserialize_failure(self) -> str:
        """Why an engine did not deserialize here: it was built elsewhere (as its sidecar says)."""
        built = (self.sidecar and self.sidecar.tensorrt_version) or "an unknown TensorRT"
        on = (self.sidecar and self.sidecar.device) or "an unknown GPU"
        return (
            f"TensorRT {self._trt.__version__} cannot deserialize {self.model_path.name} (built with "
            f"TensorRT {built} on {on}); engines are specific to one GPU and TensorRT version: rebuild it "
            "here with `mgdn-edge build-engine`"
        )

    def _bind_io(self) -> None:
        """The engine's input and output names, checked against the task's inputs and one output."""
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self._trt.TensorIOMode.INPUT
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.extra_outputs = list((self.sidecar and self.sidecar.extra_outputs) or [])
        own = model_output(self.output_names, self.extra_outputs)
        if sorted(self.input_names) != sorted(self.config.io.input_names) or len(own) != 1:
            raise BackendError(
                f"{self.model_path.name} has inputs {self.input_names} and outputs {self.output_names}; a "
                f"{self.config.task} model takes {list(self.config.io.input_names)} and gives one output"
            )

    def _plugin_library(self, plugin: str | os.PathLike[str] | None) -> Path | None:
        """The plugin library this engine needs: ``plugin``, the one its sidecar names, or the default."""
        from mgdn_edge.plugins.tensorrt_plugin import find_tensorrt_plugin

        recorded = self.sidecar.plugin if self.sidecar else None
        if plugin is None and self.sidecar is not None and self.sidecar.built_without_plugin:
            return None  # built without the plugin (the function body inlined)
        if plugin is None and recorded is not None and Path(recorded).is_file():
            library = Path(recorded)
        else:
            library = find_tensorrt_plugin(plugin)
        return library

    def _torch_dtype(self, name: str):  # type: ignore[no-untyped-def]
        trt, torch = self._trt, self._torch
        table = {trt.float32: torch.float32, trt.float16: torch.float16}
        if hasattr(trt, "bfloat16"):
            table[trt.bfloat16] = torch.bfloat16
        dtype = self.engine.get_tensor_dtype(name)
        if dtype not in table:
            raise BackendError(f"engine tensor {name!r} has type {dtype}, which this runtime does not bind")
        return table[dtype]

    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        own = model_output(self.output_names, self.extra_outputs)[0]
        return self._execute(arrays, [own])[own]

    def _execute(self, arrays: Sequence[np.ndarray], wanted: Sequence[str]) -> dict[str, np.ndarray]:
        """One run of checked inputs: every output bound (TensorRT needs an address for each),
        ``wanted`` returned; inputs outside the engine's profile are an InputError first."""
        if self.profile is not None:
            for name, x in zip(self.config.io.input_names, arrays, strict=True):
                check_profile(x.shape, self.profile, name)
        torch = self._torch
        by_name = dict(zip(self.config.io.input_names, arrays, strict=True))
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            keep = []
            for name in self.input_names:
                x = torch.from_numpy(by_name[name]).to(self.device, non_blocking=False)
                x = x.to(self._torch_dtype(name)).contiguous()
                keep.append(x)
                if not self.context.set_input_shape(name, tuple(x.shape)):
                    raise InputError(f"TensorRT refused shape {tuple(x.shape)} for input {name!r}")
                self.context.set_tensor_address(name, x.data_ptr())
            outputs = {}
            for out_name in self.output_names:
                shape = tuple(self.context.get_tensor_shape(out_name))
                if any(d < 0 for d in shape):
                    raise BackendError(f"TensorRT could not resolve the shape of {out_name!r} ({shape})")
                outputs[out_name] = torch.empty(shape, dtype=self._torch_dtype(out_name), device=self.device)
                self.context.set_tensor_address(out_name, outputs[out_name].data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise BackendError(f"TensorRT failed to run {self.model_path.name} (see its log above)")
            results = {n: outputs[n].float().cpu() for n in wanted}  # synchronises with the stream
            self.stream.synchronize()
        del keep
        return {n: r.numpy() for n, r in results.items()}

    # -- intermediate tensors ------------------------------------------------------------------
    def _source_onnx(self) -> Path:
        recorded = self.sidecar.onnx if self.sidecar else None
        if not recorded or not Path(recorded).is_file():
            raise BackendError(
                f"{self.model_path.name}'s source ONNX file ({recorded or 'not recorded'}) is not here: "
                "diff names and marks the engine's tensors in it; rebuild with `mgdn-edge build-engine`"
            )
        return Path(recorded)

    def graph_tensors(self) -> list[str]:
        """The tensors of the ONNX file the engine was built from, in node order."""
        import onnx

        graph = onnx.load(str(self._source_onnx()), load_external_data=False).graph
        return [name for node in graph.node for name in node.output if name]

    def run_tensors(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
        """One run of an engine built like this one with ``names`` marked as outputs (module doc)."""
        import tempfile

        from mgdn_edge.runtimes.tensorrt_build import build_engine

        profile = self.profile
        sizes = {} if profile is None else {
            "min_hw": profile.min_hw, "opt_hw": profile.opt_hw, "max_hw": profile.max_hw,
            "max_batch": profile.max_batch,
        }  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="mgdn_trt_diff_") as tmp:
            probe = build_engine(
                self._source_onnx(), Path(tmp) / "probe.engine", precision=self.precision,
                plugin=False if self.plugin is None else self.plugin, task=self.config.task,
                keep_float=(self.sidecar and self.sidecar.keep_float) or (), extra_outputs=list(names),
                **sizes,
            )  # fmt: skip
            runner = TensorRTRuntime(probe.path, task=self.config.task, plugin=self.plugin,
                                     device=self.device.index or 0)  # fmt: skip
            return runner._execute(runner.checked_inputs(inputs), list(names))

    def describe(self) -> dict[str, Any]:
        side = self.sidecar or EngineSidecar()
        return {
            "runtime": self.name,
            "model": str(self.model_path),
            "task": self.config.task,
            "provider": f"TensorRT {self._trt.__version__}",
            "device": self._torch.cuda.get_device_name(self.device),
            "precision": self.precision,
            "strongly_typed": side.strongly_typed,
            "threads": "n/a (GPU)",
            "plugin": str(self.plugin) if self.plugin else None,
            "plugin_layers": side.plugin_layers,
            "profile": side.profile.to_dict() if side.profile else None,
            "built_with": side.tensorrt_version,
            "built_on": side.device,
        }
