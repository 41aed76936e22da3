"""``mgdn-edge pipeline``: export, build every variant available here, check and time each, report.

Where each step's outputs go under ``OUT``, and the module that owns it:

1. ``data/`` and 2. ``export/`` (:mod:`.steps`): the disjoint calibration/evaluation split with
   the PyTorch reference outputs computed once, then the verified export.
3. ``variants/<name>/`` (:mod:`.build`): each variant's artefacts, made by its backend's builder
   in a worker process (:mod:`.worker`); which variants exist and which can run here is
   :mod:`.catalogue`.
4. Per variant, one measuring worker (:mod:`.measure`) opens the runtime, runs the parity
   harness on the evaluation split against the stored reference outputs (and the task metric
   against ground truth), then benchmarks every size.
5. ``results.json``, ``report.md``/``.html``/``.json``, ``pareto.png``, and ``manifest.json``
   with the sha256 of every file written (:mod:`.manifest`).

Every step is cached by the key of its inputs (:mod:`.cache`): a re-run reuses a step whose key
and artefact hashes match, so changing only ``--sizes`` re-measures without rebuilding;
``--force`` redoes everything; failed variants are always retried. A reused measurement keeps
the run id it was made in, and the report marks speed-ups whose two measurements come from
different runs. :mod:`.orchestrate` runs the steps in order.
"""

from __future__ import annotations

from mgdn_edge.core.lazy import lazy_exports

# Imported on first use, so that ``python -m mgdn_edge.pipeline.worker`` and ``--help`` load no step.
_EXPORTS = {
    "run_pipeline": "orchestrate",
    "PipelineOptions": "state",
    "Variant": "catalogue",
    "all_variants": "catalogue",
    "select_variants": "catalogue",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
