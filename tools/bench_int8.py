"""INT8 against FP32 and bf16 on CPU, in one run: speed ratios and held-out accuracy.

    python -m mgdn_edge.tools.bench_int8 --model CKPT --calib PAIRS --held-out PAIRS
                                         [--runs 5] [--threads N] [--work DIR] [--json FILE]

Builds what a user builds with the defaults (``export``, ``convert``, ``quantize`` for both
backends, calibrated on ``--calib``), then times every CPU variant round-robin on the first
held-out pair (one call each per round, medians, so a load change on a shared machine hits all
rows alike) and measures each INT8 variant against its own runtime's FP32 output on every
held-out pair (PSNR, data range 1). Rows: the PyTorch reference (the speed-ups' denominator),
OpenVINO FP32, bf16 (where the CPU has it; its PSNR too), INT8 with the float remainder in bf16
(the default there) and in f32; ONNX Runtime FP32 and INT8.
Targets: the backend records' ``int8_targets`` (runtimes/<backend>/record.py, as the pipeline report
judges) and PSNR >= 40 dB on every held-out pair. ``--work`` keeps (and reuses) the built
files; without it they go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.timing import round_robin_ms
from mgdn_edge.runtimes.backends import int8_speed_targets

PSNR_FLOOR_DB = 40.0


def build(model: Path, calib: Path, work: Path) -> dict[str, Path]:
    """The files the defaults make, built once into ``work`` (existing ones are reused)."""
    from mgdn_edge.calibration.quantize import quantize_model
    from mgdn_edge.export.artefacts import INT8_ONNX
    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.runtimes.openvino.convert import convert_to_openvino

    export, ir, ir_int8, onnx_int8 = (
        work / "export",
        work / "openvino" / "model.xml",
        work / "openvino-int8" / "model.xml",
        work / "export" / INT8_ONNX,
    )
    steps = (
        (export / "model.onnx", lambda: export_checkpoint(model, export, fp16=False)),
        (ir, lambda: convert_to_openvino(export, ir)),
        (ir_int8, lambda: quantize_model(export, calib, "openvino", out=ir_int8, progress=False)),
        (onnx_int8, lambda: quantize_model(export, calib, "onnxruntime", out=onnx_int8, progress=False)),
    )
    for path, make in steps:
        if not path.exists():
            start = time.perf_counter()
            make()
            print(f"built {path.relative_to(work)} in {time.perf_counter() - start:.0f} s")
    return {"export": export, "ir": ir, "ir_int8": ir_int8, "onnx_int8": onnx_int8}


REFERENCE = "pytorch reference"


def variants(checkpoint: Path, files: dict[str, Path], threads: int) -> dict[str, Any]:
    """Every CPU variant, opened (OpenVINO without its compiled-model cache: first runs compile)."""
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.openvino.runtime import unavailable_reason

    ov_options = {"threads": threads, "cache": False}
    opened = {
        REFERENCE: open_runtime("torch", checkpoint, threads=threads),
        "openvino fp32": open_runtime("openvino", files["ir"], precision="fp32", **ov_options),
        "openvino int8": open_runtime("openvino", files["ir_int8"], **ov_options),
        "openvino int8, rest f32": open_runtime("openvino", files["ir_int8"], int8_rest="f32", **ov_options),
        "onnxruntime fp32": open_runtime("onnxruntime", files["export"] / "model.onnx", threads=threads),
        "onnxruntime int8": open_runtime("onnxruntime", files["onnx_int8"], threads=threads),
    }
    no_bf16 = unavailable_reason("bf16")
    if no_bf16 is None:
        opened["openvino bf16"] = open_runtime("openvino", files["ir"], precision="bf16", **ov_options)
    else:
        print(f"(no bf16 row: {no_bf16})")
    return opened


def time_round_robin(opened: dict[str, Any], inputs: list[np.ndarray], runs: int) -> dict[str, float]:
    """Median ms per variant; one untimed round first (it compiles per shape)."""
    samples = round_robin_ms({name: partial(rt.run, inputs) for name, rt in opened.items()}, runs)
    return {name: statistics.median(values) for name, values in samples.items()}


def held_out_psnr(opened: dict[str, Any], pairs: list[Any]) -> dict[str, list[float]]:
    """PSNR of every INT8 and bf16 row against its runtime's FP32 row, one value per held-out pair."""
    fp32_rows = {name: runtime for name, runtime in opened.items() if name.endswith(" fp32")}
    references = {name: [runtime.run(pair.inputs) for pair in pairs] for name, runtime in fp32_rows.items()}
    out: dict[str, list[float]] = {}
    for name in (n for n in opened if " int8" in n or n.endswith(" bf16")):
        values = []
        for pair, reference in zip(pairs, references[name.split(" ")[0] + " fp32"], strict=True):
            diff = opened[name].run(pair.inputs).astype(np.float64) - reference
            values.append(float(10 * np.log10(1.0 / max(np.mean(diff**2), 1e-20))))
        out[name] = values
    return out


