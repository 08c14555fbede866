"""The CloudWatch sink on moto: names, units, dimensions, Values/Counts, batching and retries.

moto keeps every datum and computes SampleCount, Sum, Minimum and Maximum over them (no
percentiles), so distributions are checked through those statistics, against figures computed
here from the raw rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from qos_realtime.adapters.cloudwatch import CloudWatchSink
from qos_realtime.domain.batching import plan_calls
from qos_realtime.domain.datums import MetricDatum, PublisherConfig
from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.rows import MetricRow
from qos_realtime.service.publisher import MetricPublisher, epoch_ms
from qos_shared.retry import RetryPolicy
from qos_shared.testing.aws import RecordedSleeps

from .cloudwatch_support import datapoint

NAMESPACE = "IVS/QoS"
LEGACY_NAMESPACE = "qos-old-QoS/PlayerSummary"
# A whole minute a few minutes back: inside CloudWatch's accepted range, and one period exactly.
WINDOW_START = (epoch_ms() // 60_000 - 5) * 60_000
WINDOW_END = WINDOW_START + 60_000


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name="us-east-1")


class RecordingClient:
    """Wraps the moto client: records each PutMetricData call and can fail the first ones."""

    def __init__(self, inner: Any, errors: list[ClientError] | None = None) -> None:
        self.inner = inner
        self.errors = list(errors or [])
        self.requests: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return self.inner.put_metric_data(**kwargs)


def client_error(code: str, status: int, message: str = "injected") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutMetricData",
    )


def policy(sleeps: RecordedSleeps, max_attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts, base_delay_s=0.2, max_delay_s=1.0, sleep=sleeps, rand=lambda: 0.5
    )


def statistics(
    client: Any, name: str, dimensions: dict[str, str], namespace: str = NAMESPACE
) -> dict[str, Any]:
    return datapoint(
        client,
        namespace=namespace,
        name=name,
        dimensions=dimensions,
        window_start_ms=WINDOW_START,
        statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )


def listed_metrics(client: Any, namespace: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each metric of the namespace as (name, its dimensions as (name, value) pairs)."""
    return {
        (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
        for m in client.list_metrics(Namespace=namespace)["Metrics"]
    }


def metric_row(metric: str, dimension: str, value: str, number: float, split: str = "") -> bytes:
    return MetricRow(
        WINDOW_START,
        WINDOW_END,
        metric,
        dimension,  # type: ignore[arg-type]
        value,
        number,
        split=split,
    ).to_json()


def test_rows_land_with_names_units_dimensions_and_distributions(cloudwatch: Any) -> None:
    sleeps = RecordedSleeps()
    config = PublisherConfig(legacy_namespace=LEGACY_NAMESPACE, channels=frozenset({"news"}))
    publisher = MetricPublisher(config, CloudWatchSink(cloudwatch, policy(sleeps)))
    startup_ms = {"web": ([800.0, 1500.0, 4200.0], [3, 2, 1]), "ios": ([2000.0], [5])}
    records = [
        ("1", metric_row("errors", "client_platform", "web", 3)),
        ("2", metric_row("rebuffering_ratio", "client_platform", "ios", 2.5)),
        ("3", metric_row("plays", "all", "", 12)),
        ("4", metric_row("plays", "channel_watched", "news", 7)),
        ("5", metric_row("plays", "channel_watched", "other", 5)),  # not in the allow-list
        ("6", metric_row("rendition_share", "all", "", 62.5, split="720p")),
        *(
            (
                f"d-{platform}",
                DistributionRow(
                    WINDOW_START,
                    WINDOW_END,
                    "startup_latency_ms",
                    "client_platform",
                    platform,
                    values,
                    counts,
                ).to_json(),
            )
            for platform, (values, counts) in startup_ms.items()
        ),
    ]
    result = publisher.publish(records)
    assert result.failed == {}
    assert result.retries == 0

    assert listed_metrics(cloudwatch, NAMESPACE) == {
        ("Errors", (("ClientPlatform", "web"),)),
        ("RebufferingRatio", (("ClientPlatform", "ios"),)),
        ("Plays", ()),
        ("Plays", (("Channel", "news"),)),
        ("RenditionShare", (("Rendition", "720p"),)),
        ("StartupTime", (("ClientPlatform", "web"),)),
        ("StartupTime", (("ClientPlatform", "ios"),)),
    }
    assert listed_metrics(cloudwatch, LEGACY_NAMESPACE) == {
        ("ERRORS", (("ClientPlatform", "web"),)),
        ("BUFFER_RATIO", (("ClientPlatform", "ios"),)),
    }

    errors = statistics(cloudwatch, "Errors", {"ClientPlatform": "web"})
    assert (errors["Sum"], errors["SampleCount"], errors["Unit"]) == (3.0, 1.0, "Count")
    ratio = statistics(cloudwatch, "BUFFER_RATIO", {"ClientPlatform": "ios"}, LEGACY_NAMESPACE)
    assert (ratio["Sum"], ratio["Unit"]) == (2.5, "Percent")

    for platform, (values_ms, counts) in startup_ms.items():
        got = statistics(cloudwatch, "StartupTime", {"ClientPlatform": platform})
        assert got["Unit"] == "Seconds"
        assert got["SampleCount"] == sum(counts)
        assert got["Sum"] == pytest.approx(
            sum(v * c for v, c in zip(values_ms, counts, strict=True)) / 1000
        )
        assert (got["Minimum"], got["Maximum"]) == (min(values_ms) / 1000, max(values_ms) / 1000)

    # The same through GetMetricData, as dashboards query it (moto has no percentile there).
    start = datetime.fromtimestamp(WINDOW_START / 1000, tz=UTC)
    web: dict[str, Any] = {
        "Namespace": NAMESPACE,
        "MetricName": "StartupTime",
        "Dimensions": [{"Name": "ClientPlatform", "Value": "web"}],
    }
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": stat.lower(), "MetricStat": {"Metric": web, "Period": 60, "Stat": stat}}
            for stat in ("SampleCount", "Sum")
        ],
        StartTime=start - timedelta(minutes=1),
        EndTime=start + timedelta(minutes=2),
    )["MetricDataResults"]
    values_ms, counts = startup_ms["web"]
    assert {r["Id"]: r["Values"] for r in results} == {
        "samplecount": [float(sum(counts))],
        "sum": [pytest.approx(sum(v * c for v, c in zip(values_ms, counts, strict=True)) / 1000)],
    }


