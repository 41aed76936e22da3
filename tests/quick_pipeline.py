"""The smallest pipeline run a test can ask for."""

from __future__ import annotations

from pathlib import Path

from mgdn_edge.pipeline import PipelineOptions


def quick_options(model: Path, out: Path, runtimes: list[str], repeats: int) -> PipelineOptions:
    """4 synthetic 32x32 pairs (2 to calibrate, 2 to evaluate), one size, one warm-up, one
    thread, no progress bar; the exporter's own check is left to test_onnx_export.py."""
    return PipelineOptions(
        model=model,
        data="synthetic:4",
        crop="32x32",
        calib=2,
        eval=2,
        out=out,
        runtimes=runtimes,
        sizes=[(32, 32)],
        warmup=1,
        repeats=repeats,
        threads=1,
        progress=False,
        verify_export=False,
    )
