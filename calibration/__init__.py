"""Calibration and evaluation data for INT8/FP16 variants: real folders or synthetic scenes.

Public API (imported lazily, so ``import mgdn_edge.cli.synth`` stays light for the
CLI's ``--help``)::

    src = open_source("hdr", "data/Kalantari/Test", crop=256, samples=32)   # or "synthetic:64"
    parts = split(src, n_calib=32, n_eval=16, seed=0)                       # disjoint, checked
    calib, evaluation = parts.sources(src)
    for s in calib:            # Sample(inputs=[1xCxHxW float32, ...], target, name, item)
        ...

Modules: :mod:`.base` (Sample, DataSource, crops, cache), :mod:`.hdr_scenes` (Kalantari layout),
:mod:`.pairs` (MFF/MEF/GDSR folders), :mod:`.synthetic_hdr` (generator + Kalantari writer),
:mod:`.splits` (``split``), :mod:`.sources` (``open_source``), :mod:`.synth_cli` (``mgdn-edge synth-hdr``).
"""

from __future__ import annotations

from mgdn_edge.core.lazy import lazy_exports

_EXPORTS = {
    "Sample": "base",
    "Frame": "base",
    "DataSource": "base",
    "parse_crop": "base",
    "KalantariSource": "hdr_scenes",
    "PairSource": "pairs",
    "SyntheticHDRConfig": "synthetic_hdr",
    "SyntheticHDRSource": "synthetic_hdr",
    "SyntheticScene": "synthetic_hdr",
    "generate_scene": "synthetic_hdr",
    "write_kalantari_scenes": "synthetic_hdr",
    "Split": "splits",
    "split": "splits",
    "check_disjoint": "splits",
    "open_source": "sources",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
