"""ONNX Runtime FP32 latency of an exported MGDN model against the PyTorch reference, in one run.

    python -m mgdn_edge.tools.bench_onnxruntime [--model CKPT] [--sizes 256 512] [--runs 5]
    python -m mgdn_edge.tools.bench_onnxruntime --decompositions   # DynamicFilter bodies only

The reference is ``load_model(...)`` eager FP32 with the default lean dynamic filter; the
authors' unfold filter (their op sequence) is timed too, for context. The model is exported once
(dynamic H, W) and both ``model.onnx`` (function inlined by ORT) and ``model.portable.onnx`` are
timed at every size from that one file. Inputs are seeded random images; latency is the median
of ``--runs`` after ``--warmup`` runs, every backend with the same thread count.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mgdn_edge.export.artefacts import MODEL_ONNX
from mgdn_edge.tools.timing import median_ms


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
        runtimes = {
            "torch lean (reference)": open_runtime("torch", args.model, threads=args.threads),
            "torch unfold (authors)": open_runtime(
                "torch", args.model, threads=args.threads, filter="authors"
            ),
            "ORT model.onnx": open_runtime(
                "onnxruntime", out / MODEL_ONNX, threads=args.threads, providers="cpu"
            ),
            "ORT model.portable.onnx": open_runtime(
                "onnxruntime", out / MODEL_ONNX, threads=args.threads, providers="cpu", portable=True
            ),
        }
        name = runtimes["torch lean (reference)"].config.name
        print(
            f"MGDN {name} from {args.model}; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
        )
        print(f"CPU EP, {args.threads} threads, median of {args.runs} runs after {args.warmup} warm-up")
        print(f"{'size':>9} {'backend':<26} {'ms':>10} {'vs torch lean':>14} {'max abs vs ref':>15}")
        rng = np.random.default_rng(0)
        for side in args.sizes:
            inputs = [
                rng.random((1, c, side, side), dtype=np.float32)
                for c in runtimes["ORT model.onnx"].config.io.input_channels
            ]
            reference = runtimes["torch lean (reference)"].run(inputs)
            base = None
            for name, rt in runtimes.items():
                ms = median_ms(lambda rt=rt, inputs=inputs: rt.run(inputs), args.runs, args.warmup)
                base = base or ms
                err = float(np.abs(rt.run(inputs) - reference).max())
                print(f"{side:>4}x{side:<4} {name:<26} {ms:>10.1f} {base / ms:>13.2f}x {err:>15.2e}")


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
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="square sizes (default 256 512)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
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
