"""Synthetic HDR bracket triples with real ghosting, for users without an HDR dataset.

Everything is built from real photographs that ship inside scikit-image (verified to load with
no network and without ``pooch``); nothing is downloaded at run time. One scene, deterministic in
(seed, scene index):

1. **Radiance.** A random crop of a sample photo is linearised (display value ^ 2.2) and scaled so
   the photo's white lands at ``white`` (sensor units) in the reference bracket. Highlights are
   then *expanded*: pixels whose display luma exceeds ``highlight_threshold`` get a smooth gain up
   to the scene's ``peak`` radiance, and ``lights`` Gaussian light sources of that brightness are
   added - detail that the reference bracket clips and only the short bracket records.
2. **Motion.** ``objects`` patches cut from *other* sample photos (soft elliptical masks, random
   brightness from dark to highlight) sit at one place in the reference frame and are displaced
   by ``object_shift`` (a fraction of the shorter side) in the under and over frames, in opposite
   directions. The non-reference frames are also moved by a small camera motion (rotation up to
   ``camera_rotation`` degrees, translation up to ``camera_shift`` of the shorter side).
3. **Capture.** Bracket i records X_i = H_i * 2^e_i, with e_i the EV relative to the shortest
   bracket (0, 2, 4 for ``evs = (-2, 0, 2)``). Sensor noise is Gaussian with variance
   ``shot_noise * X + read_noise^2`` (shot + read noise, full well = 1), the result is clipped to
   [0, 1], passed through the camera response ``f(x) = x^(1/gamma)`` (gamma per scene,
   ``gamma +- gamma_jitter``) and quantised to ``bits`` bits.

**Normalisation (the units of the ground truth).** GT = clip(H_ref, 0, 1): the radiance of the
reference frame in units where the *shortest* bracket's full scale is 1. The written
``exposure.txt`` holds the EVs relative to the shortest bracket, so for any well-exposed pixel of
bracket i without motion LDR_i^gamma / 2^EV_i = GT up to noise and quantisation, exactly the
[LDR, LDR^2.2 / 2^EV] convention the network's inputs use - and GT fits the sigmoid's [0, 1]
because nothing brighter than the short bracket's saturation is representable by any bracket
either. (The EV origin at the shortest bracket is the one DeepHDR-style loaders use for the
Kalantari data; a dataset whose reference is EV 0 differs by a constant 2^e_ref in the
linear channels.)
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from mgdn_edge.calibration.base import DataSource, Frame
from mgdn_edge.core.atomic import TMP_MARK, atomic_directory, write_json
from mgdn_edge.core.errors import ImageReadError, InputError

#: colour photographs bundled in the scikit-image wheel (checked offline; no pooch download)
OFFLINE_PHOTOS: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
)
#: the natural-scene subset used as backgrounds and moving objects by default
SCENE_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
BRACKET_FILES = ("0_under.tif", "1_ref.tif", "2_over.tif")  # sorted by name: under, ref, over


@dataclass(frozen=True)
class SyntheticHDRConfig:
    """Knobs of the generator; ranges are (low, high) drawn uniformly per scene."""

    size: tuple[int, int] = (256, 256)  #: (H, W) of every bracket
    evs: tuple[float, float, float] = (-2.0, 0.0, 2.0)  #: stops of under / ref / over (only the gaps matter)
    gamma: float = 2.2  #: camera response f(x) = x^(1/gamma); the network inverts with 2.2
    gamma_jitter: float = 0.0  #: per-scene gamma drawn from gamma +- jitter (a CRF the net must tolerate)
    white: float = 0.8  #: reference-bracket sensor value of the photo's white before expansion
    highlight_threshold: float = 0.75  #: display luma above which highlights are expanded
    peak: tuple[float, float] = (0.5, 1.0)  #: brightest radiance per scene (short bracket's full scale = 1)
    lights: tuple[int, int] = (1, 2)  #: number of added light sources
    shot_noise: float = 2e-4  #: noise variance per unit of signal (full well = 1)
    read_noise: float = 1e-3  #: noise standard deviation at zero signal
    bits: int = 8  #: quantisation of each bracket
    objects: tuple[int, int] = (1, 3)  #: moving objects per scene
    object_size: tuple[float, float] = (0.15, 0.35)  #: object diameter / shorter side
    object_shift: tuple[float, float] = (0.05, 0.12)  #: object displacement / shorter side
    camera_shift: float = 0.01  #: max camera translation / shorter side (non-reference frames)
    camera_rotation: float = 1.0  #: max camera rotation in degrees (non-reference frames)
    photos: tuple[str, ...] = field(default=SCENE_PHOTOS)

    def __post_init__(self) -> None:
        if len(self.evs) != 3 or not self.evs[0] < self.evs[1] < self.evs[2]:
            raise InputError(
                f"synthetic brackets need three increasing EVs (under < ref < over), got {self.evs}"
            )
        if min(self.size) < 16:
            raise InputError(
                f"synthetic scenes must be at least 16x16, got {self.size[1]}x{self.size[0]} (WxH)"
            )
        unknown = [p for p in self.photos if p not in OFFLINE_PHOTOS]
        if unknown or len(self.photos) < 2:
            raise InputError(f"photos must be >= 2 of {OFFLINE_PHOTOS} (bundled, offline); got {self.photos}")
        if not 0 < self.white <= 1 or not 0 < self.peak[0] <= self.peak[1] or not 2 <= self.bits <= 16:
            raise InputError("white must be in (0, 1], peak a positive range and bits in 2..16")

    @property
    def relative_evs(self) -> tuple[float, float, float]:
        """EVs with the shortest bracket at 0: what exposure.txt holds and the inputs use."""
        return tuple(float(e - self.evs[0]) for e in self.evs)  # type: ignore[return-value]

    @property
    def static(self) -> SyntheticHDRConfig:
        """The same scenes without any motion (e.g. for multi-exposure fusion)."""
        return replace(self, objects=(0, 0), camera_shift=0.0, camera_rotation=0.0)


@dataclass(frozen=True)
class SyntheticScene:
    """Three brackets (HxWx3 float32 in [0, 1], quantised), their EVs and the ground truth."""

    ldrs: list[np.ndarray]  #: under, ref, over
    evs: tuple[float, float, float]  #: relative to the shortest bracket (written to exposure.txt)
    radiance: np.ndarray  #: GT: reference-frame radiance, HxWx3 float32 in [0, 1]
    object_masks: list[np.ndarray]  #: HxW coverage of moving objects in each bracket's frame
    gamma: float
    photo: str


@cache
def load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photograph, HxWx3 uint8 (read once per process)."""
    if name not in OFFLINE_PHOTOS:
        raise InputError(f"{name!r} is not one of the bundled offline photos {OFFLINE_PHOTOS}")
    import skimage.data

    img = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    img = np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)
    img.setflags(write=False)
    return img


