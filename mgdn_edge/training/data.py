"""Paired training data from a folder, read through the same preprocessing as inference.

Layouts (files matched by name stem, so ``a/0001.png`` pairs with ``b/0001.png`` and
``gt/0001.png``; extensions may differ):

- mff / mef / gdsr: ``DATA/<input name>/`` for each of the task's inputs (``a b``, ``under over``,
  ``rgb depth``) plus ``DATA/gt/``. GDSR depth and gt may also be ``.npy`` arrays.
- hdr: ``DATA/<scene>/`` folders in the Kalantari layout: three LDR ``.tif`` brackets (sorted
  by name: under, reference, over), ``exposure.txt`` and ``HDRImg.hdr`` as ground truth.

Inputs go through :func:`mgdn_edge.model.tasks.prepare_inputs`, so a model fine-tuned here sees exactly
what ``mgdn-edge fuse`` feeds it. Deliberately small: richer sources come later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgdn_edge.calibration.pairs import files_by_stem
from mgdn_edge.core.errors import ImageReadError, InputError, listing
from mgdn_edge.core.imageio import read_depth, read_image
from mgdn_edge.model.config import TASK_IO
from mgdn_edge.model.tasks import kalantari_scene, prepare_inputs

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".hdr", ".exr", ".npy"}


@dataclass
class Sample:
    """One training pair: network inputs [C_i, H, W] and the target [C_out, H, W] (float32)."""

    name: str
    inputs: list[np.ndarray]
    target: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.target.shape[1]), int(self.target.shape[2])


def _files_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise ImageReadError(f"training data folder not found: {folder}")
    files = files_by_stem(folder, IMAGE_SUFFIXES)
    if not files:
        kinds = ", ".join(sorted(IMAGE_SUFFIXES))
        raise ImageReadError(f"training data folder {folder} holds no image files ({kinds})")
    return files


class PairedDataset:
    """Index of training pairs under ``root`` for ``task``; files are read on access.

    Construction checks the layout (missing folders, empty folders, unmatched names, scenes
    without ground truth) so a bad dataset fails before any training starts, naming the file.
    """

    def __init__(self, task: str, root: str | Path) -> None:
        if task not in TASK_IO:
            raise InputError(f"unknown task {task!r}; expected one of {sorted(TASK_IO)}")
        self.task = task
        self.root = Path(root)
        if not self.root.is_dir():
            raise ImageReadError(f"training data folder not found: {self.root}")
        self._items = self._index_scenes() if task == "hdr" else self._index_folders()

    def _index_folders(self) -> list[tuple[str, list[Path], Path]]:
        folders = [*TASK_IO[self.task].input_names, "gt"]
        by_folder = {name: _files_by_stem(self.root / name) for name in folders}
        stems = set(by_folder["gt"])
        gt_dir = self.root / "gt"
        for name in folders[:-1]:
            no_gt = sorted(set(by_folder[name]) - stems)
            if no_gt:
                raise InputError(f"{self.root / name}: no matching file in {gt_dir} for {listing(no_gt)}")
        for name in folders[:-1]:
            no_input = sorted(stems - set(by_folder[name]))
            if no_input:
                raise InputError(f"{gt_dir}: no matching file in {self.root / name} for {listing(no_input)}")
        inputs = folders[:-1]
        return [(stem, [by_folder[n][stem] for n in inputs], by_folder["gt"][stem]) for stem in sorted(stems)]

    def _index_scenes(self) -> list[tuple[str, list[Path], Path]]:
        scenes = sorted(p for p in self.root.iterdir() if p.is_dir())
        if not scenes:
            raise ImageReadError(f"HDR training folder {self.root} holds no scene folders (Kalantari layout)")
        items = []
        for scene in scenes:
            ldrs, _, gt = kalantari_scene(scene)
            if gt is None:
                raise ImageReadError(f"HDR scene {scene} has no ground truth (HDRImg.hdr)")
            items.append((scene.name, [scene], gt))
        return items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._items]

    def __getitem__(self, index: int) -> Sample:
        name, inputs, gt_path = self._items[index]
        prepared = prepare_inputs(self.task, inputs)
        arrays = [x[0] for x in prepared.inputs]
        if self.task == "gdsr":
            # Normalise the target with the input depth's range: the inverse of what
            # tasks.postprocess applies to the output, so loss and inference agree.
            lo, hi = prepared.depth_range or (0.0, 1.0)
            target = ((read_depth(gt_path) - lo) / (hi - lo))[None]
        else:
            target = read_image(gt_path, channels=3).transpose(2, 0, 1)
        if target.shape[1:] != arrays[0].shape[1:]:
            raise InputError(
                f"ground truth {gt_path} is {target.shape[2]}x{target.shape[1]} but the inputs are "
                f"{arrays[0].shape[2]}x{arrays[0].shape[1]} (WxH)"
            )
        if not np.isfinite(target).all():
            raise InputError(f"ground truth {gt_path} contains NaN or Inf values")
        return Sample(name, arrays, np.ascontiguousarray(target, dtype=np.float32))
