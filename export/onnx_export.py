"""Export an MGDN network to ONNX: ``model.onnx`` (custom node + function), ``model.portable.onnx``
(functions inlined, standard ops only) and ``manifest.json``.

Pipeline and why each step is there:

1. Trace with the TorchScript exporter while :func:`use_dynamic_filter` routes every dynamic
   filter to the ``mgdn::dynamic_filter`` custom op, so each becomes one ``mgdn.DynamicFilter``
   node (see :mod:`mgdn_edge.export.dynamic_filter_onnx` for why tracing and not dynamo). The
   trace example has a size that is *not* a window multiple, so the reflect-padding branch is
   recorded; sizes, the pad amounts and the shifted-window masks are all computed in-graph.
2. Attach the portable function body and the ``plugin_namespace``/``plugin_version`` attributes.
3. Simplify with onnxsim (constant folding of the shape arithmetic the tracer emits, dead-code
   and identity removal). onnxsim keeps model-local functions and custom-domain nodes intact,
   which we verify after the fact rather than assume. onnxslim was tried on the MFF model: a
   few nodes fewer, same numerics, no measurable ONNX Runtime latency difference and a much
   slower run -- not worth a second simplifier dependency.
4. ``onnx.checker`` (full check) and strict shape/type inference with data propagation on both
   files; any failure raises :class:`ExportError` -- a graph that does not check is not shipped.
5. Inline the functions for ``model.portable.onnx`` and check that no custom domain is left.
6. Run both files in ONNX Runtime at three sizes (batch 2 once) against the PyTorch model
   (``verify=True``), so a silently wrong trace (e.g. a size baked in as a constant) fails the
   export itself; and record the shape of every tensor the portable graph creates, failing if
   any has k*k*C*H*W elements (:mod:`mgdn_edge.export.graph_checks`).
7. ``model.fp16.onnx`` (``fp16=True``, the default): FP16 weights and activations with float32
   I/O and the norms kept FP32 (:mod:`mgdn_edge.export.fp16`), checked like the others and
   verified against PyTorch within the FP16 parity budget (:mod:`mgdn_edge.core.budgets`).
8. The TensorRT graphs ``model.trt.onnx`` and ``model.trt.fp16.onnx`` (:mod:`.trt_graph`: no
   local function, so no parser can prefer it over the plugin; LayerNormalization written out for
   TensorRT 8.5), linted against the parser tables of the releases they are for
   (:mod:`.trt_lint`) and verified in ONNX Runtime, function bodies re-attached in memory,
   against their ONNX Runtime siblings.
"""

from __future__ import annotations

import io
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch
from onnx import helper

from mgdn_edge.core.atomic import atomic_directory, refuse_overwriting_inputs
from mgdn_edge.core.errors import ExportError, InputError, listing
from mgdn_edge.export.artefacts import (
    FP16_ONNX,
    KERNEL_SIZE_ATTR,
    MANIFEST_FILE,
    MODEL_ONNX,
    OP_DOMAIN,
    OP_DOMAIN_VERSION,
    OP_TYPE,
    OUTPUT_NAME,
    PLUGIN_ATTRIBUTES,
    PORTABLE_ONNX,
    TRT_FP16_ONNX,
    TRT_ONNX,
    is_filter_node,
)
from mgdn_edge.export.dynamic_filter_onnx import (
    DEFAULT_DECOMPOSITION,
    build_function,
    export_filter_impl,
    register_onnx_symbolic,
)
from mgdn_edge.export.graph_checks import largest_tensor_report
from mgdn_edge.export.manifest import ManifestExtras, build_manifest, set_metadata
from mgdn_edge.export.manifest_record import (
    Fp16Graph,
    LargestTensor,
    Manifest,
    TensorRTGraphs,
    write_manifest_file,
)
from mgdn_edge.export.verify import (
    VERIFY_TOLERANCE,
    example_inputs,
    max_abs_between,
    trace_size,
    verify_against_torch,
    verify_sizes,
)
from mgdn_edge.model import MGDN, use_dynamic_filter

DEFAULT_OPSET = 17
MIN_OPSET = 17  # LayerNormalization is a standard op from opset 17 on
MAX_OPSET = 20  # the highest opset the TorchScript exporter writes
# What an export writes; an earlier export's copies of these are never carried into a new one.
EXPORT_FILES = frozenset({MODEL_ONNX, PORTABLE_ONNX, FP16_ONNX, TRT_ONNX, TRT_FP16_ONNX, MANIFEST_FILE})


