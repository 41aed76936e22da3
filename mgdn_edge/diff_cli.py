"""``mgdn-edge diff``: run one input through two variants and say, stage by stage, where they part.

Either side is any model a runtime opens (the PyTorch checkpoint, an exported ONNX file, an
OpenVINO IR, an INT8 file), at any precision it has; stages are named by PyTorch module path
(:mod:`mgdn_edge.divergence`). Exit status: 0 when every stage is within the tolerance, 1 when one
is not (like ``parity`` over budget), 2 for input a user can fix.

An FP16 ONNX file on ONNX Runtime's CPU provider runs as a GPU rounds it
(:mod:`mgdn_edge.export.fp16_emulation`: the provider itself computes most FP16 ops in FP32), and
for its first divergent stage the tensors inside that overflow FP16 are named
(:mod:`mgdn_edge.fp16_overflow`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from mgdn_edge.cli_args import add_data, add_json_out, add_precision, add_task

RUNTIME_HELP = (
    "torch, onnxruntime, openvino, tensorrt (or an alias: ort, ov, trt), or auto (default: from the "
    "file suffix); RUNTIME:PRECISION (e.g. tensorrt:fp16) also sets the precision"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "diff",
        help="find the first stage where a variant diverges from a reference",
        description="Runs the same input through two variants and reports, per stage of MGDN in "
        "PyTorch's module names, the error of the model's intermediate tensor against the "
        "reference's (max abs, PSNR against the reference tensor's range, cosine, and the largest "
        "magnitude vs FP16's 65504), and the first stage below the tolerance.",
    )
    add_task(p, "what the inputs are", required=True)
    p.add_argument("--reference", required=True, help="the reference model (e.g. the .pth checkpoint)")
    p.add_argument("--reference-runtime", default="auto", help=RUNTIME_HELP)
    p.add_argument("--reference-precision", help="the reference's precision (default: its file's own)")
    p.add_argument("--model", required=True, help="the variant to locate errors in")
    p.add_argument("--runtime", default="auto", help=RUNTIME_HELP)
    add_precision(p)
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="mff/mef: A B | hdr: UNDER REF OVER | gdsr: RGB DEPTH"
    )
    p.add_argument("--exposures", nargs=3, type=float, metavar="EV", help="HDR: exposure values in stops")
    p.add_argument(
        "--tolerance",
        type=float,
        metavar="DB",
        help="stage PSNR below which a stage has diverged (default by the model's precision: "
        + ", ".join(f"{k} {v:g}" for k, v in _defaults().items())
        + ")",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        default=None,
        metavar="MB",
        help="intermediate tensors held at once, both sides together (default 1024): more passes when lower",
    )
    add_json_out(p, "the per-stage errors and 'first_divergent'")
    suggest = p.add_argument_group(
        "--suggest (INT8 variants; FP16 ONNX Runtime ones): which modules to keep float (FP32)"
    )
    suggest.add_argument(
        "--suggest",
        action="store_true",
        help="re-quantize (FP16: re-convert) with the modules that let in most error kept float, "
        "bisecting how many, until the output meets the variant's budget on these inputs; print the "
        "quantize --keep-float list",
    )
    suggest.add_argument("--export", help="the export folder the variant was quantized (converted) from")
    add_data(suggest, "its calibration data (INT8 only)", synthetic=" (HDR, MEF)")
    suggest.add_argument(
        "--method", help="its quantize --method (default: the backend's default; FP16: default or plain)"
    )
    suggest.add_argument(
        "--target-psnr",
        type=float,
        metavar="DB",
        help="also require this output PSNR (default: the budget's)",
    )
    p.set_defaults(handler=run)


def _defaults() -> dict[str, float]:
    from mgdn_edge.divergence import DEFAULT_TOLERANCE_DB

    return DEFAULT_TOLERANCE_DB


def _table(result: Any) -> str:
    first = result.first_divergent
    lines = [f"{'stage':<42} {'max abs':>10} {'PSNR dB':>8} {'cosine':>9} {'peak |ref|':>11}"]
    for s in result.stages:
        psnr = "inf" if math.isinf(s.psnr_db) and s.psnr_db > 0 else f"{s.psnr_db:.1f}"
        mark = "  <- first past the tolerance" if s.stage == first else ""
        mark += "  (over FP16's 65504)" if s.fp16_overflow else ""
        row = f"{s.stage:<42} {s.max_abs:>10.3g} {psnr:>8} {s.cosine:>9.6f} {s.peak_reference:>11.4g}"
        lines.append(row + mark)
    verdict = f"first divergent stage: {first}" if first else "every stage is within the tolerance"
    lines.append(f"{verdict} (tolerance {result.tolerance_db:g} dB; {result.passes} passes)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.atomic import write_text_or_stdout
    from mgdn_edge.divergence import DEFAULT_MAX_MEMORY_MB, diff_runtimes
    from mgdn_edge.errors import InputError
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.tasks import prepare_inputs

    ref_name, ref_precision = runtime_spec(
        args.reference_runtime, args.reference_precision, "--reference-runtime"
    )
    name, asked = runtime_spec(args.runtime, args.precision, "--runtime")
    prepared = prepare_inputs(args.task, args.inputs, args.exposures)
    reference = open_runtime(ref_name, args.reference, task=args.task, precision=ref_precision)
    opened = open_runtime(name, args.model, task=args.task, precision=asked)
    model = fp16_as_on_gpu(opened, args.task)
    if reference.config != model.config:
        raise InputError(f"{args.reference} and {args.model} are different networks (their configs differ)")
    max_memory = DEFAULT_MAX_MEMORY_MB if args.max_memory is None else args.max_memory
    result = diff_runtimes(reference, model, prepared.inputs, args.tolerance, max_memory)
    precision = str(result.model.get("precision") or "fp32")
    if model is not opened:  # name the user's file, not the emulated copy in a temporary folder
        result.model.update(model=opened.describe()["model"], fp16_storage="emulated (GPU rounding)")
    text = sys.stderr if args.json_out == "-" else sys.stdout
    print(_table(result), file=text)
    report = result.to_dict()
    if model is not opened and result.first_divergent:  # an emulated FP16 graph
        overflows = _overflows(model, prepared.inputs, result.first_divergent, max_memory)
        if overflows:
            more = len(overflows) - 1
            after = f" ({more} tensors after it in the stage overflow too)" if more else ""
            print(f"  inside {result.first_divergent}: {overflows[0].line()}{after}", file=text)
        report["fp16_overflows"] = [o.__dict__ | {"stage": result.first_divergent} for o in overflows]
    if args.suggest:
        suggestion = _suggest(args, result, reference, model, prepared.inputs, precision)
        print(_suggestion_lines(args, suggestion, model.name, precision), file=text)
        report["suggestion"] = suggestion.to_dict()
    if args.json_out:
        write_text_or_stdout(args.json_out, json.dumps(report, indent=2, default=str) + "\n")
    return 1 if result.first_divergent else 0


def runtime_spec(spec: str, precision: str | None, flag: str) -> tuple[str, str | None]:
    """(runtime, precision) from ``RUNTIME`` or ``RUNTIME:PRECISION``; a runtime this machine cannot
    run (TensorRT without its package or a GPU) is one BackendError line, before any input is read:
    the backend's record says why (:meth:`Backend.unavailable_reason`)."""
    from mgdn_edge.errors import BackendError, InputError
    from mgdn_edge.runtimes.backends import get_backend

    name, _, given = spec.partition(":")
    if given and precision and given.lower() != precision.lower():
        raise InputError(f"{flag} {spec} and --precision {precision} disagree; give the precision once")
    precision = given or precision
    if name.lower() == "auto":
        return name, precision
    backend = get_backend(name)
    reason = backend.unavailable_reason(None)
    if reason:
        raise BackendError(f"{flag} {spec}: {backend.label} is {reason}")
    return backend.name, precision


