"""The record parser on rows as the Flink job writes them: one sink for both row types, so each
row carries the other type's keys as nulls."""

from __future__ import annotations

import orjson
import pytest

from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.records import MalformedRow, parse_row
from qos_realtime.domain.rows import MetricRow

START = 1_750_000_000_000
DISTRIBUTION_ONLY = {"source": None, "values": None, "counts": None}
METRIC_ONLY = {"metric": None, "value": None, "split": None}


def test_a_metric_row_with_null_distribution_keys_is_a_metric_row() -> None:
    row = MetricRow(START, START + 60_000, "errors", "client_platform", "web", 2.0)
    data = orjson.loads(row.to_json()) | DISTRIBUTION_ONLY
    assert parse_row(orjson.dumps(data)) == row


def test_a_distribution_row_with_null_metric_keys_is_a_distribution_row() -> None:
    row = DistributionRow(
        START, START + 60_000, "startup_latency_ms", "all", "", [250.0, 1200.0], [1, 3]
    )
    data = orjson.loads(row.to_json()) | METRIC_ONLY
    assert parse_row(orjson.dumps(data)) == row


def test_a_row_with_neither_type_is_malformed() -> None:
    data = {"window_start": START, "window_end": START + 1, **METRIC_ONLY, **DISTRIBUTION_ONLY}
    del data["metric"]
    with pytest.raises(MalformedRow, match="neither"):
        parse_row(orjson.dumps(data))


def test_aggregates_and_the_correction_flag_round_trip_and_default() -> None:
    row = MetricRow(
        START, START + 60_000, "startup_time", "all", "", 2.5, "", True, 5000.0, 2.0, True
    )
    data = orjson.loads(row.to_json()) | DISTRIBUTION_ONLY
    assert parse_row(orjson.dumps(data)) == row
    # A row written before these fields existed, or the other type's null columns.
    old = {k: v for k, v in data.items() if k not in ("numerator", "denominator", "correction")}
    assert parse_row(orjson.dumps(old)) == MetricRow(
        START, START + 60_000, "startup_time", "all", "", 2.5
    )
    nulls = old | {"numerator": None, "denominator": None, "correction": None}
    assert parse_row(orjson.dumps(nulls)) == parse_row(orjson.dumps(old))
    with pytest.raises(MalformedRow, match="denominator"):
        parse_row(orjson.dumps(data | {"denominator": "2"}))
    late = DistributionRow(START, START + 60_000, "startup_latency_ms", "all", "", [1.0], [1])
    flagged = orjson.loads(late.to_json()) | METRIC_ONLY | {"correction": True}
    assert parse_row(orjson.dumps(flagged)) == DistributionRow(
        START, START + 60_000, "startup_latency_ms", "all", "", [1.0], [1], correction=True
    )
