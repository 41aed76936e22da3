"""The one interface every calibration/evaluation data source implements.

Why one interface: INT8/FP16 calibration and the accuracy check afterwards must see exactly the
tensors inference sees, whether they come from a real dataset folder or from the synthetic
generator. A source therefore only knows how to load one *item* (a scene or an image pair) as
full-frame network inputs; cropping, sample counts, caching and the calibration/evaluation split
are done here, once, identically for every source.

Items are the unit of the split (two crops of one scene never land on both sides); samples are
what a consumer iterates: full frames, or ``samples`` random crops spread evenly over the items.
"""

from __future__ import annotations

import copy
import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from mgdn_edge.core.errors import InputError, listing
from mgdn_edge.core.size import Size


@dataclass(frozen=True)
class Sample:
    """One network input tuple (NCHW float32, N = 1, in ``TASK_IO`` order) and its ground truth.

    ``target`` is 1xCxHxW in the units the network outputs (HDR: linear [0, 1]; GDSR: depth
    normalised with the input depth's range) or None where the data has no ground truth.
    ``name`` is unique per sample (``item`` plus ``@y,x`` for crops); ``item`` names the scene or
    pair it came from, the unit the calibration/evaluation split works on.
    """

    inputs: list[np.ndarray]
    target: np.ndarray | None
    name: str
    item: str = ""

    @property
    def size(self) -> tuple[int, int]:
        return int(self.inputs[0].shape[2]), int(self.inputs[0].shape[3])


@dataclass(frozen=True)
class Frame:
    """A decoded, preprocessed full frame: what the cache holds."""

    inputs: list[np.ndarray]
    target: np.ndarray | None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.inputs) + (0 if self.target is None else self.target.nbytes)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.inputs[0].shape[2]), int(self.inputs[0].shape[3])


class FrameCache:
    """Least-recently-used cache of decoded frames, bounded in bytes.

    Decoding a 1000x1500 16-bit scene costs far more than cropping it, and random crops revisit
    scenes, so frames are decoded once. The most recent frame is kept even over budget, which with
    item-major sample order means one decode per item at any budget. The cache is shared by a
    source and its subsets.
    """

    def __init__(self, max_mb: float = 1024.0) -> None:
        self.max_bytes = int(max_mb * 2**20)
        self._frames: OrderedDict[str, Frame] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str, load: Callable[[], Frame]) -> Frame:
        frame = self._frames.get(key)
        if frame is not None:
            self.hits += 1
            self._frames.move_to_end(key)
            return frame
        self.misses += 1
        frame = load()
        for arr in [*frame.inputs, frame.target]:
            if arr is not None:
                arr.setflags(write=False)  # shared between samples: nobody may edit it in place
        self._frames[key] = frame
        self._bytes += frame.nbytes
        while self._bytes > self.max_bytes and len(self._frames) > 1:  # the newest frame always stays
            _, old = self._frames.popitem(last=False)
            self._bytes -= old.nbytes
        return frame


def parse_crop(crop: int | str | Sequence[int] | None) -> tuple[int, int] | None:
    """``None``/``"full"`` -> full frames; ``256`` / ``"256"`` / ``"256x384"`` / ``(256, 384)`` -> (H, W)."""
    if crop is None or (isinstance(crop, str) and crop.lower() in ("", "full")):
        return None
    return Size.parse(crop, "crop", square=True)


