"""The trade-off report of a pipeline run: report.md, report.html, report.json and pareto.png.

Input is the ``results.json`` the pipeline writes (or a ``report.json``, which is the same plus
derived figures); everything derived is recomputed here, so ``mgdn-edge report`` rebuilds the
report from results alone.

Derived figures, and why:

- **Speed-up vs PyTorch** = PyTorch FP32 p50 / variant p50 at the same size. Both come from
  the same pipeline run unless one was reused from a cache; such ratios are marked with a dagger.
- **Quality drop** (the plot's y axis): with ground truth (synthetic HDR, Kalantari scenes) it is
  the task metric's loss against ground truth, mean PSNR-mu (HDR) or PSNR of the reference minus
  that of the variant, in dB -- what a user loses in image quality, rather than how far the
  variant drifts from the reference. Without ground truth it is the mean absolute error against
  the reference output. Either way: lower is better.
- **Pareto front**, per benchmark size: a point is on it when no other variant at that size is
  at least as fast *and* at least as accurate while strictly better in one of the two. Speed is
  the p50 relative to PyTorch (or the p50 in ms where the reference was not measured). Quality
  is compared on a grid (0.01 dB, or 1e-6 mean abs error): an FP32 variant 1e-6 dB "better"
  than the reference by float rounding must not push a faster one off the front.

The HTML is self-contained (inline CSS, the plot embedded as a base64 ``data:`` URI, no scripts,
no external URLs), so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mgdn_edge.errors import ImageReadError, InputError

RESULTS_SCHEMA = "mgdn-edge.pipeline-results/1"
PLOT_FILE = "pareto.png"


# ---------------------------------------------------------------------------------- loading


def load_results(path: str | Path) -> dict[str, Any]:
    """A pipeline results.json (or report.json); a wrong file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"results file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageReadError(f"cannot read {path} as JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != RESULTS_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(
            f"{path} is not pipeline results (schema {RESULTS_SCHEMA!r} expected, found {found!r})"
        )
    if not isinstance(data.get("variants"), list):
        raise InputError(f"{path} has no 'variants' list")
    return data


# ---------------------------------------------------------------------------------- derived


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For each (cost_a, cost_b) point, whether no other point dominates it (both minimised)."""
    flags = []
    for i, (a, b) in enumerate(points):
        dominated = any(
            (a2 <= a and b2 <= b) and (a2 < a or b2 < b) for j, (a2, b2) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def quantize_to(value: float, resolution: float) -> float:
    """``value`` on a grid of ``resolution`` (so differences below it compare as equal; no -0.0)."""
    return round(value / resolution) * resolution + 0.0


def quality_axis(variants: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Which quality-drop measure every measured variant has (see the module docstring)."""
    ok = [v for v in variants if v.get("status") == "ok"]
    if ok and all(v.get("quality") and v["quality"].get("drop_db") is not None for v in ok):
        metric = ok[0]["quality"]["metric"]
        name = "PSNR-μ" if metric == "psnr_mu" else "PSNR"
        return {
            "key": "drop_db",
            "label": f"quality drop: {name} vs ground truth, reference minus variant (dB)",
            "short": f"{name} drop (dB)",
            "resolution": 0.01,
        }
    return {
        "key": "mean_abs",
        "label": "mean |output − PyTorch reference output|",
        "short": "mean abs err",
        "resolution": 1e-6,
    }


def _quality_value(variant: dict[str, Any], key: str) -> float | None:
    if key == "drop_db":
        return (variant.get("quality") or {}).get("drop_db")
    return (variant.get("parity") or {}).get("mean_abs")


