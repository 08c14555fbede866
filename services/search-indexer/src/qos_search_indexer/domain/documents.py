"""What a log record becomes: the daily index it goes to and the document sent there.

A record is indexed when it is a JSON object with a usable `event_time` (`qos_shared.eventtime`),
into the index of that time's UTC day, as the stored JSON plus `viewer_location`; anything else
is a dead letter with the reason. A view's record (`metric_type` VIEW, whose `event_time` is its
close time) goes to the views' daily index (`qos-views-*`), every other record to the events'
(`qos-events-*`): one rule for the local logs and the streams, so the indexer Lambda needs no
telling which stream a batch came from. This runs once per record on the indexer's hot path: no work
here that a batch could do once (the day's index name is cached, the JSON re-serialised only when
it must be).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from qos_search_indexer.domain.deadletter import DeadLetter
from qos_search_indexer.domain.index import (
    LOCATION_FIELD,
    TIME_FIELD,
    VIEW_TYPE,
    daily_index,
    daily_view_index,
    geo_point,
)
from qos_shared.eventtime import day_bucket, is_usable

if TYPE_CHECKING:
    from qos_shared.eventlog import LogEntry

ID_FIELD = "event_id"  # the document id: one document per event, however often delivered


@dataclass(slots=True)
class Doc:
    """One document ready for `_bulk`: its log entry (the id, for a dead letter), index, source."""

    entry: LogEntry
    index: str
    source: bytes


@dataclass(slots=True)
class BulkOutcome:
    """What OpenSearch made of a `_bulk` request: indexed, to send again, or refused for good."""

    retry: list[Doc] = field(default_factory=list)
    parked: list[DeadLetter] = field(default_factory=list)
    indexed: int = 0


def documents(
    entries: list[LogEntry], *, ids_from_records: bool = False
) -> tuple[list[Doc], list[DeadLetter]]:
    """The documents of a batch of log entries, and the dead letters of those unreadable.

    The event log knows each record's `event_id`; a stream record (Kinesis) carries it only in
    its JSON: with `ids_from_records` the entry's id is taken from there, and a record without a
    usable one (a non-empty string) is a dead letter, never a document under some other id.
    """
    docs: list[Doc] = []
    unreadable: list[DeadLetter] = []
    for entry in entries:
        try:
            record = orjson.loads(entry.data)
        except orjson.JSONDecodeError as exc:
            unreadable.append(unreadable_letter(entry, f"not JSON: {exc}"))
            continue
        if not isinstance(record, dict):
            unreadable.append(unreadable_letter(entry, "not a JSON object"))
            continue
        if ids_from_records:
            event_id: Any = record.get(ID_FIELD)
            if not isinstance(event_id, str) or not event_id:
                unreadable.append(unreadable_letter(entry, f"{ID_FIELD} missing or not a string"))
                continue
            entry = entry._replace(event_id=event_id)  # the same record, with its id
        event_time: Any = record.get(TIME_FIELD)
        if not is_usable(event_time):
            unreadable.append(unreadable_letter(entry, _unusable_time(event_time)))
            continue
        day = day_bucket(event_time)
        is_view = record.get("metric_type") == VIEW_TYPE
        index = daily_view_index(day) if is_view else daily_index(day)
        docs.append(Doc(entry, index, source(entry.data, record)))
    return docs, unreadable


def _unusable_time(event_time: Any) -> str:
    if isinstance(event_time, int) and not isinstance(event_time, bool):
        return f"{TIME_FIELD} out of range: {event_time}"
    return f"{TIME_FIELD} missing or not an integer"


def source(data: bytes, record: dict[str, Any]) -> bytes:
    """The document: the stored JSON as is (one line: the bulk format is line-delimited), plus
    `viewer_location` when the record has a latitude and longitude, as the index's ingest
    pipeline would add it (`index.ingest_pipeline`, which the local indexer bypasses)."""
    location = geo_point(record)
    if b"\n" in data or LOCATION_FIELD in record:
        if location is not None:
            record = {**record, LOCATION_FIELD: location}
        return orjson.dumps(record)
    if location is None:
        return data
    # The record is a non-empty JSON object (it has an event_time): add the field before its
    # closing brace rather than serialising the whole record again.
    return b'%s,"%s":%s}' % (data.rstrip()[:-1], LOCATION_FIELD.encode(), orjson.dumps(location))


def bulk_body(docs: Iterable[Doc]) -> bytes:
    """The `_bulk` request body indexing `docs`: an action line (index and id) and the source
    of each, newline-delimited."""
    body = bytearray()
    for doc in docs:
        body += b'{"index":{"_index":"%s","_id":%s}}\n' % (
            doc.index.encode(),
            orjson.dumps(doc.entry.event_id),
        )
        body += doc.source
        body += b"\n"
    return bytes(body)


def rejected_letter(doc: Doc, status: int, reason: str) -> DeadLetter:
    """The dead letter of a document OpenSearch refused with `status`."""
    entry = doc.entry
    return DeadLetter(entry.position, entry.event_id, doc.index, status, reason, entry.data)


def unreadable_letter(entry: LogEntry, reason: str) -> DeadLetter:
    """The dead letter of a record that never became a document."""
    return DeadLetter(entry.position, entry.event_id, None, None, reason, entry.data)
