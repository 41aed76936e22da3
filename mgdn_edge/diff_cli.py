"""``mgdn-edge diff``: run one input through two variants and say, stage by stage, where they part.

Either side is any model a runtime opens (the PyTorch checkpoint, an exported ONNX file, an
OpenVINO IR, an INT8 file), at any precision it has; stages are named by PyTorch module path
(:mod:`mgdn_edge.divergence`). Exit status: 0 when every stage is within the tolerance, 1 when one
is not (like ``parity`` over budget), 2 for input a user can fix.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from mgdn_edge.cli_args import add_data, add_json_out, add_precision, add_task

RUNTIME_HELP = "torch, onnxruntime, openvino (or an alias: ort, ov), or auto (default: from the file suffix)"


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
    suggest = p.add_argument_group("--suggest (INT8 variants): which modules to keep float")
    suggest.add_argument(
        "--suggest",
        action="store_true",
        help="re-quantize with the modules that let in most error kept float, bisecting how many, "
        "until the output meets the INT8 budget on these inputs; print the quantize --keep-float list",
    )
    suggest.add_argument("--export", help="the export folder the INT8 variant was quantized from")
    add_data(suggest, "its calibration data", synthetic=" (HDR, MEF)")
    suggest.add_argument("--method", help="its quantize --method (default: the backend's default)")
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

    prepared = prepare_inputs(args.task, args.inputs, args.exposures)
    reference = open_runtime(
        args.reference_runtime, args.reference, task=args.task, precision=args.reference_precision
    )
    model = open_runtime(args.runtime, args.model, task=args.task, precision=args.precision)
    if reference.config != model.config:
        raise InputError(f"{args.reference} and {args.model} are different networks (their configs differ)")
    result = diff_runtimes(
        reference,
        model,
        prepared.inputs,
        args.tolerance,
        DEFAULT_MAX_MEMORY_MB if args.max_memory is None else args.max_memory,
    )
    precision = str(result.model.get("precision") or "fp32")
    text = sys.stderr if args.json_out == "-" else sys.stdout
    print(_table(result), file=text)
    report = result.to_dict()
    if args.suggest:
        suggestion = _suggest(args, result, reference, model, prepared.inputs, precision)
        print(_suggestion_lines(args, suggestion, model.name), file=text)
        report["suggestion"] = suggestion.to_dict()
    if args.json_out:
        write_text_or_stdout(args.json_out, json.dumps(report, indent=2, default=str) + "\n")
    return 1 if result.first_divergent else 0


QUANTIZE_BACKENDS = {"openvino": ("openvino", ".xml"), "onnxruntime": ("onnxruntime", ".onnx")}


def _suggest(
    args: argparse.Namespace, result: Any, reference: Any, model: Any, inputs: Any, precision: str
) -> Any:
    """Bisect the modules to keep float (:mod:`mgdn_edge.divergence_suggest`), timing the answer."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from mgdn_edge.calibration.quantize import quantize_model
    from mgdn_edge.divergence_suggest import Trial, bisect_keep, candidates, median_ms
    from mgdn_edge.errors import InputError
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.budgets import budget_for
    from mgdn_edge.runtimes.parity import image_metrics, violations

    if precision != "int8" or model.name not in QUANTIZE_BACKENDS:
        raise InputError(
            f"--suggest takes an INT8 OpenVINO or ONNX Runtime variant, not {model.name} {precision}"
        )
    if not args.export or not args.data:
        raise InputError(
            "--suggest re-quantizes: give --export DIR (what the variant was quantized from) and --data SRC"
        )
    backend, suffix = QUANTIZE_BACKENDS[model.name]
    budget = budget_for("int8")
    if args.target_psnr is not None:
        budget = dataclasses.replace(budget, psnr_min=max(budget.psnr_min or 0.0, args.target_psnr))
    wanted = reference.run(inputs)
    options = {"cache": False} if model.name == "openvino" else {}
    with tempfile.TemporaryDirectory(prefix="mgdn_suggest_") as work:

        def quantized(keep: Sequence[str]) -> Path:
            return Path(work) / f"keep{len(keep)}{suffix}"

        def evaluate(keep: list[str]) -> Trial:
            quantize_model(
                args.export, args.data, backend, out=quantized(keep), method=args.method, keep_float=keep,
                progress=False,
            )  # fmt: skip
            runtime = open_runtime(model.name, quantized(keep), task=args.task, **options)
            metrics = image_metrics(wanted, runtime.run(inputs), args.task)
            print(f"suggest: {len(keep)} kept float -> PSNR {metrics['psnr']:.2f} dB", file=sys.stderr)
            return Trial(len(keep), metrics["psnr"], violations(metrics, budget, args.task))

        suggestion = bisect_keep(candidates(result.stages), evaluate)
        if suggestion.keep_float is not None:
            best = open_runtime(model.name, quantized(suggestion.keep_float), task=args.task, **options)
            suggestion.ms_variant = median_ms(lambda: model.run(inputs))
            suggestion.ms_suggested = median_ms(lambda: best.run(inputs))
    return suggestion


def _suggestion_lines(args: argparse.Namespace, suggestion: Any, runtime: str) -> str:
    if suggestion.keep_float is None:
        worst = suggestion.trials[0]
        return (
            f"suggest: even with every candidate module float the output misses the budget "
            f"({'; '.join(worst.broken)}): the error is not in the quantized layers"
        )
    final = next(t for t in suggestion.trials if t.keep == len(suggestion.keep_float))
    backend = QUANTIZE_BACKENDS[runtime][0]
    modules = " ".join(suggestion.keep_float) or "(none)"
    return "\n".join(
        [
            f"suggest: keep float {modules}: output PSNR {final.psnr_db:.2f} dB, within the INT8 budget; "
            f"{suggestion.ms_suggested:.0f} ms vs {suggestion.ms_variant:.0f} ms for the variant "
            f"({suggestion.ms_suggested / suggestion.ms_variant:.2f}x the time)",
            f"  mgdn-edge quantize --model {args.export} --data {args.data} --runtime {backend}"
            + (f" --method {args.method}" if args.method else "")
            + (f" --keep-float {modules}" if suggestion.keep_float else "")
            + " --out OUT",
        ]
    )