def derive(results: dict[str, Any]) -> dict[str, Any]:
    """Speed-ups, quality drop and Pareto flags: one point per measured variant and size."""
    variants = results["variants"]
    ref_name = results.get("reference", "torch-fp32")
    ref = next((v for v in variants if v["name"] == ref_name and v.get("status") == "ok"), None)
    ref_ms = {tuple(r["size"]): r["p50_ms"] for r in (ref or {}).get("bench", [])}
    axis = quality_axis(variants)
    points = []
    for v in variants:
        if v.get("status") != "ok":
            continue
        for row in v.get("bench", []):
            size = tuple(row["size"])
            base = ref_ms.get(size)
            points.append(
                {
                    "variant": v["name"],
                    "size": list(size),
                    "p50_ms": row["p50_ms"],
                    "p90_ms": row["p90_ms"],
                    "relative_latency": None if base is None else row["p50_ms"] / base,
                    "speedup": None if base is None else base / row["p50_ms"],
                    "cross_run": ref is not None and v.get("run_id") != ref.get("run_id"),
                    "quality": _quality_value(v, axis["key"]),
                    "pareto": False,
                }
            )
    x_key = (
        "relative_latency" if points and all(p["relative_latency"] is not None for p in points) else "p50_ms"
    )
    for size in {tuple(p["size"]) for p in points}:
        group = [p for p in points if tuple(p["size"]) == size and p["quality"] is not None]
        costs = [(p[x_key], quantize_to(p["quality"], axis["resolution"])) for p in group]
        for p, flag in zip(group, pareto_front(costs), strict=True):
            p["pareto"] = flag
    return {"reference": ref_name if ref else None, "quality_axis": axis, "x_key": x_key, "points": points}


# ------------------------------------------------------------------------------------- plot


