"""What an image file says about itself before it is decoded: its size and whether it is whole.

Why not just let OpenCV decode: libjpeg decodes a truncated JPEG with its lower part grey and
only warns on stderr ("Premature end of JPEG file"), libpng's truncated IDAT can give a partial
image, and a 100000x100000 header makes the decoder allocate tens of GB before anything fails.
So the few bytes that hold the size are read first (PNG IHDR, JPEG SOFn, TIFF IFD0, Radiance
resolution line), the pixel budget is checked against them, and the file's structure is walked
to its end marker (PNG IEND, JPEG EOI after the last scan, TIFF strips/tiles inside the file).
Stdlib only: this runs before any decoder sees the file.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.core.errors import ImageReadError

MAX_PIXELS_ENV = "MGDN_EDGE_MAX_MEGAPIXELS"
DEFAULT_MAX_MEGAPIXELS = 100.0

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*")
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry H and W.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageHeader:
    """Format, size from the header, and why the file is incomplete (None when it is whole)."""

    format: str
    width: int
    height: int
    truncated: str | None = None


def max_pixels() -> int:
    """The pixel budget: $MGDN_EDGE_MAX_MEGAPIXELS megapixels (default 100)."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    try:
        mp = float(text) if text else DEFAULT_MAX_MEGAPIXELS
    except ValueError:
        raise ImageReadError(f"${MAX_PIXELS_ENV} must be a number of megapixels, got {text!r}") from None
    if not mp > 0:
        raise ImageReadError(f"${MAX_PIXELS_ENV} must be positive, got {text!r}")
    return int(mp * 1e6)


def check_pixel_budget(path: Path, width: int, height: int) -> None:
    """Refuse an image larger than the budget before anything is allocated for it."""
    limit = max_pixels()
    if width * height > limit:
        raise ImageReadError(
            f"{path} is {width}x{height} (WxH) = {width * height / 1e6:.1f} MP, over the pixel budget of "
            f"{limit / 1e6:g} MP (a decompression bomb or a huge image; set ${MAX_PIXELS_ENV} to raise it)"
        )


def read_header(path: Path) -> ImageHeader | None:
    """The header of a PNG / JPEG / TIFF / Radiance file; None for any other kind (left to OpenCV)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        size = os.fstat(fh.fileno()).st_size
        if head.startswith(PNG_MAGIC):
            return _png(fh, size)
        if head.startswith(JPEG_MAGIC):
            return _jpeg(fh)
        if head[:4] in TIFF_MAGICS:
            return _tiff(fh, size, "<" if head[:2] == b"II" else ">")
        if head.startswith((b"#?RADIANCE", b"#?RGBE")):
            return _radiance(fh)
    return None


def _png(fh, size: int) -> ImageHeader | None:  # type: ignore[no-untyped-def]
    """Walk the chunks from IHDR to IEND without reading their data.

    A file whose chunks stop making sense (no IHDR first, a chunk type that is not four letters)
    is corrupt rather than cut short: that verdict is left to the decoder.
    """
    fh.seek(8)
    first = fh.read(16)
    if len(first) < 16 or first[4:8] != b"IHDR":
        if len(first) >= 8:
            return None
        return ImageHeader("PNG", 0, 0, f"no IHDR chunk: the file ends at byte {size}")
    width, height = struct.unpack(">II", first[8:16])
    pos = 8
    while True:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return ImageHeader("PNG", width, height, f"no IEND chunk: the file ends at byte {size}")
        length, kind = struct.unpack(">I4s", head)
        if not kind.isalpha():
            return None
        end = pos + 8 + length + 4
        if end > size:
            name = kind.decode("ascii")
            return ImageHeader("PNG", width, height, f"chunk {name} needs {end} bytes, the file has {size}")
        if kind == b"IEND":
            return ImageHeader("PNG", width, height)
        pos = end


def _jpeg(fh) -> ImageHeader:  # type: ignore[no-untyped-def]
    """Size from the SOFn segment; whole when an EOI marker follows the last start of scan.

    Entropy-coded data never holds 0xFFD9 (0xFF bytes there are stuffed with 0x00), so an EOI
    after the last SOS is the end of the image, whatever an application appended after it.
    """
    fh.seek(0)
    data = fh.read()
    width = height = 0
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
        if marker == 0xDA:
            break
        pos += 2 + length
    sos = data.rfind(b"\xff\xda")
    if sos < 0:
        return ImageHeader("JPEG", width, height, f"no start of scan: the file ends at byte {len(data)}")
    if data.find(b"\xff\xd9", sos) < 0:
        return ImageHeader("JPEG", width, height, f"no EOI marker after the last scan, at byte {len(data)}")
    return ImageHeader("JPEG", width, height)


_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8


def _tiff(fh, size: int, order: str) -> ImageHeader | None:  # type: ignore[no-untyped-def]
    """IFD0's width/length and its strips (or tiles), which must all lie inside the file.

    An IFD outside the file (writers that put it last, cut off; or garbage) gives no verdict
    here: without it nothing is known, and the decoder refuses such a file by itself.
    """
    fh.seek(4)
    (ifd,) = struct.unpack(order + "I", fh.read(4))
    if ifd < 8 or ifd + 2 > size:
        return None
    fh.seek(ifd)
    (count,) = struct.unpack(order + "H", fh.read(2))
    if ifd + 2 + 12 * count > size:
        return None
    tags: dict[int, list[int]] = {}
    entries = fh.read(12 * count)
    for i in range(count):
        tag, kind, n, raw = struct.unpack(order + "HHI4s", entries[12 * i : 12 * i + 12])
        if kind not in _TIFF_TYPES or tag not in (256, 257, 273, 279, 324, 325):
            continue
        code, width = _TIFF_TYPES[kind]
        if n * width <= 4:
            values = struct.unpack(order + code * n, raw[: n * width])
        else:
            (offset,) = struct.unpack(order + "I", raw)
            if offset + n * width > size:
                return ImageHeader("TIFF", 0, 0, f"tag {tag}'s values end past the file's {size} bytes")
            fh.seek(offset)
            values = struct.unpack(order + code * n, fh.read(n * width))
        tags[tag] = list(values)
    width, height = (tags.get(256) or [0])[0], (tags.get(257) or [0])[0]
    for offsets_tag, counts_tag, what in ((273, 279, "strip"), (324, 325, "tile")):
        pairs = zip(tags.get(offsets_tag, []), tags.get(counts_tag, []), strict=False)
        for k, (start, length) in enumerate(pairs):
            if start + length > size:
                return ImageHeader(
                    "TIFF", width, height, f"{what} {k} ends at byte {start + length}, the file has {size}"
                )
    return ImageHeader("TIFF", width, height)


_RADIANCE_SIZE = re.compile(rb"^[-+]Y (\d+) [-+]X (\d+)$", re.M)


def _radiance(fh) -> ImageHeader | None:  # type: ignore[no-untyped-def]
    fh.seek(0)
    match = _RADIANCE_SIZE.search(fh.read(4096))
    if match is None:
        return None
    return ImageHeader("Radiance", int(match.group(2)), int(match.group(1)))
