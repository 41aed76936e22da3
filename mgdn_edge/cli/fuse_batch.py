"""``mgdn-edge fuse`` on a folder: every pair (or HDR scene) in it, with one opened model.

A capture session or a camera's bracket dump is fused in one process, so the model is loaded and
compiled once instead of once per image. The folder has the layout the calibration sources read
(:mod:`mgdn_edge.calibration.pairs`: ``A/`` + ``B/`` matched by file name, ``rgb/`` + ``depth/``
for GDSR; :mod:`mgdn_edge.calibration.hdr_scenes`: one Kalantari scene folder per item), and the
outputs go to one folder, one file (HDR: one ``.hdr`` + tonemapped pair) per item.

Each item's outputs are written atomically, so an interrupted run is resumed by running the same
command again: items whose outputs exist are skipped. An item that fails (a corrupt file, a size
the model refuses) is reported by name and the others still run; the command then exits 2.
Throughput is the network's own time per item and the wall time per item (reading and writing
included), both printed at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mgdn_edge.core.errors import InputError, MgdnEdgeError, one_line
from mgdn_edge.model.tasks import Prepared, plan_outputs, postprocess, prepare_inputs, write_fused

DEFAULT_SUFFIX = {"mff": ".png", "mef": ".png", "hdr": ".hdr", "gdsr": ".png"}


@dataclass
class BatchSummary:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # outputs already there (a resumed run)
    failed: dict[str, str] = field(default_factory=dict)  # item -> one-line reason
    network_s: float = 0.0  # time inside runtime.run
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        done = len(self.written)
        out = [f"{done} fused, {len(self.skipped)} already there, {len(self.failed)} failed"]
        if done:
            out.append(
                f"throughput {done / self.wall_s:.2f} items/s: {1000 * self.wall_s / done:.0f} ms/item "
                f"wall, {1000 * self.network_s / done:.0f} ms/item in the network"
            )
        out += [f"failed: {item}: {reason}" for item, reason in self.failed.items()]
        return out


def is_batch_folder(task: str, inputs: Sequence[str]) -> bool:
    """One folder that holds items (not one HDR scene, which ``fuse`` takes as a single input)."""
    if len(inputs) != 1 or not Path(inputs[0]).is_dir():
        return False
    return task != "hdr" or not (Path(inputs[0]) / "exposure.txt").exists()


def batch_items(task: str, root: Path) -> dict[str, list[Path]]:
    """Item name -> the input paths ``fuse`` takes for it, checked as the data sources check them."""
    if task == "hdr":
        from mgdn_edge.calibration.hdr_scenes import KalantariSource

        return KalantariSource(root).input_paths()
    from mgdn_edge.calibration.pairs import PairSource

    return PairSource(task, root).input_paths()


def fuse_folder(
    task: str,
    root: Path,
    out_dir: Path,
    run: Callable[[Prepared], np.ndarray],
    suffix: str | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Fuse every item of ``root`` into ``out_dir/<item><suffix>`` with ``run`` (one opened runtime)."""
    from tqdm import tqdm

    from mgdn_edge.core.imageio import from_nchw

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"--out {out_dir} is a file: a folder input writes one output per item into a folder"
        )
    items = batch_items(task, root)
    suffix = suffix or DEFAULT_SUFFIX[task]
    summary = BatchSummary()
    start = time.perf_counter()
    for item, paths in tqdm(items.items(), desc="fuse", unit="item", disable=not progress, file=sys.stderr):
        try:
            plan = plan_outputs(task, out_dir / f"{item}{suffix}", None, [*paths, root])
            if all(p.is_file() for p in plan.paths):
                summary.skipped.append(item)
                continue
            prepared = prepare_inputs(task, paths)
            t0 = time.perf_counter()
            output = from_nchw(run(prepared))
            summary.network_s += time.perf_counter() - t0
            write_fused(plan, output, postprocess(prepared, output), prepared.depth_range)
            summary.written.append(item)
        except MgdnEdgeError as exc:
            summary.failed[item] = one_line(exc)
    summary.wall_s = time.perf_counter() - start
    return summary
