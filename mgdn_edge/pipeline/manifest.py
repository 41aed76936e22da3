"""The run's last files: results.json, the report, and manifest.json with the sha256 of each file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from mgdn_edge.core.atomic import write_json
from mgdn_edge.core.results import PipelineResults
from mgdn_edge.export.artefacts import MANIFEST_FILE, sha256_file

RESULTS_FILE = "results.json"
MANIFEST_SCHEMA = "mgdn-edge.pipeline-manifest/1"


def finish(results: PipelineResults, out: Path) -> dict[str, Path]:
    """results.json, the report files, then manifest.json (hashes of everything under ``out``)."""
    from mgdn_edge.report import REPORT_FILES, write_report

    stored = results.to_dict()
    write_json(out / RESULTS_FILE, stored)
    paths = write_report(stored, out)  # rendered from exactly what results.json holds
    write_manifest(out, results, {RESULTS_FILE, *REPORT_FILES})
    return paths


def write_manifest(out: Path, results: PipelineResults, top_files: set[str]) -> Path:
    """sha256 of every file this run's results refer to (stale variants of other runs are left out)."""
    variants = {v.name for v in results.variants}
    files = {}
    for path in sorted(out.rglob("*")):
        parts = path.relative_to(out).parts
        if not path.is_file() or path.suffix == ".log" or path.name.startswith("."):
            continue
        top = parts[0]
        keep = (
            (len(parts) == 1 and top in top_files)
            or top in ("export", "data")
            or (top == "variants" and len(parts) > 2 and parts[1] in variants)
        )
        if keep:
            files["/".join(parts)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "run_id": results.run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_checkpoint": {"path": results.model["checkpoint"], "sha256": results.model["sha256"]},
        "files": files,
    }
    return write_json(out / MANIFEST_FILE, manifest)
