"""``open_source(task, spec)``: one entry point from a user's ``--data`` argument to a source.

``spec`` is a folder (Kalantari scenes for ``hdr``, pair folders for ``mff``/``mef``/``gdsr``)
or ``synthetic[:N]`` (generated brackets, ``hdr`` and ``mef`` only; N defaults to 64, enough
for a 32 + 32 calibration/evaluation split).
"""

from __future__ import annotations

from pathlib import Path

from mgdn_edge.calibration.base import DataSource
from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRConfig
from mgdn_edge.core.errors import ImageReadError, InputError
from mgdn_edge.model.config import TASK_IO

DEFAULT_SYNTHETIC_SCENES = 64


def parse_synthetic(spec: str) -> int | None:
    """Scene count of a ``synthetic[:N]`` spec, or None if ``spec`` is not one."""
    head, _, count = spec.partition(":")
    if head.lower() != "synthetic":
        return None
    if not count:
        return DEFAULT_SYNTHETIC_SCENES
    try:
        n = int(count)
    except ValueError as exc:
        raise InputError(f"'synthetic:N' needs a whole number of scenes, got {spec!r}") from exc
    if n < 1:
        raise InputError(f"'synthetic:N' needs at least one scene, got {spec!r}")
    return n


def open_source(
    task: str,
    spec: str | Path,
    *,
    crop: int | str | tuple[int, int] | None = None,
    samples: int | None = None,
    seed: int = 0,
    require_gt: bool = False,
    synthetic: SyntheticHDRConfig | None = None,
    cache_mb: float = 1024.0,
) -> DataSource:
    """A validated data source for ``task``.

    ``crop``: None for full frames, else random HxW crops; ``samples``: how many samples to yield
    (default one per item); ``seed``: crop positions and, for synthetic data, the scenes;
    ``require_gt``: refuse data without ground truth (evaluation).
    """
    if task not in TASK_IO:
        raise InputError(f"unknown task {task!r}; expected one of {sorted(TASK_IO)}")
    options = {"crop": crop, "samples": samples, "seed": seed, "cache_mb": cache_mb}
    n = parse_synthetic(str(spec)) if isinstance(spec, str) else None
    if n is not None:
        from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRSource

        if require_gt and task != "hdr":
            raise InputError(f"synthetic {task} data has no ground truth")
        return SyntheticHDRSource(n, task, synthetic, scene_seed=seed, **options)
    root = Path(spec)
    if not root.is_dir():
        raise ImageReadError(f"data folder not found: {root} (or use 'synthetic[:N]')")
    if task == "hdr":
        from mgdn_edge.calibration.hdr_scenes import KalantariSource

        return KalantariSource(root, require_gt=require_gt, **options)
    from mgdn_edge.calibration.pairs import PairSource

    return PairSource(task, root, require_gt=require_gt, **options)
