"""Turn files into network inputs and network outputs into images, per task, as the authors do.

- MFF / MEF: two RGB images in [0, 1] (grayscale is repeated to three channels).
- HDR: three LDR brackets (under, reference, over) with exposure values in stops (EV); each
  becomes 6 channels [LDR, LDR^2.2 / 2^EV] (Kalantari et al. 2017 / AHDRNet convention). EVs are
  taken relative to the shortest bracket (EV - min EV), the origin of the Kalantari exposure.txt files
  the published HDR weights were trained on, so ``-2 0 2`` and ``0 2 4`` give the same image. A scene
  folder in the Kalantari layout (three .tif files sorted by name plus exposure.txt) works too.
  The output is linear HDR in [0, 1]; `fuse` writes it as .hdr plus a mu-law tonemapped (mu = 5000) PNG.
- GDSR: an RGB guide and a (low-resolution) depth map; depth is min-max normalised and bicubic
  upsampled to the guide's size, RGB is ImageNet-normalised, the output is de-normalised.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mgdn_edge.core.atomic import atomic_files, refuse_overwriting_inputs
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.core.imageio import HDR_SUFFIXES, read_depth, read_image, to_nchw, write_image
from mgdn_edge.model.config import TASK_IO

GAMMA = 2.2
MU = 5000.0
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass
class Prepared:
    """Network inputs (NCHW float32) plus what post-processing needs."""

    task: str
    inputs: list[np.ndarray]
    depth_range: tuple[float, float] | None = None
    sources: list[Path] = field(default_factory=list)


def mu_law(x: Any, mu: float = MU) -> Any:
    """T(x) = log(1 + mu x) / log(1 + mu): the tonemapping HDR metrics and losses are computed on.

    numpy in, numpy out; a torch tensor (the losses) stays a tensor. torch is not imported for
    numpy input: a tensor can only exist once torch is loaded, and CLI processes that run OpenVINO
    or ONNX Runtime should not pay for importing it.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return torch.log1p(mu * x) / np.log1p(mu)
    return (np.log1p(mu * x) / np.log1p(mu)).astype(np.float32)


def hdr_network_input(ldr: np.ndarray, ev: float, gamma: float = GAMMA) -> np.ndarray:
    """HxWx3 LDR in [0, 1] -> HxWx6 [LDR, LDR^gamma / 2^EV]."""
    return np.concatenate([ldr, np.power(ldr, gamma) / np.float32(2.0**ev)], axis=2).astype(np.float32)