def _overflows(model: Any, inputs: Any, stage: str, max_memory: float) -> list[Any]:
    """The FP16 overflows inside ``stage`` of an emulated FP16 graph (:mod:`mgdn_edge.fp16_overflow`)."""
    from mgdn_edge.divergence import onnx_scope, stage_bytes, stage_points
    from mgdn_edge.fp16_overflow import stage_overflows

    point = next(p for p in stage_points(model.config) if p.name == stage)
    scope = onnx_scope(point.module, point.call, "")  # the whole module, not just its output child
    return stage_overflows(model, inputs, scope, stage_bytes(model.config, inputs), max_memory)


_EMULATED: list[Any] = []  # temporary folders of emulated FP16 graphs, removed at exit


def fp16_as_on_gpu(model: Any, task: str) -> Any:
    """An FP16 ONNX file on ONNX Runtime's CPU provider, opened again as its GPU-rounding emulation
    (:mod:`mgdn_edge.export.fp16_emulation`); any other runtime as it is."""
    import tempfile
    from pathlib import Path

    import onnx

    from mgdn_edge.export.fp16_emulation import emulated_fp16
    from mgdn_edge.runtimes import open_runtime

    described = model.describe()
    if model.name != "onnxruntime" or described.get("precision") != "fp16":
        return model
    if described.get("provider") != "CPUExecutionProvider":
        return model
    if not _EMULATED:
        print(
            "note: FP16 on ONNX Runtime's CPU provider computes in FP32 between its few FP16 kernels; "
            "running FP16 graphs with every FP16 tensor rounded as a GPU stores it",
            file=sys.stderr,
        )
    folder = tempfile.TemporaryDirectory(prefix="mgdn_fp16_")
    _EMULATED.append(folder)
    path = Path(folder.name) / f"{Path(described['model']).stem}.emulated.onnx"
    onnx.save(emulated_fp16(onnx.load(described["model"])), path)
    return open_runtime("onnxruntime", path, task=task, precision="fp16")