@dataclass
class ExportResult:
    out_dir: Path
    model_path: Path
    portable_path: Path
    manifest_path: Path
    manifest: Manifest
    fp16_path: Path | None = None
    tensorrt_paths: list[Path] = field(default_factory=list)

    def moved_to(self, folder: Path) -> ExportResult:
        """The same result with every path re-pointed from the temporary folder to ``folder``."""

        def move(p: Path) -> Path:
            return folder / p.name

        return ExportResult(
            folder,
            move(self.model_path),
            move(self.portable_path),
            move(self.manifest_path),
            self.manifest,
            None if self.fp16_path is None else move(self.fp16_path),
            [move(p) for p in self.tensorrt_paths],
        )


def _trace(model: MGDN, opset: int, static: tuple[int, int] | None) -> onnx.ModelProto:
    config = model.config
    names = list(config.io.input_names)
    size = static or trace_size(config)
    args = tuple(torch.from_numpy(x) for x in example_inputs(config, size))
    axes = {0: "batch"} if static else {0: "batch", 2: "height", 3: "width"}
    register_onnx_symbolic(opset)
    buffer = io.BytesIO()
    with use_dynamic_filter(export_filter_impl), torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about every Python-level size computation; the graph is verified
        # numerically at several sizes instead, which is what those warnings ask for.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            args,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes={n: axes for n in [*names, OUTPUT_NAME]},
            custom_opsets={OP_DOMAIN: OP_DOMAIN_VERSION},
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def filter_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if is_filter_node(n)]


def attach_function(model: onnx.ModelProto, kernel_size: int, opset: int, decomposition: str) -> None:
    """Give every DynamicFilter node the plugin attributes and the model its portable body."""
    for node in filter_nodes(model):
        attrs = {a.name: a for a in node.attribute}
        if helper.get_attribute_value(attrs[KERNEL_SIZE_ATTR]) != kernel_size:
            raise ExportError(f"DynamicFilter node {node.name} has a kernel size other than {kernel_size}")
        for name, value in PLUGIN_ATTRIBUTES.items():
            if name not in attrs:
                node.attribute.append(helper.make_attribute(name, value))
    del model.functions[:]
    model.functions.append(build_function(kernel_size, opset, decomposition))
    if not any(op.domain == OP_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(OP_DOMAIN, OP_DOMAIN_VERSION))


SKIPPED_ONNXSIM_PASSES = ("fuse_qkv",)


def simplify(model: onnx.ModelProto, optimize: bool = True) -> onnx.ModelProto:
    """onnxsim with dynamic shapes left dynamic; raises ExportError when onnxsim cannot prove the result.

    ``optimize=False`` folds constants only. The portable graph is simplified that way: inlining
    makes more shapes known, and onnxsim's graph rewrites (MatMul + Add into Gemm, among others)
    would then change nodes they left alone in ``model.onnx``, renaming tensors the INT8
    calibration maps between the two graphs.

    The ``fuse_qkv`` rewrite stays off: it merges the attention's q, k and v MatMuls into one
    MatMul and a Split along the feature axis, which OpenVINO's CPU plugin runs as a reference
    kernel; the three MatMuls feed the attention directly.
    """
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(
            model, perform_optimization=optimize, skipped_optimizers=list(SKIPPED_ONNXSIM_PASSES)
        )
    except Exception as exc:  # onnxsim raises bare RuntimeErrors from C++
        raise ExportError(f"onnxsim failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not ok:
        raise ExportError("onnxsim could not validate the simplified model")
    return simplified


def check_model(model: onnx.ModelProto, what: str) -> onnx.ModelProto:
    """ONNX checker (full) plus strict shape inference with data propagation; returns the inferred model."""
    try:
        onnx.checker.check_model(model, full_check=True)
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"{what} fails the ONNX checker / shape inference: {exc}".splitlines()[0]) from exc


def inline_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    """The portable variant: DynamicFilter bodies inlined, the custom domain removed."""
    import onnx.inliner

    portable = onnx.inliner.inline_local_functions(model)
    del portable.functions[:]
    keep = [op for op in portable.opset_import if op.domain != OP_DOMAIN]
    del portable.opset_import[:]
    portable.opset_import.extend(keep)
    leftover = {n.domain for n in portable.graph.node if n.domain not in ("", "ai.onnx")}
    if leftover:
        raise ExportError(f"portable graph still has nodes of custom domains {sorted(leftover)}")
    return portable


