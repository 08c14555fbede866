"""The indexer Lambda behind two event source mappings, with Powertools: the ingest stream's
(events) and the realtime views stream's (one view record per closed view).

Each invocation gets a batch of Kinesis records of one stream (one stored event's or view's JSON
each, base64 as Lambda delivers them) and indexes it through `service.StreamIndexer`: the local
indexer's documents (`domain.documents`: a view record goes to `qos-views-*`, an event to
`qos-events-*`), one `_bulk` of index operations with `_id` = `event_id`, so a batch delivered
again overwrites and adds nothing. A batch of the views stream (its `eventSourceARN` is
`QOS_SEARCH_VIEWS_STREAM_ARN`) parks its dead letters under the views' prefix.

- A record that can never be indexed (not JSON, no usable `event_id` or `event_time`, a mapping
  rejection) goes to the dead letters (the S3 bucket) and is NOT reported: the rest of the batch
  and the shard move on.
- A record still answered 429/5xx (or caught in a request that failed as a whole, a timeout)
  after the in-invocation attempts is reported as a batch item failure through Powertools'
  `BatchProcessor`, so Lambda re-delivers from the first of them.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_search_indexer.bootstrap import build_stream_indexer
from qos_search_indexer.service import StreamIndexer, StreamResult
from qos_search_indexer.settings import IndexerLambdaSettings
from qos_shared.eventlog import LogEntry

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-search-indexer")
logger = Logger(service=SERVICE_NAME)
# A batch whose every record failed is answered with every record as a failure (not raised), so
# Lambda's handling of the response is the same whatever the share that failed.
processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
)

_UNDECODABLE = b"\x00"  # stands for a record whose base64 is broken: it fails JSON parsing


class NotIndexed(RuntimeError):
    """The record is neither indexed nor parked yet; the stream delivers it again."""


def entries(event: dict[str, Any]) -> list[LogEntry]:
    """The batch's records as entries: position = the sequence number, the data decoded (the
    `event_id` is read from the JSON by the indexer)."""
    found = []
    for raw in event.get("Records", []):
        kinesis = raw["kinesis"]
        try:
            data = base64.b64decode(kinesis["data"], validate=True)
        except (binascii.Error, ValueError):
            data = _UNDECODABLE
        arrival = float(kinesis.get("approximateArrivalTimestamp", 0.0))
        found.append(
            LogEntry(
                int(kinesis["sequenceNumber"]),
                "",
                str(kinesis.get("partitionKey", "")),
                data,
                int(arrival * 1000),
            )
        )
    return found


def handle_batch(
    event: dict[str, Any], context: LambdaContext, indexer: StreamIndexer
) -> dict[str, Any]:
    """Index a Kinesis batch; the partial batch response names the records to deliver again."""
    result = indexer.index(entries(event))
    _log(result)

    def check(record: KinesisStreamRecord) -> None:
        reason = result.failed.get(int(record.kinesis.sequence_number))
        if reason is not None:
            raise NotIndexed(reason)

    return dict(process_partial_response(event, check, processor, context))


def _log(result: StreamResult) -> None:
    for letter in result.parked:
        logger.warning(
            "dead-lettered record",
            extra={
                "sequence_number": str(letter.position),
                "event_id": letter.event_id,
                "status": letter.status,
                "reason": letter.reason,
            },
        )
    if result.failed:
        logger.error(
            "records not indexed; the stream will deliver them again",
            extra={"failed": {str(k): v for k, v in result.failed.items()}},
        )
    logger.info(
        "batch indexed",
        extra={
            "records": result.records,
            "indexed": result.indexed,
            "dead_lettered": len(result.parked),
            "failed": len(result.failed),
            "attempts": result.attempts,
        },
    )


_settings: IndexerLambdaSettings | None = None
_indexers: dict[bool, StreamIndexer] = {}


def is_views_batch(event: dict[str, Any], views_stream_arn: str) -> bool:
    """Whether the batch came from the views stream (a batch is of one event source)."""
    records = event.get("Records") or []
    return (
        bool(views_stream_arn)
        and bool(records)
        and (records[0].get("eventSourceARN") == views_stream_arn)
    )


def _default_indexer(event: dict[str, Any]) -> StreamIndexer:
    # Built on the first invocation, not at import, so that importing this module needs no env.
    global _settings
    if _settings is None:
        _settings = IndexerLambdaSettings()
    views = is_views_batch(event, _settings.views_stream_arn)
    if views not in _indexers:
        _indexers[views] = build_stream_indexer(_settings, views=views)
    return _indexers[views]


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_batch(event, context, _default_indexer(event))
