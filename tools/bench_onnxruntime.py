"""ONNX Runtime FP32 latency of an exported MGDN model against the PyTorch reference, in one run.

    python -m mgdn_edge.tools.bench_onnxruntime --model CKPT [--sizes 520] [--runs 5]
    python -m mgdn_edge.tools.bench_onnxruntime --decompositions   # DynamicFilter bodies only

The reference is ``load_model(...)`` eager FP32 with the default lean dynamic filter; the
authors' unfold filter (their op sequence) is timed too, for context (``--no-authors`` skips it).
The model is exported once (dynamic H, W); ONNX Runtime runs ``model.onnx`` twice -- with the
native DynamicFilter op (``libmgdn_ort.so``, built on first use) and with the node's portable
function body (``native_op=False``) -- and ``model.portable.onnx`` (the functions inlined in the
file). Inputs are seeded random images; latency is the median of ``--runs`` rounds after
``--warmup`` rounds, every row once per round (round-robin, so load changes on a shared machine
hit all rows alike), every backend with the same thread count. The last lines give the native
op's speed-up over the portable body and over PyTorch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mgdn_edge.core.timing import round_robin_ms
from mgdn_edge.export.artefacts import MODEL_ONNX

REFERENCE = "torch lean (reference)"
NATIVE = "ORT model.onnx, native op"
PORTABLE_BODY = "ORT model.onnx, portable body"


def bench_model(args: argparse.Namespace) -> None:
    import onnxruntime
    import torch

    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.runtimes import open_runtime

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.onnx) if args.onnx else Path(tmp) / "export"
        if not args.onnx:
            export_checkpoint(args.model, out, verify=False)
        ort_args = {"threads": args.threads, "providers": "cpu"}
        runtimes = {REFERENCE: open_runtime("torch", args.model, threads=args.threads)}
        if args.authors:
            runtimes["torch unfold (authors)"] = open_runtime(
                "torch", args.model, threads=args.threads, filter="authors"
            )
        runtimes[NATIVE] = open_runtime("onnxruntime", out / MODEL_ONNX, native_op=True, **ort_args)
        runtimes[PORTABLE_BODY] = open_runtime("onnxruntime", out / MODEL_ONNX, native_op=False, **ort_args)
        runtimes["ORT model.portable.onnx"] = open_runtime("onnxruntime", out, portable=True, **ort_args)
        name = runtimes[REFERENCE].config.name
        print(
            f"MGDN {name} from {args.model}; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
        )
        print(f"CPU: {cpu_name()}; native op: {runtimes[NATIVE].describe()['dynamic_filter']}")
        print(
            f"CPU EP, {args.threads} threads, median of {args.runs} round-robin rounds after {args.warmup} "
            "warm-up"
        )
        print(f"{'size':>9} {'backend':<30} {'ms':>10} {'vs torch lean':>14} {'max abs vs ref':>15}")
        rng = np.random.default_rng(0)
        for side in args.sizes:
            inputs = [
                rng.random((1, c, side, side), dtype=np.float32)
                for c in runtimes[NATIVE].config.io.input_channels
            ]
            reference = runtimes[REFERENCE].run(inputs)
            errors = {n: float(np.abs(rt.run(inputs) - reference).max()) for n, rt in runtimes.items()}
            calls = {n: (lambda rt=rt, x=inputs: rt.run(x)) for n, rt in runtimes.items()}
            limits = {"torch unfold (authors)": max(1, min(args.runs, 3))}
            times = round_robin_ms(calls, args.runs, args.warmup, limits=limits)
            ms = {n: statistics.median(t) for n, t in times.items()}
            for n in runtimes:
                ratio = ms[REFERENCE] / ms[n]
                print(f"{side:>4}x{side:<4} {n:<30} {ms[n]:>10.1f} {ratio:>13.2f}x {errors[n]:>15.2e}")
            native_gain = ms[PORTABLE_BODY] / ms[NATIVE]
            print(
                f"{side:>4}x{side:<4} ORT native op: {native_gain:.2f}x the portable body, "
                f"{ms[REFERENCE] / ms[NATIVE]:.2f}x PyTorch (portable body: "
                f"{ms[REFERENCE] / ms[PORTABLE_BODY]:.2f}x PyTorch)"
            )


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (what ``lscpu | grep 'Model name'`` prints)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def bench_decompositions(args: argparse.Namespace) -> None:
    import onnxruntime as ort
    import torch

    from mgdn_edge.export.dynamic_filter_onnx import DECOMPOSITIONS, standalone_model
    from mgdn_edge.model import dynamic_filter_lean

    torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.log_severity_level = 3
    sessions = {
        v: ort.InferenceSession(
            standalone_model(7, args.channels, variant=v).SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )
        for v in DECOMPOSITIONS
    }
    print(
        f"DynamicFilter k=7, C={args.channels}, N=1, {args.threads} threads, {args.runs} interleaved runs: "
        "median / min ms (the min resists interference on a shared machine)"
    )
    print(f"{'size':>9} " + " ".join(f"{v:>15}" for v in DECOMPOSITIONS) + f" {'torch lean':>15}")
    rng = np.random.default_rng(0)
    for side in args.sizes:
        feat = rng.standard_normal((1, args.channels, side, side), dtype=np.float32)
        kernels = rng.standard_normal((1, 49, side, side), dtype=np.float32)
        feeds = {"feat": feat, "kernels": kernels}
        # Interleave the variants round by round so load changes on the machine hit all of them alike.
        times: dict[str, list[float]] = {v: [] for v in DECOMPOSITIONS}
        for s in sessions.values():
            s.run(None, feeds)
        for _ in range(args.runs):
            for v, s in sessions.items():
                start = time.perf_counter()
                s.run(None, feeds)
                times[v].append(1000.0 * (time.perf_counter() - start))
        ft, kt = torch.from_numpy(feat), torch.from_numpy(kernels)
        dynamic_filter_lean(ft, kt, 7)  # warm-up, like the sessions above
        lean = []
        for _ in range(args.runs):
            start = time.perf_counter()
            dynamic_filter_lean(ft, kt, 7)
            lean.append(1000.0 * (time.perf_counter() - start))
        row = " ".join(f"{statistics.median(times[v]):>7.1f} /{min(times[v]):>6.1f}" for v in DECOMPOSITIONS)
        print(f"{side:>4}x{side:<4} {row} {statistics.median(lean):>7.1f} /{min(lean):>6.1f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, help="the authors' MFF checkpoint")
    p.add_argument("--onnx", help="reuse an export folder instead of exporting again")
    p.add_argument("--sizes", type=int, nargs="+", default=[520], help="square sizes (default 520)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-authors", dest="authors", action="store_false", help="skip the slow authors' unfold filter row"
    )
    p.add_argument("--decompositions", action="store_true", help="time the DynamicFilter bodies alone")
    p.add_argument("--channels", type=int, default=30, help="feature channels for --decompositions")
    args = p.parse_args(argv)
    if args.decompositions:
        bench_decompositions(args)
    else:
        if not args.model.is_file():
            p.error(f"checkpoint not found: {args.model}")
        bench_model(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