def _crop_resized(photo: np.ndarray, h: int, w: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``photo`` with aspect w/h covering ``scale`` of the largest one, resized to HxW."""
    ph, pw = photo.shape[:2]
    ch = min(ph, pw * h / w) * scale
    cw = ch * w / h
    y = rng.uniform(0, ph - ch)
    x = rng.uniform(0, pw - cw)
    crop = photo[int(y) : int(y + ch), int(x) : int(x + cw)]
    shrink = crop.shape[0] > h
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    out = np.clip(out.astype(np.float32) / 255.0, 0.0, 1.0)
    return out[:, ::-1] if rng.random() < 0.5 else out


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _background(cfg: SyntheticHDRConfig, photo: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scene radiance from a real photo with highlights expanded and lights added; returns (H, peak)."""
    h, w = cfg.size
    e_ref = cfg.relative_evs[1]
    disp = _crop_resized(load_photo(photo), h, w, rng.uniform(0.6, 1.0), rng)
    lin = np.power(disp, 2.2, dtype=np.float32)
    k_white = cfg.white / 2.0**e_ref
    peak = float(rng.uniform(*cfg.peak))
    gain_max = max(peak / k_white, 1.0)
    mask = _smoothstep((disp @ LUMA - cfg.highlight_threshold) / (1.0 - cfg.highlight_threshold))
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[:, :, None]
    radiance = k_white * lin * (1.0 + (gain_max - 1.0) * mask)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(cfg.lights[0], cfg.lights[1] + 1))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        sigma = rng.uniform(0.02, 0.06) * min(h, w)
        tint = (1.0 - 0.25 * rng.random(3)).astype(np.float32)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))[:, :, None]
        radiance = radiance + peak * rng.uniform(0.6, 1.0) * blob * tint
    return radiance.astype(np.float32), peak