class DataSource(ABC):
    """Items (scenes / pairs) -> :class:`Sample` s, with crops, counts and a shared frame cache.

    Subclasses validate their layout in ``__init__`` (so bad data fails before any work starts)
    and implement :meth:`_load` (one item -> full-frame :class:`Frame`) and :meth:`item_path`.
    """

    kind = "data"

    def __init__(
        self,
        task: str,
        items: Sequence[str],
        *,
        crop: int | str | Sequence[int] | None = None,
        samples: int | None = None,
        seed: int = 0,
        cache_mb: float = 1024.0,
    ) -> None:
        if len(set(items)) != len(items):
            raise InputError(f"duplicate item names in {self.kind}: {listing(sorted(items))}")
        self.task = task
        self._items = list(items)
        self.crop = parse_crop(crop)
        self.seed = int(seed)
        self.samples = samples
        self.cache = FrameCache(cache_mb)
        self._check_samples()

    # -- what subclasses provide ---------------------------------------------------------------
    @abstractmethod
    def _load(self, item: str) -> Frame:
        """Read and preprocess one item at full resolution (inputs 1xCxHxW float32)."""

    def item_path(self, item: str) -> str:
        """Where an item comes from, for error messages."""
        return item

    # -- items, samples ------------------------------------------------------------------------
    @property
    def items(self) -> list[str]:
        return list(self._items)

    def _check_samples(self) -> None:
        if self.samples is None:
            return
        if self.samples < 1:
            raise InputError(f"sample count must be >= 1, got {self.samples}")
        if self.crop is None and self.samples > len(self._items):
            raise InputError(
                f"{self.samples} full-frame samples requested but the {self.kind} has only "
                f"{len(self._items)} items; use crops to draw more samples than items"
            )

    def __len__(self) -> int:
        return len(self._items) if self.samples is None else self.samples

    def frame(self, item: str) -> Frame:
        """The cached full frame of ``item``."""
        return self.cache.get(item, lambda: self._load(item))

    def sample(self, index: int) -> Sample:
        """Sample ``index``, cropped where crops are on.

        Samples are item-major: the ``len(self)`` samples are spread evenly over the items (each
        gets ``samples / items`` +- 1) and one item's samples are consecutive, so each item is
        decoded once even when the cache holds a single frame. The crop position depends only on
        (seed, item name, the item's visit number), so a subset of a source yields the very same
        crops of its items as the whole source.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        n, total = len(self._items), len(self)
        position = index * n // total
        repeat = index + (-position * total // n)  # index - ceil(position * total / n)
        item = self._items[position]
        frame = self.frame(item)
        if self.crop is None:
            return Sample(list(frame.inputs), frame.target, item, item)
        ch, cw = self.crop
        h, w = frame.size
        if h < ch or w < cw:
            raise InputError(f"{self.item_path(item)} is {w}x{h} (WxH), smaller than the {cw}x{ch} crop")
        rng = np.random.default_rng([self.seed, zlib.crc32(item.encode()), repeat])
        y = int(rng.integers(0, h - ch + 1))
        x = int(rng.integers(0, w - cw + 1))

        def cut(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a[:, :, y : y + ch, x : x + cw])

        target = None if frame.target is None else cut(frame.target)
        return Sample([cut(a) for a in frame.inputs], target, f"{item}@{y},{x}", item)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self.sample(index)

    def load(self, progress: bool = True, desc: str | None = None) -> list[Sample]:
        """All samples in memory, with a progress bar: decode everything before writing anything.

        Callers that produce files (calibration caches, reports) should call this first so that
        a corrupt image fails the run before any output exists.
        """
        from tqdm import tqdm

        label = desc or f"loading {self.task} {self.kind}"
        return [
            self.sample(i) for i in tqdm(range(len(self)), desc=label, unit="sample", disable=not progress)
        ]

    # -- derived sources -----------------------------------------------------------------------
    def subset(self, names: Sequence[str]) -> DataSource:
        """The same source restricted to ``names`` (in that order), sharing the frame cache."""
        known = set(self._items)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"unknown items in {self.kind}: {listing(unknown)}")
        if len(set(names)) != len(names):
            raise InputError(f"duplicate items requested: {listing(sorted(names))}")
        if not names:
            raise InputError("a subset needs at least one item")
        out = copy.copy(self)
        out._items = list(names)
        out.samples = None if self.crop is None else self.samples
        out._check_samples()
        return out

    def with_options(
        self,
        *,
        crop: int | str | Sequence[int] | None | bool = False,
        samples: int | None | bool = False,
        seed: int | None = None,
    ) -> DataSource:
        """A copy with other crops / sample count / seed (``False`` keeps the current value)."""
        out = copy.copy(self)
        if crop is not False:
            out.crop = parse_crop(crop)  # type: ignore[arg-type]
        if samples is not False:
            out.samples = samples  # type: ignore[assignment]
        if seed is not None:
            out.seed = int(seed)
        out._check_samples()
        return out

    def __repr__(self) -> str:
        crop = "full frames" if self.crop is None else f"{self.crop[0]}x{self.crop[1]} crops"
        return f"<{type(self).__name__} {self.task}: {len(self._items)} items, {len(self)} samples, {crop}>"