def read_exposures(path: str | Path, expected: int = 3) -> list[float]:
    """EV values from a Kalantari ``exposure.txt`` (whitespace separated)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"exposure file not found: {path}")
    try:
        values = [float(v) for v in path.read_text().split()]
    except ValueError as exc:
        raise InputError(f"{path}: exposure values must be numbers ({exc})") from exc
    if len(values) != expected:
        raise InputError(f"{path} has {len(values)} exposure values, expected {expected} (one per bracket)")
    return values


def read_ldr(path: Path) -> np.ndarray:
    """An LDR image as HxWx3 in [0, 1]; a float file (TIFF) outside that range is refused, because
    every task's LDR input is defined on [0, 1] and huge values overflow the network to NaN."""
    image = read_image(path, channels=3)
    lo, hi = float(image.min()), float(image.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{path} has values in [{lo:.3g}, {hi:.3g}]; an LDR input must lie in [0, 1]")
    return image


# A bracket taken at a higher EV is brighter wherever neither is clipped; ghosting moves only a
# part of the scene. So a pair is contradictory when nearly all pixels that differ go the wrong
# way and the mean agrees: unrelated images (about half the pixels each way) never trip it.
_CONTRADICTION_SHARE = 0.8
_DIFFERENT = 2.0 / 255.0


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def check_exposures_match_brackets(
    images: list[np.ndarray], exposures: list[float], paths: list[Path]
) -> None:
    """Refuse EVs whose order contradicts the brackets: not rising from under to over, or a
    bracket given the higher EV that is clearly darker (or an equal EV that is clearly not equal)."""
    evs = [float(e) for e in exposures]
    if any(b < a for a, b in zip(evs, evs[1:], strict=False)):
        raise InputError(
            f"exposure values {evs} must rise from the under to the over bracket "
            f"({', '.join(p.name for p in paths)}); give the brackets and EVs in that order"
        )
    lumas = [_luma(i) for i in images]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            diff = lumas[j] - lumas[i]
            moved = np.abs(diff) > _DIFFERENT
            if moved.sum() == 0:
                continue
            darker = float((diff[moved] < 0).mean())
            mean_i, mean_j = float(lumas[i].mean()), float(lumas[j].mean())
            if evs[j] > evs[i] and darker >= _CONTRADICTION_SHARE and mean_j < mean_i:
                wrong = f"{paths[j].name} (EV {evs[j]:g}) is darker than {paths[i].name} (EV {evs[i]:g})"
            elif evs[j] == evs[i] and max(darker, 1 - darker) >= _CONTRADICTION_SHARE and moved.mean() > 0.5:
                wrong = f"{paths[i].name} and {paths[j].name} share EV {evs[i]:g} but differ in brightness"
            else:
                continue
            raise InputError(
                f"exposure values {evs} contradict the brackets: {wrong} "
                f"(mean brightness {mean_i:.3f} vs {mean_j:.3f}); check the EVs and the bracket order"
            )


def kalantari_scene(folder: str | Path) -> tuple[list[Path], list[float], Path | None]:
    """(three LDR paths sorted by name, their EVs, HDRImg.hdr or None) of a scene folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"scene folder not found: {folder}")
    ldrs = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
    if len(ldrs) != 3:
        raise InputError(f"{folder} must hold exactly 3 LDR .tif brackets, found {len(ldrs)}")
    gt = next((p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".hdr"), None)
    return ldrs, read_exposures(folder / "exposure.txt"), gt


def _same_size(images: list[np.ndarray], paths: list[Path]) -> None:
    h, w = images[0].shape[:2]
    for img, p in zip(images[1:], paths[1:], strict=True):
        if img.shape[:2] != (h, w):
            raise InputError(
                f"size mismatch: {paths[0]} is {w}x{h} but {p} is {img.shape[1]}x{img.shape[0]} (WxH)"
            )


def prepare_inputs(task: str, paths: list[str | Path], exposures: list[float] | None = None) -> Prepared:
    """Read the files for ``task`` and build its network inputs (validated for count and size)."""
    if task not in TASK_IO:
        raise InputError(f"unknown task {task!r}; expected one of {sorted(TASK_IO)}")
    files = [Path(p) for p in paths]
    names = TASK_IO[task].input_names
    if task == "hdr" and len(files) == 1 and files[0].is_dir():
        files, scene_evs, _ = kalantari_scene(files[0])
        exposures = exposures or scene_evs
    if len(files) != len(names):
        raise InputError(f"task {task!r} takes {len(names)} inputs ({', '.join(names)}), got {len(files)}")

    if task in ("mff", "mef"):
        images = [read_ldr(p) for p in files]
        _same_size(images, files)
        return Prepared(task, [to_nchw(i) for i in images], sources=files)

    if task == "hdr":
        if exposures is None or len(exposures) != 3:
            raise InputError("task 'hdr' needs three exposure values (--exposures EV_UNDER EV_REF EV_OVER)")
        if not all(np.isfinite(exposures)):
            raise InputError(f"exposure values must be finite, got {list(exposures)}")
        shortest = min(exposures)
        images = [read_ldr(p) for p in files]
        _same_size(images, files)
        check_exposures_match_brackets(images, list(exposures), files)
        return Prepared(
            task,
            [to_nchw(hdr_network_input(i, ev - shortest)) for i, ev in zip(images, exposures, strict=True)],
            sources=files,
        )

    rgb = read_ldr(files[0])
    depth = read_depth(files[1])
    lo, hi = float(depth.min()), float(depth.max())
    if hi <= lo:
        raise InputError(f"depth map {files[1]} is constant; it cannot be normalised")
    import torch
    import torch.nn.functional as F

    depth_t = torch.from_numpy((depth - lo) / (hi - lo))[None, None]
    h, w = rgb.shape[:2]
    if depth_t.shape[-2:] != (h, w):
        depth_t = F.interpolate(depth_t, size=(h, w), mode="bicubic", align_corners=False)
    rgb_n = (rgb - IMAGENET_MEAN) / IMAGENET_STD
    return Prepared(task, [to_nchw(rgb_n), depth_t.numpy().astype(np.float32)], (lo, hi), sources=files)


def postprocess(prepared: Prepared, output: np.ndarray) -> np.ndarray:
    """Network output HxWxC -> the image to save (GDSR: depth in the input's units)."""
    if prepared.task == "gdsr" and prepared.depth_range is not None:
        lo, hi = prepared.depth_range
        return np.clip(output, 0, 1) * (hi - lo) + lo
    return np.clip(output, 0, 1)


HDR_TONEMAPPED_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def hdr_output_paths(path: str | Path) -> tuple[Path, Path]:
    """(linear radiance file, tonemapped file) for an HDR ``-o``: whichever is named, the other
    gets the same stem (``out.hdr`` <-> ``out.png``), so one run always yields both."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HDR_SUFFIXES or suffix == ".npy":
        return path, path.with_suffix(".png")
    if suffix in HDR_TONEMAPPED_SUFFIXES:
        return path.with_suffix(".hdr"), path
    known = ", ".join(sorted(HDR_SUFFIXES | HDR_TONEMAPPED_SUFFIXES | {".npy"}))
    raise InputError(f"HDR output {path} needs one of the suffixes {known} (e.g. out.hdr)")


def save_output(
    task: str, path: str | Path, image: np.ndarray, depth_range: tuple[float, float] | None = None
) -> None:
    """Save with task-aware conventions: HDR PNG/JPEG tonemapped, GDSR .npy in depth units.

    Writes ``path`` in place: callers pass a temporary name (:func:`write_fused`) and rename it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, image.astype(np.float32))
    elif task == "hdr" and suffix not in HDR_SUFFIXES:
        write_image(path, mu_law(image))
    elif task == "gdsr" and depth_range is not None:
        lo, hi = depth_range
        write_image(path, (image - lo) / (hi - lo))
    else:
        write_image(path, image)


@dataclass(frozen=True)
class OutputPlan:
    """Where one ``fuse`` run writes: the image file(s) of ``--out`` and the ``--raw`` array."""

    task: str
    images: tuple[Path, ...]
    raw: Path | None

    @property
    def paths(self) -> list[Path]:
        return [*self.images, *([self.raw] if self.raw is not None else [])]


def plan_outputs(
    task: str, out: str | Path | None, raw: str | Path | None, inputs: list[Path] | None = None
) -> OutputPlan:
    """Validate every output path *before* the network runs, so a typo costs no inference.

    Checks the suffix (and that this OpenCV build can encode it: EXR support is optional), that
    the path is not a folder, that its folder can be created and written, that two outputs do not
    collide and that none is one of the command's ``inputs``.
    """
    images: tuple[Path, ...] = ()
    for flag, given in (("--out", out), ("--raw", raw)):
        if given is not None and Path(given).is_dir():
            example = Path(given) / "fused.png"
            raise InputError(f"{flag} {given} is a folder; give a file name (e.g. {example})")
    if out is not None:
        if task == "hdr":
            images = hdr_output_paths(out)
        else:
            path = Path(out)
            if path.suffix.lower() not in IMAGE_OUTPUT_SUFFIXES:
                known = ", ".join(sorted(IMAGE_OUTPUT_SUFFIXES))
                raise InputError(f"--out {path} needs one of the suffixes {known} (e.g. fused.png)")
            images = (path,)
    raw_path = None if raw is None else Path(raw)
    if raw_path is not None and raw_path.suffix.lower() != ".npy":
        raise InputError(f"--raw {raw_path} must end in .npy (it is a numpy array file)")
    plan = OutputPlan(task, images, raw_path)
    seen: dict[Path, Path] = {}
    for path in plan.paths:
        flag = "--raw" if path == raw_path else "--out"
        _check_writable(path, flag)
        key = path.resolve()
        if key in seen:
            raise InputError(f"--out and --raw both name {path}; give them different files")
        seen[key] = path
        if path.suffix.lower() != ".npy":
            _check_encoder(path, flag)
    refuse_overwriting_inputs([("--out", p) for p in images] + [("--raw", raw_path)], inputs or [])
    return plan


def write_fused(
    plan: OutputPlan,
    output: np.ndarray,
    image: np.ndarray | None,
    depth_range: tuple[float, float] | None = None,
) -> list[Path]:
    """Write every planned file to a temporary name, then rename them all: all appear or none
    (a failed image write leaves no ``--raw`` file behind). Returns the paths written."""
    with atomic_files(*plan.paths) as temps:
        for path, tmp in zip(plan.paths, temps, strict=True):
            if path == plan.raw:
                np.save(tmp, output)
            else:
                assert image is not None
                save_output(plan.task, tmp, image, depth_range)
    return plan.paths


IMAGE_OUTPUT_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy"} | HDR_SUFFIXES


def _check_writable(path: Path, flag: str) -> None:
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a file name (e.g. {path / 'fused.png'})")
    folder = path.parent
    while not folder.exists():  # the nearest existing ancestor must let us create the rest
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{flag} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: the folder {folder} is not writable")


@functools.cache
def _can_encode(suffix: str, float_data: bool) -> bool:
    import cv2

    sample = np.zeros((2, 2, 3), np.float32 if float_data else np.uint8)
    try:
        ok, _ = cv2.imencode(suffix, sample)
    except cv2.error:
        return False
    return bool(ok)


def _check_encoder(path: Path, flag: str) -> None:
    suffix = path.suffix.lower()
    if not _can_encode(suffix, suffix in HDR_SUFFIXES):
        hint = " (EXR needs OPENCV_IO_ENABLE_OPENEXR=1 and an OpenCV built with OpenEXR; or write .hdr)"
        raise InputError(
            f"{flag} {path}: this OpenCV cannot write {suffix} files" + (hint if suffix == ".exr" else "")
        )
