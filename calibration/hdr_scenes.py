"""HDR scenes in the Kalantari et al. 2017 layout, as the network's 6-channel input triples.

Layout: ``ROOT/<scene>/`` with three LDR ``.tif`` brackets (8 or 16 bit; sorted by name they are
under, reference, over), ``exposure.txt`` (one EV per bracket) and optionally ``HDRImg.hdr``.
``ROOT`` may also be a single scene folder. Folders whose name starts with ``.`` are skipped (the
synthetic writer's unfinished temporary scenes are such folders).

Inputs go through :func:`mgdn_edge.model.tasks.prepare_inputs` - the very function ``mgdn-edge fuse``
uses - so a calibrated model sees exactly what inference feeds it: [LDR, LDR^2.2 / 2^EV] with the
EVs as written in ``exposure.txt``. Ground truth is ``HDRImg.hdr`` read as linear float (OpenCV),
unscaled: the network's sigmoid output is compared with it directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgdn_edge.calibration.base import DataSource, Frame
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.core.imageio import read_image, to_nchw
from mgdn_edge.model.tasks import kalantari_scene, prepare_inputs

LAYOUT = "one folder per scene with three LDR .tif brackets, exposure.txt and optional HDRImg.hdr"


class KalantariSource(DataSource):
    """Every scene folder under ``root``; the layout of all scenes is checked on construction.

    ``require_gt=True`` (evaluation) rejects scenes without ``HDRImg.hdr``; otherwise their
    samples carry ``target=None`` (calibration needs inputs only).
    """

    kind = "Kalantari HDR scenes"

    def __init__(self, root: str | Path, *, require_gt: bool = False, **options: object) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ImageReadError(f"HDR data folder not found: {self.root}")
        if (self.root / "exposure.txt").exists():
            folders = [self.root]
        else:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise ImageReadError(
                f"HDR data folder {self.root} holds no scene folders (Kalantari layout: {LAYOUT})"
            )
        self._scenes: dict[str, tuple[Path, Path | None]] = {}
        for folder in folders:
            _, _, gt = kalantari_scene(folder)  # checks bracket count and exposure.txt, naming the file
            if require_gt and gt is None:
                raise ImageReadError(
                    f"HDR scene {folder} has no ground truth HDRImg.hdr (needed for evaluation)"
                )
            self._scenes[folder.name] = (folder, gt)
        super().__init__("hdr", list(self._scenes), **options)  # type: ignore[arg-type]

    def item_path(self, item: str) -> str:
        return str(self._scenes[item][0])

    def input_paths(self) -> dict[str, list[Path]]:
        """Item -> its scene folder (what ``fuse`` takes for one HDR scene)."""
        return {item: [folder] for item, (folder, _) in self._scenes.items()}

    def _load(self, item: str) -> Frame:
        folder, gt_path = self._scenes[item]
        prepared = prepare_inputs("hdr", [folder])
        if gt_path is None:
            return Frame(prepared.inputs, None)
        gt = read_image(gt_path, channels=3)
        h, w = prepared.inputs[0].shape[2:]
        if gt.shape[:2] != (h, w):
            raise InputError(
                f"ground truth {gt_path} is {gt.shape[1]}x{gt.shape[0]} but the brackets are {w}x{h} (WxH)"
            )
        if not np.isfinite(gt).all():
            raise InputError(f"ground truth {gt_path} contains NaN or Inf values")
        return Frame(prepared.inputs, to_nchw(gt))
