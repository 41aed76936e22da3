"""Tiled inference for images too large to run whole: overlapping tiles, raised-cosine blending.

Works for every task and every runtime: it only slices the task's inputs (all share H and W once
``prepare_inputs`` has run) and calls ``runtime.run`` on each tile.

**Grid.** Along each axis ``n = 1 + ceil((N - T) / (T - O))`` tiles of size ``T`` are spread
evenly from 0 to ``N - T``, so neighbours share at least ``O`` (the requested overlap) pixels.

**Blending.** Inside each shared zone, a ramp of exactly ``O`` pixels centred in the zone takes
the output from one tile to the next: ``u(i) = (1 - cos(pi (i + 0.5) / O)) / 2`` rising in the
next tile, ``1 - u(i)`` falling in the previous one. Outside the ramp a pixel takes the tile in
which it lies deeper (away from the tile border, where the network saw the least context).
The 2-D weight of a tile is the outer product of its two axis weights, so the weights of all
tiles sum to 1 at every pixel by construction, provided ramps of neighbouring zones never
meet; ``3 * O <= T - 2`` guarantees that (the even spread keeps the stride above
``(T - O) / 2``). The accumulated weight still divides the result, so rounding cannot bias it.

**Why the result differs from whole-image inference.** MGDN's mutual-guided cross attention
(MGCA) normalises queries and keys over *all* pixels of its input and mixes channels with one
global attention matrix, so a tile's output depends on the tile's content as a whole; the
window attention and convolutions only see a local neighbourhood, which the overlap supplies.
Tiling therefore trades exactness for bounded memory; ``tools/measure_tiling.py`` measures the
difference.

**Memory estimate.** :func:`bytes_per_pixel` is the PyTorch reference's FP32 working memory per
pixel, ``4 * (3 * heads * ws^2 + 20 * C + 2 * C * mlp_ratio)`` bytes: the window attention
matrices (scores, bias/mask sum, softmax), ~20 live C-channel feature maps and the MLP's hidden
layer. Checked against peak RSS growth (``getrusage``) on this machine at 256^2-512^2: hdr
preset 9.2-11.0 KB/px (estimate 11.3), mff 3.2-3.6 (3.5), demo model 4.5-5.4 (5.0). Other
runtimes plan memory differently; the estimate only chooses a tile size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from mgdn_edge.core.errors import InputError
from mgdn_edge.model.config import MGDNConfig

DEFAULT_OVERLAP = 32
DEFAULT_MAX_MEMORY_MB = 2048


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``size`` with at least ``overlap`` shared."""
    if tile >= size:
        return [0]
    steps = math.ceil((size - tile) / (tile - overlap))
    span = size - tile  # rounded half up in integers, so no stride exceeds tile - overlap
    return [(2 * i * span + steps) // (2 * steps) for i in range(steps + 1)]


def _ramp(length: int) -> np.ndarray:
    """Raised-cosine rise over ``length`` pixels, sampled at pixel centres (never exactly 0 or 1)."""
    i = np.arange(length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(np.pi * (i + 0.5) / length)


def axis_weights(starts: Sequence[int], tile: int, size: int, overlap: int) -> list[np.ndarray]:
    """Per-tile 1-D blending weights along one axis (each of length min(tile, size))."""
    length = min(tile, size)
    weights = [np.ones(length) for _ in starts]
    for k in range(len(starts) - 1):
        zone_start, zone_end = starts[k + 1], starts[k] + length  # pixels both tiles cover
        cut = zone_start + (zone_end - zone_start - overlap) // 2  # ramp [cut, cut + overlap)
        up = _ramp(overlap)
        rise = np.concatenate([np.zeros(cut - zone_start), up])  # next tile, from its start
        weights[k + 1][: rise.size] *= rise
        fall = np.concatenate([1.0 - up, np.zeros(zone_end - cut - overlap)])  # this tile, to its end
        weights[k][length - fall.size :] *= fall
    return weights


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an HxW image lie, and how their outputs are blended."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    overlap: int

    def __post_init__(self) -> None:
        if self.overlap < 0:
            raise InputError(f"tile overlap must be >= 0 pixels, got {self.overlap}")
        for name, tile, size in (("height", self.tile_h, self.height), ("width", self.tile_w, self.width)):
            if tile < 1:
                raise InputError(f"tile {name} must be positive, got {tile}")
            if tile < size and 3 * self.overlap > tile - 2:
                raise InputError(
                    f"overlap {self.overlap} px is too large for tile {name} {tile}: at most "
                    f"{max((tile - 2) // 3, 0)} (a third of the tile) so blending ramps cannot meet"
                )

    @property
    def ys(self) -> list[int]:
        return tile_starts(self.height, self.tile_h, self.overlap)

    @property
    def xs(self) -> list[int]:
        return tile_starts(self.width, self.tile_w, self.overlap)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of tiles."""
        return len(self.ys), len(self.xs)

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def tiles(self) -> Iterator[tuple[slice, slice, np.ndarray]]:
        """(rows, columns, HxW float64 weight) of every tile, row by row."""
        th, tw = min(self.tile_h, self.height), min(self.tile_w, self.width)
        wy = axis_weights(self.ys, self.tile_h, self.height, self.overlap)
        wx = axis_weights(self.xs, self.tile_w, self.width, self.overlap)
        for y, ay in zip(self.ys, wy, strict=True):
            for x, ax in zip(self.xs, wx, strict=True):
                yield slice(y, y + th), slice(x, x + tw), np.outer(ay, ax)


def run_tiled(
    run: Callable[[list[np.ndarray]], np.ndarray],
    inputs: Sequence[np.ndarray],
    grid: TileGrid,
    progress: bool = False,
) -> np.ndarray:
    """Blend ``run`` (e.g. ``runtime.run``) over the tiles of NCHW ``inputs``; returns NCHW float32."""
    n, _, h, w = inputs[0].shape
    if (h, w) != (grid.height, grid.width):
        raise InputError(f"tile grid is for {grid.width}x{grid.height} but the inputs are {w}x{h} (WxH)")
    acc: np.ndarray | None = None
    total = np.zeros((h, w), np.float64)
    tiles = grid.tiles()
    if progress and len(grid) > 1:
        from tqdm import tqdm

        tiles = tqdm(tiles, total=len(grid), desc="tiles", unit="tile", leave=False)
    for rows, cols, weight in tiles:
        out = run([np.ascontiguousarray(x[:, :, rows, cols]) for x in inputs])
        if acc is None:
            acc = np.zeros((n, out.shape[1], h, w), np.float64)
        acc[:, :, rows, cols] += out * weight
        total[rows, cols] += weight
    assert acc is not None
    return (acc / total).astype(np.float32)


def bytes_per_pixel(config: MGDNConfig) -> float:
    """Estimated FP32 working memory of one network call per input pixel (see the module doc)."""
    c, ws = config.embed_dim, config.window_size
    return 4.0 * (3 * max(config.swin_heads) * ws * ws + 20 * c + 2 * c * config.mlp_ratio)


def _round_down(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


def choose_tile(
    height: int, width: int, config: MGDNConfig, max_memory_mb: float, overlap: int | None = None
) -> tuple[int, int] | None:
    """The largest tile (multiple of the window size) whose estimated memory fits, or None if the
    whole image fits. Square where possible; a narrow image gets full-width tiles."""
    if max_memory_mb <= 0:
        raise InputError(f"memory limit must be positive (MB), got {max_memory_mb:g}")
    pixels = max_memory_mb * 2**20 / bytes_per_pixel(config)
    if height * width <= pixels:
        return None
    ws = config.window_size
    smallest = ws if overlap is None else max(ws, 3 * overlap + 2)  # None: overlap adapts to the tile
    side = int(math.sqrt(pixels))
    tile_h = min(height, _round_down(side, ws))
    tile_w = min(width, _round_down(int(pixels // tile_h), ws))
    if min(tile_h, tile_w) < smallest and (tile_h < height or tile_w < width):
        raise InputError(
            f"--max-memory {max_memory_mb:g} MB allows tiles of only {tile_h}x{tile_w} px for this model "
            f"(~{bytes_per_pixel(config) / 1024:.1f} KB per pixel), too small for overlap {overlap}"
        )
    return tile_h, tile_w


@dataclass(frozen=True)
class TilePlan:
    """How ``fuse`` runs an image: ``grid`` None means whole; ``reason`` says why, for the user."""

    grid: TileGrid | None
    reason: str


def plan_tiles(
    height: int,
    width: int,
    config: MGDNConfig,
    *,
    tile: tuple[int, int] | None = None,
    overlap: int | None = None,
    max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
    static_size: tuple[int, int] | None = None,
) -> TilePlan:
    """Decide between whole-image and tiled inference.

    Precedence: a model exported for a fixed size can only run tiles of that size; an explicit
    ``tile`` is used as given; otherwise the image is tiled only when its estimated working
    memory exceeds ``max_memory_mb`` (None or 0: never). The default limit is a constant, not a
    fraction of free memory, so the same command gives the same image on every machine.
    ``overlap`` None takes :data:`DEFAULT_OVERLAP`, reduced where a small tile cannot hold it;
    an explicit overlap is used as given (or refused).
    """
    explicit_overlap = overlap is not None
    overlap = DEFAULT_OVERLAP if overlap is None else overlap
    whole_mb = height * width * bytes_per_pixel(config) / 2**20
    if static_size is not None:
        if tile is not None and tuple(tile) != tuple(static_size):
            raise InputError(
                f"this model was exported for a fixed size {static_size[0]}x{static_size[1]} (HxW); "
                f"--tile must be that size or omitted, got {tile[0]}x{tile[1]}"
            )
        if (height, width) == tuple(static_size):
            return TilePlan(None, "image matches the model's fixed size")
        if height < static_size[0] or width < static_size[1]:
            raise InputError(
                f"image {width}x{height} (WxH) is smaller than the model's fixed size "
                f"{static_size[1]}x{static_size[0]}; re-export without --static"
            )
        tile, reason = tuple(static_size), "the model was exported for a fixed size"  # type: ignore[assignment]
    elif tile is not None:
        reason = "--tile"
    elif max_memory_mb:
        tile = choose_tile(height, width, config, max_memory_mb, overlap if explicit_overlap else None)
        if tile is None:
            return TilePlan(None, f"whole image (est. {whole_mb:.0f} MB <= {max_memory_mb:g} MB)")
        reason = f"whole image est. {whole_mb:.0f} MB > --max-memory {max_memory_mb:g} MB"
    else:
        return TilePlan(None, "whole image (no memory limit)")
    assert tile is not None
    ws = config.window_size
    if min(tile) < ws:
        raise InputError(f"tile {tile[0]}x{tile[1]} is smaller than the model's attention window {ws}")
    if not explicit_overlap:
        overlap = min(overlap, max(0, (min(tile) - 2) // 3))
    grid = TileGrid(height, width, tile[0], tile[1], overlap)
    if len(grid) == 1:
        return TilePlan(None, f"the tile {tile[0]}x{tile[1]} covers the whole image")
    return TilePlan(grid, reason)
