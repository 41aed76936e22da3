"""``quantize --keep-float MODULE...``: layers a user keeps float, named as PyTorch modules.

``mgdn-edge diff`` names stages by module path (``layers.1.adjust_channel``); the same names pick
the layers to leave unquantized, whichever backend quantizes. A module covers every node the
exporter put in its scope, for every call of it (``layers.0.MGF.TCA`` runs twice: both calls).
Two more names cover the ops no stage module owns: ``layers.N`` the glue of stage N (its concats,
reshapes and transposes) and ``MGDN`` the network's own (the skip connection's add before the
head), which a quantizer may also quantize.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mgdn_edge.core.errors import InputError, listing

NETWORK = "MGDN"  # the top-level glue (PyTorch's root module, by its class name)


def keep_float_units(config: Any) -> dict[str, list[str]]:
    """Every name ``--keep-float`` takes -> regular expressions (anchored at the start, as NNCF's
    ignored-scope patterns are matched) for the node names it covers."""
    from mgdn_edge.export.stages import onnx_scope, stage_points

    units: dict[str, list[str]] = {}
    for point in stage_points(config):
        units.setdefault(point.module, []).append(
            f"/{re.escape(onnx_scope(point.module, point.call, ''))}/.*"
        )
    for i in range(len(config.depths)):
        units[f"layers.{i}"] = [rf"/layers\.{i}/[^/]+$"]
    units[NETWORK] = [r"/[^/]+$"]
    return units


def keep_float_patterns(config: Any, names: Sequence[str]) -> dict[str, list[str]]:
    """The patterns of ``names``; an unknown name is a one-line InputError listing valid ones."""
    units = keep_float_units(config)
    unknown = [n for n in names if n not in units]
    if unknown:
        raise InputError(
            f"--keep-float: no module {listing(unknown)} in this network; modules are the stages "
            f"`mgdn-edge diff` lists (e.g. {listing(list(units), 4)}), layers.N or {NETWORK}"
        )
    return {n: units[n] for n in names}


def matching(node_names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The node names any of ``patterns`` matches, in their order."""
    compiled = [re.compile(p) for p in patterns]
    return [n for n in node_names if any(p.match(n) for p in compiled)]
