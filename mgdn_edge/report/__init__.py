"""The trade-off report of a pipeline run: report.md, report.html, report.json and pareto.png.

Input is the ``results.json`` the pipeline writes (or a ``report.json``, which is the same plus
derived figures); everything derived is recomputed here (:mod:`.derive`), so ``mgdn-edge report``
rebuilds the report from results alone. :mod:`.plot` draws the Pareto plot, :mod:`.tables` makes
the cells and :mod:`.render` the markdown and HTML pages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mgdn_edge.core.atomic import write_bytes, write_text
from mgdn_edge.core.errors import InputError
from mgdn_edge.core.results import RESULTS_SCHEMA, PipelineResults
from mgdn_edge.report.derive import derive, pareto_front
from mgdn_edge.report.plot import render_plot
from mgdn_edge.report.render import PLOT_FILE, render_html, render_markdown
from mgdn_edge.report.schema_json import read_record

REPORT_FILES = (PLOT_FILE, "report.md", "report.html", "report.json")
__all__ = ["REPORT_FILES", "RESULTS_SCHEMA", "derive", "load_results", "pareto_front", "write_report"]


def load_results(path: str | Path) -> PipelineResults:
    """A pipeline results.json (or report.json); a wrong file is a one-line error."""
    data = read_record(Path(path), RESULTS_SCHEMA, "pipeline results", "results file")
    if not isinstance(data.get("variants"), list):
        raise InputError(f"{path} has no 'variants' list")
    return PipelineResults.from_dict(data)


def write_report(results: PipelineResults | dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, report.json and pareto.png into ``out_dir``; return their paths."""
    results = PipelineResults.coerce(results)
    out = Path(out_dir)
    derived = derive(results)
    png = render_plot(results, derived)
    paths = {
        "plot": out / PLOT_FILE,
        "markdown": out / "report.md",
        "html": out / "report.html",
        "json": out / "report.json",
    }
    write_bytes(paths["plot"], png)
    write_text(paths["markdown"], render_markdown(results, derived))
    write_text(paths["html"], render_html(results, derived, png))
    report = {**results.to_dict(), "derived": derived}
    write_text(paths["json"], json.dumps(report, indent=2, default=str) + "\n")
    return paths
