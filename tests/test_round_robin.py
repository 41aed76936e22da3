"""mgdn_edge.core.timing.round_robin_ms: the call order, the untimed warm-up rounds and per-row limits."""

from __future__ import annotations

from mgdn_edge.core.timing import round_robin_ms


def test_round_robin_order_warmup_and_limits() -> None:
    order: list[str] = []
    calls = {name: (lambda n=name: order.append(n)) for name in ("a", "slow", "b")}
    samples = round_robin_ms(calls, runs=3, warmup=1, limits={"slow": 1}, pause_s=0.0)
    # round 0 untimed for all; "slow" is timed once (round 1), then left out of rounds 2 and 3
    assert order == ["a", "slow", "b", "a", "slow", "b", "a", "b", "a", "b"]
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "slow": 1, "b": 3}
    assert all(v >= 0.0 for values in samples.values() for v in values)