def _object(
    cfg: SyntheticHDRConfig, photo: str, peak: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A moving object: premultiplied radiance patch and its soft elliptical mask."""
    short = min(cfg.size)
    d = rng.uniform(*cfg.object_size) * short
    aspect = rng.uniform(0.6, 1.6)
    oh, ow = max(int(d * aspect**0.5), 6), max(int(d / aspect**0.5), 6)
    lin = np.power(
        _crop_resized(load_photo(photo), oh, ow, rng.uniform(0.3, 0.8), rng), 2.2, dtype=np.float32
    )
    k_ref = cfg.white / 2.0 ** cfg.relative_evs[1]
    level = k_ref * 2.0 ** rng.uniform(-2.0, np.log2(max(peak / k_ref, 1.0)))  # dark .. highlight
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    r = np.sqrt(((yy + 0.5) / oh * 2 - 1) ** 2 + ((xx + 0.5) / ow * 2 - 1) ** 2)
    mask = np.clip((1.0 - r) * min(oh, ow) / 4.0, 0.0, 1.0).astype(np.float32)  # ~2 px feathered edge
    return (lin * level * mask[:, :, None]).astype(np.float32), mask


def _paste(
    canvas: np.ndarray, coverage: np.ndarray, patch: np.ndarray, mask: np.ndarray, y: float, x: float
) -> None:
    """Composite a premultiplied patch at subpixel (y, x) over ``canvas`` in place."""
    h, w = canvas.shape[:2]
    m = np.float32([[1, 0, x], [0, 1, y]])
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    p = cv2.warpAffine(patch, m, (w, h), **flags)
    a = cv2.warpAffine(mask, m, (w, h), **flags)
    canvas *= 1.0 - a[:, :, None]
    canvas += p
    np.maximum(coverage, a, out=coverage)


def _capture(
    radiance: np.ndarray, ev: float, gamma: float, cfg: SyntheticHDRConfig, rng: np.random.Generator
) -> np.ndarray:
    """Expose, add shot + read noise, clip, apply the camera response and quantise."""
    x = radiance * np.float32(2.0**ev)
    if cfg.shot_noise > 0 or cfg.read_noise > 0:
        sigma = np.sqrt(np.float32(cfg.shot_noise) * np.maximum(x, 0) + np.float32(cfg.read_noise) ** 2)
        x = x + sigma * rng.standard_normal(x.shape, dtype=np.float32)
    levels = np.float32(2**cfg.bits - 1)
    encoded = np.power(np.clip(x, 0.0, 1.0), np.float32(1.0 / gamma))
    return (np.round(encoded * levels) / levels).astype(np.float32)


def generate_scene(index: int, seed: int = 0, config: SyntheticHDRConfig | None = None) -> SyntheticScene:
    """Scene ``index`` of the stream ``seed``: the same numbers on every machine and for any N."""
    cfg = config or SyntheticHDRConfig()
    rng = np.random.default_rng([int(seed), int(index), 0x4D47])
    h, w = cfg.size
    short = min(h, w)
    photo = cfg.photos[int(rng.integers(len(cfg.photos)))]
    gamma = float(cfg.gamma + rng.uniform(-cfg.gamma_jitter, cfg.gamma_jitter))
    background, peak = _background(cfg, photo, rng)

    frames = [background.copy() for _ in range(3)]
    masks = [np.zeros((h, w), np.float32) for _ in range(3)]
    others = [p for p in cfg.photos if p != photo]
    for _ in range(int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))):
        patch, mask = _object(cfg, others[int(rng.integers(len(others)))], peak, rng)
        oh, ow = mask.shape
        y0, x0 = rng.uniform(-oh / 4, h - 3 * oh / 4), rng.uniform(-ow / 4, w - 3 * ow / 4)
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.sin(angle), np.cos(angle)])
        for j, sign in ((0, -1.0), (1, 0.0), (2, 1.0)):
            dy, dx = sign * rng.uniform(*cfg.object_shift) * short * direction if sign else (0.0, 0.0)
            _paste(frames[j], masks[j], patch, mask, y0 + dy, x0 + dx)

    for j in (0, 2):  # camera motion: the reference frame defines the geometry of the GT
        if cfg.camera_shift <= 0 and cfg.camera_rotation <= 0:
            break
        m = cv2.getRotationMatrix2D(
            (w / 2, h / 2), rng.uniform(-cfg.camera_rotation, cfg.camera_rotation), 1.0
        )
        m[:, 2] += rng.uniform(-cfg.camera_shift, cfg.camera_shift, 2) * short
        frames[j] = cv2.warpAffine(
            frames[j], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        masks[j] = cv2.warpAffine(masks[j], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    evs = cfg.relative_evs
    ldrs = [_capture(f, ev, gamma, cfg, rng) for f, ev in zip(frames, evs, strict=True)]
    gt = np.clip(frames[1], 0.0, 1.0).astype(np.float32)
    return SyntheticScene(ldrs, evs, gt, masks, gamma, photo)


def scene_name(index: int) -> str:
    return f"synth-{index:05d}"


class SyntheticHDRSource(DataSource):
    """``n`` generated scenes (task ``hdr``: 6-channel triples + GT; ``mef``: under/over LDR, no GT).

    Scenes are generated on first use and cached like decoded files; ``scene_seed`` fixes the
    scenes, the source's ``seed`` only the crop positions.
    """

    kind = "synthetic HDR scenes"

    def __init__(
        self,
        n: int,
        task: str = "hdr",
        config: SyntheticHDRConfig | None = None,
        scene_seed: int = 0,
        **options: object,
    ) -> None:
        if task not in ("hdr", "mef"):
            raise InputError(f"synthetic brackets serve tasks 'hdr' and 'mef', not {task!r}")
        if n < 1:
            raise InputError(f"the synthetic source needs at least one scene, got {n}")
        self.config = config or (SyntheticHDRConfig().static if task == "mef" else SyntheticHDRConfig())
        self.scene_seed = int(scene_seed)
        super().__init__(task, [scene_name(i) for i in range(n)], **options)  # type: ignore[arg-type]

    def item_path(self, item: str) -> str:
        return f"{item} (seed {self.scene_seed})"

    def _load(self, item: str) -> Frame:
        from mgdn_edge.core.imageio import to_nchw
        from mgdn_edge.model.tasks import hdr_network_input

        scene = generate_scene(int(item.split("-")[1]), self.scene_seed, self.config)
        if self.task == "mef":
            return Frame([to_nchw(scene.ldrs[0]), to_nchw(scene.ldrs[2])], None)
        inputs = [to_nchw(hdr_network_input(ldr, ev)) for ldr, ev in zip(scene.ldrs, scene.evs, strict=True)]
        return Frame(inputs, to_nchw(scene.radiance))


def write_scene(folder: Path, scene: SyntheticScene) -> None:
    """The Kalantari layout: 16-bit ``.tif`` brackets, ``exposure.txt``, ``HDRImg.hdr``."""
    from mgdn_edge.core.imageio import write_image

    for name, ldr in zip(BRACKET_FILES, scene.ldrs, strict=True):
        write_image(folder / name, ldr)  # 8-bit codes * 257: exact in 16 bit
    (folder / "exposure.txt").write_text("".join(f"{ev:g}\n" for ev in scene.evs))
    write_image(folder / "HDRImg.hdr", scene.radiance)


def write_kalantari_scenes(
    out: str | Path,
    n: int,
    seed: int = 0,
    config: SyntheticHDRConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write scenes 0..n-1 of stream ``seed`` under ``out``; each scene appears whole or not at all.

    A scene is written into a hidden temporary folder and renamed into place, so an error (or a
    kill) never leaves a half-written scene that a reader would take for data; readers skip
    hidden folders. Existing scene folders are refused unless ``overwrite``. Also writes
    ``synthetic.json`` (seed and knobs) so the data can be regenerated.
    """
    from tqdm import tqdm

    cfg = config or SyntheticHDRConfig()
    out = Path(out)
    if n < 1:
        raise InputError(f"number of scenes must be >= 1, got {n}")
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    targets = [out / scene_name(i) for i in range(n)]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise InputError(
            f"{existing[0]} already exists ({len(existing)} scene folders); "
            "pass overwrite=True (--overwrite) to replace"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageReadError(f"cannot create output folder {out}: {exc}") from exc
    for stale in out.glob(f"{TMP_MARK}*"):  # left by a killed run of this writer
        shutil.rmtree(stale, ignore_errors=True)

    for index, target in enumerate(
        tqdm(targets, desc="writing synthetic HDR scenes", unit="scene", disable=not progress)
    ):
        with atomic_directory(target) as tmp:
            write_scene(tmp, generate_scene(index, seed, cfg))
    meta = {
        "generator": "mgdn_edge.calibration.synthetic_hdr",
        "seed": seed,
        "scenes": n,
        "config": asdict(cfg),
    }
    write_json(out / "synthetic.json", meta)
    return targets
