"""Image-pair folders for MFF / MEF and RGB + depth folders for GDSR.

Layout (sub-folder names are matched case-insensitively; files are matched by name stem, so
``A/0001.png`` pairs with ``B/0001.jpg``):

- mff:  ``ROOT/A/`` and ``ROOT/B/``
- mef:  ``ROOT/A/`` and ``ROOT/B/`` (or ``under/`` and ``over/``)
- gdsr: ``ROOT/rgb/`` and ``ROOT/depth/`` (depth may be ``.npy`` arrays, low resolution is fine)
- optional ``ROOT/gt/`` with ground truth for every pair (fused RGB; GDSR: high-resolution depth)

These are the training layout's folder names too (``mgdn_edge.training.data`` uses the task's input
names plus ``gt/``), so one folder serves training, calibration and evaluation. Inputs go through
:func:`mgdn_edge.model.tasks.prepare_inputs`, exactly as ``mgdn-edge fuse`` prepares them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgdn_edge.calibration.base import DataSource, Frame
from mgdn_edge.core.errors import ImageReadError, InputError, listing
from mgdn_edge.core.imageio import read_depth, read_image, to_nchw
from mgdn_edge.model.tasks import prepare_inputs

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
DEPTH_SUFFIXES = IMAGE_SUFFIXES | {".npy"}

#: accepted sub-folder names per task input (lower case), in TASK_IO order, then ground truth
FOLDERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "mff": (("a",), ("b",)),
    "mef": (("a", "under"), ("b", "over")),
    "gdsr": (("rgb",), ("depth",)),
}
GT_FOLDER = ("gt",)


def _find_folder(root: Path, names: tuple[str, ...], required: bool) -> Path | None:
    found = [p for p in sorted(root.iterdir()) if p.is_dir() and p.name.lower() in names]
    if len(found) > 1:
        raise InputError(f"{root} holds {len(found)} candidate folders for one input: {listing(found)}")
    if not found and required:
        wanted = " or ".join(f"{n}/" for n in names)
        raise ImageReadError(f"{root} has no {wanted} folder (pairs are matched by file name across folders)")
    return found[0] if found else None


def files_by_stem(folder: Path, suffixes: set[str]) -> dict[str, Path]:
    """Image files of a folder by stem (pairs are matched by name); two with one stem are an error.

    An empty result is the caller's to refuse, in the words of its own data layout.
    """
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes:
            if p.stem in files:
                raise InputError(f"{folder} holds two files named {p.stem!r}: {files[p.stem].name}, {p.name}")
            files[p.stem] = p
    return files


class PairSource(DataSource):
    """Pairs under ``root`` matched by file name; every folder and match is checked on construction."""

    kind = "image pairs"

    def __init__(self, task: str, root: str | Path, *, require_gt: bool = False, **options: object) -> None:
        if task not in FOLDERS:
            raise InputError(f"image-pair folders serve tasks {sorted(FOLDERS)}, not {task!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise ImageReadError(f"data folder not found: {self.root}")
        dirs = [_find_folder(self.root, names, True) for names in FOLDERS[task]]
        gt_dir = _find_folder(self.root, GT_FOLDER, require_gt)
        suffixes = [IMAGE_SUFFIXES, DEPTH_SUFFIXES if task == "gdsr" else IMAGE_SUFFIXES]
        tables = [files_by_stem(d, s) for d, s in zip(dirs, suffixes, strict=True)]  # type: ignore[arg-type]
        if gt_dir is not None:
            dirs.append(gt_dir)
            tables.append(files_by_stem(gt_dir, DEPTH_SUFFIXES if task == "gdsr" else IMAGE_SUFFIXES))
        for folder, table in zip(dirs, tables, strict=True):
            if not table:
                raise ImageReadError(f"folder {folder} is empty: no image files")
        stems = set(tables[0])
        for table in tables[1:]:
            stems &= set(table)
        problems = []
        for folder, table in zip(dirs, tables, strict=True):
            alone = [table[s] for s in sorted(set(table) - stems)]
            if alone:
                others = ", ".join(f"{d.name}/" for d in dirs if d != folder)
                problems.append(f"{listing(alone)} (no file of that name in {others})")
        if problems:
            raise InputError(f"unmatched pair names in {self.root}: " + "; ".join(problems))
        self.has_gt = gt_dir is not None
        self._pairs = {s: [t[s] for t in tables] for s in sorted(stems)}
        super().__init__(task, list(self._pairs), **options)  # type: ignore[arg-type]

    def item_path(self, item: str) -> str:
        return ", ".join(str(p) for p in self._pairs[item][:2])

    def input_paths(self) -> dict[str, list[Path]]:
        """Item -> its input files, in the order ``fuse`` takes them."""
        return {item: paths[:2] for item, paths in self._pairs.items()}

    def _load(self, item: str) -> Frame:
        paths = self._pairs[item]
        prepared = prepare_inputs(self.task, paths[:2])
        if not self.has_gt:
            return Frame(prepared.inputs, None)
        gt_path = paths[2]
        if self.task == "gdsr":
            # The inverse of tasks.postprocess: normalise with the *input* depth's range, so the
            # target is in the units the network outputs (as mgdn_edge.training.data does).
            lo, hi = prepared.depth_range or (0.0, 1.0)
            target = ((read_depth(gt_path) - lo) / (hi - lo))[:, :, None]
        else:
            target = read_image(gt_path, channels=3)
        h, w = prepared.inputs[0].shape[2:]
        if target.shape[:2] != (h, w):
            raise InputError(
                f"ground truth {gt_path} is {target.shape[1]}x{target.shape[0]} "
                f"but the inputs are {w}x{h} (WxH)"
            )
        if not np.isfinite(target).all():
            raise InputError(f"ground truth {gt_path} contains NaN or Inf values")
        return Frame(prepared.inputs, to_nchw(target))
