"""Kinesis Data Streams sink: PutRecords in batches, re-sending only the records that failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qos_ingest.adapters import SinkRecord
from qos_ingest.adapters.aws_retry import MIB, AwsBatchSink, AwsError, BatchLimits, entry_error
from qos_shared.retry import RetryPolicy


class KinesisClient(Protocol):
    def put_records(self, **kwargs: Any) -> Mapping[str, Any]: ...


class KinesisSink(AwsBatchSink):
    name = "kinesis"
    # PutRecords quotas; a record's size is its data plus its UTF-8 partition key.
    limits = BatchLimits("Kinesis", 500, max_batch_bytes=5 * MIB, max_record_bytes=MIB)

    def __init__(self, client: KinesisClient, stream: str, policy: RetryPolicy) -> None:
        super().__init__(policy)
        self._client = client
        self._stream_arg = {"StreamARN" if stream.startswith("arn:") else "StreamName": stream}

    @staticmethod
    def record_size(record: SinkRecord) -> int:
        return len(record.data) + len(record.partition_key.encode("utf-8"))

    def _send(self, records: Sequence[SinkRecord]) -> list[AwsError | None]:
        response = self._client.put_records(
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in records],
            **self._stream_arg,
        )
        return [entry_error(entry) for entry in response["Records"]]