def render_plot(results: dict[str, Any], derived: dict[str, Any]) -> bytes:
    """The Pareto plot as PNG bytes (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in derived["points"] if p["quality"] is not None]
    x_key, axis = derived["x_key"], derived["quality_axis"]
    fig, ax = plt.subplots(figsize=(8.5, 5.6), dpi=110)
    names = sorted({p["variant"] for p in points}, key=[v["name"] for v in results["variants"]].index)
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    sizes = sorted({tuple(p["size"]) for p in points}, key=lambda s: s[0] * s[1])
    markers = dict(zip(sizes, "osD^vP*X", strict=False))
    for size in sizes:
        group = [p for p in points if tuple(p["size"]) == size]
        front = sorted((p for p in group if p["pareto"]), key=lambda p: p[x_key])
        if len(front) > 1:
            ax.step(
                [p[x_key] for p in front],
                [p["quality"] for p in front],
                where="post",
                color="0.35",
                lw=1.2,
                ls="--",
                zorder=1,
            )
        for p in group:
            ax.scatter(
                p[x_key],
                p["quality"],
                s=90 if p["pareto"] else 45,
                marker=markers.get(size, "o"),
                color=colors[p["variant"]],
                edgecolors="black" if p["pareto"] else "none",
                linewidths=1.4,
                alpha=1.0 if p["pareto"] else 0.5,
                zorder=3,
            )
    if x_key == "relative_latency":
        ax.axvline(1.0, color="0.7", lw=0.8, zorder=0)
        ax.set_xlabel("p50 latency relative to PyTorch FP32 at the same size (lower is faster)")
    else:
        ax.set_xlabel("p50 latency (ms)")
    xs = [p[x_key] for p in points]
    if xs and min(xs) > 0:
        ax.set_xscale("log")
        ax.set_xlim(min(xs) / 1.3, max(xs) * 2.5)  # room on the right for the labels
    elif xs:
        ax.set_xlim(min(xs) - 0.05 * (max(xs) - min(xs) or 1), max(xs) + 0.3 * (max(xs) - min(xs) or 1))
    if axis["key"] == "mean_abs":
        ax.set_yscale("symlog", linthresh=1e-6)
    else:
        ax.axhline(0.0, color="0.7", lw=0.8, zorder=0)
        ys = [p["quality"] for p in points]
        if ys and max(ys) - min(ys) < 0.2:  # float-rounding noise: show it as the flat line it is
            middle = (max(ys) + min(ys)) / 2
            ax.set_ylim(middle - 0.1, middle + 0.1)
    ax.set_ylabel(axis["label"] + "\n(lower is better)", fontsize=9)
    handles = [
        plt.Line2D([], [], ls="", marker=markers.get(s, "o"), color="0.4", label=f"{s[0]}x{s[1]}")
        for s in sizes
    ]
    handles.append(
        plt.Line2D([], [], ls="--", marker="o", color="0.35", mec="black", mfc="white", label="Pareto front")
    )
    ax.legend(handles=handles, fontsize=8, loc="best", title="size", title_fontsize=8)
    model = results.get("model", {})
    ax.set_title(
        f"MGDN-{str(model.get('task', '')).upper()} variants: latency vs quality drop "
        f"({results.get('machine', {}).get('cpu', '')})",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    if not points:
        ax.text(0.5, 0.5, "no measured variant", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    _place_labels(ax, _label_groups(points, x_key))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _label_groups(points: Sequence[dict[str, Any]], x_key: str) -> dict[tuple[float, float], list[str]]:
    """Labels of points that would print on top of each other, joined ("torch-fp32 64x64, 128x128")."""
    ys = [p["quality"] for p in points] or [0.0]
    span = (max(ys) - min(ys)) or 1.0
    groups: dict[tuple[float, float], list[str]] = {}
    anchors: dict[tuple[float, float], tuple[float, float]] = {}
    for p in points:
        x, y = p[x_key], p["quality"]
        cell = (round(math.log10(x) * 40) if x > 0 else x, round((y - min(ys)) / span * 30))
        anchor = anchors.setdefault(cell, (x, y))
        size = f"{p['size'][0]}x{p['size'][1]}"
        labels = groups.setdefault(anchor, [])
        prefix = f"{p['variant']} "
        same = next((i for i, lab in enumerate(labels) if lab.startswith(prefix)), None)
        if same is None:
            labels.append(prefix + size)
        else:
            labels[same] += f"/{size}"
    return groups


LABEL_OFFSETS = ((5, 4), (5, -12), (5, 16), (5, -24), (5, 28), (5, -36), (5, 40))


def _place_labels(ax: Any, groups: dict[tuple[float, float], list[str]], fontsize: float = 7) -> None:
    """Annotate each point group, stepping a label up/down until it overlaps no earlier label.

    Greedy and approximate (text size estimated from the font size), which is enough to keep
    points that sit side by side on one quality level -- the common case -- legible.
    """
    px_per_pt = ax.figure.dpi / 72.0
    char_w, line_h = 0.6 * fontsize * px_per_pt, 1.3 * fontsize * px_per_pt
    marker = 12 * px_per_pt  # the front markers are ~10 pt wide
    placed = [  # the markers themselves, so that no label covers a point
        (px - marker / 2, py - marker / 2, marker, marker)
        for px, py in (ax.transData.transform(xy) for xy in groups)
    ]
    for (x, y), labels in sorted(groups.items(), key=lambda item: item[0][0]):
        text = ", ".join(labels)
        px, py = ax.transData.transform((x, y))
        width = char_w * len(text)
        chosen = LABEL_OFFSETS[0]
        for dx, dy in LABEL_OFFSETS:
            box = (px + dx * px_per_pt, py + dy * px_per_pt, width, line_h)
            if not any(_overlap(box, other) for other in placed):
                chosen = (dx, dy)
                break
        placed.append((px + chosen[0] * px_per_pt, py + chosen[1] * px_per_pt, width, line_h))
        leader = None if chosen == LABEL_OFFSETS[0] else {"arrowstyle": "-", "color": "0.6", "lw": 0.5}
        ax.annotate(
            text,
            (x, y),
            xytext=chosen,
            textcoords="offset points",
            fontsize=fontsize,
            color="0.2",
            arrowprops=leader,
        )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


# ----------------------------------------------------------------------------------- tables


def _num(value: Any, fmt: str = "{:.3g}", none: str = "–") -> str:
    if value is None:
        return none
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return fmt.format(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _size_on_disk(variant: dict[str, Any]) -> str:
    total = sum(a.get("bytes", 0) for a in variant.get("artefacts", []))
    return f"{total / 1e6:.2f} MB" if total else "–"


def variant_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Accuracy table: one row per variant that was measured."""
    task_hdr = results.get("model", {}).get("task") == "hdr"
    metric = "PSNR-μ" if task_hdr else "PSNR"
    ssim = "SSIM-μ" if task_hdr else "SSIM"
    header = [
        "Variant",
        "Runtime",
        "Precision",
        "Parity (budget)",
        "max abs",
        f"min {metric} vs ref (dB)",
        f"min {ssim} vs ref",
        f"{metric} vs GT (dB)",
        "drop (dB)",
        "artefacts",
    ]
    rows = []
    for v in results["variants"]:
        if v.get("status") != "ok":
            continue
        par, q = v.get("parity") or {}, v.get("quality") or {}
        verdict = "pass" if par.get("passed") else "over budget: " + "; ".join(par.get("violations", [])[:3])
        rows.append(
            [
                v["label"],
                v["runtime"],
                v["precision"],
                f"{verdict} ({par.get('precision', v['precision'])})",
                _num(par.get("max_abs"), "{:.2e}"),
                _num(par.get("psnr_min"), "{:.2f}", "∞ (identical)"),
                _num(par.get("ssim_min"), "{:.5f}", "1 (identical)"),
                _num(q.get("mean_vs_gt"), "{:.2f}"),
                _num(None if q.get("drop_db") is None else quantize_to(q["drop_db"], 0.001), "{:+.3f}"),
                _size_on_disk(v),
            ]
        )
    return header, rows


