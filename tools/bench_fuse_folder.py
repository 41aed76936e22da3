"""Folder mode against single runs: does ``mgdn-edge fuse FOLDER`` keep the runtime's steady-state speed?

    python -m mgdn_edge.tools.bench_fuse_folder --model mff_62000_E.pth [--runtime openvino] \\
        [--pairs 20] [--size 520]

Exports the checkpoint once, writes ``--pairs`` synthetic MFF pairs of ``--size``, measures the
runtime's steady-state latency in this process (warm-up, then the median of ``--runs`` calls),
then runs ``mgdn-edge fuse`` on the folder as a whole process and prints its per-item times
(network only, and wall including reading and writing images) as ratios to that latency, all
from this one run.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from mgdn_edge.core.timing import median_ms


def write_pairs(root: Path, n: int, size: int) -> Path:
    from mgdn_edge.model import preset
    from mgdn_edge.runtimes.parity import synthetic_cases

    for sub in ("A", "B"):
        (root / sub).mkdir(parents=True)
    for i, case in enumerate(synthetic_cases(preset("mff"), [(size, size)] * n, seed=0)):
        for sub, x in zip(("A", "B"), case.inputs, strict=True):
            image = np.round(x[0].transpose(1, 2, 0)[:, :, ::-1] * 255).astype(np.uint8)
            cv2.imwrite(str(root / sub / f"pair{i:03d}.png"), image)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the authors' MFF checkpoint")
    parser.add_argument("--runtime", default="openvino")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--size", type=int, default=520)
    parser.add_argument("--runs", type=int, default=5, help="timed single runs for the steady state")
    args = parser.parse_args(argv)

    from mgdn_edge.export.onnx_export import export_checkpoint
    from mgdn_edge.runtimes import open_runtime
    from mgdn_edge.runtimes.parity import synthetic_cases

    with tempfile.TemporaryDirectory(prefix="mgdn-bench-folder-") as tmp:
        work = Path(tmp)
        export_checkpoint(args.model, work / "export", task="mff", verify=False)
        folder = write_pairs(work / "pairs", args.pairs, args.size)
        runtime = open_runtime(args.runtime, work / "export", task="mff")
        inputs = synthetic_cases(runtime.config, [(args.size, args.size)], seed=1)[0].inputs
        single_ms = median_ms(lambda: runtime.run(inputs), args.runs)
        runtime = None  # its threads and buffers must not compete with the fuse process
        command = [sys.executable, "-m", "mgdn_edge.cli", "fuse", "--task", "mff", "--runtime", args.runtime]
        command += ["--model", str(work / "export"), str(folder), "--out", str(work / "out"), "--quiet"]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"(\d+) ms/item wall, (\d+) ms/item in the network", done.stdout)
    if found is None:
        raise SystemExit(f"fuse printed no throughput line:\n{done.stdout}")
    wall_ms, network_ms = (float(v) for v in found.groups())
    print(done.stdout.strip())
    print(f"single run, steady state: {single_ms:.0f} ms ({args.runtime}, {args.size}x{args.size})")
    ratios = f"network {network_ms / single_ms:.2f}x, wall {wall_ms / single_ms:.2f}x"
    print(f"folder mode vs single run: {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
