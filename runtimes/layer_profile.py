"""Where inference time goes, as one table: which backends profile (``bench --profile``), the
per-layer table, the profiled size's row. The samples and their aggregation are
:mod:`mgdn_edge.runtimes.base.profile`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mgdn_edge.core.errors import InputError
from mgdn_edge.core.results import LatencyRow, LayerTime


def check_profiled(runtime: str, model: str | Path) -> str:
    """The backend ``runtime`` names (a name, alias or ``auto`` for ``model``); InputError unless it
    can be profiled."""
    from mgdn_edge.runtimes import get_backend, runtime_for_model
    from mgdn_edge.runtimes.backends import profiled_backends

    name = runtime_for_model(model) if runtime.strip().lower() == "auto" else get_backend(runtime).name
    offered = sorted(profiled_backends())
    if name not in offered:
        listed = ", ".join(offered[:-1]) + f" and {offered[-1]}" if len(offered) > 1 else offered[0]
        raise InputError(f"--profile is offered for {listed}, not {name}")
    return name


def format_layer_table(
    rows: Sequence[LayerTime],
    wall_p50_ms: float | None = None,
    title: str = "layer profile",
    most: int = 20,
) -> list[str]:
    """The profile as text lines: one row per (layer type, exec type), a total, and the wall p50.

    Rows past the ``most`` slowest are summed into one ``(N more)`` line: an ONNX Runtime graph
    has dozens of shape-arithmetic kinds that together take a percent or two, and the table is
    read for its top rows (the JSON keeps every row). The profiled total covers time inside
    layers only; comparing it with the wall-clock p50 of the timed runs shows how much goes
    elsewhere (input/output copies, scheduling, the Python call), which no row can show.
    """
    shown, rest = list(rows[:most]), rows[most:]
    if rest:
        shown.append(
            LayerTime(
                layer_type=f"({len(rest)} more)",
                exec_type="",
                count=sum(r.count for r in rest),
                ms=sum(r.ms for r in rest),
                share=sum(r.share for r in rest),
            )
        )
    type_w = max([len("layer type"), *(len(r.layer_type) for r in shown)])
    exec_w = max([len("exec type"), *(len(r.exec_type) for r in shown)])
    head = f"{'layer type':<{type_w}} {'exec type':<{exec_w}} {'nodes':>6} {'ms/run':>9} {'share':>7}"
    lines = [title, head]
    for r in shown:
        name = f"{r.layer_type:<{type_w}} {r.exec_type:<{exec_w}}"
        lines.append(f"{name} {r.count:>6} {r.ms:>9.3f} {100 * r.share:>6.1f}%")
    total = sum(r.ms for r in rows)
    lines.append(
        f"{'total':<{type_w}} {'':<{exec_w}} {sum(r.count for r in rows):>6} {total:>9.3f} "
        f"{100.0 if rows else 0.0:>6.1f}%"
    )
    if wall_p50_ms is not None and wall_p50_ms > 0:
        # A negative rest is not time gained: profiled and timed runs are separate runs, and
        # OpenVINO's per-node clocks add up to a few percent more than the wall time of the same
        # run. It means that nothing measurable happens outside the layers.
        rest = wall_p50_ms - total
        lines.append(
            f"layer total {total:.2f} ms/run vs wall-clock p50 {wall_p50_ms:.2f} ms "
            f"({100 * total / wall_p50_ms:.0f}%): outside the layers {rest:+.2f} ms"
            + (" (none measurable)" if rest <= 0 else "")
        )
    return lines


def profiled_row(rows: Sequence[LatencyRow]) -> LatencyRow | None:
    """The latency row of the size that is profiled: the largest (see
    :func:`mgdn_edge.pipeline.bench.run_job`)."""
    return max(rows, key=lambda r: r.size[0] * r.size[1], default=None)