def latency_rows(results: dict[str, Any], derived: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "Variant",
        "Size",
        "p50 ms",
        "p90 ms",
        "speed-up vs PyTorch",
        "threads",
        "peak RSS MB",
        "+MB vs base",
        "load s",
        "Pareto",
    ]
    by_variant = {v["name"]: v for v in results["variants"]}
    rows = []
    for p in derived["points"]:
        v = by_variant[p["variant"]]
        row = next(r for r in v["bench"] if list(r["size"]) == p["size"])
        speedup = _num(p["speedup"], "{:.2f}×") + (
            " †" if p["cross_run"] and p["speedup"] is not None else ""
        )
        rows.append(
            [
                v["label"],
                f"{p['size'][0]}x{p['size'][1]}",
                f"{p['p50_ms']:.1f}",
                f"{p['p90_ms']:.1f}",
                speedup,
                str((v.get("describe") or {}).get("threads", "–")),
                _num(row.get("peak_rss_mb"), "{:.0f}"),
                _num(row.get("peak_delta_mb"), "{:.0f}"),
                _num((v.get("load") or {}).get("seconds"), "{:.2f}"),
                "★" if p["pareto"] else "",
            ]
        )
    return header, rows


def not_run_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["Variant", "Status", "Stage", "Reason"]
    rows = [
        [v["label"], v["status"], v.get("stage") or "–", v.get("reason") or ""]
        for v in results["variants"]
        if v.get("status") != "ok"
    ]
    return header, rows


def _summary(results: dict[str, Any]) -> list[tuple[str, str]]:
    model, data, settings = results.get("model", {}), results.get("data", {}), results.get("settings", {})
    machine, cfg = results.get("machine", {}), model.get("config", {})
    crop = data.get("crop")
    sizes = ", ".join(f"{h}x{w}" for h, w in settings.get("sizes", []))
    statuses = [v.get("status") for v in results["variants"]]
    return [
        (
            "Model",
            f"{'bundled demo ' if model.get('demo') else ''}MGDN-{str(model.get('task', '')).upper()} "
            f"{Path(str(model.get('checkpoint', ''))).name} (sha256 {str(model.get('sha256', ''))[:12]}…), "
            f"embed {cfg.get('embed_dim')}, depths {cfg.get('depths')}, window {cfg.get('window_size')}, "
            f"{_count(model.get('parameters'))} parameters",
        ),
        (
            "Data",
            f"{data.get('spec')}, {'full frames' if not crop else f'{crop[0]}x{crop[1]} crops'}: "
            f"{len(data.get('calib_items', []))} calibration items, {len(data.get('eval_items', []))} "
            f"evaluation items (disjoint, seed {data.get('seed')}), ground truth: "
            f"{'yes' if data.get('has_ground_truth') else 'no'}",
        ),
        (
            "Benchmark",
            f"sizes {sizes}; {settings.get('warmup')} warm-up + {settings.get('repeats')} timed runs "
            "per size; "
            f"{settings.get('threads')} threads for every runtime; one process per variant",
        ),
        (
            "Machine",
            f"{machine.get('cpu')}, {machine.get('cpu_count')} logical CPUs, {machine.get('platform')}",
        ),
        (
            "Run",
            f"{results.get('created')} (run {results.get('run_id')}), {results.get('wall_s')} s; "
            f"{statuses.count('ok')} measured, {statuses.count('failed')} failed, "
            f"{statuses.count('skipped')} skipped",
        ),
        (
            "Tools",
            ", ".join(f"{k} {v}" for k, v in results.get("tools", {}).items() if v is not None),
        ),
    ]


