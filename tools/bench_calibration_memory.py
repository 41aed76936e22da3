"""Peak memory and time of `mgdn-edge quantize` against the number of calibration pairs.

    python -m mgdn_edge.tools.bench_calibration_memory --checkpoint mff_62000_E.pth
        [--export DIR] [--pairs 10 40] [--size 520] [--backends onnxruntime openvino] [--out DIR]
        [--calib-memory MB]

Each row is one `python -m mgdn_edge.cli quantize --runtime B --data PAIRS` process on N synthetic
but image-like SIZExSIZE MFF pairs: the 96x96 Lytro fixture crop of ../shared reflected out to the
size, each pair with its own offset, flips and transposition (blurred random textures where the
fixture is absent). Reported per row: the peak resident memory of the process tree (the sum of
its processes' RSS, polled every 50 ms with psutil), the kernel's high-water mark of the largest
single process (``ru_maxrss``, exact), and the wall time; then the ratios of the largest pair
count to the smallest. Rows run one after another, backend by backend, so no two heavy processes
share the machine; run it on a quiet machine and say which CPU gave the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIXTURE = FIXTURES / "official-mff" / "mff_lytro01_crop96.npz"
PEAK_TARGET_MB = 4096  # the goal: under 4 GB at 520x520 for both backends
RATIO_TARGET = 1.2  # ... and within 20 % between pair counts


def _pair_images(index: int, size: int, fixture: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pair ``index`` as two HxWx3 float images in [0, 1]: the fixture reflected out, varied."""
    rng = np.random.default_rng(index)
    if fixture.is_file():
        data = np.load(fixture)
        crops = [data[key][0].transpose(1, 2, 0)[:size, :size] for key in ("A", "B")]
        crop = crops[0].shape[0]
        before = int(rng.integers(0, max(1, size - crop)))  # where the crop sits: one place per pair
        pad = ((before, size - crop - before), (before, size - crop - before), (0, 0))
        out = [np.pad(img, pad, mode="symmetric") for img in crops]
    else:
        import cv2

        base = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 2.0)
        blurred = cv2.GaussianBlur(base, (0, 0), 4.0)
        half = np.zeros((size, size, 1), np.float32)
        half[:, : size // 2] = 1.0  # A is sharp on the left, B on the right
        out = [base * half + blurred * (1 - half), blurred * half + base * (1 - half)]
    a, b = out
    if index % 2:
        a, b = a[:, ::-1], b[:, ::-1]
    if index % 4 >= 2:
        a, b = a[::-1], b[::-1]
    if index % 8 >= 4:
        a, b = a.transpose(1, 0, 2), b.transpose(1, 0, 2)
    return a, b


def make_pairs(folder: Path, n: int, size: int, fixture: Path = FIXTURE) -> Path:
    """``folder/A`` and ``folder/B`` with ``n`` 8-bit PNG pairs of ``size`` x ``size``."""
    import cv2

    for sub in ("A", "B"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        for sub, rgb in zip(("A", "B"), _pair_images(i, size, fixture), strict=True):
            bgr = (np.clip(rgb[..., ::-1], 0, 1) * 255).round().astype(np.uint8)
            cv2.imwrite(str(folder / sub / f"{i:03d}.png"), np.ascontiguousarray(bgr))
    return folder


@dataclass
class Row:
    backend: str
    pairs: int
    tree_peak_mb: float  # sum over the process tree, polled
    process_peak_mb: float  # ru_maxrss of the largest process (kernel high-water mark)
    seconds: float
    notes: list[str]


def _tree_rss(root: object) -> int:
    import psutil

    total = 0
    for proc in [root, *root.children(recursive=True)]:  # type: ignore[attr-defined]
        with contextlib.suppress(psutil.Error):  # a process that exits between the two calls
            total += proc.memory_info().rss
    return total


def measure(argv: list[str]) -> tuple[float, float, float, str]:
    """(tree peak MB, largest-process peak MB, seconds, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        try:
            import psutil

            root = psutil.Process(proc.pid)
        except Exception:  # noqa: BLE001 - psutil absent or the child already gone: ru_maxrss remains
            return
        while not done.is_set():
            with contextlib.suppress(Exception):  # the child exits between calls
                peak[0] = max(peak[0], _tree_rss(root))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    poller.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = " | ".join(output.strip().splitlines()[-3:])
        raise SystemExit(f"error: {' '.join(argv[3:])} failed ({proc.returncode}): {tail}")
    return peak[0] / 2**20, usage.ru_maxrss / 1024, seconds, output


def quantize_argv(
    export: Path, pairs: Path, backend: str, out: Path, calib_memory: float | None
) -> list[str]:
    argv = [sys.executable, "-m", "mgdn_edge.cli", "quantize", "--model", str(export), "--data", str(pairs),
            "--runtime", backend, "--out", str(out), "--quiet"]  # fmt: skip
    return argv + ([] if calib_memory is None else ["--calib-memory", str(calib_memory)])


def report(rows: list[Row], size: int) -> None:
    print(f"mgdn-edge quantize, MFF {size}x{size}, one process per row ({os.cpu_count()} CPUs)")
    print(f"  {'backend':<9} {'pairs':>5} {'tree peak':>10} {'process peak':>13} {'wall':>8}")
    for r in rows:
        peaks = f"{r.tree_peak_mb:>7.0f} MB {r.process_peak_mb:>10.0f} MB"
        print(f"  {r.backend:<9} {r.pairs:>5} {peaks} {r.seconds:>7.1f}s")
        for note in r.notes:
            print(f"      {note}")
    for backend in dict.fromkeys(r.backend for r in rows):
        mine = sorted((r for r in rows if r.backend == backend), key=lambda r: r.pairs)
        if len(mine) < 2:
            continue
        lo, hi = mine[0], mine[-1]
        peak = max(hi.tree_peak_mb, hi.process_peak_mb) / max(lo.tree_peak_mb, lo.process_peak_mb)
        worst = max(max(r.tree_peak_mb, r.process_peak_mb) for r in mine)
        verdict = "meets" if peak < RATIO_TARGET and worst < PEAK_TARGET_MB else "misses"
        print(
            f"  {backend}: {hi.pairs}/{lo.pairs} pairs: peak x{peak:.2f}, "
            f"wall x{hi.seconds / lo.seconds:.2f}; "
            f"worst peak {worst:.0f} MB ({verdict} < {PEAK_TARGET_MB} MB and < x{RATIO_TARGET})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="the authors' MFF checkpoint (exported first)")
    parser.add_argument("--export", type=Path, help="an MFF export folder (instead of --checkpoint)")
    parser.add_argument("--pairs", type=int, nargs="+", default=[10, 40], help="pair counts (default 10 40)")
    parser.add_argument("--size", type=int, default=520, help="square pair size (default 520)")
    runtimes = ["onnxruntime", "openvino"]
    parser.add_argument("--backends", nargs="+", default=runtimes, choices=runtimes)
    parser.add_argument("--calib-memory", type=float, help="quantize --calib-memory MB (default: quantize's)")
    parser.add_argument("--out", type=Path, help="work folder (default: a temp folder, removed)")
    args = parser.parse_args(argv)
    if (args.checkpoint is None) == (args.export is None):
        parser.error("give one of --checkpoint and --export")
    if min(args.pairs) < 1 or args.size < 16:
        parser.error("--pairs must be >= 1 and --size >= 16")
    work = Path(args.out or tempfile.mkdtemp(prefix="mgdn_bench_calib_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        export = args.export
        if export is None:
            from mgdn_edge.export.onnx_export import export_checkpoint

            export = work / "export"
            if not (export / "model.onnx").is_file():
                export_checkpoint(args.checkpoint, export, task="mff", verify=False, fp16=False)
        folders = {n: work / f"pairs{n}" for n in sorted(set(args.pairs))}
        for n, folder in folders.items():
            if not (folder / "B" / f"{n - 1:03d}.png").is_file():
                make_pairs(folder, n, args.size)
        from mgdn_edge.runtimes.backends import get_backend

        rows = []
        for backend in args.backends:
            suffix = get_backend(backend).builder("quantize").suffix  # the file quantize writes
            for n, folder in folders.items():
                out = work / f"q-{backend}-{n}{suffix}"
                tree, process, seconds, output = measure(
                    quantize_argv(export, folder, backend, out, args.calib_memory)
                )
                notes = [line for line in output.splitlines() if line.startswith("note:")]
                rows.append(Row(backend, n, tree, process, seconds, notes))
                print(f"{backend} {n} pairs: {max(tree, process):.0f} MB, {seconds:.1f} s", file=sys.stderr)
        report(rows, args.size)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
