"""A fixed split of a source's items into calibration and evaluation sets that never overlap.

Why items, not samples: two crops of one scene on both sides would let the evaluation reward a
quantisation that was fitted to that very scene. Why hashing: the order depends only on
(seed, item name) - not on Python's salted ``hash``, the file system's listing order or the
machine - so the same seed gives the same split everywhere, and it can be saved and re-checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgdn_edge.calibration.base import DataSource
from mgdn_edge.core.errors import ImageReadError, InputError, listing


@dataclass(frozen=True)
class Split:
    """Disjoint item names; ``check_disjoint`` has run on construction."""

    calib: list[str]
    eval: list[str]
    seed: int

    def __post_init__(self) -> None:
        check_disjoint(self.calib, self.eval)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps({"seed": self.seed, "calib": self.calib, "eval": self.eval}, indent=2) + "\n"
        )

    @classmethod
    def load(cls, path: str | Path) -> Split:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            calib, eval_, seed = list(data["calib"]), list(data["eval"]), int(data["seed"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ImageReadError(f"cannot read split file {path}: {exc}") from exc
        return cls(calib, eval_, seed)  # checked: an edited file cannot smuggle in an overlap

    def sources(self, source: DataSource) -> tuple[DataSource, DataSource]:
        """(calibration, evaluation) subsets of ``source``."""
        return source.subset(self.calib), source.subset(self.eval)


def check_disjoint(calib: Sequence[str], eval_: Sequence[str]) -> None:
    """Raise if an item is in both sets or twice in one."""
    shared = sorted(set(calib) & set(eval_))
    if shared:
        raise InputError(f"calibration and evaluation sets overlap in {len(shared)} items: {listing(shared)}")
    for label, names in (("calibration", calib), ("evaluation", eval_)):
        if len(set(names)) != len(names):
            raise InputError(f"the {label} set lists an item twice: {listing(sorted(names))}")


def _rank(seed: int, name: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{name}".encode()).digest()


def split(
    source: DataSource | Sequence[str], n_calib: int, n_eval: int | None = None, seed: int = 0
) -> Split:
    """``n_calib`` items for calibration and ``n_eval`` (default: all the rest) for evaluation."""
    names = source.items if isinstance(source, DataSource) else list(source)
    if n_calib < 1:
        raise InputError(f"the calibration set needs at least one item, got {n_calib}")
    rest = len(names) - n_calib
    n_eval = rest if n_eval is None else n_eval
    if n_eval < 0 or n_calib + n_eval > len(names):
        raise InputError(
            f"cannot take {n_calib} calibration + {n_eval} evaluation items from {len(names)} without overlap"
        )
    order = sorted(names, key=lambda n: _rank(seed, n))
    return Split(order[:n_calib], order[n_calib : n_calib + n_eval], seed)
