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
