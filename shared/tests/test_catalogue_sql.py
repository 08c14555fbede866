"""The Trino-only rendering of several percentiles of one values aggregate as one array."""

from __future__ import annotations

import pytest

from qos_shared.catalogue import metric
from qos_shared.catalogue_sql import aggregate_sql, percentiles_sql


def test_one_array_of_quantiles_over_the_values_the_single_percentiles_read() -> None:
    values = metric("startup_time_p50").numerator
    single = aggregate_sql(values, "trino", quantile=0.5)
    several = percentiles_sql(values, (0.5, 0.9, 0.95))
    # The same values expression and filter as each single percentile, at every quantile.
    assert single.endswith(", 0.5)")
    assert several == single.removesuffix(", 0.5)") + ", ARRAY[0.5, 0.9, 0.95])"


def test_where_replaces_the_filter() -> None:
    values = metric("live_latency_p95").numerator
    assert percentiles_sql(values, (0.95,), where='"is_live"') == (
        'approx_percentile(CASE WHEN "is_live" THEN CAST("live_latency_ms" AS DOUBLE) END, '
        "ARRAY[0.95])"
    )


def test_only_values_aggregates_and_at_least_one_quantile() -> None:
    with pytest.raises(ValueError, match="values"):
        percentiles_sql(metric("watch_time").numerator, (0.5,))
    with pytest.raises(ValueError, match="quantile"):
        percentiles_sql(metric("startup_time_p50").numerator, ())
