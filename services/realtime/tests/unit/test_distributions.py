"""Distribution rows: the histogram of a window's values, exact or on a grid with a known error."""

from __future__ import annotations

import math
import random

import pytest

from qos_realtime.domain.distributions import (
    DEFAULT_MAX_DISTINCT,
    DistributionRow,
    bucket,
    distribution_row,
    distribution_sources,
)
from qos_shared.catalogue import Field


def nearest_rank(pairs: list[tuple[float, int]], q: float) -> float:
    """The q-quantile of a histogram by nearest rank (the oracle's own, simple definition)."""
    total = sum(count for _, count in pairs)
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value, count in sorted(pairs):
        seen += count
        if seen >= rank:
            return value
    raise AssertionError("unreachable")


def test_few_distinct_values_are_kept_exactly() -> None:
    raw = [1200, 800, 1200, None, 450.5, 800, 1200, float("nan"), float("inf")]
    values, counts = bucket(raw)
    # Counted by hand: 450.5 once, 800 twice, 1200 three times; nulls and non-finite left out.
    assert values == [450.5, 800.0, 1200.0]
    assert counts == [1, 2, 3]


def test_many_distinct_values_are_snapped_within_the_stated_bound() -> None:
    rng = random.Random(7)
    raw = [rng.lognormvariate(7.0, 1.2) for _ in range(20_000)]  # startup-like, in ms
    values, counts = bucket(raw)

    assert len(values) <= DEFAULT_MAX_DISTINCT
    assert sum(counts) == len(raw)
    assert values == sorted(values)
    # The finest grid of the ladder that fits 300 points over this spread: try them by hand.
    spread = math.log(max(raw) / min(raw))
    step = next(s for s in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05) if spread / math.log1p(s) < 299)
    bound = math.sqrt(1 + step) - 1 + 1e-6
    # Every raw value has a grid value within the bound, and percentiles move by no more.
    for v in raw[:500]:
        assert min(abs(g - v) / v for g in values) <= bound
    exact = sorted(raw)
    for q in (0.5, 0.9, 0.95, 0.99):
        truth = exact[max(1, math.ceil(q * len(exact))) - 1]
        approx = nearest_rank(list(zip(values, counts, strict=True)), q)
        assert abs(approx - truth) / truth <= bound


def test_zero_and_negative_values_keep_their_sign() -> None:
    raw = [0.0] * 5 + [-float(i) for i in range(1, 200)] + [float(i) for i in range(1, 200)]
    values, counts = bucket(raw, max_distinct=50)
    assert len(values) <= 50
    assert sum(counts) == len(raw)
    assert counts[values.index(0.0)] == 5
    assert sum(c for v, c in zip(values, counts, strict=True) if v < 0) == 199


def test_max_distinct_below_the_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        bucket([1.0], max_distinct=3)


def test_row_round_trips_through_json() -> None:
    row = distribution_row(
        window_start=1_700_000_000_000,
        window_end=1_700_000_060_000,
        source="startup_latency_ms",
        dimension="client_platform",
        dimension_value="web",
        raw_values=[900, 1100, 900],
    )
    assert row is not None
    assert (row.values, row.counts, row.sample_count) == ([900.0, 1100.0], [2, 1], 3)
    assert DistributionRow.from_json(row.to_json()) == row
    assert DistributionRow.from_json(row.to_json().decode()) == row


def test_a_group_without_values_makes_no_row() -> None:
    row = distribution_row(
        window_start=0,
        window_end=60_000,
        source="live_latency_ms",
        dimension="all",
        dimension_value="",
        raw_values=[None, None],
    )
    assert row is None


def test_mismatched_or_empty_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="pair up"):
        DistributionRow(0, 60_000, "startup_latency_ms", "all", "", [1.0, 2.0], [1])
    with pytest.raises(ValueError, match="positive"):
        DistributionRow(0, 60_000, "startup_latency_ms", "all", "", [1.0], [0])


def test_sources_are_the_fields_the_catalogue_takes_percentiles_of() -> None:
    sources = distribution_sources()
    assert set(sources) == {"startup_latency_ms", "live_latency_ms"}
    assert sources["startup_latency_ms"].filter.metric_types == {"PLAY"}
    assert sources["live_latency_ms"].filter.metric_types == {"PLAYBACK_SUMMARY"}
    assert all(a.kind == "values" and isinstance(a.value, Field) for a in sources.values())
