"""Kinesis Data Streams sink: PutRecords in batches, re-sending only the records that failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qos_ingest.sinks import PutOutcome, SinkRecord
from qos_ingest.sinks.aws_retry import AwsError, BatchLimits, entry_error, put_with_retries
from qos_ingest.sinks.retry import RetryPolicy

# PutRecords quotas; a record's size is its data plus its UTF-8 partition key.
LIMITS = BatchLimits(
    service="Kinesis",
    max_records=500,
    max_batch_bytes=5 * 1024 * 1024,
    max_record_bytes=1024 * 1024,
)


class KinesisClient(Protocol):
    def put_records(self, **kwargs: Any) -> Mapping[str, Any]: ...


def record_size(record: SinkRecord) -> int:
    return len(record.data) + len(record.partition_key.encode("utf-8"))


class KinesisSink:
    name = "kinesis"

    def __init__(self, client: KinesisClient, stream: str, policy: RetryPolicy) -> None:
        self._client = client
        self._stream_arg = {"StreamARN" if stream.startswith("arn:") else "StreamName": stream}
        self._policy = policy

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome:
        return put_with_retries(
            records, send=self._send, record_size=record_size, limits=LIMITS, policy=self._policy
        )

    def _send(self, records: Sequence[SinkRecord]) -> list[AwsError | None]:
        response = self._client.put_records(
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in records],
            **self._stream_arg,
        )
        return [entry_error(entry) for entry in response["Records"]]