def report(ms: dict[str, float], psnr: dict[str, list[float]], executes: dict[str, str]) -> list[dict]:
    """Print the table and the verdict on every target; return the verdicts."""
    header = (
        f"{'variant':26s} {'median ms':>10s} {'vs PyTorch':>10s} {'vs fp32':>8s} {'vs bf16':>8s} "
        f"{'PSNR min/mean':>15s}"
    )
    print(f"\n  {header}  executes")
    for name, value in ms.items():
        fp32 = ms.get(name.split(" ")[0] + " fp32")
        vs_fp32 = f"{fp32 / value:7.2f}x" if fp32 else "-"
        bf16 = "-"
        if "openvino bf16" in ms and name.startswith("openvino"):
            bf16 = f"{ms['openvino bf16'] / value:7.2f}x"
        quality = f"{min(psnr[name]):6.2f} / {statistics.mean(psnr[name]):6.2f}" if name in psnr else "-"
        print(
            f"  {name:26s} {value:10.1f} {ms[REFERENCE] / value:9.2f}x {vs_fp32:>8s} {bf16:>8s} "
            f"{quality:>15s}  {executes[name]}"
        )
    verdicts = []
    for target in int8_speed_targets():
        row, versus, wanted = f"{target.runtime} int8", f"{target.runtime} {target.versus}", target.ratio
        if row in ms and versus in ms:
            ratio = ms[versus] / ms[row]
            verdicts.append({"row": row, "versus": versus, "wanted": wanted, "ratio": ratio})
            verdict = "meets" if ratio >= wanted else "MISSES"
            print(f"{row} vs {versus}: {ratio:.2f}x ({verdict} the >= {wanted:g}x target)")
    for name, values in psnr.items():
        if " int8" not in name:
            continue
        verdict = "meets" if min(values) >= PSNR_FLOOR_DB else "MISSES"
        print(
            f"{name}: PSNR min {min(values):.2f} dB on {len(values)} held-out pairs "
            f"({verdict} the >= {PSNR_FLOOR_DB:g} dB floor)"
        )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the authors' MFF checkpoint")
    parser.add_argument("--calib", type=Path, required=True, help="calibration pairs (A/, B/)")
    parser.add_argument("--held-out", type=Path, required=True, help="held-out pairs (A/, B/)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores, same for every row")
    parser.add_argument("--work", type=Path, help="keep the built files here (reused when present)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args(argv)

    from mgdn_edge.calibration.sources import open_source
    from mgdn_edge.core.atomic import write_json
    from mgdn_edge.core.timing import machine_info

    threads = args.threads or os.cpu_count() or 1
    pairs = open_source("mff", args.held_out).load(progress=False)
    with tempfile.TemporaryDirectory(prefix="mgdn_int8_") as tmp:
        opened = variants(args.model, build(args.model, args.calib, args.work or Path(tmp)), threads)
        inputs = pairs[0].inputs
        size = f"{inputs[0].shape[2]}x{inputs[0].shape[3]}"
        print(f"timing {len(opened)} variants at {size} on {pairs[0].name} ({threads} threads)")
        ms = time_round_robin(opened, inputs, args.runs)
        psnr = held_out_psnr(opened, pairs)
        described = {name: runtime.describe() for name, runtime in opened.items()}
        executes = {name: str(d.get("executes") or d.get("provider", "")) for name, d in described.items()}
    verdicts = report(ms, psnr, executes)
    if args.json:
        figures = {"size": size, "threads": threads, "median_ms": ms, "psnr_db": psnr, "targets": verdicts}
        write_json(args.json, {**figures, "executes": executes, "machine": machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
