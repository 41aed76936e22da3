"""Tiled vs whole-image HDR fusion on a large synthetic scene: peak memory, time, PSNR-mu, in one run.

    python -m mgdn_edge.tools.measure_tiling [--model CKPT] [--size 1000x1500] [--runtime torch]

Writes one synthetic scene (stream ``--seed``, index 0, Kalantari layout) and runs
``mgdn-edge fuse --task hdr`` on it once per case, each in its own process so that the peak
resident memory (``ru_maxrss`` of that child, from ``os.wait4``) belongs to that case alone:

- ``whole``: ``--max-memory 0`` (never tile);
- ``auto``: the defaults (tiles only if the estimate exceeds 2048 MB);
- ``--tile T --overlap O`` for each pair in ``--cases``.

Each tiled output is compared with the whole-image output (PSNR-mu, max |diff| on linear
values) and every output with the ground truth (PSNR-mu). MGDN's MGCA normalises over the whole
image, so tiled and whole outputs cannot agree exactly; this measures by how much they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRConfig, generate_scene, write_scene
from mgdn_edge.core.atomic import write_text_or_stdout
from mgdn_edge.core.size import Size
from mgdn_edge.model.tasks import mu_law


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def run_case(argv: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, stderr) of one ``mgdn-edge`` child process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mgdn_edge.cli", *argv], stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode().strip()
    if proc.returncode != 0:
        raise SystemExit(f"case failed: {' '.join(argv)}\n{text}")
    return usage.ru_maxrss / 1024.0, seconds, text


def main(argv: list[str] | None = None) -> int:
    from mgdn_edge.assets import demo_model_path

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="checkpoint or exported model (default: the bundled demo model)")
    p.add_argument("--runtime", default="auto", help="fuse --runtime (default auto)")
    p.add_argument("--size", default="1000x1500", help="scene HxW (default 1000x1500)")
    p.add_argument("--seed", type=int, default=2, help="synthetic scene stream (default 2)")
    p.add_argument(
        "--cases", nargs="*", default=["512:32", "512:64", "256:32"], help="TILE:OVERLAP pairs to run"
    )
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON to FILE ('-': stdout)")
    args = p.parse_args(argv)
    h, w = Size.parse(args.size, "--size")
    model = args.model or str(demo_model_path())

    with tempfile.TemporaryDirectory(prefix="mgdn-tiling-") as tmp:
        work = Path(tmp)
        scene = generate_scene(0, args.seed, SyntheticHDRConfig(size=(h, w)))
        (work / "scene").mkdir()
        write_scene(work / "scene", scene)
        gt_mu = mu_law(scene.radiance)
        base = ["fuse", "--task", "hdr", "--model", model, "--runtime", args.runtime, str(work / "scene")]
        cases = {"whole": ["--max-memory", "0"], "auto": []}
        for case in args.cases:
            tile, overlap = case.split(":")
            cases[f"tile {tile} overlap {overlap}"] = ["--tile", tile, "--overlap", overlap]
        results: dict[str, dict[str, object]] = {}
        raws: dict[str, np.ndarray] = {}
        for name, extra in cases.items():
            raw = work / f"{len(raws)}.npy"
            rss, seconds, err = run_case(
                [*base, "--out", str(work / f"{len(raws)}.hdr"), "--raw", str(raw), *extra]
            )
            raws[name] = np.clip(np.load(raw), 0.0, 1.0)
            results[name] = {"peak_rss_mb": round(rss, 1), "seconds": round(seconds, 1), "note": err}
            print(f"{name}: peak RSS {rss:.0f} MB, {seconds:.1f} s  {err}", flush=True)
    whole = raws["whole"]
    for name, out in raws.items():
        results[name]["psnr_mu_vs_gt"] = round(_psnr(mu_law(out), gt_mu), 3)
        if name != "whole":
            results[name]["psnr_mu_vs_whole"] = round(_psnr(mu_law(out), mu_law(whole)), 3)
            results[name]["max_abs_vs_whole"] = round(float(np.abs(out - whole).max()), 5)
    print(f"\n{w}x{h} (WxH) synthetic scene, model {model}, runtime {args.runtime}")
    print(f"{'case':<24} {'peak RSS MB':>11} {'time s':>7} {'PSNR-mu vs whole':>17} {'PSNR-mu vs GT':>14}")
    for name, r in results.items():
        vs_whole = r.get("psnr_mu_vs_whole")
        shown = "-" if vs_whole is None else f"{vs_whole:.2f}"
        print(
            f"{name:<24} {r['peak_rss_mb']:>11.0f} {r['seconds']:>7.1f} {shown:>17} "
            f"{r['psnr_mu_vs_gt']:>14.2f}"
        )
    if args.json:
        payload = {"size": [h, w], "model": model, "cases": results}
        write_text_or_stdout(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