def _notes(results: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    methods = sorted({v.get("memory_method") for v in results["variants"] if v.get("memory_method")})
    notes = [
        "Parity: each variant against the PyTorch FP32 outputs on the evaluation split, judged by the "
        "budget of its precision (mgdn_edge/runtimes/budgets.py); 'min … vs ref' is the worst case over "
        "the split, '∞ (identical)' means bit-identical outputs.",
        f"Quality drop (plot y axis): {derived['quality_axis']['label']}; lower is better.",
        "Latency: p50/p90 of the timed runs after the warm-up runs (numpy percentiles, linear "
        "interpolation); speed-up = PyTorch p50 / variant p50 at the same size.",
        "Memory: peak RSS of the variant's own process while running that size; '+MB vs base' "
        "subtracts the RSS after the backend library was imported, before the model was opened "
        f"(method: {'; '.join(methods) or 'n/a'}).",
        "Pareto (★): no other variant at the same size is both at least as fast and at least as "
        "accurate, and better in one.",
    ]
    if any(p["cross_run"] for p in derived["points"]):
        notes.append(
            "†: the variant and the PyTorch reference were measured in different runs (one was cached)."
        )
    cached = [v["name"] for v in results["variants"] if v.get("cached")]
    if cached:
        notes.append(f"Reused from an earlier run (cache): {', '.join(cached)}.")
    return notes


# ------------------------------------------------------------------------------------ writers


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any], derived: dict[str, Any], plot_name: str = PLOT_FILE) -> str:
    parts = ["# mgdn-edge pipeline report", ""]
    parts += [f"- **{k}**: {v}" for k, v in _summary(results)]
    parts += ["", "## Accuracy (parity vs PyTorch FP32, quality vs ground truth)", ""]
    parts += [_md_table(*variant_rows(results)), ""]
    parts += ["## Latency and memory", "", _md_table(*latency_rows(results, derived)), ""]
    parts += ["## Trade-off", "", f"![Pareto plot: latency vs quality drop]({plot_name})", ""]
    header, rows = not_run_rows(results)
    parts += ["## Skipped and failed variants", ""]
    parts += [_md_table(header, rows) if rows else "None: every variant was built and measured.", ""]
    parts += ["## How these figures were made", ""] + [f"- {n}" for n in _notes(results, derived)] + [""]
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


def render_html(results: dict[str, Any], derived: dict[str, Any], png: bytes) -> str:
    """One self-contained page: inline CSS, the plot as a data: URI, no scripts, no external URLs."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    summary = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in _summary(results))
    header, rows = not_run_rows(results)
    numeric_acc = {i: "num" for i in range(4, 9)}
    numeric_lat = {i: "num" for i in range(2, 9)}
    body = [
        "<h1>mgdn-edge pipeline report</h1>",
        f"<dl>{summary}</dl>",
        "<h2>Accuracy (parity vs PyTorch FP32, quality vs ground truth)</h2>",
        _html_table(*variant_rows(results), classes=numeric_acc),
        "<h2>Latency and memory</h2>",
        _html_table(*latency_rows(results, derived), classes=numeric_lat),
        "<h2>Trade-off</h2>",
        f'<img alt="Pareto plot: latency vs quality drop, one mark per variant and size" src="{uri}">',
        "<h2>Skipped and failed variants</h2>",
        _html_table(header, rows) if rows else "<p>None: every variant was built and measured.</p>",
        "<h2>How these figures were made</h2>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in _notes(results, derived)) + "</ul>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mgdn-edge pipeline report</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(results: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, report.json and pareto.png into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    derived = derive(results)
    png = render_plot(results, derived)
    paths = {
        "plot": out / PLOT_FILE,
        "markdown": out / "report.md",
        "html": out / "report.html",
        "json": out / "report.json",
    }
    paths["plot"].write_bytes(png)
    paths["markdown"].write_text(render_markdown(results, derived), encoding="utf-8")
    paths["html"].write_text(render_html(results, derived, png), encoding="utf-8")
    report = {k: v for k, v in results.items() if k != "derived"}
    report["derived"] = derived
    paths["json"].write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return paths