def test_2500_datums_go_out_in_three_calls_of_at_most_1000(cloudwatch: Any) -> None:
    client = RecordingClient(cloudwatch)
    datums = [
        MetricDatum(NAMESPACE, "Plays", "Count", WINDOW_START, (("Channel", f"c{i % 50}"),), 1.0)
        for i in range(2500)
    ]
    outcome = CloudWatchSink(client, policy(RecordedSleeps())).put(plan_calls(enumerate(datums)))

    assert outcome.failures == []
    assert [len(r["MetricData"]) for r in client.requests] == [1000, 1000, 500]
    # Every datum landed once: 50 channels x 50 data points of 1.0.
    for channel in ("c0", "c49"):
        got = statistics(cloudwatch, "Plays", {"Channel": channel})
        assert (got["SampleCount"], got["Sum"]) == (50.0, 50.0)


def test_a_throttled_first_call_is_retried_after_a_jittered_backoff(cloudwatch: Any) -> None:
    client = RecordingClient(cloudwatch, [client_error("Throttling", 400, "Rate exceeded")])
    sleeps = RecordedSleeps()
    datum = MetricDatum(NAMESPACE, "Errors", "Count", WINDOW_START, (), 4.0)
    outcome = CloudWatchSink(client, policy(sleeps)).put(plan_calls([(0, datum)]))

    assert outcome.failures == []
    assert (outcome.api_calls, outcome.retries) == (2, 1)
    assert len(client.requests) == 2
    assert client.requests[0] == client.requests[1], "the same call, whole, again"
    assert sleeps.delays == [0.2 * 0.5]  # full jitter: base delay x rand() before attempt 2
    got = statistics(cloudwatch, "Errors", {})
    assert (got["SampleCount"], got["Sum"]) == (1.0, 4.0), "landed once"


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException", 400),
        client_error("InternalFailure", 500),
        client_error("ServiceUnavailable", 503),
    ],
)
def test_transient_errors_are_retried(cloudwatch: Any, error: ClientError) -> None:
    client = RecordingClient(cloudwatch, [error, error])
    sleeps = RecordedSleeps()
    datum = MetricDatum(NAMESPACE, "Errors", "Count", WINDOW_START, (), 1.0)
    outcome = CloudWatchSink(client, policy(sleeps)).put(plan_calls([(0, datum)]))
    assert (outcome.failures, outcome.retries) == ([], 2)
    assert sleeps.delays == [0.1, 0.2]  # ceilings 0.2 then 0.4, times rand() = 0.5


def test_persistent_throttling_is_reported_after_the_last_attempt(cloudwatch: Any) -> None:
    throttled = [client_error("Throttling", 400, "Rate exceeded") for _ in range(10)]
    client = RecordingClient(cloudwatch, throttled)
    sleeps = RecordedSleeps()
    datums = [
        (0, MetricDatum(NAMESPACE, "Errors", "Count", WINDOW_START, (), 1.0)),
        (1, MetricDatum(LEGACY_NAMESPACE, "ERRORS", "Count", WINDOW_START, (), 1.0)),
    ]
    outcome = CloudWatchSink(client, policy(sleeps, max_attempts=3)).put(plan_calls(datums))

    assert [f.index for f in outcome.failures] == [0, 1]
    assert outcome.failures[0].reason == "Throttling: Rate exceeded (gave up after 3 attempts)"
    assert (outcome.api_calls, outcome.retries) == (6, 4)
    # Backoff ceilings double and are capped at max_delay_s (1.0): 0.2, 0.4 per call.
    assert sleeps.delays == [0.1, 0.2, 0.1, 0.2]


def test_a_bad_request_is_not_retried(cloudwatch: Any) -> None:
    client = RecordingClient(cloudwatch, [client_error("InvalidParameterValue", 400, "bad")])
    sleeps = RecordedSleeps()
    datum = MetricDatum(NAMESPACE, "Errors", "Count", WINDOW_START, (), 1.0)
    outcome = CloudWatchSink(client, policy(sleeps)).put(plan_calls([(0, datum)]))
    assert [f.reason for f in outcome.failures] == ["InvalidParameterValue: bad (not retryable)"]
    assert (outcome.api_calls, sleeps.delays) == (1, [])
