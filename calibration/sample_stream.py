"""Calibration samples read one at a time, so memory does not grow with the number of samples.

A list of decoded 520x520 pairs costs 6.5 MB a pair, and the source's frame cache keeps up to
1 GB of frames; with hundreds of pairs that is what a calibration run would hold. A
:class:`SampleStream` keeps only the frame it is reading (a frame cache of one frame, which is
what item-major sample order needs to decode each item once per pass) and decodes again on every
pass over the data. :func:`checked_stream` decodes every sample once before any work starts, so
a corrupt file still fails the run before anything is computed or written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import overload

from mgdn_edge.calibration.base import DataSource, FrameCache, Sample
from mgdn_edge.core.errors import InputError


class SampleStream(Sequence[Sample]):
    """The samples of ``source`` in order, decoded when read; re-iterable (one decode per pass)."""

    def __init__(self, source: DataSource) -> None:
        self._source = copy.copy(source)
        self._source.cache = FrameCache(0)  # the newest frame only: item-major order needs no more

    def __len__(self) -> int:
        return len(self._source)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return [self._source.sample(i) for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        return self._source.sample(index)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._source)

    def largest(self) -> Sample:
        """The sample with the most pixels (the first of them): what sizes memory budgets."""
        return largest_sample(self)


def largest_sample(samples: Sequence[Sample]) -> Sample:
    """The first sample with the most pixels; InputError when there is none."""
    best: Sample | None = None
    for sample in samples:
        if best is None or sample.size[0] * sample.size[1] > best.size[0] * best.size[1]:
            best = sample
    if best is None:
        raise InputError("no samples")
    return best


def checked_stream(source: DataSource, what: str, progress: bool) -> SampleStream:
    """A stream over ``source`` after decoding each of its samples once (and dropping it).

    Decoding twice costs milliseconds a sample; holding every sample costs memory in proportion
    to the data, which is what calibration must not do.
    """
    from tqdm import tqdm

    stream = SampleStream(source)
    if len(stream) == 0:
        raise InputError(f"no {what} samples")
    bar = tqdm(stream, total=len(stream), desc=f"checking {what} data", unit="sample", disable=not progress)
    for _ in bar:
        pass
    return stream
