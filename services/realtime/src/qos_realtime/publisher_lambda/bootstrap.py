"""The one place the publisher is wired: settings in, a MetricPublisher on a boto3 client out."""

from __future__ import annotations

from typing import Any

from qos_realtime.publisher.service import MetricPublisher
from qos_realtime.publisher_lambda.settings import PublisherSettings
from qos_realtime.sinks.cloudwatch import CloudWatchSink


def cloudwatch_client() -> Any:
    import boto3
    from botocore.config import Config

    # botocore's retries off: the sink's policy is the only one (see qos_realtime.sinks.cloudwatch).
    return boto3.client("cloudwatch", config=Config(retries={"total_max_attempts": 1}))


def build_publisher(
    settings: PublisherSettings | None = None, client: Any | None = None
) -> MetricPublisher:
    settings = settings or PublisherSettings()
    sink = CloudWatchSink(client or cloudwatch_client(), settings.retry_policy)
    return MetricPublisher(settings.config, sink)