def export_model(
    model: MGDN,
    out_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    static: tuple[int, int] | None = None,
    checkpoint: str | Path | None = None,
    decomposition: str = DEFAULT_DECOMPOSITION,
    verify: bool = True,
    fp16: bool = True,
) -> ExportResult:
    """Write model.onnx, model.portable.onnx, model.fp16.onnx (``fp16``), the TensorRT graphs and
    manifest.json into ``out_dir`` -- all of them or none: everything is written and verified in a
    temporary sibling folder that replaces ``out_dir`` whole only at the end (a second writer to the
    same folder is refused, see :func:`mgdn_edge.core.atomic.atomic_directory`)."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset must be within {MIN_OPSET}..{MAX_OPSET}, got {opset}")
    config = model.config
    if static is not None:
        from mgdn_edge.model import validate_inputs

        validate_inputs(config, example_inputs(config, static))
    out = Path(out_dir)
    check_export_destination(out, checkpoint)
    with atomic_directory(out) as tmp:
        result = _export_into(model, tmp, opset, static, checkpoint, decomposition, verify, fp16)
        carry_over_extras(out, tmp)
    return result.moved_to(out)


def check_export_destination(out: Path, checkpoint: str | Path | None) -> None:
    """Refuse, before any work, an ``--out`` the whole-folder replacement would harm.

    The export replaces ``out`` whole, so ``out`` must be a new folder, an empty one, or an earlier
    export (it has a manifest, or holds export file names only); a file, a folder of other things
    (``--out .``), or a folder holding the checkpoint being exported is refused with a one-line error.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is an existing file; export writes a folder (give a folder path)")
    refuse_overwriting_inputs([("--out", out)], [checkpoint])
    if out.is_dir() and not (out / MANIFEST_FILE).is_file():
        # Export file names alone (a half-written folder of an older, non-atomic export) are fine.
        visible = [p.name for p in out.iterdir() if not p.name.startswith(".") and p.name not in EXPORT_FILES]
        if visible:
            raise InputError(
                f"--out {out} is a folder of other files ({listing(sorted(visible), 3)}) and no earlier "
                f"export (no {MANIFEST_FILE}); export replaces its folder whole, so give a new or empty one"
            )


def carry_over_extras(old: Path, new: Path) -> None:
    """Keep what else a user put in an earlier export folder (e.g. a quantized model) across the
    replacement; the export's own files are not carried, so no stale FP16/TensorRT graph survives."""
    if not old.is_dir():
        return
    for entry in old.iterdir():
        if entry.name in EXPORT_FILES or entry.name.startswith(".") or (new / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True)
        else:
            try:
                os.link(entry, new / entry.name, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry, new / entry.name, follow_symlinks=False)


def _checked_graphs(
    model: MGDN, opset: int, static: tuple[int, int] | None, decomposition: str
) -> tuple[onnx.ModelProto, onnx.ModelProto, int]:
    """The traced, simplified graph with its filter function, the portable (inlined) graph, and
    the number of filter nodes, each graph checked."""
    config = model.config
    traced = _trace(model, opset, static)
    expected_filters = 2 * len(config.depths)
    attach_function(traced, config.kernel_size, opset, decomposition)
    check_model(traced, "traced graph")
    graph = simplify(traced)
    n_filters = len(filter_nodes(graph))
    if n_filters != expected_filters or len(graph.functions) != 1:
        raise ExportError(
            f"expected {expected_filters} {OP_DOMAIN}.{OP_TYPE} nodes and one function after simplification, "
            f"found {n_filters} nodes and {len(graph.functions)} functions"
        )
    check_model(graph, MODEL_ONNX)
    portable = simplify(inline_functions(graph), optimize=False)
    check_model(portable, PORTABLE_ONNX)
    return graph, portable, n_filters


def _export_into(
    model: MGDN,
    out: Path,
    opset: int,
    static: tuple[int, int] | None,
    checkpoint: str | Path | None,
    decomposition: str,
    verify: bool,
    fp16: bool,
) -> ExportResult:
    """Every export step, writing into ``out`` (a temporary folder the caller renames into place)."""
    config = model.config
    graph, portable, n_filters = _checked_graphs(model, opset, static, decomposition)

    for proto in (graph, portable):
        set_metadata(proto, config, static)
    model_path, portable_path = out / MODEL_ONNX, out / PORTABLE_ONNX
    onnx.save(graph, model_path)
    onnx.save(portable, portable_path)
    verification = largest = None
    if verify:
        verification = verify_against_torch(
            model, [model_path, portable_path], verify_sizes(config, static), VERIFY_TOLERANCE
        )
        largest = LargestTensor(**largest_tensor_report(model, portable_path, static or trace_size(config)))
    files = {MODEL_ONNX: model_path, PORTABLE_ONNX: portable_path}
    fp16_path, fp16_info = None, None
    if fp16:
        fp16_path, fp16_info = _write_fp16(model, graph, out / FP16_ONNX, static, verify)
        files[FP16_ONNX] = fp16_path
    trt_files, trt_info = _write_tensorrt(model, out, graph, fp16_path, static, verify)
    files.update(trt_files)
    manifest = build_manifest(
        config,
        opset,
        static,
        decomposition,
        n_filters,
        Path(checkpoint).resolve() if checkpoint is not None else None,
        files,
        verification,
        ManifestExtras(largest, fp16_info, trt_info),
    )
    manifest_path = write_manifest_file(out / MANIFEST_FILE, manifest)
    return ExportResult(
        out, model_path, portable_path, manifest_path, manifest, fp16_path, list(trt_files.values())
    )


