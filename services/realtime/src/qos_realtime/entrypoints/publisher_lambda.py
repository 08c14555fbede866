"""The Lambda entrypoint behind the metric-row stream's event source mapping, with Powertools.

Each invocation gets a batch of Kinesis records (one JSON row each) and publishes them all in as
few PutMetricData calls as CloudWatch allows. Malformed records are logged and counted, never
failed (a retry would fail the same way). Records whose data is still refused after the sink's
retries are reported as batch item failures through Powertools' `BatchProcessor`, so Kinesis
retries from the first of them and no further back.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_realtime.bootstrap import build_publisher
from qos_realtime.service.publisher import MetricPublisher, Publication

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-realtime-publisher")
logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "QoS/Realtime"), service=SERVICE_NAME
)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


class MetricDataNotPublished(RuntimeError):
    """CloudWatch still refused this record's metric data after the sink's retries."""


_UNDECODABLE = b"\x00"  # stands for a record whose base64 is broken: it fails JSON parsing


def _payload(record: KinesisStreamRecord) -> bytes:
    try:
        return record.kinesis.data_as_bytes()
    except ValueError:  # binascii.Error included
        return _UNDECODABLE


def handle_batch(
    event: dict[str, Any], context: LambdaContext, publisher: MetricPublisher
) -> dict[str, Any]:
    """Publish a Kinesis batch; the partial batch response names the records to retry."""
    records = [KinesisStreamRecord(raw) for raw in event.get("Records", [])]
    publication = _publish(publisher, records)
    _record(publication)

    def check(record: KinesisStreamRecord) -> None:
        reason = publication.failed.get(record.kinesis.sequence_number)
        if reason is not None:
            raise MetricDataNotPublished(reason)

    return dict(process_partial_response(event, check, processor, context))


@tracer.capture_method(capture_response=False)
def _publish(publisher: MetricPublisher, records: list[KinesisStreamRecord]) -> Publication[str]:
    return publisher.publish((r.kinesis.sequence_number, _payload(r)) for r in records)


def _record(publication: Publication[str]) -> None:
    count = MetricUnit.Count
    metrics.add_metric(name="RecordsReceived", unit=count, value=publication.records)
    metrics.add_metric(name="MalformedRecords", unit=count, value=len(publication.malformed))
    metrics.add_metric(name="RowsSkipped", unit=count, value=sum(publication.skipped.values()))
    metrics.add_metric(name="MetricDataPublished", unit=count, value=publication.datums_published)
    metrics.add_metric(name="MetricDataFailed", unit=count, value=publication.datums_failed)
    metrics.add_metric(name="PutMetricDataCalls", unit=count, value=publication.api_calls)
    metrics.add_metric(name="PutMetricDataRetries", unit=count, value=publication.retries)
    metrics.add_metric(name="RecordsFailed", unit=count, value=len(publication.failed))
    for sequence_number, reason in publication.malformed.items():
        logger.warning(
            "malformed record skipped", extra={"sequence_number": sequence_number, "reason": reason}
        )
    if publication.failed:
        logger.error(
            "metric data not published; Kinesis will retry these records",
            extra={"failed": publication.failed},
        )
    logger.info(
        "batch published",
        extra={
            "records": publication.records,
            "rows": publication.rows,
            "skipped": {str(k): v for k, v in publication.skipped.items()},
            "datums": publication.datums,
            "calls": publication.calls,
        },
    )


_publisher: MetricPublisher | None = None


def _default_publisher() -> MetricPublisher:
    # Built on the first invocation, not at import, so that importing this module needs no env.
    global _publisher
    if _publisher is None:
        _publisher = build_publisher()
    return _publisher


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_batch(event, context, _default_publisher())
