"""NNCF statistics collection in groups of tensors, so its memory is bounded by a budget.

NNCF's OpenVINO backend reduces statistics in the graph (``inplace_statistics``), but the CPU
plugin schedules those reducer branches long after the tensors they read are computed (measured:
1300 of 2400 steps later), so a pass holds almost every tensor NNCF looks at: 5.8 GB for the
authors' MFF model at 520x520 against 1.4 GB for a plain inference, whatever the subset size.
NNCF has no option for that, so while :func:`grouped_statistics` is active,
``OVStatisticsAggregator.collect_statistics`` collects its statistic points in groups whose
tensors (sized on the model reshaped to the calibration shape) fit the budget: one pass over the
data per group, each tensor collector still fed every sample in order, so the statistics are the
ones a single pass gives (``tests/calibration/test_calibration_memory.py``). The price is one
inference per sample per group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mgdn_edge.core.memory import release_freed_memory


def tensor_bytes(model: Any, shapes: Mapping[str, Sequence[int]]) -> dict[tuple[str, int], int]:
    """Bytes of every op output (friendly name, port) of ``model`` reshaped to ``shapes``; outputs
    whose shape stays dynamic are left out."""
    clone = model.clone()
    clone.reshape({name: list(shape) for name, shape in shapes.items()})
    out = {}
    for op in clone.get_ops():
        for port, output in enumerate(op.outputs()):
            shape = output.get_partial_shape()
            if shape.is_static:
                n = 1
                for d in shape.to_shape():
                    n *= int(d)
                out[(op.get_friendly_name(), port)] = n * output.get_element_type().size
    return out


def plan_groups(aggregator: Any, model: Any, sizes: Mapping[tuple[str, int], int], budget: int) -> list[Any]:
    """The aggregator's statistic points split into containers whose source tensors fit ``budget``.

    Points reading one tensor stay together (NNCF merges their reducers); tensors are taken in
    the model's execution order. A tensor of unknown size counts as the largest known one.
    """
    from nncf.common.tensor_statistics.statistic_point import StatisticPointsContainer

    order = {op.get_friendly_name(): i for i, op in enumerate(model.get_ordered_ops())}
    by_source: dict[tuple[str, int], list[Any]] = {}
    for _, point, _ in aggregator.statistic_points.get_tensor_collectors():
        node, port, _ = aggregator._translate_to_post_layer_operation(point)
        by_source.setdefault((node, port), [])
        if all(p is not point for p in by_source[(node, port)]):
            by_source[(node, port)].append(point)
    largest = max(sizes.values(), default=0)
    groups: list[list[Any]] = [[]]
    held = 0
    for source in sorted(by_source, key=lambda s: (order.get(s[0], -1), s)):
        size = sizes.get(source, largest)
        if groups[-1] and held + size > budget:
            groups.append([])
            held = 0
        groups[-1].extend(by_source[source])
        held += size
    containers = []
    for group in groups:
        container = StatisticPointsContainer()
        for point in group:
            container.add_statistic_point(point)
        containers.append(container)
    return containers


@contextlib.contextmanager
def grouped_statistics(budget_bytes: int, shapes: Mapping[str, Sequence[int]]) -> Iterator[list[int]]:
    """While active, NNCF's OpenVINO statistics passes hold about ``budget_bytes`` of tensors at
    ``shapes`` (input name -> calibration shape). Yields a list that receives each pass's group
    count. The original method is restored on exit, whatever happens."""
    from nncf.openvino.statistics.aggregator import OVStatisticsAggregator

    original = OVStatisticsAggregator.collect_statistics
    counts: list[int] = []

    def collect_statistics(self: Any, model: Any, graph: Any) -> None:
        self._name_to_node_mapping = {op.get_friendly_name(): op for op in model.get_ops()}
        groups = plan_groups(self, model, tensor_bytes(model, shapes), budget_bytes)
        counts.append(len(groups))
        everything = self.statistic_points
        try:
            for group in groups:
                self.statistic_points = group
                original(self, model, graph)
                release_freed_memory()
        finally:
            self.statistic_points = everything

    OVStatisticsAggregator.collect_statistics = collect_statistics  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        OVStatisticsAggregator.collect_statistics = original  # type: ignore[method-assign]
