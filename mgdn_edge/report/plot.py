"""The Pareto plot: latency against quality drop, one mark per variant and size (matplotlib, Agg)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from mgdn_edge.core.results import PipelineResults


def render_plot(results: PipelineResults, derived: dict[str, Any]) -> bytes:
    """The Pareto plot as PNG bytes (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in derived["points"] if p["quality"] is not None]
    x_key, axis = derived["x_key"], derived["quality_axis"]
    fig, ax = plt.subplots(figsize=(8.5, 5.6), dpi=110)
    names = sorted({p["variant"] for p in points}, key=[v.name for v in results.variants].index)
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    sizes = sorted({tuple(p["size"]) for p in points}, key=lambda s: s[0] * s[1])
    markers = dict(zip(sizes, "osD^vP*X", strict=False))
    _draw_points(ax, points, x_key, sizes, markers, colors)
    _scale_axes(ax, points, x_key, axis)
    ax.set_ylabel(axis["label"] + "\n(lower is better)", fontsize=9)
    handles = [
        plt.Line2D([], [], ls="", marker=markers.get(s, "o"), color="0.4", label=f"{s[0]}x{s[1]}")
        for s in sizes
    ]
    handles.append(
        plt.Line2D([], [], ls="--", marker="o", color="0.35", mec="black", mfc="white", label="Pareto front")
    )
    ax.legend(handles=handles, fontsize=8, loc="best", title="size", title_fontsize=8)
    model = results.model
    ax.set_title(
        f"MGDN-{str(model.get('task', '')).upper()} variants: latency vs quality drop "
        f"({results.machine.get('cpu', '')})",
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


def _draw_points(
    ax: Any,
    points: list[dict[str, Any]],
    x_key: str,
    sizes: list[tuple[int, ...]],
    markers: dict[tuple[int, ...], str],
    colors: dict[str, Any],
) -> None:
    """Scatter every point (Pareto points large and outlined) and step each size's Pareto front."""
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


def _scale_axes(ax: Any, points: list[dict[str, Any]], x_key: str, axis: dict[str, Any]) -> None:
    """The x label, the axis scales and the limits that keep the points and their labels in view."""
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


def render_divergence_plot(result: Any, title: str) -> bytes:
    """PSNR of each stage against the reference (``mgdn-edge diff``), the tolerance as a line and
    the first divergent stage marked; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = result.stages
    finite = [min(s.psnr_db, 160.0) if math.isfinite(s.psnr_db) else 160.0 for s in stages]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.28 * len(stages)), 4.8), dpi=110)
    ax.plot(range(len(stages)), finite, marker="o", color="tab:blue", lw=1.2)
    ax.axhline(
        result.tolerance_db, color="tab:red", ls="--", lw=1, label=f"tolerance {result.tolerance_db:g} dB"
    )
    first = result.first_divergent
    if first is not None:
        i = [s.stage for s in stages].index(first)
        ax.scatter(
            [i], [finite[i]], s=120, facecolors="none", edgecolors="tab:red", lw=2, label=f"first: {first}"
        )
    ax.set_xticks(range(len(stages)), [s.stage for s in stages], rotation=75, ha="right", fontsize=7)
    ax.set_ylabel("PSNR vs reference stage (dB)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
