"""Firehose sink: PutRecordBatch of newline-terminated records, re-sending only the failed ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qos_ingest.adapters import SinkRecord
from qos_ingest.adapters.aws_retry import MIB, AwsBatchSink, AwsError, BatchLimits, entry_error
from qos_shared.retry import RetryPolicy


class FirehoseClient(Protocol):
    def put_record_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...


def _newline_terminated(record: SinkRecord) -> SinkRecord:
    # Firehose concatenates records as-is into S3 objects; the newline keeps them one JSON per line.
    if record.data.endswith(b"\n"):
        return record
    return dataclasses.replace(record, data=record.data + b"\n")


class FirehoseSink(AwsBatchSink):
    name = "firehose"
    # PutRecordBatch quotas; sizes include the newline `_prepare` adds.
    limits = BatchLimits("Firehose", 500, max_batch_bytes=4 * MIB, max_record_bytes=1000 * 1024)

    def __init__(self, client: FirehoseClient, delivery_stream: str, policy: RetryPolicy) -> None:
        super().__init__(policy)
        self._client = client
        self._delivery_stream = delivery_stream

    @staticmethod
    def record_size(record: SinkRecord) -> int:
        return len(record.data)

    def _prepare(self, records: Sequence[SinkRecord]) -> Sequence[SinkRecord]:
        return [_newline_terminated(r) for r in records]

    def _send(self, records: Sequence[SinkRecord]) -> list[AwsError | None]:
        response = self._client.put_record_batch(
            DeliveryStreamName=self._delivery_stream,
            Records=[{"Data": r.data} for r in records],
        )
        if not response.get("FailedPutCount"):
            return [None] * len(records)
        return [entry_error(entry) for entry in response["RequestResponses"]]
