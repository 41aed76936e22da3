"""Image files in and out, through OpenCV (the library the authors' code reads images with).

Arrays are float32 HxWxC in RGB order; LDR values are scaled to [0, 1] by the file's bit depth
(8-bit / 255, 16-bit / 65535), HDR (Radiance .hdr / .exr) values are linear radiance.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.core.image_headers import check_pixel_budget, read_header

HDR_SUFFIXES = {".hdr", ".pic", ".exr"}


def read_image(path: str | Path, channels: int | None = None) -> np.ndarray:
    """Read an 8/16-bit PNG, JPEG or TIFF (or a float HDR file) as float32 HxWxC RGB.

    ``channels=3`` turns grayscale into three equal channels (as the authors' loader does);
    ``channels=1`` turns colour into luma. Alpha is dropped.

    Refused before decoding (see :mod:`mgdn_edge.core.image_headers`): an empty or truncated file and
    one over the pixel budget; after decoding, a float file holding NaN or Inf.
    """
    path = Path(path)
    check_image_file(path)
    flags = cv2.IMREAD_UNCHANGED | (cv2.IMREAD_ANYDEPTH if path.suffix.lower() in HDR_SUFFIXES else 0)
    img = cv2.imread(str(path), flags)
    if img is None:
        raise ImageReadError(f"cannot decode image (corrupt or unsupported format): {path}")
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        img = img.astype(np.float32) / 65535.0
    elif img.dtype in (np.float32, np.float64):
        img = img.astype(np.float32)
    else:
        raise ImageReadError(f"unsupported pixel type {img.dtype} in {path}")
    if not np.isfinite(img).all():
        raise InputError(f"{path} contains NaN or Inf values")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.shape[2] == 3:
        img = img[:, :, ::-1]  # OpenCV is BGR
    if channels == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif channels == 1 and img.shape[2] == 3:
        img = (img @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[:, :, None]
    elif channels is not None and img.shape[2] != channels:
        raise InputError(f"{path} has {img.shape[2]} channels, expected {channels}")
    return np.ascontiguousarray(img, dtype=np.float32)


def check_image_file(path: Path) -> None:
    """Refuse, naming the file, what a decoder would read wrongly or at any cost: missing, empty,
    truncated (OpenCV would return a partly grey image), or over the pixel budget."""
    if not path.is_file():
        raise ImageReadError(f"image not found: {path}")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes)")
    try:
        header = read_header(path)
    except (OSError, struct.error) as exc:
        raise ImageReadError(f"cannot read the header of {path}: {exc}") from exc
    if header is None:
        return
    if header.width and header.height:
        check_pixel_budget(path, header.width, header.height)
    if header.truncated:
        raise ImageReadError(f"{path} is truncated ({header.format}: {header.truncated})")


def read_depth(path: str | Path) -> np.ndarray:
    """HxW float32 depth from an image (its luma) or a ``.npy`` array (finite values only)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise ImageReadError(f"depth file not found: {path}")
        try:
            header = np.load(path, mmap_mode="r")  # the shape, before anything is read
            if not isinstance(header, np.ndarray) or header.dtype.kind not in "fiub":
                raise ImageReadError(f"depth array {path} must hold numbers, got {type(header).__name__}")
            rows = int(header.shape[0]) if header.ndim else 1
            check_pixel_budget(path, int(np.prod(header.shape[1:])), rows)
            depth = np.asarray(header, dtype=np.float64)
        except (ValueError, OSError) as exc:
            raise ImageReadError(f"cannot read depth array {path}: {exc}") from exc
        depth = np.squeeze(depth)
        if depth.ndim != 2:
            raise InputError(f"depth array {path} must be HxW, got shape {depth.shape}")
        if not np.isfinite(depth).all():
            raise InputError(f"depth array {path} contains NaN or Inf values")
        span = float(depth.max()) - float(depth.min())
        if max(span, float(np.abs(depth).max())) > float(np.finfo(np.float32).max):
            raise InputError(
                f"depth array {path} spans {span:.3g}, beyond float32's range: it cannot be normalised"
            )
        return depth.astype(np.float32)
    return read_image(path, channels=1)[:, :, 0]


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write HxWxC values in [0, 1]: 16-bit for .tif/.tiff, 8-bit otherwise; .hdr/.exr stay float."""
    path = Path(path)
    if image.ndim == 2:
        image = image[:, :, None]
    out = image[:, :, ::-1] if image.shape[2] == 3 else image
    suffix = path.suffix.lower()
    if suffix in HDR_SUFFIXES:
        data = np.ascontiguousarray(out, dtype=np.float32)
    elif suffix in (".tif", ".tiff"):
        data = np.round(np.clip(out, 0, 1) * 65535.0).astype(np.uint16)
    else:
        data = np.round(np.clip(out, 0, 1) * 255.0).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = cv2.imwrite(str(path), np.ascontiguousarray(data))
    except cv2.error:  # OpenCV raises, rather than returns False, for an extension it has no writer for
        written = False
    if not written:
        raise ImageReadError(f"cannot write image {path} (unsupported extension or unwritable folder)")


def to_nchw(image: np.ndarray) -> np.ndarray:
    """HxWxC -> 1xCxHxW float32."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


def from_nchw(tensor: np.ndarray) -> np.ndarray:
    """1xCxHxW -> HxWxC float32."""
    return np.ascontiguousarray(np.asarray(tensor)[0].transpose(1, 2, 0), dtype=np.float32)
