"""The publisher use case with a fake sink: parsing, skipping, batching, and failures per record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from qos_realtime.domain.batching import PutMetricDataCall
from qos_realtime.domain.datums import PublisherConfig, SkipReason
from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.records import MalformedRow, parse_row
from qos_realtime.domain.rows import MetricRow
from qos_realtime.service.publisher import CallFailure, MetricPublisher, SinkOutcome

NOW = 1_750_000_000_000
START = NOW - 60_000


class FakeSink:
    def __init__(self, fail_calls: Sequence[int] = ()) -> None:
        self.calls: list[PutMetricDataCall[Any]] = []
        self.fail_calls = set(fail_calls)

    def put(self, calls: Sequence[PutMetricDataCall[Any]]) -> SinkOutcome:
        self.calls.extend(calls)
        failures = [CallFailure(i, "Throttling: Rate exceeded") for i in self.fail_calls]
        return SinkOutcome(api_calls=len(calls), failures=failures)


def metric_row(metric: str, value: float | None, dimension: str = "client_platform") -> bytes:
    dv = "" if dimension == "all" else "web"
    return MetricRow(START, START + 60_000, metric, dimension, dv, value).to_json()  # type: ignore[arg-type]


def test_parse_row_tells_the_two_row_types_apart() -> None:
    m = MetricRow(START, START + 60_000, "errors", "all", "", 2.0, final=False)
    d = DistributionRow(START, START + 60_000, "startup_latency_ms", "all", "", [5.0], [3])
    assert parse_row(m.to_json()) == m
    assert parse_row(d.to_json()) == d
    # A producer's extra field is ignored; integers are accepted where floats are expected.
    extra = orjson.loads(m.to_json()) | {"engine": "flink", "value": 2}
    assert parse_row(orjson.dumps(extra)) == m


def raw_row(**fields: object) -> bytes:
    """A row as the stream carries it: window 0-1, dimension all, unless `fields` say otherwise."""
    window = {"window_start": 0, "window_end": 1, "dimension": "all", "dimension_value": ""}
    return orjson.dumps(window | fields)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"window_start": 1}', "neither"),
        (orjson.dumps({"metric": "errors", "window_start": "x"}), "window_start"),
        (raw_row(metric="errors", dimension="country", value=1), "dimension"),
        (raw_row(metric="errors", value="3"), "value"),
        (
            raw_row(source="startup_latency_ms", values=[1.0, 2.0], counts=[1]),
            "2 values but 1 counts",
        ),
        (raw_row(source="startup_latency_ms", values=[1.0], counts=[0]), "positive integers"),
    ],
)
def test_malformed_records_are_explained(data: bytes, message: str) -> None:
    with pytest.raises(MalformedRow, match=message):
        parse_row(data)


def test_publish_counts_everything_and_fails_nothing_when_the_sink_succeeds() -> None:
    sink = FakeSink()
    publisher = MetricPublisher(PublisherConfig(), sink, clock_ms=lambda: NOW)
    distribution = DistributionRow(
        START, START + 60_000, "startup_latency_ms", "client_platform", "ios", [800.0], [4]
    )
    records = [
        ("1", metric_row("errors", 3)),  # Errors + ERRORS
        ("2", metric_row("plays", 5, "all")),  # Plays
        ("3", b"{broken"),
        ("4", metric_row("startup_time_p95", 2.0)),  # skipped: the distribution publishes it
        ("5", distribution.to_json()),  # StartupTime
        ("6", metric_row("video_start_failure", None)),  # skipped: no value
    ]
    result = publisher.publish(records)

    assert (result.records, result.rows) == (6, 5)
    assert list(result.malformed) == ["3"]
    assert result.skipped == {SkipReason.PERCENTILE_ROW: 1, SkipReason.NO_VALUE: 1}
    assert (result.datums, result.calls, result.datums_published) == (4, 1, 4)
    assert result.failed == {}
    (call,) = sink.calls
    assert [(tag, d.name) for tag, d in call.items] == [
        ("1", "Errors"),
        ("1", "ERRORS"),
        ("2", "Plays"),
        ("5", "StartupTime"),
    ]


def test_records_in_a_failed_call_are_failed_with_the_sink_s_reason() -> None:
    # Two namespaces make two calls; the legacy one fails.
    sink = FakeSink(fail_calls=[1])
    config = PublisherConfig(legacy_namespace="old-QoS/PlayerSummary")
    publisher = MetricPublisher(config, sink, clock_ms=lambda: NOW)
    result = publisher.publish(
        [("a", metric_row("errors", 1)), ("b", metric_row("plays", 2)), ("c", b"[]")]
    )

    assert [c.namespace for c in sink.calls] == ["IVS/QoS", "old-QoS/PlayerSummary"]
    # Only "a" had a datum (ERRORS) in the failed call; "c" is malformed, not failed.
    assert result.failed == {"a": "Throttling: Rate exceeded"}
    assert (result.datums, result.datums_failed, result.datums_published) == (3, 1, 2)
    assert list(result.malformed) == ["c"]


def test_nothing_to_publish_makes_no_call() -> None:
    sink = FakeSink()
    result = MetricPublisher(PublisherConfig(), sink, clock_ms=lambda: NOW).publish(
        [("1", metric_row("errors", 1, "channel_watched"))]
    )
    assert sink.calls == []
    assert result.skipped == {SkipReason.CHANNEL_NOT_ALLOWED: 1}
    assert result.calls == 0
