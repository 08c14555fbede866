"""The publisher Lambda on moto: a Kinesis batch in, metrics out, a partial batch response."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from qos_realtime.bootstrap import build_publisher
from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.rows import MetricRow
from qos_realtime.entrypoints import publisher_lambda as lambda_handler
from qos_realtime.service.publisher import epoch_ms
from qos_realtime.settings import PublisherSettings

from .cloudwatch_support import datapoint

WINDOW_START = (epoch_ms() // 60_000 - 3) * 60_000
WINDOW_END = WINDOW_START + 60_000
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/qos-metric-rows"


@dataclass
class FakeContext:
    function_name: str = "qos-realtime-publisher"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:qos-realtime-publisher"
    )
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def cloudwatch(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QOS_REALTIME_PUBLISHER_NAMESPACE", "QoS-Test")
    monkeypatch.setenv("QOS_REALTIME_PUBLISHER_CHANNELS", "news, sports")
    monkeypatch.setattr(lambda_handler, "_publisher", None)  # rebuilt from this test's env
    return boto3.client("cloudwatch", region_name="us-east-1")


def kinesis_event(payloads: list[bytes | str]) -> dict[str, Any]:
    records = []
    for i, payload in enumerate(payloads):
        data = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"pk-{i}",
                    "sequenceNumber": f"4959{i:04d}",
                    "data": data,
                    "approximateArrivalTimestamp": 1_750_000_000.0 + i,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:4959{i:04d}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/publisher",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": records}


def emf_metrics(stdout: str) -> dict[str, float]:
    """Powertools' EMF blobs in the captured stdout, merged (the oracle reads the log format)."""
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    found[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return found


def rows() -> list[bytes | str]:
    return [
        MetricRow(WINDOW_START, WINDOW_END, "errors", "client_platform", "web", 2.0).to_json(),
        MetricRow(WINDOW_START, WINDOW_END, "plays", "channel_watched", "news", 9.0).to_json(),
        DistributionRow(
            WINDOW_START, WINDOW_END, "live_latency_ms", "all", "", [1500.0, 3000.0], [4, 1]
        ).to_json(),
        b'{"metric": "errors"',  # truncated JSON
        "%%% not base64 %%%",
        MetricRow(WINDOW_START, WINDOW_END, "plays", "all", "", 1.0, final=False).to_json(),
    ]


def stat(client: Any, name: str, dims: dict[str, str], stat: str, namespace: str) -> float:
    point = datapoint(
        client,
        namespace=namespace,
        name=name,
        dimensions=dims,
        window_start_ms=WINDOW_START,
        statistics=[stat],
    )
    return float(point[stat])


def test_a_batch_is_published_and_malformed_records_do_not_fail_it(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    response = lambda_handler.handler(kinesis_event(rows()), FakeContext())

    assert response == {"batchItemFailures": []}
    assert stat(cloudwatch, "Errors", {"ClientPlatform": "web"}, "Sum", "QoS-Test") == 2.0
    assert stat(cloudwatch, "ERRORS", {"ClientPlatform": "web"}, "Sum", "QoS-Test") == 2.0
    assert stat(cloudwatch, "Plays", {"Channel": "news"}, "Sum", "QoS-Test") == 9.0
    assert stat(cloudwatch, "LiveLatency", {}, "SampleCount", "QoS-Test") == 5.0
    assert stat(cloudwatch, "LiveLatency", {}, "Sum", "QoS-Test") == pytest.approx(
        (4 * 1500 + 3000) / 1000
    )

    emitted = emf_metrics(capsys.readouterr().out)
    assert emitted["RecordsReceived"] == 6
    assert emitted["MalformedRecords"] == 2
    assert emitted["RowsSkipped"] == 1  # the provisional row
    assert emitted["MetricDataPublished"] == 4  # Errors, ERRORS, Plays, LiveLatency
    assert emitted["MetricDataFailed"] == 0
    assert emitted["RecordsFailed"] == 0


class AlwaysThrottled:
    def put_metric_data(self, **kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "PutMetricData",
        )


def throttled_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = PublisherSettings(max_attempts=2, base_delay_ms=0, channels="news")
    monkeypatch.setattr(
        lambda_handler, "_publisher", build_publisher(settings, client=AlwaysThrottled())
    )


def test_records_cloudwatch_keeps_refusing_are_reported_for_retry(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    throttled_publisher(monkeypatch)
    response = lambda_handler.handler(kinesis_event(rows()), FakeContext())

    # The three records with metric data; not the malformed ones, not the provisional one.
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "49590000"},
            {"itemIdentifier": "49590001"},
            {"itemIdentifier": "49590002"},
        ]
    }
    emitted = emf_metrics(capsys.readouterr().out)
    assert emitted["RecordsFailed"] == 3
    assert emitted["PutMetricDataCalls"] == 2  # one call, two attempts
    assert emitted["PutMetricDataRetries"] == 1


def test_a_batch_that_fails_whole_fails_the_invocation(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every record failed: Powertools raises, so Lambda retries (and bisects) the batch.
    throttled_publisher(monkeypatch)
    with pytest.raises(BatchProcessingError):
        lambda_handler.handler(kinesis_event(rows()[:3]), FakeContext())


def test_settings_refuse_a_reserved_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QOS_REALTIME_PUBLISHER_NAMESPACE", "AWS/Lambda")
    with pytest.raises(ValueError, match="not a CloudWatch namespace"):
        PublisherSettings()
