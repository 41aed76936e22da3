"""Time INT8 calibration for both backends and measure INT8 against FP32 on held-out pairs.

    python -m mgdn_edge.tools.bench_calibration --lytro /tmp/lytro_npz [--export DIR] [--samples 32]

Calibration: ``--samples`` random ``--crop`` crops from the first ``--calib-pairs`` Lytro pairs
(``.npz`` with float ``a``/``b`` inputs, or an ``A/``+``B/`` pairs folder). Evaluation: the other
pairs at full resolution, run by the runtimes on the written files, compared with the FP32 export
in ONNX Runtime by the parity harness's metrics (PSNR, SSIM). Prints one table from one run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from mgdn_edge.calibration.base import Sample
from mgdn_edge.export.artefacts import quantized_file


def load_pairs(path: Path) -> list[Sample]:
    """Full-frame MFF samples from a folder of .npz (a, b) or an A/ + B/ pairs folder."""
    files = sorted(path.glob("*.npz"))
    if files:
        return [Sample([np.load(f)["a"], np.load(f)["b"]], None, f.stem, f.stem) for f in files]
    from mgdn_edge.calibration import open_source

    return open_source("mff", path).load(progress=False)


def random_crops(pairs: list[Sample], n: int, size: int, seed: int = 0) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pair = pairs[i % len(pairs)]
        h, w = pair.size
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crops = [np.ascontiguousarray(a[:, :, y : y + size, x : x + size]) for a in pair.inputs]
        out.append(Sample(crops, None, f"{pair.name}@{y},{x}", pair.item))
    return out


def main() -> None:
    """Calibrate the MFF export with each method and print the quality and time of each.

    It stays one function because it is a benchmark script read top to bottom: parse the
    arguments, load the samples, then run and report each method in turn.
    """
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--lytro", type=Path, default=Path("/tmp/lytro_npz"), help="npz folder or pairs folder"
    )
    parser.add_argument("--export", type=Path, help="MFF export folder (default: export --checkpoint)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the authors' MFF checkpoint")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument(
        "--calib-pairs", type=int, default=12, help="pairs used for calibration; the rest evaluate"
    )
    parser.add_argument("--eval", type=int, default=8, help="evaluation pairs (full frames)")
    parser.add_argument("--backends", nargs="+", default=["openvino", "onnxruntime"])
    parser.add_argument("--method", help="calibration method (backend's default)")
    parser.add_argument("--max-drop", type=float, help="accuracy-aware mode (dB from the 58.9 dB ceiling)")
    args = parser.parse_args()

    from mgdn_edge.calibration.quantize import quantize_model
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.backends import get_backend
    from mgdn_edge.runtimes.parity import image_metrics

    tmp = Path(tempfile.mkdtemp(prefix="mgdn_bench_calib_"))
    export = args.export
    if export is None:
        from mgdn_edge.export.onnx_export import export_checkpoint

        export = export_checkpoint(args.checkpoint, tmp / "export", task="mff", verify=False).out_dir
    pairs = load_pairs(args.lytro)
    calib = random_crops(pairs[: args.calib_pairs], args.samples, args.crop)
    evaluation = pairs[args.calib_pairs : args.calib_pairs + args.eval]
    if not evaluation:
        raise SystemExit("no evaluation pairs left: lower --calib-pairs")
    fp32 = open_runtime("onnxruntime", export)
    reference = [fp32.run(s.inputs) for s in evaluation]
    print(
        f"calibration: {len(calib)} crops {args.crop}x{args.crop} from {args.calib_pairs} pairs; "
        f"evaluation: {len(evaluation)} pairs {evaluation[0].size[0]}x{evaluation[0].size[1]}"
    )
    for backend in args.backends:
        suffix = get_backend(backend).builder("quantize").suffix  # the file quantize writes
        result = quantize_model(
            export,
            calib,
            backend,
            out=tmp / quantized_file("int8", suffix),
            method=args.method,
            max_drop=args.max_drop,
            eval_data=None
            if args.max_drop is None
            else random_crops(pairs[: args.calib_pairs], 4, args.crop, 1),
        )
        runtime = open_runtime("openvino" if backend == "openvino" else "onnxruntime", result.path)
        metrics = [
            image_metrics(r, runtime.run(s.inputs), "mff") for r, s in zip(reference, evaluation, strict=True)
        ]
        psnr = [m["psnr"] for m in metrics]
        ssim = [m["ssim"] for m in metrics]
        print(
            f"{backend:9s} int8 ({result.method}): calibration {result.seconds:6.1f} s | PSNR vs FP32 "
            f"mean {np.mean(psnr):.2f} min {np.min(psnr):.2f} dB | SSIM mean {np.mean(ssim):.5f} "
            f"min {np.min(ssim):.5f} | runs as {runtime.describe()['precision']}"
        )
        print(f"  float layers ({len(result.float_layers)}):")
        for name, why in result.float_layers.items():
            print(f"    {name}: {why}")


if __name__ == "__main__":
    main()
