"""Whole-process start-up: `mgdn-edge fuse` on one 520x520 MFF pair, PyTorch vs OpenVINO, cold and warm.

    python -m mgdn_edge.tools.bench_startup --model CKPT [--size 520] [--runs 3] [--out DIR]
                                            [--int8 XML]

What a user waits for is the whole command: interpreter and imports, reading the model, for
OpenVINO the extension (built on first use) and compiling, then one inference and writing the
PNG. So every measurement here is one fresh `python -m mgdn_edge.cli fuse ...` process, timed
from spawn to exit:

- ``torch``: the checkpoint with the PyTorch runtime;
- ``openvino``: the exported ``model.onnx`` with the OpenVINO runtime (native op);
- ``cold``: a fresh, empty HOME (and temp dir) per run: the OpenVINO extension is built and
  self-checked, and nothing is compiled yet: a first-time user;
- ``no blob``: the extension is cached, the FP32 model's compiled blobs are deleted before each run
  (a new model file or a new input size);
- ``warm``: the same HOME again, with the extension and the compiled blob cached.
- ``bf16`` (where the CPU has bf16) and ``int8`` (with ``--int8``, an INT8 IR from ``quantize``):
  the faster OpenVINO precisions, ``no blob`` and ``warm``, as a user who picked them waits for
  them; each precision has its own compiled blob, so ``no blob / warm`` is what the cache saves.

The pair is the fixture crop ``mff_lytro01_crop96`` of ../shared reflected out to the size (as
the full-size test does), or a synthetic pair when the fixture is absent. The export itself is
not timed. Rows are run round-robin (one process of each per round) so that load changes on a
shared machine shift every row alike; ratios are medians of this one run. Run it twice on a
shared machine and compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIXTURE = FIXTURES / "official-mff" / "mff_lytro01_crop96.npz"
ROWS = ("torch cold", "torch warm", "openvino cold", "openvino no blob", "openvino warm")
OPTIONAL_ROWS = ("openvino bf16 no blob", "openvino bf16 warm", "openvino int8 no blob", "openvino int8 warm")
STATES = ("cold", "no blob", "warm")
# (label, numerator row, denominator row): all from the medians of one run
RATIOS = (
    ("torch / openvino, cold", "torch cold", "openvino cold"),
    ("torch / openvino, no blob", "torch warm", "openvino no blob"),
    ("torch / openvino, warm", "torch warm", "openvino warm"),
    ("torch / openvino bf16, warm", "torch warm", "openvino bf16 warm"),
    ("torch / openvino int8, warm", "torch warm", "openvino int8 warm"),
    ("openvino cold / warm", "openvino cold", "openvino warm"),
    ("openvino no blob / warm", "openvino no blob", "openvino warm"),
    ("openvino bf16 no blob / warm", "openvino bf16 no blob", "openvino bf16 warm"),
    ("openvino int8 no blob / warm", "openvino int8 no blob", "openvino int8 warm"),
)


def split_row(row: str) -> tuple[str, str]:
    """("openvino bf16", "no blob") from "openvino bf16 no blob": the command and the cache state."""
    state = next(s for s in STATES if row.endswith(" " + s))
    return row.removesuffix(" " + state), state


def make_pair(folder: Path, size: int, fixture: Path = FIXTURE) -> list[Path]:
    """Two PNGs of ``size`` x ``size``: the fixture crop reflected out, or synthetic texture."""
    import cv2

    if fixture.is_file():
        data = np.load(fixture)
        arrays = []
        for key in ("A", "B"):
            img = data[key][0].transpose(1, 2, 0)  # HWC RGB in [0, 1]
            before = (size - img.shape[0]) // 2
            pad = ((before, size - img.shape[0] - before), (before, size - img.shape[1] - before), (0, 0))
            arrays.append(np.pad(img, pad, mode="symmetric"))
    else:
        rng = np.random.default_rng(0)
        arrays = [rng.random((size, size, 3)) for _ in range(2)]
    paths = []
    for name, rgb in zip(("A.png", "B.png"), arrays, strict=True):
        path = folder / name
        cv2.imwrite(str(path), (np.clip(rgb[..., ::-1], 0, 1) * 255).round().astype(np.uint8))
        paths.append(path)
    return paths


def fuse_argv(
    runtime: str, model: Path, pair: list[Path], out: Path, precision: str | None = None
) -> list[str]:
    return [sys.executable, "-m", "mgdn_edge.cli", "fuse", "--task", "mff", "--runtime", runtime,
            "--model", str(model), *map(str, pair), "-o", str(out),
            *(["--precision", precision] if precision else [])]  # fmt: skip


def environment(home: Path) -> dict[str, str]:
    """The current environment with HOME (and the temp dir the cache falls back to) replaced."""
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "MGDN_OPENVINO_EXTENSION")}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env | {"HOME": str(home), "TMPDIR": str(home / "tmp")}


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"error: {' '.join(argv[3:6])} failed ({proc.returncode}): {' | '.join(tail)}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the authors' MFF checkpoint (.pth)")
    parser.add_argument("--size", type=int, default=520, help="square input size (default 520)")
    parser.add_argument("--runs", type=int, default=3, help="processes per row (default 3)")
    parser.add_argument("--out", type=Path, help="work folder (default: a temp folder, removed)")
    parser.add_argument("--int8", type=Path, help="an INT8 IR of this model (from quantize): one more row")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"checkpoint not found: {args.model}")
    if args.runs < 1 or args.size < 16:
        parser.error("--runs must be >= 1 and --size >= 16")

    work = Path(args.out or tempfile.mkdtemp(prefix="mgdn_bench_startup_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from mgdn_edge.export.onnx_export import export_checkpoint
        from mgdn_edge.runtimes.openvino.model_cache import MODEL_CACHE
        from mgdn_edge.runtimes.openvino.runtime import unavailable_reason

        pair = make_pair(work, args.size)
        export = work / "export"
        if not (export / "model.onnx").is_file():
            export_checkpoint(args.model, export, task="mff", verify=False)
        warm_home = work / "home-warm"
        commands = {
            "torch": fuse_argv("torch", args.model, pair, work / "torch.png"),
            "openvino": fuse_argv("openvino", export, pair, work / "openvino.png"),
        }
        if unavailable_reason("bf16") is None:
            commands["openvino bf16"] = fuse_argv("openvino", export, pair, work / "bf16.png", "bf16")
        if args.int8:
            commands["openvino int8"] = fuse_argv("openvino", args.int8, pair, work / "int8.png")
        model_cache = warm_home / ".cache" / "mgdn-edge" / MODEL_CACHE
        blobs: dict[str, set[Path]] = {}
        for runtime in commands:  # prepare the warm HOME (extension, blobs): untimed
            before = files_under(model_cache)
            timed(commands[runtime], environment(warm_home))
            blobs[runtime] = files_under(model_cache) - before  # what this command compiled
        rows = ROWS + tuple(row for row in OPTIONAL_ROWS if split_row(row)[0] in commands)
        times: dict[str, list[float]] = {row: [] for row in rows}
        for i in range(args.runs):
            for row in rows:
                runtime, state = split_row(row)
                if state == "cold":
                    home = work / f"home-cold-{runtime}-{i}"
                    times[row].append(timed(commands[runtime], environment(home)))
                    shutil.rmtree(home, ignore_errors=True)
                    continue
                if state == "no blob":  # only this command's blobs: the other rows stay warm
                    for path in blobs[runtime]:
                        path.unlink(missing_ok=True)
                times[row].append(timed(commands[runtime], environment(warm_home)))
                print(f"round {i + 1}/{args.runs}: {row} {times[row][-1]:.2f} s", file=sys.stderr)
        report(times, args)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def ratios(times: dict[str, list[float]]) -> dict[str, float]:
    """The ratios of :data:`RATIOS` from the medians of ``times`` (one list of seconds per row);
    a ratio whose rows were not measured is left out."""
    median = {row: statistics.median(values) for row, values in times.items()}
    return {label: median[a] / median[b] for label, a, b in RATIOS if a in median and b in median}


def report(times: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(f"mgdn-edge fuse, MFF {args.size}x{args.size}, {args.runs} processes per row, one run "
          f"({os.cpu_count()} CPUs; median, min-max)")  # fmt: skip
    for row, values in times.items():
        print(f"  {row:<26} {statistics.median(values):7.2f} s   ({min(values):.2f}-{max(values):.2f})")
    for label, value in ratios(times).items():
        print(f"  {label:<26} {value:7.2f}x")


if __name__ == "__main__":
    sys.exit(main())