def _suggest_builder(args: argparse.Namespace, model: Any, precision: str) -> Any:
    """The quantize builder that re-makes ``model``'s variant; InputError when --suggest cannot."""
    from mgdn_edge.errors import InputError
    from mgdn_edge.runtimes.backends import builders

    quantizers = builders("quantize")  # keyed by the runtime each builds for
    if not (
        (precision == "int8" and model.name in quantizers)
        or (precision == "fp16" and model.name == "onnxruntime")
    ):
        raise InputError(
            "--suggest takes an INT8 OpenVINO or ONNX Runtime variant or an FP16 ONNX Runtime one, not "
            f"{model.name} {precision}"
        )
    if not args.export or (precision == "int8" and not args.data):
        raise InputError(
            "--suggest re-quantizes: give --export DIR (what the variant was made from) and, for INT8, "
            "--data SRC"
        )
    return quantizers[model.name][1]


def _suggest(
    args: argparse.Namespace, result: Any, reference: Any, model: Any, inputs: Any, precision: str
) -> Any:
    """Bisect the modules to keep float (:mod:`mgdn_edge.divergence_suggest`), timing the answer."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from mgdn_edge.bench import median_ms
    from mgdn_edge.calibration.quantize_request import QuantizeOptions
    from mgdn_edge.divergence_suggest import Trial, bisect_keep, candidates
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.budgets import budget_for
    from mgdn_edge.runtimes.build_contract import BuildRequest
    from mgdn_edge.runtimes.parity import image_metrics, violations

    builder = _suggest_builder(args, model, precision)
    budget = budget_for(precision)
    if args.target_psnr is not None:
        budget = dataclasses.replace(budget, psnr_min=max(budget.psnr_min or 0.0, args.target_psnr))
    wanted = reference.run(inputs)
    options = {"cache": False} if model.name == "openvino" else {}
    with tempfile.TemporaryDirectory(prefix="mgdn_suggest_") as work:

        def quantized(keep: Sequence[str]) -> Path:
            return Path(work) / f"keep{len(keep)}{builder.suffix}"

        def evaluate(keep: list[str]) -> Trial:
            made = QuantizeOptions(args.data, args.method, keep_float=tuple(keep), progress=False)
            builder.build(BuildRequest(Path(args.export), quantized(keep), precision, made))
            runtime = fp16_as_on_gpu(open_runtime(model.name, quantized(keep), task=args.task, **options),
                                     args.task)  # fmt: skip
            metrics = image_metrics(wanted, runtime.run(inputs), args.task)
            kept = "float" if precision == "int8" else "FP32"
            print(f"suggest: {len(keep)} kept {kept} -> PSNR {metrics['psnr']:.2f} dB", file=sys.stderr)
            return Trial(len(keep), metrics["psnr"], violations(metrics, budget, args.task))

        suggestion = bisect_keep(candidates(result.stages, precision), evaluate)
        if suggestion.keep_float is not None:
            chosen = quantized(suggestion.keep_float)
            best = fp16_as_on_gpu(open_runtime(model.name, chosen, task=args.task, **options), args.task)
            suggestion.ms_variant = median_ms(lambda: model.run(inputs), 3, warmup=1)
            suggestion.ms_suggested = median_ms(lambda: best.run(inputs), 3, warmup=1)
    return suggestion


def _suggestion_lines(args: argparse.Namespace, suggestion: Any, runtime: str, precision: str) -> str:
    """The answer and the ``quantize`` line that applies it (FP16: the modules kept FP32)."""
    kept = "float" if precision == "int8" else "FP32"
    if suggestion.keep_float is None:
        worst = suggestion.trials[0]
        return (
            f"suggest: even with every candidate module {kept} the output misses the budget "
            f"({'; '.join(worst.broken)}): the error is not in the layers {precision} changes"
        )
    final = next(t for t in suggestion.trials if t.keep == len(suggestion.keep_float))
    modules = " ".join(suggestion.keep_float) or "(none)"
    fp16 = precision == "fp16"
    where = " on the CPU emulation, not a GPU's time" if fp16 else ""
    source = f"--runtime {runtime} --precision fp16" if fp16 else f"--data {args.data} --runtime {runtime}"
    command = f"  mgdn-edge quantize --model {args.export} {source}"
    return "\n".join(
        [
            f"suggest: keep {kept} {modules}: output PSNR {final.psnr_db:.2f} dB, within the "
            f"{precision.upper()} budget; {suggestion.ms_suggested:.0f} ms vs {suggestion.ms_variant:.0f} ms "
            f"for the variant ({suggestion.ms_suggested / suggestion.ms_variant:.2f}x the time{where})",
            command
            + (f" --method {args.method}" if args.method else "")
            + (f" --keep-float {modules}" if suggestion.keep_float else "")
            + " --out OUT",
        ]
    )
