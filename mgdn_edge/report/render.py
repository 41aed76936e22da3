"""Markdown and self-contained HTML renderings of the report.

The HTML is self-contained (inline CSS, the plot embedded as a base64 ``data:`` URI, no scripts,
no external URLs), so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from mgdn_edge.core.results import PipelineResults
from mgdn_edge.report.tables import (
    divergence_rows,
    int8_rows,
    latency_rows,
    not_run_rows,
    notes,
    summary,
    variant_rows,
)

PLOT_FILE = "pareto.png"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_link(path: str) -> str:
    """A plot path as a markdown link (a failure's reason stays text)."""
    return f"[{path}]({path})" if path.endswith(".png") else path


def render_markdown(results: PipelineResults, derived: dict[str, Any], plot_name: str = PLOT_FILE) -> str:
    parts = ["# mgdn-edge pipeline report", ""]
    parts += [f"- **{k}**: {v}" for k, v in summary(results)]
    parts += ["", "## Accuracy (parity vs PyTorch FP32, quality vs ground truth)", ""]
    parts += [_md_table(*variant_rows(results)), ""]
    parts += ["## Latency and memory", "", _md_table(*latency_rows(results, derived)), ""]
    int8 = int8_rows(results)
    if int8[1]:
        parts += ["## INT8 speed targets", "", _md_table(*int8), ""]
    diverging = divergence_rows(results)
    if diverging[1]:
        linked = [[label, first, _md_link(plot)] for label, first, plot in diverging[1]]
        parts += ["## Where over-budget variants diverge", "", _md_table(diverging[0], linked), ""]
    parts += ["## Trade-off", "", f"![Pareto plot: latency vs quality drop]({plot_name})", ""]
    header, rows = not_run_rows(results)
    parts += ["## Skipped and failed variants", ""]
    parts += [_md_table(header, rows) if rows else "None: every variant was built and measured.", ""]
    parts += ["## How these figures were made", ""] + [f"- {n}" for n in notes(results, derived)] + [""]
    return "\n".join(parts)


CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.3em}h2{font-size:1.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#a00}.skip{color:#777}.pass{color:#070}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;font-size:.9em}dt{font-weight:600}
img{max-width:100%;border:1px solid #ddd}
"""


def _html_table(header: list[str], rows: list[list[str]], classes: dict[int, str] | None = None) -> str:
    out = ["<table><thead><tr>", *(f"<th>{html.escape(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = (classes or {}).get(i, "")
            if c.startswith("pass"):
                cls = "pass"
            elif c.startswith("over budget") or c == "failed":
                cls = "fail"
            elif c == "skipped":
                cls = "skip"
            cells.append(f'<td class="{cls}">{html.escape(c)}</td>' if cls else f"<td>{html.escape(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(results: PipelineResults, derived: dict[str, Any], png: bytes) -> str:
    """One self-contained page: inline CSS, the plot as a data: URI, no scripts, no external URLs."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in summary(results))
    header, rows = not_run_rows(results)
    numeric_acc = {i: "num" for i in range(4, 9)}
    numeric_lat = {i: "num" for i in range(2, 9)}
    int8 = int8_rows(results)
    diverging = divergence_rows(results)
    body = [
        "<h1>mgdn-edge pipeline report</h1>",
        f"<dl>{facts}</dl>",
        "<h2>Accuracy (parity vs PyTorch FP32, quality vs ground truth)</h2>",
        _html_table(*variant_rows(results), classes=numeric_acc),
        "<h2>Latency and memory</h2>",
        _html_table(*latency_rows(results, derived), classes=numeric_lat),
        *(["<h2>INT8 speed targets</h2>", _html_table(*int8)] if int8[1] else []),
        *(["<h2>Where over-budget variants diverge</h2>", _html_table(*diverging)] if diverging[1] else []),
        "<h2>Trade-off</h2>",
        f'<img alt="Pareto plot: latency vs quality drop, one mark per variant and size" src="{uri}">',
        "<h2>Skipped and failed variants</h2>",
        _html_table(header, rows) if rows else "<p>None: every variant was built and measured.</p>",
        "<h2>How these figures were made</h2>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes(results, derived)) + "</ul>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mgdn-edge pipeline report</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
