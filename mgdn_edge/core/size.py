"""The one image-size type, ``Size(height, width)``, and its one parser of ``"HxW"`` text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from mgdn_edge.core.errors import InputError


class Size(NamedTuple):
    """Height and width in pixels; a tuple, so it indexes and unpacks like ``(h, w)``."""

    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"

    @classmethod
    def parse(cls, text: str | int | Iterable[int], what: str = "size", square: bool = False) -> Size:
        """``"256x384"`` or a pair of ints -> Size(256, 384); with ``square``, ``"256"`` or 256 too.

        ``what`` names the option in the error, e.g. ``--crop``.
        """
        if isinstance(text, int) and square:
            parts: list = [text, text]
        elif isinstance(text, str):
            parts = text.strip().lower().split("x")
            if len(parts) == 1 and square:
                parts = parts * 2
        else:
            parts = list(text)
        try:
            h, w = (int(p) for p in parts)
        except (TypeError, ValueError):
            form = "N or HxW" if square else "HxW"
            raise InputError(f"{what} must be {form} (e.g. 256x384), got {text!r}") from None
        if h < 1 or w < 1:
            raise InputError(f"{what} must have positive sizes, got {text!r}")
        return cls(h, w)


def parse_sizes(texts: Iterable[str], what: str = "--sizes") -> list[Size]:
    """Several ``HxW`` values; at least one."""
    sizes = [Size.parse(t, what) for t in texts]
    if not sizes:
        raise InputError(f"give at least one size (HxW) for {what}")
    return sizes