def _write_tensorrt(
    model: MGDN,
    out: Path,
    graph: onnx.ModelProto,
    fp16_path: Path | None,
    static: tuple[int, int] | None,
    verify: bool,
) -> tuple[dict[str, Path], TensorRTGraphs]:
    """model.trt.onnx (+ model.trt.fp16.onnx): rewrite, check, lint, save, verify against the sibling."""
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.export.trt_graph import tensorrt_graph, with_function_bodies
    from mgdn_edge.export.trt_lint import TARGET_RELEASES, lint_tensorrt

    jobs = [(TRT_ONNX, graph, out / MODEL_ONNX, VERIFY_TOLERANCE)]
    if fp16_path is not None:
        jobs.append((TRT_FP16_ONNX, onnx.load(fp16_path), fp16_path, budget_for("fp16").max_abs))
    files: dict[str, Path] = {}
    verified_against: dict[str, str] = {}
    verification_max_abs: dict[str, dict[str, float]] = {}
    lint: dict[str, dict[str, str]] = {}
    for name, source, sibling, tolerance in jobs:
        trt = tensorrt_graph(source)
        check_model(trt, name)
        verdicts = {}
        for release in TARGET_RELEASES:
            report = lint_tensorrt(trt, release)
            verdicts[release] = "ok" if report.ok else report.message()
            # A release that documents a lower opset than the export's is recorded, not fatal.
            if not report.ok and any(i.node != "(model)" for i in report.issues):
                raise ExportError(report.message())
        path = out / name
        onnx.save(trt, path)
        files[name] = path
        lint[name] = verdicts
        if verify:
            runnable = with_function_bodies(trt, source)
            errors = max_abs_between(model, sibling, runnable, verify_sizes(model.config, static))
            verified_against[name] = sibling.name
            verification_max_abs[name] = errors
            worst = max(errors.values())
            if not worst <= tolerance:
                raise ExportError(
                    f"{name} differs from {sibling.name} in ONNX Runtime: max abs {worst:.3g} > {tolerance:g}"
                )
    return files, TensorRTGraphs(tuple(files), verified_against, verification_max_abs, lint)


def _write_fp16(
    model: MGDN, graph: onnx.ModelProto, path: Path, static: tuple[int, int] | None, verify: bool
) -> tuple[Path, Fp16Graph]:
    """Convert the custom-node graph to FP16, check it, save it, and verify it within the FP16 budget."""
    from mgdn_edge.core.budgets import budget_for
    from mgdn_edge.export.fp16 import CONVERTER, FP32_OPS, convert_to_fp16, count_fp16_nodes, mark_precision

    half = convert_to_fp16(graph, custom_domain=OP_DOMAIN)
    mark_precision(half, "fp16")
    check_model(half, FP16_ONNX)
    onnx.save(half, path)
    tolerance = budget_for("fp16").max_abs
    errors = None
    if verify:
        sizes = verify_sizes(model.config, static)
        errors = verify_against_torch(model, [path], sizes, tolerance)[path.name]
    info = Fp16Graph(
        FP16_ONNX, CONVERTER, "float32", tuple(FP32_OPS), count_fp16_nodes(half), errors, tolerance
    )
    return path, info


def export_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    task: str | None = None,
    opset: int = DEFAULT_OPSET,
    static: tuple[int, int] | None = None,
    decomposition: str = DEFAULT_DECOMPOSITION,
    verify: bool = True,
    fp16: bool = True,
) -> ExportResult:
    """Load a checkpoint strictly and export it (the ``mgdn-edge export`` entry point)."""
    from mgdn_edge.model import load_model

    model = load_model(checkpoint, task=task)
    return export_model(model, out_dir, opset, static, checkpoint, decomposition, verify, fp16)
