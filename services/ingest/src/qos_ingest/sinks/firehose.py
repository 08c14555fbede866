"""Firehose sink: PutRecordBatch of newline-terminated records, re-sending only the failed ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qos_ingest.sinks import PutOutcome, SinkRecord
from qos_ingest.sinks.aws_retry import AwsError, BatchLimits, entry_error, put_with_retries
from qos_ingest.sinks.retry import RetryPolicy

# PutRecordBatch quotas; sizes include the newline added below.
LIMITS = BatchLimits(
    service="Firehose",
    max_records=500,
    max_batch_bytes=4 * 1024 * 1024,
    max_record_bytes=1000 * 1024,
)


class FirehoseClient(Protocol):
    def put_record_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...


def record_size(record: SinkRecord) -> int:
    return len(record.data)


def _newline_terminated(record: SinkRecord) -> SinkRecord:
    # Firehose concatenates records as-is into S3 objects; the newline keeps them one JSON per line.
    if record.data.endswith(b"\n"):
        return record
    return dataclasses.replace(record, data=record.data + b"\n")


class FirehoseSink:
    name = "firehose"

    def __init__(self, client: FirehoseClient, delivery_stream: str, policy: RetryPolicy) -> None:
        self._client = client
        self._delivery_stream = delivery_stream
        self._policy = policy

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome:
        return put_with_retries(
            [_newline_terminated(r) for r in records],
            send=self._send,
            record_size=record_size,
            limits=LIMITS,
            policy=self._policy,
        )

    def _send(self, records: Sequence[SinkRecord]) -> list[AwsError | None]:
        response = self._client.put_record_batch(
            DeliveryStreamName=self._delivery_stream,
            Records=[{"Data": r.data} for r in records],
        )
        if not response.get("FailedPutCount"):
            return [None] * len(records)
        return [entry_error(entry) for entry in response["RequestResponses"]]
