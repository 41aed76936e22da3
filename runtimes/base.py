"""The small interface every inference backend implements, and the checks they share.

A runtime is opened once (load), then ``run(inputs)`` takes the task's inputs as NCHW float32
numpy arrays and returns the NCHW float32 output; ``describe()`` says what actually executes
(provider, precision, threads, model file) so reports and benchmarks are attributable.

Inputs are validated *before* any backend sees them (:func:`check_inputs`): a wrong count,
rank, channel count, size, dtype or a NaN gives the toolkit's own :class:`InputError` naming the
input, never a backend stack trace. The network config needed for that comes from the
``manifest.json`` written next to an exported model, else from the config recorded in the ONNX
file's metadata (see :mod:`mgdn_edge.export.onnx_export`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mgdn_edge.errors import BackendError, InputError, one_line
from mgdn_edge.export.artefacts import (
    FP16_ONNX,
    MANIFEST_FILE,
    METADATA_CONFIG_KEY,
    METADATA_PRECISION_KEY,
    METADATA_STATIC_KEY,
    MODEL_ONNX,
    ONNX_SUFFIX,
    PORTABLE_ONNX,
    QDQ_OPS,
    sha256_file,
)
from mgdn_edge.export.manifest_record import Manifest, read_manifest_file
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.model.inputs import validate_inputs
from mgdn_edge.precision import Precision
from mgdn_edge.size import Size

# MFF and MEF are one architecture: a model exported for one may serve the other.
COMPATIBLE_TASKS = {"mff": {"mff", "mef"}, "mef": {"mff", "mef"}, "hdr": {"hdr"}, "gdsr": {"gdsr"}}


class Runtime(ABC):
    """What ``mgdn-edge fuse``, ``parity`` and the benchmarks need from a backend.

    :meth:`run` is the one entry: it validates the inputs (:func:`check_inputs`, against
    :attr:`static_size`), hands the checked arrays to the backend's :meth:`_run` and refuses a
    non-finite output (:func:`check_output`), so no backend repeats either check and no caller
    can reach a backend around them.
    """

    name: str  # the backend's name, as ``--runtime`` spells it
    config: MGDNConfig  # the network the model implements (inputs, task)
    static_size: tuple[int, int] | None = None  # the (H, W) a fixed-size export takes; None: any
    precision: str = "fp32"  # what actually executes
    model_path: Path | None = None  # the file run, where there is one (named in errors)
    chooses_precision: ClassVar[bool] = False  # takes precision="auto" (picks the fastest that holds)

    def run(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Task inputs (NCHW float32, values as the network expects) -> NCHW float32 output."""
        arrays = self.checked_inputs(inputs)
        return check_output(self, arrays, self._run(arrays))

    def checked_inputs(self, inputs: Sequence[object]) -> list[np.ndarray]:
        """``inputs`` validated for this model (for entries other than :meth:`run` that take them)."""
        return check_inputs(self.config, inputs, self.static_size)

    @abstractmethod
    def _run(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The backend's inference on inputs :meth:`run` has already checked."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """At least: runtime, model, provider, precision, threads."""


def check_precision(precision: str | None, supported: Sequence[str], runtime: str) -> Precision:
    """The precision to run (``None``: the first supported one, i.e. the file's own)."""
    if precision is None:
        return Precision(supported[0])
    try:
        value = Precision.parse(precision)
    except InputError as exc:
        raise BackendError(str(exc)) from None
    if value not in supported:
        raise BackendError(
            f"runtime {runtime!r} supports precision {', '.join(map(str, supported))} here, "
            f"not {str(value)!r}"
        )
    return value


def check_inputs(
    config: MGDNConfig, inputs: Sequence[object], static_size: tuple[int, int] | None = None
) -> list[np.ndarray]:
    """Validate task inputs and return them as C-contiguous float32 arrays (no silent casts)."""
    names = config.io.input_names
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
        raise InputError(f"inputs must be a sequence of {len(names)} arrays ({', '.join(names)})")
    if len(inputs) != len(names):
        raise InputError(
            f"task {config.task!r} takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}"
        )
    for name, x in zip(names, inputs, strict=True):
        if not isinstance(x, np.ndarray):
            raise InputError(f"input {name!r} must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise InputError(f"input {name!r} must be float32, got {x.dtype}")
    validate_inputs(config, inputs)  # type: ignore[arg-type]
    if static_size is not None:
        size = tuple(inputs[0].shape[2:])  # type: ignore[attr-defined]
        if size != static_size:
            raise InputError(
                f"this model was exported for a fixed size {static_size[0]}x{static_size[1]} (HxW), "
                f"got {size[0]}x{size[1]}; re-export without --static for any size"
            )
    return [np.ascontiguousarray(x) for x in inputs]  # type: ignore[arg-type]


def resolve_onnx_path(model_path: str | Path, portable: bool = False, precision: str | None = None) -> Path:
    """An ONNX file, or an export folder (-> its model.onnx / model.portable.onnx / model.fp16.onnx)."""
    path = Path(model_path)
    if path.is_dir():
        if precision == "fp16" and (path / FP16_ONNX).is_file():
            path = path / FP16_ONNX
        else:
            path = path / (PORTABLE_ONNX if portable else MODEL_ONNX)
    if not path.is_file():
        raise BackendError(f"model file not found: {path}")
    if path.suffix.lower() != ONNX_SUFFIX:
        raise BackendError(f"{path} is not an .onnx file (export a checkpoint with `mgdn-edge export` first)")
    check_against_manifest(path)
    return path


def onnx_file_precision(path: Path) -> Precision:
    """What an ONNX file was built as: its metadata, else int8 when it has Q/DQ nodes, else fp32."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors
        raise BackendError(f"{path} is not a readable ONNX file: {one_line(exc)}") from exc
    metadata = {p.key: p.value for p in model.metadata_props}
    if metadata.get(METADATA_PRECISION_KEY):
        return Precision.parse(metadata[METADATA_PRECISION_KEY])
    has_qdq = any(n.op_type in QDQ_OPS for n in model.graph.node)
    return Precision.INT8 if has_qdq else Precision.FP32


def read_manifest(model_file: Path) -> Manifest | None:
    """The manifest.json written beside an exported model, if any, with ``model_file`` checked
    against the sha256 it records there (:func:`check_against_manifest`)."""
    manifest = read_manifest_file(model_file.parent / MANIFEST_FILE)
    if manifest is not None:
        check_against_manifest(model_file, manifest)
    return manifest


# (resolved path, size, mtime_ns) -> sha256: a file is hashed once per process, however often it
# is opened; a rewrite changes size or mtime and so is hashed again.
_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, cached by path, size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


def check_against_manifest(path: str | Path, manifest: Manifest | None = None) -> None:
    """Refuse a file whose bytes differ from the sha256 the manifest beside it records.

    An export folder is one unit: a model.onnx copied in from another export, or a file cut short
    by a killed copy, must not run under a manifest describing something else (a different task's
    config, a different static size). Files the manifest does not list (a quantized model saved
    into the folder, an engine) are not checked.
    """
    path = Path(path)
    if manifest is None:
        manifest = read_manifest_file(path.parent / MANIFEST_FILE)
        if manifest is None:
            return
    expected = manifest.sha256_of(path.name)
    if not expected or not path.is_file():
        return
    actual = file_sha256(path)
    if actual != expected:
        shown = Path(path.parent.name) / path.name
        raise BackendError(
            f"{shown} does not match its {MANIFEST_FILE} (sha256 {actual[:12]}..., manifest says "
            f"{expected[:12]}...): re-export (`mgdn-edge export`) instead of mixing files of two exports"
        )


def check_export_folder(model: str | Path) -> None:
    """Check every file an export folder's manifest lists (``model``: the folder or a file in it):
    for commands that read several of them (``build-engine`` picks one by precision)."""
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    manifest = read_manifest_file(folder / MANIFEST_FILE)
    for name in manifest.files if manifest else ():
        check_against_manifest(folder / name, manifest)


def export_folder_files(model: str | Path) -> list[Path]:
    """The files of the export ``model`` belongs to (its manifest and every file that lists), which
    no command may write over: the folder is one unit, checked by its hashes."""
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    manifest_path = folder / MANIFEST_FILE
    manifest = read_manifest_file(manifest_path)
    if manifest is None:
        return [path]
    return [path, manifest_path, *(folder / name for name in manifest.files)]


def model_description(
    model_file: Path, metadata: dict[str, str], task: str | None
) -> tuple[MGDNConfig, tuple[int, int] | None]:
    """(config, static size) of an exported model: manifest first, then the ONNX metadata.

    ``task`` (if given) must be compatible with the exported one (MFF and MEF are interchangeable).
    """
    manifest = read_manifest(model_file)
    static: tuple[int, int] | None = None
    if manifest is not None:
        config, static = MGDNConfig.from_dict(manifest.config), manifest.static_size
    elif METADATA_CONFIG_KEY in metadata:
        config = MGDNConfig.from_dict(json.loads(metadata[METADATA_CONFIG_KEY]))
        if metadata.get(METADATA_STATIC_KEY):
            static = Size.parse(metadata[METADATA_STATIC_KEY], METADATA_STATIC_KEY)
    else:
        raise BackendError(
            f"{model_file} carries no MGDN config (no {MANIFEST_FILE} beside it and no "
            f"{METADATA_CONFIG_KEY!r} metadata); export it with `mgdn-edge export`"
        )
    return for_task(config, task, model_file), static


def for_task(config: MGDNConfig, task: str | None, model_file: Path) -> MGDNConfig:
    """``config`` serving ``task`` (None: as exported); MFF and MEF models serve each other."""
    if task is None or task == config.task:
        return config
    if task not in COMPATIBLE_TASKS.get(config.task, set()):
        raise BackendError(f"{model_file} is a {config.task.upper()} model, not usable for task {task!r}")
    return config.replace(task=task)


def check_input_count(model_file: Path, count: int, config: MGDNConfig) -> None:
    """A model file must take exactly the task's inputs (a file of another task is refused early)."""
    if count != config.n_inputs:
        raise BackendError(
            f"{model_file} has {count} inputs but a {config.task} model takes {config.n_inputs}"
        )


# Inputs whose magnitude reaches this are far outside anything the network was trained on
# (images in [0, 1], normalised depth); NaN in the output is then the inputs' doing.
_HUGE_INPUT = 1e4


def check_output(runtime: Runtime, inputs: Sequence[np.ndarray], output: np.ndarray) -> np.ndarray:
    """Pass a finite output through; refuse a NaN/Inf one naming the stage that produced it.

    A non-finite output saved as is becomes an all-NaN ``--raw`` array and a black PNG with
    status 0. Stages, in the order they are ruled out: the inputs (non-finite, or finite but so
    large the network overflows), the precision (an fp16/bf16/int8 variant overflowing where
    fp32 would not), the weights (an ONNX file's initializers), else the runtime itself.
    """
    out = np.asarray(output)
    if out.dtype.kind != "f" or np.isfinite(out).all():
        return output
    name, precision, model = runtime.name, str(runtime.precision or "fp32"), runtime.model_path
    bad = int((~np.isfinite(out)).sum())
    head = f"the {name} {precision} output of {model or 'the model'} has NaN/Inf ({bad} of {out.size} values)"
    arrays = [np.asarray(x) for x in inputs]
    if not all(np.isfinite(x).all() for x in arrays):
        raise InputError(f"{head}: its inputs hold NaN/Inf")
    peak = max((float(np.abs(x).max()) for x in arrays if x.size), default=0.0)
    if peak >= _HUGE_INPUT:
        raise InputError(
            f"{head}: its inputs are finite but reach |x| = {peak:.3g}, which overflows the network"
        )
    if precision != "fp32":
        raise BackendError(
            f"{head} while its inputs are finite: the model overflows in {precision}; run fp32"
        )
    weights = _non_finite_initializers(Path(model)) if model else []
    if weights:
        from mgdn_edge.errors import listing

        raise BackendError(f"{head}: its weights hold NaN/Inf: {listing(weights)}")
    raise BackendError(
        f"{head} while its inputs are finite and its weights hold no NaN/Inf: an overflow inside the "
        "network or a runtime defect (compare with --runtime torch)"
    )


def _non_finite_initializers(path: Path) -> list[str]:
    """Names of an ONNX file's float initializers that hold NaN/Inf (nothing for other files)."""
    if path.suffix.lower() != ONNX_SUFFIX or not path.is_file():
        return []
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    names = []
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            names.append(init.name)
    return names
